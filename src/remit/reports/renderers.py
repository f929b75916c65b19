"""The report's renderers: one per analysis result class, one per safety table kind.

Each renderer takes one typed section of the :class:`~remit.analysis.AnalysisResult` and
returns :class:`Block` s: what it adds (tables, figures, list items) to which section of the
report, and where in that section (``rank``). :func:`remit.reports.content.build_sections`
lays the report out and places the blocks; tables and figures are numbered afterwards, in
document order. A new analysis kind needs one entry in :data:`RENDERERS`; a new safety table
kind one in :data:`SAFETY_TABLE_RENDERERS` (``tests/analysis/test_families.py`` checks both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from remit.analysis import (
    AnalysisResult,
    DescriptiveSectionResult,
    EffectSizeSectionResult,
    LMMSectionResult,
    McNemarSectionResult,
    MMRMSectionResult,
    ProportionSectionResult,
    RbmiSectionResult,
    RTMSectionResult,
    SafetySectionResult,
    SectionResult,
    TimeToEventSectionResult,
    TrialData,
    WilcoxonSectionResult,
)
from remit.protocol import SAFETY_TABLES, Protocol
from remit.reports.figures.survival import km_figure
from remit.reports.format import fmt, fmt_ci
from remit.reports.safety_tables import (
    ae_tables,
    alerts_table,
    behaviour_table,
    cssrs_table,
    cssrs_visit_table,
    deviation_tables,
    dose_stop_table,
    dosing_tables,
    item10_table,
    sae_tables,
)
from remit.reports.style import ReportFigure
from remit.reports.tables import (
    ArmLabels,
    ReportTable,
    arm_difference_table,
    arm_groups,
    ci_label,
    exploratory_table,
    grouped,
    one_row,
    outcome_scales,
    response_table,
    scale_name,
    transition_table,
    vitals_table,
    wilcoxon_table,
)


@dataclass(frozen=True)
class Block:
    """What a renderer adds to the report section ``section`` (its id), at ``rank`` within it
    (blocks of a section are placed by rank, then in plan order)."""

    section: str
    rank: int = 0
    tables: tuple[ReportTable, ...] = ()
    figures: tuple[ReportFigure, ...] = ()
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class View:
    """What every renderer may read besides its own section."""

    result: AnalysisResult
    protocol: Protocol
    data: TrialData
    arms: ArmLabels
    simulated: bool

    @property
    def ci(self) -> str:
        """``95% CI`` for the result's confidence level."""
        return ci_label(self.result)


def _tables(section: str, rank: int, *tables: ReportTable | None) -> list[Block]:
    found = tuple(t for t in tables if t is not None)
    return [Block(section, rank, tables=found)] if found else []


# --------------------------------------------------------------------------- analysis kinds


def render_descriptive(s: DescriptiveSectionResult, v: View) -> list[Block]:
    """The scales without an outcome table, by visit (the outcome tables, a view over several
    analyses, are laid out by :mod:`remit.reports.content`)."""
    shown = {scale for scale, _role in outcome_scales(v.protocol)}
    return _tables("secondary", 30, exploratory_table(s, shown, v.arms, result=v.result))


def render_wilcoxon(s: WilcoxonSectionResult, v: View) -> list[Block]:
    """Every signed-rank test with its statistic and Hodges–Lehmann estimate."""
    return _tables("secondary", 20, wilcoxon_table(s, v.ci, v.arms, result=v.result))


def render_mmrm(s: MMRMSectionResult, v: View) -> list[Block]:
    """The differences between arms (the changes from baseline are in the outcome tables)."""
    return _tables("primary", 10, arm_difference_table(s, v.ci, result=v.result))


def render_effect_size(s: EffectSizeSectionResult, v: View) -> list[Block]:
    """Nothing of its own: d_z is a column of the outcome tables (see ``outcome_table``)."""
    return []


def render_proportion(s: ProportionSectionResult, v: View) -> list[Block]:
    """Responders, remitters, sustained responders and relapses with both intervals."""
    return _tables("response", 0, response_table(s, v.result, v.arms))


def render_mcnemar(s: McNemarSectionResult, v: View) -> list[Block]:
    """The status transition table with the exact McNemar test, under the transition figure."""
    return _tables("transitions", 10, transition_table(s, v.result, v.arms))


def render_rtm(s: RTMSectionResult, v: View) -> list[Block]:
    """Regression to the mean as a limitation, against the observed change."""
    items = tuple(
        f"Regression to the mean: participants were selected on a high "
        f"{scale_name(v.result, str(r['scale']))} at {r['visit']}; with a test–retest "
        f"reliability of {fmt(r['reliability_low'], 'rho')}–{fmt(r['reliability_high'], 'rho')}, "
        "regression to the mean alone would lower the mean "
        f"{scale_name(v.result, str(r['scale']))} by "
        f"an expected {fmt(r['rtm_min'], 'estimate')} to {fmt(r['rtm_max'], 'estimate')} "
        f"points, against an observed mean change of {fmt(r['observed_change'], 'estimate')}."
        for r in s.range.to_dict(orient="records")
    )
    return [Block("limitations", 10, items=items)] if items else []


def render_safety(s: SafetySectionResult, v: View) -> list[Block]:
    """The tables of each safety table kind the plan lists, then dosing exposure."""
    listed = set(s.spec.get("tables", ()))
    blocks = [
        b for name in SAFETY_TABLES if name in listed for b in SAFETY_TABLE_RENDERERS[name](s, v)
    ]
    return blocks + _tables("safety", 30, *dosing_tables(s, v.arms))


def km_table(s: TimeToEventSectionResult, v: View) -> ReportTable | None:
    """Per relapse endpoint (and arm): at risk, relapses, the Kaplan–Meier estimate at the
    endpoint's later visit with its interval, and the median time."""
    if s.estimates.empty:
        return None
    labels = v.result.endpoints.labels
    return ReportTable(
        "tbl-km",
        "Time to relapse (Kaplan–Meier)",
        (
            "Endpoint",
            "Visits",
            "At risk",
            "Relapses",
            "Censored",
            f"Free of relapse ({v.ci})",
            "Median, days",
        ),
        grouped(
            s.estimates,
            lambda r: (
                labels.get(str(r["endpoint_id"]), str(r["endpoint_id"])),
                f"{r['from_visit']} → {r['to_visit']}",
                fmt(r["n_at_risk"], "count"),
                fmt(r["n_events"], "count"),
                fmt(r["n_censored"], "count"),
                f"{fmt(r['survival'], 'proportion')} "
                f"({fmt_ci(r['ci_low'], r['ci_high'], 'proportion')})",
                "not reached" if pd.isna(r["median_days"]) else fmt(r["median_days"], "days"),
            ),
            v.arms,
        ),
        notes=(
            "At risk: participants in remission at the earlier visit. Time runs from that "
            "assessment to the first visit out of remission (relapse) or the last visit "
            "observed (censored); the estimate is read at the last follow-up time. Interval: "
            f"{s.conventions.get('ci', '')}.",
        ),
        numeric_from=2,
    )


def render_time_to_event(s: TimeToEventSectionResult, v: View) -> list[Block]:
    """The Kaplan–Meier table and curve."""
    table = km_table(s, v)
    if table is None or s.curves.empty:
        return _tables("time-to-event", 0, table)
    labels = v.result.endpoints.labels
    several = len(arm_groups(s.curves)) > 1
    curves = s.curves.assign(
        series=[
            (f"{v.arms.get(str(a), str(a))}: " if several else "") + labels.get(str(e), str(e))
            for a, e in zip(s.curves["arm"], s.curves["endpoint_id"], strict=True)
        ]
    )
    first = s.estimates.iloc[0]
    figure = km_figure(
        curves,
        labels={},
        time_label=f"Days after {first['from_visit']}",
        simulated=v.simulated,
    )
    caption = (
        f"Kaplan–Meier estimate of the proportion of the remitters at {first['from_visit']} "
        f"still in remission up to {first['to_visit']} (steps), with its pointwise "
        f"{v.ci} (shaded); ticks mark participants censored at their last visit."
    )
    return [
        Block(
            "time-to-event",
            0,
            tables=(table,),
            figures=(ReportFigure(figure.id, figure.title, caption, figure.svg),),
        )
    ]


def lmm_table(s: LMMSectionResult, v: View) -> ReportTable | None:
    """Change from baseline by the random-slope LMM beside the MMRM's, per scale and visit."""
    if s.change_vs_baseline.empty:
        return None
    mmrm = v.result.first(MMRMSectionResult)
    primary = pd.DataFrame() if mmrm is None else mmrm.change_vs_baseline

    def row(r: dict[Any, Any]) -> tuple[str, ...]:
        m = one_row(primary, scale=r["scale"], visit=r["visit"])
        return (
            scale_name(v.result, str(r["scale"])),
            str(r["contrast"]),
            f"{fmt(r['estimate'], 'estimate')} ({fmt(r['se'], 'se')})",
            fmt_ci(r["ci_low"], r["ci_high"]),
            fmt(r["p"], "p"),
            f"{fmt(m['estimate'], 'estimate')} ({fmt(m['se'], 'se')})" if m else "–",
        )

    return ReportTable(
        "tbl-lmm",
        "Sensitivity analysis: change from baseline by a linear mixed model",
        ("Scale", "Change", "LMM (SE)", v.ci, "p", "MMRM (SE)"),
        tuple(row(r) for r in s.change_vs_baseline.to_dict(orient="records")),
        notes=(
            f"{s.conventions.get('random', '').capitalize()}; {s.conventions.get('df', '')} "
            "degrees of freedom (– where the random-effects covariance is singular). The MMRM "
            "column repeats the primary analysis for comparison.",
        ),
        numeric_from=2,
    )


def render_lmm(s: LMMSectionResult, v: View) -> list[Block]:
    """The LMM's changes from baseline next to the MMRM's."""
    return _tables("sensitivity", 0, lmm_table(s, v))


def rbmi_table(s: RbmiSectionResult, v: View) -> ReportTable | None:
    """Reference-based imputation: the estimate per visit, with the tipping delta where the
    plan asked for one."""
    if s.differences.empty:
        return None
    tips = (
        {}
        if s.tipping_points is None
        else {
            (r["scale"], r["visit"]): r["tipping_delta"]
            for r in s.tipping_points.to_dict(orient="records")
        }
    )

    def row(r: dict[Any, Any]) -> tuple[str, ...]:
        key = (r["scale"], r["visit"])
        tip = tips.get(key, "")
        return (
            scale_name(v.result, str(r["scale"])),
            str(r["visit"]),
            str(r["contrast"]),
            f"{fmt(r['estimate'], 'estimate')} ({fmt(r['se'], 'se')})",
            fmt_ci(r["ci_low"], r["ci_high"]),
            fmt(r["p"], "p"),
            "not reached" if key in tips and tip is None else ("" if tip == "" else f"{tip:g}"),
        )

    c = s.conventions
    return ReportTable(
        f"tbl-{s.id}",
        f"Sensitivity analysis: {s.label}",
        ("Scale", "Visit", "Contrast", "Estimate (SE)", v.ci, "p", "Tipping delta"),
        tuple(row(r) for r in s.differences.to_dict(orient="records")),
        notes=(
            f"Imputation: {c.get('strategy', '')}; {c.get('method', '')}. Tipping delta: the "
            "first delta added to the imputed values at which the interval includes 0.",
        ),
        numeric_from=3,
    )


def render_rbmi(s: RbmiSectionResult, v: View) -> list[Block]:
    """Reference-based imputation and tipping point among the sensitivity analyses."""
    return _tables("sensitivity", 10, rbmi_table(s, v))


Renderer = Callable[[Any, View], list[Block]]

#: Result class of each analysis kind → its renderer (one per ANALYSIS_KINDS).
RENDERERS: dict[type[SectionResult], Renderer] = {
    DescriptiveSectionResult: render_descriptive,
    WilcoxonSectionResult: render_wilcoxon,
    MMRMSectionResult: render_mmrm,
    EffectSizeSectionResult: render_effect_size,
    ProportionSectionResult: render_proportion,
    McNemarSectionResult: render_mcnemar,
    RTMSectionResult: render_rtm,
    SafetySectionResult: render_safety,
    TimeToEventSectionResult: render_time_to_event,
    LMMSectionResult: render_lmm,
    RbmiSectionResult: render_rbmi,
}

SafetyRenderer = Callable[[SafetySectionResult, View], list[Block]]

#: Safety table kind of the plan (:data:`remit.protocol.SAFETY_TABLES`) → its renderer.
SAFETY_TABLE_RENDERERS: dict[str, SafetyRenderer] = {
    "adverse_events": lambda s, v: _tables("safety", 10, *ae_tables(s, v.result, v.arms)),
    "serious_adverse_events": lambda s, v: _tables("safety", 20, *sae_tables(s, v.arms)),
    "cssrs": lambda s, v: _tables("cssrs", 10, cssrs_table(s, v.arms)),
    "vitals": lambda s, v: _tables("vitals", 10, vitals_table(s, v.arms)),
    # the behaviour events are safety events: listed in the safety section, after the SAEs
    "cssrs_behaviour": lambda s, v: (
        _tables("safety", 25, behaviour_table(s, v.arms))
        + _tables("cssrs", 15, cssrs_visit_table(s, v.arms))
    ),
    "madrs_item10": lambda s, v: _tables("cssrs", 20, item10_table(s, v.arms)),
    "alerts": lambda s, v: _tables("safety", 40, alerts_table(s, v.arms)),
    "dose_stops": lambda s, v: _tables("safety", 35, dose_stop_table(s, v.arms)),
    "deviations": lambda s, v: _tables("safety", 50, *deviation_tables(s, v.arms)),
}


def render(result: AnalysisResult, view: View) -> list[Block]:
    """Every block of every section of ``result``, in plan order."""
    return [b for s in result.sections for b in RENDERERS[type(s)](s, view)]


__all__ = ["RENDERERS", "SAFETY_TABLE_RENDERERS", "Block", "View", "render"]
