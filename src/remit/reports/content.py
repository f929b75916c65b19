"""What the report says, section by section, built from the analysis result.

:func:`build_sections` returns the sections in reading order. Every number in the text comes
from the :class:`~remit.analysis.AnalysisResult` through :mod:`remit.reports.format`; the
figures draw the data and the result's summary numbers; nothing is re-estimated here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from remit.analysis import (
    AnalysisResult,
    DescriptiveSectionResult,
    MMRMSectionResult,
    ProportionSectionResult,
    SafetySectionResult,
    TrialData,
    baseline_visits,
    follow_up_visit,
    methods_text,
    primary_visit,
)
from remit.errors import RemitError
from remit.protocol import MMRMAnalysis, Protocol
from remit.reports import figure_sections
from remit.reports.document import ReportSection, captioned, numbered
from remit.reports.figures.outcomes import SummaryPoint, VisitAxis, trajectory_figure
from remit.reports.format import fmt, fmt_ci, fmt_count
from remit.reports.renderers import Block, View, render
from remit.reports.status import categories_at, outcome_definitions
from remit.reports.tables import (
    arm_groups,
    arm_labels,
    baseline_table,
    ci_label,
    outcome_scales,
    outcome_table,
    scale_name,
)


def p_phrase(p: object) -> str:
    """``p = 0.012`` or ``p <0.001`` (the p-value formatted by :func:`fmt`)."""
    text = fmt(p, "p")
    # no-break spaces: "p < 0.001" stays on one line
    return f"p\u00a0{text}" if text.startswith("<") else f"p\u00a0=\u00a0{text}"


def _frame(frame: pd.DataFrame | None) -> pd.DataFrame:
    return pd.DataFrame() if frame is None else frame


def _row(frame: pd.DataFrame, **match: Any) -> dict[str, Any] | None:
    if frame.empty:
        return None
    mask = pd.Series(True, index=frame.index)
    for k, v in match.items():
        if k not in frame:
            return None
        mask &= frame[k] == v
    rows = frame[mask]
    return None if rows.empty else dict(rows.iloc[0])


# --------------------------------------------------------------------------- sections


def _key_results(result: AnalysisResult, protocol: Protocol) -> ReportSection:
    prim = primary_visit(protocol)
    ci = ci_label(result)
    arms = arm_labels(protocol)
    lines: list[str] = []

    def arm_prefix(arm: str | None) -> str:
        return "" if arm is None else f"{arms.get(arm, arm)}, "

    model = result.first(MMRMSectionResult)
    mmrm = _frame(None if model is None else model.change_vs_baseline)
    differences = _frame(None if model is None else model.arm_differences)
    for scale, role in outcome_scales(protocol):
        for arm, rows in arm_groups(mmrm):
            r = _row(rows, scale=scale, visit=prim)
            if r is not None:
                lines.append(
                    f"{arm_prefix(arm)}{scale_name(result, scale)} ({role}): mean change from "
                    "baseline "
                    f"to {prim} {fmt(r['estimate'], 'estimate')} (SE {fmt(r['se'], 'se')}; "
                    f"{ci} {fmt_ci(r['ci_low'], r['ci_high'])}; {p_phrase(r['p'])}; MMRM)."
                )
        d = _row(differences, scale=scale, visit=prim)
        if d is not None:
            lines.append(
                f"{scale_name(result, scale)} ({role}) at {prim}, {d['contrast']}: "
                f"{fmt(d['estimate'], 'estimate')} (SE {fmt(d['se'], 'se')}; {ci} "
                f"{fmt_ci(d['ci_low'], d['ci_high'])}; {p_phrase(d['p'])}; MMRM)."
            )
    proportion = result.first(ProportionSectionResult)
    props = _frame(None if proportion is None else proportion.proportions)
    for arm, rows in arm_groups(props):
        for rec in rows.to_dict(orient="records"):
            label = result.endpoints.labels.get(str(rec["endpoint_id"]), str(rec["endpoint_id"]))
            estimate = rec["estimate"]
            lines.append(
                f"{arm_prefix(arm)}{label} at {rec['visit']}: "
                + fmt_count(rec["k"], rec["n"], None if estimate is None else 100 * estimate)
                + "."
            )
    intro = (
        f"{fmt(len(result.population), 'count')} participants were enrolled and analysed "
        "(full analysis set)."
    )
    return ReportSection("key-results", "Key results", (intro,), items=tuple(lines))


def _mmrm_for(protocol: Protocol, scale: str) -> MMRMAnalysis | None:
    for a in protocol.analysis.analyses:
        if isinstance(a, MMRMAnalysis) and scale in a.scales:
            return a
    return None


def _primary_visits(protocol: Protocol, scale: str) -> list[str]:
    """The baseline visit of the scale, then the MMRM's visits (or primary and follow-up)."""
    base = baseline_visits(protocol).get(scale)
    mmrm = _mmrm_for(protocol, scale)
    later = list(mmrm.visits) if mmrm else [primary_visit(protocol), follow_up_visit(protocol)]
    return list(dict.fromkeys(v for v in (base, *later) if v))


def _summary_points(
    result: AnalysisResult, protocol: Protocol, scale: str
) -> tuple[list[SummaryPoint], str]:
    """The means drawn over the trajectories and what they are.

    The MMRM's least-squares means with their CIs when it models the scale total; otherwise
    (e.g. an MMRM of the change) the observed means by visit, without an interval.
    """
    arms = arm_labels(protocol)
    mmrm = _mmrm_for(protocol, scale)
    model = result.first(MMRMSectionResult)
    lsmeans = _frame(None if model is None else model.lsmeans)
    if mmrm is not None and mmrm.outcome == "value" and len(lsmeans):
        rows = lsmeans[lsmeans["scale"] == scale]
        points = [
            SummaryPoint(
                str(r["visit"]),
                r["estimate"],
                r["ci_low"],
                r["ci_high"],
                "" if arm is None else arms.get(arm, arm),
            )
            for arm, sub in arm_groups(rows)
            for r in sub.to_dict(orient="records")
        ]
        if points:
            return points, "mmrm"
    descriptive = result.first(DescriptiveSectionResult)
    described = _frame(None if descriptive is None else descriptive.by_visit)
    if described.empty:
        return [], ""
    rows = described[described["scale"] == scale]
    points = [
        SummaryPoint(
            str(r["visit"]),
            r["mean"],
            float("nan"),
            float("nan"),
            "" if arm is None else arms.get(arm, arm),
        )
        for arm, sub in arm_groups(rows)
        for r in sub.to_dict(orient="records")
        if r["n"]
    ]
    return points, "observed" if points else ""


def _trajectories(result: AnalysisResult, protocol: Protocol, simulated: bool) -> ReportSection:
    defs = outcome_definitions(protocol)
    scale = defs.scale
    visits = _primary_visits(protocol, scale)
    days = protocol.nominal_days()
    base = baseline_visits(protocol).get(scale)
    axis = []
    for code in visits:
        day = days.get(code)
        week = 0.0 if day is None else day / 7
        label = "baseline" if code == base else f"week {fmt(week, 'count')}"
        axis.append(VisitAxis(code, f"{code}\n{label}", week))
    adqs = result.adqs
    values = adqs[
        (adqs["param"] == f"{scale}_total")
        & (adqs["ANL01FL"] == "Y")
        & adqs["participant_id"].isin(result.population)
    ].rename(columns={"AVAL": "value"})[["participant_id", "visit_code", "value"]]
    prim = primary_visit(protocol) or (visits[-1] if visits else "")
    categories = categories_at(result.endpoints, defs, prim)
    summary, source = _summary_points(result, protocol, scale)
    ci = ci_label(result)
    y_range: tuple[float, float] | None = None
    total_range = result.scale(scale).total_range
    if total_range is not None:
        y_range = (float(total_range[0]), float(total_range[1]))
    cutoffs = []
    if defs.remission is not None:
        cutoffs.append(
            (
                defs.remission.max_total,
                f"Remission cut-off ({scale_name(result, scale)} "
                f"≤ {fmt(defs.remission.max_total, 'count')})",
            )
        )
    fig = trajectory_figure(
        values,
        axis,
        categories,
        summary,
        scale_label=f"{scale_name(result, scale)} total score",
        y_range=y_range,
        cutoffs=cutoffs,
        summary_label={"mmrm": f"MMRM mean ({ci})", "observed": "Observed mean"}.get(source, ""),
        category_visit=prim,
        simulated=simulated,
    )
    means = {
        "mmrm": f"black symbols are the MMRM least-squares means with their {ci} "
        "(numbers: the mean)",
        "observed": "black symbols are the observed means (numbers: the mean)",
    }.get(source, "no means in the result")
    caption = (
        f"Each participant's {scale_name(result, scale)} total at "
        + ", ".join(visits)
        + f" (thin lines, coloured by status at {prim}); {means}. The dashed line is the "
        "remission cut-off. A participant missing a visit has a line only between the visits "
        "observed."
    )
    return ReportSection(
        "trajectories",
        f"{scale_name(result, scale)} over time",
        figures=(captioned(fig, caption),),
    )


def _missing_data(result: AnalysisResult, protocol: Protocol) -> ReportSection:
    missing = result.missing
    paragraphs = ["Policy: " + (result.missing_data_policy or "no imputation") + "."]
    items: list[str] = []
    empty_scales: list[str] = []
    if not missing.empty:
        for scale, rows in missing.groupby("scale", sort=False):
            if (rows["n_observed"] == 0).all():
                empty_scales.append(scale_name(result, str(scale)))
                continue
            for r in rows.to_dict(orient="records"):
                if r["n_missing"]:
                    items.append(
                        f"{scale_name(result, str(scale))} at {r['visit_code']}: "
                        f"{fmt(r['n_missing'], 'count')} of {fmt(r['n_population'], 'count')} "
                        f"missing ({', '.join(r['missing_ids'])})."
                    )
    prim = primary_visit(protocol)
    prim_scale = outcome_definitions(protocol).scale
    prim_row = (
        missing[(missing["scale"] == prim_scale) & (missing["visit_code"] == prim)]
        if not missing.empty
        else missing
    )
    if prim and len(prim_row):
        n_miss = int(prim_row["n_missing"].iloc[0])
        if n_miss:
            paragraphs.append(
                f"The primary endpoint ({scale_name(result, prim_scale)} at {prim}) is missing for "
                f"{fmt(n_miss, 'count')} of {fmt(prim_row['n_population'].iloc[0], 'count')} "
                "participants; the MMRM uses every visit observed (missing at random), while "
                "the Wilcoxon test, the effect sizes and the response proportions use the "
                "participants observed at both visits."
            )
        else:
            paragraphs.append(
                f"No {scale_name(result, prim_scale)} value is missing at {prim} "
                "(the primary endpoint)."
            )
    if not items:
        items.append("No value is missing at the visits the analyses use.")
    if empty_scales:
        paragraphs.append(
            "Not recorded at any analysed visit (so not analysed): "
            + ", ".join(sorted(empty_scales))
            + "."
        )
    # values missing are listed once above; the other notes of the efficacy analyses (e.g. a
    # model that could not be estimated) follow; safety notes belong to the safety tables
    notes = [
        f"{s.label}: {note}"
        for s in result.sections
        if not isinstance(s, SafetySectionResult)
        for note in s.notes
        if "missing value" not in note
    ]
    return ReportSection(
        "missing-data",
        "Missing data",
        tuple(paragraphs),
        items=tuple(items + notes),
    )


def _limitations(
    result: AnalysisResult, protocol: Protocol, rendered: tuple[str, ...]
) -> ReportSection:
    study = protocol.study
    n = fmt(len(result.population), "count")
    items = [
        f"Small sample: {n} participants analysed; confidence intervals are wide and the "
        "study cannot detect small effects or rare harms.",
    ]
    design = study.design.lower()
    if "open" in design:
        items.append(
            "Open label: participants, therapists and raters knew that every participant "
            "received the treatment, so expectancy may have inflated the improvement "
            "(raters independent of the therapy team are not blind)."
        )
    if result.blinded:
        items.append(
            "Blinded (pooled) report: both arms are analysed together, so the change from "
            "baseline mixes the response to the treatment with that to placebo; no comparison "
            "between arms is made here (it is in the unblinded statistician's report)."
        )
    elif len(protocol.arms) == 1:
        items.append(
            "No control group: the change from baseline cannot be attributed to the treatment "
            "alone; natural course, the non-drug therapy sessions, expectancy and regression "
            "to the mean all contribute."
        )
    items += rendered
    if result.simulated:
        items.append("SIMULATED DATA: these numbers describe synthetic participants, not patients.")
    return ReportSection("limitations", "Limitations", items=tuple(items))


def _provenance(
    result: AnalysisResult, rendered_at: str, report_software: dict[str, str]
) -> ReportSection:
    p = result.provenance
    items = [
        f"Protocol: {p.protocol_id} version {p.protocol_version} ({p.protocol_source}); "
        f"SHA-256 {p.protocol_sha256}",
        f"Data snapshot SHA-256: {p.data_sha256}" + (" (SIMULATED)" if p.simulated else ""),
        f"Analysis run at {p.created_at}; report rendered at {rendered_at}",
        "Analysis software: " + ", ".join(f"{k} {v}" for k, v in p.software.items()),
        "Report software: " + ", ".join(f"{k} {v}" for k, v in report_software.items()),
    ]
    return ReportSection("provenance", "Provenance", items=tuple(items))


#: The report's sections in reading order (their ids are the HTML anchors).
LAYOUT: tuple[str, ...] = (
    "key-results",
    "consort",
    "baseline",
    "primary",
    "secondary",
    "trajectories",
    "waterfall",
    "response",
    "transitions",
    "swimmer",
    "safety",
    "vitals",
    "cssrs",
    "time-to-event",
    "sensitivity",
    "missing-data",
    "methods",
    "limitations",
    "provenance",
)
#: The sections only the renderers fill: their title and what to write when no analysis of
#: the plan fills them ("": leave the section out). The others are written in this module.
FILLED_BY_RENDERERS: dict[str, tuple[str, str]] = {
    "response": ("Response and remission", "The plan has no response analysis."),
    "safety": ("Safety", "The plan has no safety analysis."),
    "cssrs": ("Suicidality (C-SSRS and MADRS item 10)", "No C-SSRS data were analysed."),
    "time-to-event": ("Time to relapse", ""),
    "sensitivity": ("Sensitivity analyses", ""),
}


def _place(section: ReportSection, blocks: list[Block]) -> ReportSection:
    """``section`` with the renderers' blocks for it appended, by rank then plan order."""
    ordered = sorted(blocks, key=lambda b: b.rank)
    return ReportSection(
        section.id,
        section.title,
        section.paragraphs,
        section.items + tuple(i for b in ordered for i in b.items),
        section.tables + tuple(t for b in ordered for t in b.tables),
        section.figures + tuple(f for b in ordered for f in b.figures),
        section.subsections,
    )


def build_sections(
    result: AnalysisResult,
    data: TrialData,
    protocol: Protocol,
    *,
    rendered_at: str,
    report_software: dict[str, str],
) -> list[ReportSection]:
    """Every section of the report, in reading order (see ``docs/report.md``).

    The sections of :data:`LAYOUT` are filled by the renderers of the analysis results
    (:data:`remit.reports.renderers.RENDERERS`) and, for the views over several results or
    over the data, here; tables and figures are then numbered in reading order.
    """
    simulated = result.simulated
    scales = outcome_scales(protocol)
    arms = arm_labels(protocol)
    view = View(result, protocol, data, arms, simulated)
    blocks: dict[str, list[Block]] = {}
    for block in render(result, view):
        blocks.setdefault(block.section, []).append(block)
    limitations = tuple(i for b in blocks.pop("limitations", []) for i in b.items)
    primary = [s for s, role in scales if role == "primary"]
    secondary = [(s, role) for s, role in scales if role != "primary"]
    written = {
        "key-results": lambda: _key_results(result, protocol),
        "consort": lambda: figure_sections.consort(result, protocol, simulated),
        "baseline": lambda: ReportSection(
            "baseline", "Baseline characteristics", tables=(baseline_table(result, protocol, arms),)
        ),
        "primary": lambda: ReportSection(
            "primary",
            "Primary outcome",
            tables=tuple(outcome_table(result, protocol, s, "primary", arms) for s in primary),
        ),
        "secondary": lambda: ReportSection(
            "secondary",
            "Secondary outcomes",
            tables=tuple(outcome_table(result, protocol, s, role, arms) for s, role in secondary),
        ),
        "trajectories": lambda: _trajectories(result, protocol, simulated),
        "waterfall": lambda: figure_sections.waterfall(result, protocol, simulated),
        "transitions": lambda: figure_sections.transitions(result, protocol, simulated),
        "swimmer": lambda: figure_sections.swimmer(result, data, protocol, simulated),
        "vitals": lambda: figure_sections.vitals(result, data, protocol, simulated),
        "missing-data": lambda: _missing_data(result, protocol),
        "methods": lambda: ReportSection(
            "methods", "Statistical methods", tuple(methods_text(result))
        ),
        "limitations": lambda: _limitations(result, protocol, limitations),
        "provenance": lambda: _provenance(result, rendered_at, report_software),
    }
    sections: list[ReportSection] = []
    for section_id in LAYOUT:
        here = blocks.pop(section_id, [])
        if section_id not in FILLED_BY_RENDERERS:
            sections.append(_place(written[section_id](), here))
            continue
        title, empty = FILLED_BY_RENDERERS[section_id]
        if here:
            sections.append(_place(ReportSection(section_id, title), here))
        elif empty:
            sections.append(ReportSection(section_id, title, (empty,)))
    if blocks:
        raise RemitError(
            "renderers wrote to report sections the layout does not have: "
            + ", ".join(sorted(blocks)),
            expected="one of " + ", ".join(LAYOUT),
        )
    return numbered(sections)


__all__ = ["FILLED_BY_RENDERERS", "LAYOUT", "ReportSection", "build_sections", "p_phrase"]
