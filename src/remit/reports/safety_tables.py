"""The report's safety tables, read from the typed :class:`~remit.analysis.SafetySectionResult`.

One function per safety table kind of the plan (adverse events, serious adverse events,
C-SSRS, MADRS item 10, alerts) plus dosing exposure; :mod:`remit.reports.renderers` maps each
kind to its function. The vital-sign table is :func:`remit.reports.tables.vitals_table`.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from remit.analysis import AnalysisResult, SafetySectionResult
from remit.analysis.safety_tables import STUDY_WIDE_DEVIATION
from remit.reports.format import fmt
from remit.reports.tables import (
    ArmLabels,
    ReportTable,
    _arm_heading,
    _frame,
    arm_groups,
    grouped,
)


def _pct_cell(n: Any, pct: Any) -> str:
    return f"{fmt(n, 'count')} ({fmt(pct, 'percent')})"


def _arm_sizes(result: AnalysisResult) -> dict[str | None, int]:
    """Participants enrolled per arm code (``None``: everyone), counted from the ADSL."""
    adsl = result.adsl
    sizes: dict[str | None, int] = {None: len(result.population)}
    if "arm" in adsl and "ENRLFL" in adsl:
        enrolled = adsl[adsl["ENRLFL"] == "Y"]
        for arm, n in enrolled["arm"].dropna().astype(str).value_counts().items():
            sizes[str(arm)] = int(n)
    return sizes


def ae_tables(
    safety: SafetySectionResult, result: AnalysisResult, arms: ArmLabels | None = None
) -> list[ReportTable]:
    """Adverse events: overview, by severity × relatedness and by term."""
    labels = arms or {}
    out: list[ReportTable] = []
    overview = _frame(safety.ae_overview)
    if not overview.empty:
        sizes = _arm_sizes(result)
        rows: list[tuple[str, ...]] = []
        groups = arm_groups(overview)
        for arm, sub in groups:
            r = sub.iloc[0]
            if len(groups) > 1:
                rows.append(_arm_heading(arm, labels))
            rows.append(
                (
                    "Any adverse event",
                    fmt(r["n_events"], "count"),
                    _pct_cell(r["n_participants"], r["pct_participants"]),
                )
            )
            rows.append(
                (
                    "Serious adverse event",
                    fmt(r["n_serious"], "count"),
                    _pct_cell(
                        r["n_participants_serious"],
                        _share(r["n_participants_serious"], sizes.get(arm, 0)),
                    ),
                )
            )
        out.append(
            ReportTable(
                "tbl-ae-overview",
                "Adverse events: overview",
                ("", "Events", "Participants (%)"),
                tuple(rows),
            )
        )
    cross = _frame(safety.ae_by_severity_relatedness)
    if not cross.empty:
        out.append(
            ReportTable(
                "tbl-ae-severity",
                "Adverse events by severity and relatedness",
                ("Severity", "Relatedness", "Events", "Participants (%)"),
                grouped(
                    cross,
                    lambda r: (
                        str(r["severity"] or "not recorded"),
                        str(r["relatedness"] or "not recorded"),
                        fmt(r["n_events"], "count"),
                        _pct_cell(r["n_participants"], r["pct_participants"]),
                    ),
                    labels,
                ),
                numeric_from=2,
            )
        )
    terms = _frame(safety.ae_by_term)
    if not terms.empty:
        out.append(
            ReportTable(
                "tbl-ae-terms",
                "Adverse events by reported term",
                ("Term", "Events", "Participants (%)", "Worst severity", "Serious"),
                grouped(
                    terms,
                    lambda r: (
                        str(r["term"]),
                        fmt(r["n_events"], "count"),
                        _pct_cell(r["n_participants"], r["pct_participants"]),
                        str(r["worst_severity"] or "–"),
                        "yes" if r["any_serious"] else "no",
                    ),
                    labels,
                ),
            )
        )
    return out


def sae_tables(safety: SafetySectionResult, arms: ArmLabels | None = None) -> list[ReportTable]:
    """The list of serious adverse events (a note when there is none)."""
    labels = arms or {}
    out: list[ReportTable] = []
    if safety.sae_list is not None:
        saes = safety.sae_list
        out.append(
            ReportTable(
                "tbl-sae",
                "Serious adverse events",
                (
                    "Participant",
                    "Term",
                    "Onset",
                    "Severity",
                    "Relatedness",
                    "Outcome",
                    "Site aware",
                    "Report due",
                    "Reported",
                    "On time?",
                ),
                grouped(
                    saes,
                    lambda r: (
                        str(r["participant_id"]),
                        str(r["term"]),
                        _date(r["onset_date"]),
                        str(r["severity"] or "–"),
                        str(r["relatedness"] or "–"),
                        str(r["outcome"] or "–"),
                        _time(r.get("awareness_at")),
                        _time(r.get("report_due_at")),
                        _time(r.get("reported_at")),
                        str(r.get("reporting") or "–"),
                    ),
                    labels,
                ),
                notes=(
                    (
                        "Times are UTC. On time: reported by the due time of the protocol's "
                        "SAE clock (from the time the site became aware).",
                    )
                    if len(saes)
                    else ("No serious adverse event was reported.",)
                ),
                numeric_from=99,
            )
        )
    return out


def _share(k: Any, n: int) -> float | None:
    # a display percentage of a count, as for every "n (%)" cell
    return None if not n else 100.0 * float(k) / n


def _date(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return "–"
    return pd.Timestamp(value).date().isoformat()


def _time(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return "–"
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return "–"
    return stamp.strftime("%Y-%m-%d %H:%M")


def _ids(ids: Any) -> str:
    return f" ({', '.join(str(i) for i in ids)})" if ids else ""


def dosing_tables(safety: SafetySectionResult, arms: ArmLabels | None = None) -> list[ReportTable]:
    """Doses given per session and kind, and the supplemental doses withheld."""
    labels = arms or {}
    out: list[ReportTable] = []
    doses = safety.doses_by_session
    if not doses.empty:
        out.append(
            ReportTable(
                "tbl-doses",
                "Doses given and withheld",
                (
                    "Session",
                    "Visit",
                    "Dose",
                    "Given",
                    "Withheld",
                    "Total given (mg)",
                    "Mean given (mg)",
                ),
                grouped(
                    doses,
                    lambda r: (
                        fmt(r["session_number"], "count"),
                        str(r["visit_code"]),
                        str(r["kind"]),
                        fmt(r["n_given"], "count"),
                        fmt(r["n_withheld"], "count"),
                        fmt(r["total_mg_given"], "mg"),
                        fmt(r["mean_mg_given"], "mg"),
                    ),
                    labels,
                ),
                numeric_from=3,
            )
        )
    withheld = safety.doses_withheld
    out.append(
        ReportTable(
            "tbl-withheld",
            "Doses withheld",
            ("Participant", "Session", "Visit", "Dose", "mg", "Reason"),
            grouped(
                withheld,
                lambda r: (
                    str(r["participant_id"]),
                    fmt(r["session_number"], "count"),
                    str(r["visit_code"]),
                    str(r["kind"]),
                    fmt(r["dose_mg"], "mg"),
                    str(r["withheld_reason"] or "not recorded"),
                ),
                labels,
            ),
            notes=() if len(withheld) else ("No dose was withheld.",),
            numeric_from=99,
        )
    )
    return out


def _type_key(label: str) -> tuple[int, str]:
    found = re.match(r"\s*(\d+)", label)
    return (int(found.group(1)) if found else 99, label)


def cssrs_table(safety: SafetySectionResult, arms: ArmLabels | None = None) -> ReportTable | None:
    """The C-SSRS shift table: worst ideation type at baseline × worst afterwards."""
    shift = _frame(safety.cssrs_shift)
    if shift.empty:
        return None
    after = sorted({str(x) for x in shift["after_worst"]}, key=_type_key)
    groups = arm_groups(shift)
    rows: list[tuple[str, ...]] = []
    worse_ids: list[str] = []
    for arm, sub in groups:
        if len(groups) > 1:
            rows.append(_arm_heading(arm, arms or {}))
        records = sub.to_dict(orient="records")
        counts = {(str(r["baseline_worst"]), str(r["after_worst"])): r["n"] for r in records}
        before = sorted({str(x) for x in sub["baseline_worst"]}, key=_type_key)
        rows += [(b, *(fmt(counts.get((b, a), 0), "count") for a in after)) for b in before]
        worse_ids += [
            pid
            for r in records
            if _type_key(str(r["after_worst"]))[0] > _type_key(str(r["baseline_worst"]))[0]
            for pid in (r["participant_ids"] or [])
        ]
    notes = ["Rows: most severe ideation type up to baseline; columns: most severe afterwards."]
    if worse_ids:
        notes.append("Worse than at baseline: " + ", ".join(worse_ids) + ".")
    every = {str(x) for x in shift["baseline_worst"]} | set(after)
    notes.append("Ideation types: " + "; ".join(sorted(every, key=_type_key)) + ".")
    return ReportTable(
        "tbl-cssrs",
        "C-SSRS suicidal ideation: shift from baseline to the worst after baseline",
        ("Baseline ↓ / after →", *(f"type {_type_key(a)[0]}" for a in after)),
        tuple(rows),
        notes=tuple(notes),
    )


def item10_table(safety: SafetySectionResult, arms: ArmLabels | None = None) -> ReportTable | None:
    """MADRS item 10 (suicidal thoughts) by visit with the participants meeting each rule
    (one column per tier when the protocol has several rules on the item)."""
    table = _frame(safety.madrs_item10)
    if table.empty:
        return None
    rules: list[str] = []
    if "by_rule" in table:
        for by_rule in table["by_rule"]:
            rules += [r for r in (by_rule or {}) if r not in rules]
    if len(rules) > 1:
        heads = tuple(f"Meeting {r}" for r in rules)

        def meeting(r: dict[str, Any]) -> tuple[str, ...]:
            found = r["by_rule"] or {}
            return tuple(
                fmt(len(found.get(rule, [])), "count") + _ids(found.get(rule, [])) for rule in rules
            )
    else:
        heads = ("Meeting the safety rule",)

        def meeting(r: dict[str, Any]) -> tuple[str, ...]:
            return (fmt(r["n_meeting_rule"], "count") + _ids(r["participant_ids"]),)

    convention = safety.conventions.get("madrs_item10", "")
    return ReportTable(
        "tbl-item10",
        "MADRS item 10 (suicidal thoughts) by visit",
        ("Visit", "n", "Mean", "Highest", *heads),
        grouped(
            table,
            lambda r: (
                str(r["visit"]),
                fmt(r["n"], "count"),
                fmt(r["mean"], "score"),
                fmt(r["max"], "score"),
                *meeting(r),
            ),
            arms or {},
        ),
        notes=(f"Safety rules: {convention}.",) if convention else (),
        numeric_from=1,
    )


def cssrs_visit_table(
    safety: SafetySectionResult, arms: ArmLabels | None = None
) -> ReportTable | None:
    """C-SSRS ideation and behaviour by visit: participants assessed, with any ideation, by
    most severe ideation type, with any suicidal behaviour."""
    table = _frame(safety.cssrs_by_visit)
    if table.empty:
        return None
    types = [c for c in table.columns if str(c).startswith("n_type_")]
    return ReportTable(
        "tbl-cssrs-visits",
        "C-SSRS suicidal ideation and behaviour by visit",
        (
            "Visit",
            "Assessed",
            "Any ideation",
            *(f"Type {str(c).removeprefix('n_type_')}" for c in types),
            "Any behaviour",
        ),
        grouped(
            table,
            lambda r: (
                str(r["visit"]),
                fmt(r["n"], "count"),
                fmt(r["n_any_ideation"], "count"),
                *(fmt(r[c], "count") for c in types),
                fmt(r["n_any_behaviour"], "count") + _ids(r["participant_ids_behaviour"]),
            ),
            arms or {},
        ),
        notes=(
            "Participants by their most severe ideation type at the visit (types 1–5 as in "
            "the shift table); any behaviour: an actual, interrupted or aborted attempt, "
            "preparatory acts or behaviour, or suicide.",
        ),
        numeric_from=1,
    )


def behaviour_table(safety: SafetySectionResult, arms: ArmLabels | None = None) -> ReportTable:
    """Every suicidal behaviour event of the C-SSRS (a note when there is none)."""
    table = _frame(safety.cssrs_behaviour_list)
    return ReportTable(
        "tbl-cssrs-behaviour",
        "C-SSRS suicidal behaviour events",
        ("Participant", "Visit", "Date", "Form", "Behaviour", "Lethality", "Text answers"),
        grouped(
            table,
            lambda r: (
                str(r["participant_id"]),
                str(r["visit_code"] or "–"),
                _date(r["assessed_date"]),
                str(r["version"] or "–").replace("_", " "),
                str(r["behaviour"]),
                str(r["lethality"] or "–"),
                str(r["text_answers"] or "–"),
            ),
            arms or {},
        ),
        notes=()
        if len(table)
        else ("No suicidal behaviour was reported on any C-SSRS form after the lifetime history.",),
        numeric_from=99,
    )


def dose_stop_table(
    safety: SafetySectionResult, arms: ArmLabels | None = None
) -> ReportTable | None:
    """Dose-stop events (doses withheld) and overrides (deviations of the dosing day)."""
    table = _frame(safety.dose_stops)
    if safety.dose_stops is None:
        return None
    return ReportTable(
        "tbl-dose-stops",
        "Dose-stop events and overrides",
        ("Event", "Visit", "Events", "Participants", "Details"),
        grouped(
            table,
            lambda r: (
                str(r["label"]),
                str(r["visit_code"]),
                fmt(r["n"], "count"),
                fmt(r["n_participants"], "count") + _ids(r["participant_ids"]),
                str(r["details"] or "–"),
            ),
            arms or {},
        ),
        notes=() if len(table) else ("No dose was withheld and no hard stop was overridden.",),
        numeric_from=2,
    )


def deviation_tables(
    safety: SafetySectionResult, arms: ArmLabels | None = None
) -> list[ReportTable]:
    """Protocol deviations by category, then each one listed."""
    if safety.deviations_by_category is None:
        return []
    labels = arms or {}
    counts = _frame(safety.deviations_by_category)
    listing = _frame(safety.deviation_list)
    # deviations of no participant belong to no arm: the analysis gives them as notes
    study_wide = tuple(
        n[0].upper() + n[1:] + "." for n in safety.notes if n.startswith(STUDY_WIDE_DEVIATION)
    )
    return [
        ReportTable(
            "tbl-deviations",
            "Protocol deviations by category",
            ("Category", "Deviations", "Major", "Participants"),
            grouped(
                counts,
                lambda r: (
                    str(r["category"]).replace("_", " "),
                    fmt(r["n"], "count"),
                    fmt(r["n_major"], "count"),
                    fmt(r["n_participants"], "count"),
                ),
                labels,
            ),
            notes=() if len(counts) or study_wide else ("No protocol deviation was recorded.",),
            numeric_from=1,
        ),
        ReportTable(
            "tbl-deviation-list",
            "Protocol deviations",
            ("Participant", "Visit", "Date", "Category", "Major", "Description"),
            grouped(
                listing,
                lambda r: (
                    str(r["participant_id"]),
                    str(r["visit_code"] or "–"),
                    _date(r["occurred_date"]),
                    str(r["category"]).replace("_", " "),
                    "yes" if r["major"] else "no",
                    str(r["description"] or "–"),
                ),
                labels,
            ),
            notes=study_wide,
            numeric_from=99,
        ),
    ]


def alerts_table(safety: SafetySectionResult, arms: ArmLabels | None = None) -> ReportTable | None:
    """Safety alerts by rule and level with the time from raised to acknowledged."""
    table = _frame(safety.alerts)
    if safety.alerts is None:
        return None
    return ReportTable(
        "tbl-alerts",
        "Safety alerts by rule and level",
        (
            "Rule",
            "Level",
            "Alerts",
            "Participants",
            "Acknowledged",
            "Hours to acknowledge, median",
            "Hours to acknowledge, longest",
            "Not acknowledged",
            "Not closed",
        ),
        grouped(
            table,
            lambda r: (
                str(r["rule_id"]),
                str(r["level"] or "–").replace("_", " "),
                fmt(r["n"], "count"),
                fmt(r["n_participants"], "count"),
                fmt(r["n_acknowledged"], "count"),
                fmt(r["median_hours_to_ack"], "hours"),
                fmt(r["max_hours_to_ack"], "hours"),
                fmt(r["n_open"], "count"),
                fmt(r["n_unclosed"], "count"),
            ),
            arms or {},
        ),
        notes=(
            (safety.conventions.get("alerts", "").capitalize() + ".",)
            if len(table)
            else ("No safety alert was raised.",)
        ),
        numeric_from=2,
    )
