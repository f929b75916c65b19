"""The safety section of the plan: one entry per safety table kind the protocol may list.

A :class:`~remit.protocol.SafetyAnalysis` names its tables with the words of
:data:`remit.protocol.SAFETY_TABLES`; :data:`SAFETY_TABLE_KINDS` maps each word to the
function that builds its tables (and the convention the section states for it). Dosing
exposure is always added. Counts only — no tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from remit.analysis.context import Context
from remit.analysis.data import TrialData
from remit.analysis.datasets import baseline_visits
from remit.analysis.result import SectionResult, section_fields
from remit.analysis.safety_tables import (
    adverse_event_tables,
    alert_table,
    cssrs_behaviour_tables,
    cssrs_shift,
    deviation_tables,
    dose_stop_table,
    dosing_tables,
    madrs_item10_rule_text,
    madrs_item10_table,
    sae_list,
    study_wide_deviations,
    vitals_tables,
)
from remit.protocol import SAFETY_TABLES, Protocol, SafetyAnalysis

Builder = Callable[[TrialData, Protocol, tuple[str, ...]], dict[str, pd.DataFrame]]


@dataclass(frozen=True)
class SafetyTableKind:
    """How one safety table kind of the plan is built.

    ``build(data, protocol, participant_ids)`` returns its tables by name (each a field of
    :class:`SafetySectionResult`); ``convention(data, protocol)``, if any, the convention the
    section states for it under ``convention_key``.
    """

    build: Builder
    convention_key: str = ""
    convention: Callable[[TrialData, Protocol], str] | None = None


def _cssrs_convention(data: TrialData, protocol: Protocol) -> str:
    base = baseline_visits(protocol).get("cssrs", "the baseline visit")
    return (
        "most severe ideation type (0–5) at visits up to and including "
        f"{base} vs the most severe at any later visit"
    )


def _behaviour_convention(data: TrialData, protocol: Protocol) -> str:
    return (
        "by visit: participants assessed, with any ideation (most severe type ≥ 1), by most "
        "severe type and with any suicidal behaviour; the listing has every behaviour answered "
        "yes on a form of the recent window or since the last visit (not the lifetime history)"
    )


def _alerts_convention(data: TrialData, protocol: Protocol) -> str:
    return (
        "alerts by rule and level; time to acknowledgement = hours from raised to "
        "acknowledged, over the alerts acknowledged; open = not acknowledged yet"
    )


def _deviations_convention(data: TrialData, protocol: Protocol) -> str:
    return "every protocol deviation recorded for a participant, by category and listed"


def _vitals_convention(data: TrialData, protocol: Protocol) -> str:
    return (
        "peak = highest reading per participant and dosing session; a breach is any "
        "reading strictly above the high or below the low threshold of that session; "
        "readings at a visit for which the protocol sets no limit are shown as not judged"
    )


#: Safety table word of the plan → how it is built; one entry per :data:`SAFETY_TABLES`.
SAFETY_TABLE_KINDS: dict[str, SafetyTableKind] = {
    "adverse_events": SafetyTableKind(lambda d, p, ids: adverse_event_tables(d, ids)),
    "serious_adverse_events": SafetyTableKind(lambda d, p, ids: {"sae_list": sae_list(d, ids)}),
    "cssrs": SafetyTableKind(cssrs_shift, "cssrs_shift", _cssrs_convention),
    "vitals": SafetyTableKind(vitals_tables, "vitals", _vitals_convention),
    "madrs_item10": SafetyTableKind(madrs_item10_table, "madrs_item10", madrs_item10_rule_text),
    "cssrs_behaviour": SafetyTableKind(
        cssrs_behaviour_tables, "cssrs_behaviour", _behaviour_convention
    ),
    "alerts": SafetyTableKind(
        lambda d, p, ids: {"alerts": alert_table(d, ids)}, "alerts", _alerts_convention
    ),
    "dose_stops": SafetyTableKind(lambda d, p, ids: {"dose_stops": dose_stop_table(d, ids)}),
    "deviations": SafetyTableKind(
        lambda d, p, ids: deviation_tables(d, ids), "deviations", _deviations_convention
    ),
}


@dataclass(frozen=True, eq=False, kw_only=True)
class SafetySectionResult(SectionResult):
    """Result of a ``safety`` analysis: the tables the plan lists (``None`` when not asked
    for) and dosing exposure, each with the ``arm`` column first."""

    ae_overview: pd.DataFrame | None = None
    ae_by_severity: pd.DataFrame | None = None
    ae_by_relatedness: pd.DataFrame | None = None
    ae_by_severity_relatedness: pd.DataFrame | None = None
    ae_by_term: pd.DataFrame | None = None
    sae_list: pd.DataFrame | None = None
    cssrs_shift: pd.DataFrame | None = None
    cssrs_by_participant: pd.DataFrame | None = None
    vitals_summary: pd.DataFrame | None = None
    vitals_peaks: pd.DataFrame | None = None
    vitals_by_time: pd.DataFrame | None = None
    cssrs_by_visit: pd.DataFrame | None = None
    cssrs_behaviour_list: pd.DataFrame | None = None
    madrs_item10: pd.DataFrame | None = None
    alerts: pd.DataFrame | None = None
    dose_stops: pd.DataFrame | None = None
    deviations_by_category: pd.DataFrame | None = None
    deviation_list: pd.DataFrame | None = None
    doses_by_session: pd.DataFrame
    doses_withheld: pd.DataFrame


def _by_group(
    groups: tuple[tuple[str | None, tuple[str, ...]], ...],
    make: Callable[[tuple[str, ...]], dict[str, pd.DataFrame]],
) -> dict[str, pd.DataFrame]:
    """``make`` for each arm group, the tables stacked with an ``arm`` column first."""
    parts: dict[str, list[pd.DataFrame]] = {}
    for arm, ids in groups:
        for name, frame in make(ids).items():
            part = frame.copy()
            part.insert(0, "arm", pd.Series([arm] * len(part), index=part.index, dtype=object))
            parts.setdefault(name, []).append(part)
    return {
        name: pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        for name, frames in parts.items()
    }


def run_safety(a: SafetyAnalysis, ctx: Context) -> SafetySectionResult:
    """The safety tables the plan lists, plus dosing exposure (always), per arm group.

    Every table has the ``arm`` column first; tables come in the order of
    :data:`~remit.protocol.SAFETY_TABLES` whatever the plan's order.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> s = run_safety(oslo.analysis.analyses[8], ctx)
    >>> list(s.tables)[:3]
    ['ae_overview', 'ae_by_severity', 'ae_by_relatedness']
    >>> s.doses_by_session[["arm", "kind", "n_given", "n_withheld"]].values.tolist()
    [['MDMA', 'initial', 6, 0], ['MDMA', 'supplemental', 5, 1]]
    """
    data, protocol = ctx.data, ctx.protocol
    conventions: dict[str, str] = {
        "population": "everyone enrolled (per arm when the protocol has more than one); "
        "percentages of that number",
    }
    notes: list[str] = []
    wanted = [SAFETY_TABLE_KINDS[name] for name in SAFETY_TABLES if name in set(a.tables)]

    def make(ids: tuple[str, ...]) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        for kind in wanted:
            out.update(kind.build(data, protocol, ids))
        out.update(dosing_tables(data, ids))
        return out

    tables: dict[str, Any] = _by_group(ctx.groups, make)
    if "sae_list" in tables and tables["sae_list"].empty:
        notes.append("no serious adverse events")
    if "deviations" in set(a.tables):
        notes.extend(study_wide_deviations(data))
    for kind in wanted:
        if kind.convention is not None:
            conventions[kind.convention_key] = kind.convention(data, protocol)
    return SafetySectionResult(
        **tables, **section_fields(a, conventions=conventions, notes=tuple(notes))
    )
