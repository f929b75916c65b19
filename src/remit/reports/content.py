"""What the report says, section by section, built from the analysis result.

:func:`build_sections` returns the sections in reading order. Every number in the text comes
from the :class:`~remit.analysis.AnalysisResult` through :mod:`remit.reports.format`; the
figures draw the data and the result's summary numbers; nothing is re-estimated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from remit.analysis import (
    AnalysisResult,
    TrialData,
    baseline_visits,
    follow_up_visit,
    methods_text,
    primary_visit,
)
from remit.protocol import MMRMAnalysis, Protocol
from remit.reports.figures.consort import consort_figure, disposition
from remit.reports.figures.outcomes import (
    SummaryPoint,
    VisitAxis,
    trajectory_figure,
    transition_figure,
    waterfall_figure,
)
from remit.reports.figures.swimmer import lanes, swimmer_figure
from remit.reports.figures.vitals import vitals_figure
from remit.reports.format import fmt, fmt_ci, fmt_count
from remit.reports.status import categories_at, outcome_definitions, percent_change_at
from remit.reports.style import ReportFigure
from remit.reports.tables import (
    ReportTable,
    ae_tables,
    alerts_table,
    arm_difference_table,
    arm_groups,
    arm_labels,
    baseline_table,
    ci_label,
    cssrs_table,
    dosing_tables,
    exploratory_table,
    item10_table,
    outcome_scales,
    outcome_table,
    response_table,
    scale_name,
    transition_table,
    vitals_table,
    wilcoxon_table,
)


@dataclass(frozen=True)
class ReportSection:
    """One section of the report: an id (the HTML anchor), a title and its content."""

    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    tables: tuple[ReportTable, ...] = ()
    figures: tuple[ReportFigure, ...] = ()
    subsections: tuple[ReportSection, ...] = field(default=())


def p_phrase(p: object) -> str:
    """``p = 0.012`` or ``p <0.001`` (the p-value formatted by :func:`fmt`)."""
    text = fmt(p, "p")
    # no-break spaces: "p < 0.001" stays on one line
    return f"p\u00a0{text}" if text.startswith("<") else f"p\u00a0=\u00a0{text}"


def _section(result: AnalysisResult, kind: str) -> Any:
    found = result.sections_of(kind)
    return found[0] if found else None


def _frame(result: AnalysisResult, kind: str, table: str) -> pd.DataFrame:
    section = _section(result, kind)
    if section is None or table not in section.tables:
        return pd.DataFrame()
    frame: pd.DataFrame = section.tables[table]
    return frame


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


def _with_caption(fig: ReportFigure, number: int, caption: str) -> ReportFigure:
    return ReportFigure(fig.id, f"Figure {number}. {fig.title}", caption, fig.svg)


# --------------------------------------------------------------------------- sections


def _key_results(result: AnalysisResult, protocol: Protocol) -> ReportSection:
    prim = primary_visit(protocol)
    ci = ci_label(result)
    arms = arm_labels(protocol)
    lines: list[str] = []

    def arm_prefix(arm: str | None) -> str:
        return "" if arm is None else f"{arms.get(arm, arm)}, "

    mmrm = _frame(result, "mmrm", "change_vs_baseline")
    differences = _frame(result, "mmrm", "arm_differences")
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
    props = _frame(result, "proportion", "proportions")
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


def _consort(result: AnalysisResult, protocol: Protocol, simulated: bool) -> ReportSection:
    flow = disposition(result.adsl, protocol)
    prim = primary_visit(protocol) or "primary visit"
    fig = consort_figure(
        flow,
        primary_visit=prim,
        follow_up_visit=follow_up_visit(protocol),
        simulated=simulated,
    )
    caption = (
        "Flow of participants from screening to analysis (CONSORT). Counts are the population "
        "flags of the analysis dataset (screened, enrolled, dosed at least once, assessed at "
        "the primary and follow-up visits). Exclusion reasons are the eligibility criteria "
        "recorded at screening, in the protocol's words; one person may have several."
    )
    return ReportSection("consort", "Participant flow", figures=(_with_caption(fig, 1, caption),))


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
    lsmeans = _frame(result, "mmrm", "lsmeans")
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
    described = _frame(result, "descriptive", "by_visit")
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


def _trajectories(
    result: AnalysisResult, protocol: Protocol, simulated: bool, number: int
) -> ReportSection:
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
        figures=(_with_caption(fig, number, caption),),
    )


def _arm_of(result: AnalysisResult, protocol: Protocol) -> dict[str, str]:
    """Participant id → arm label of the enrolled (empty when the ADSL has no arm)."""
    adsl = result.adsl
    if "arm" not in adsl:
        return {}
    arms = arm_labels(protocol)
    return {
        str(pid): arms.get(str(arm), str(arm))
        for pid, arm in zip(adsl["participant_id"], adsl["arm"], strict=True)
        if str(pid) in set(result.population) and not pd.isna(arm)
    }


def _waterfall(
    result: AnalysisResult, protocol: Protocol, simulated: bool, number: int
) -> ReportSection:
    defs = outcome_definitions(protocol)
    prim = primary_visit(protocol) or (defs.visits[0] if defs.visits else "")
    pct = percent_change_at(result.endpoints, defs, prim)
    threshold = -defs.response.min_reduction_pct if defs.response is not None else None
    fig = waterfall_figure(
        pct,
        categories_at(result.endpoints, defs, prim),
        threshold_pct=threshold,
        visit_label=prim,
        scale_label=scale_name(result, defs.scale),
        groups=_arm_of(result, protocol),
        simulated=simulated,
    )
    caption = (
        f"Percent change in {scale_name(result, defs.scale)} from baseline to {prim}, one bar per "
        f"participant, sorted from least to most improved, coloured by status at {prim}. "
    )
    if defs.response is not None:
        caption += f"The dashed line is the response threshold ({defs.response.definition}). "
    if len(set(_arm_of(result, protocol).values())) > 1:
        caption += "Hatching tells the arms apart. "
    missing = sorted(str(p) for p in pct.index if pd.isna(pct[p]))
    if missing:
        caption += f"Not shown (no {prim} value): " + ", ".join(missing) + "."
    return ReportSection(
        "waterfall",
        f"Change at {prim} per participant",
        figures=(_with_caption(fig, number, caption),),
    )


def _transition_visits(result: AnalysisResult, protocol: Protocol) -> tuple[str, str] | None:
    tests = _frame(result, "mcnemar", "tests")
    if not tests.empty:
        r = tests.iloc[0]
        return str(r["from_visit"]), str(r["to_visit"])
    visits = outcome_definitions(protocol).visits
    return (visits[0], visits[1]) if len(visits) >= 2 else None


def _transitions(
    result: AnalysisResult, protocol: Protocol, simulated: bool, number: int
) -> ReportSection:
    pair = _transition_visits(result, protocol)
    table = transition_table(result, arm_labels(protocol))
    if pair is None:
        return ReportSection(
            "transitions",
            "Status over time",
            ("The protocol defines no two visits to compare response status at.",),
        )
    defs = outcome_definitions(protocol)
    before, after = pair
    fig = transition_figure(
        categories_at(result.endpoints, defs, before),
        categories_at(result.endpoints, defs, after),
        before_label=before,
        after_label=after,
        simulated=simulated,
    )
    caption = (
        f"Outcome status of each participant at {before} (left) and {after} (right); bands "
        "show who moved between categories, their width the number of participants. "
        "Remission counts before response (a remitter is shown as remission whether or not "
        "the response criterion is met)."
    )
    return ReportSection(
        "transitions",
        f"Status from {before} to {after}",
        figures=(_with_caption(fig, number, caption),),
        tables=(table,) if table is not None else (),
    )


def _swimmer(
    result: AnalysisResult, data: TrialData, protocol: Protocol, simulated: bool, number: int
) -> ReportSection:
    defs = outcome_definitions(protocol)
    cats = {v: categories_at(result.endpoints, defs, v) for v in defs.visits}
    lanes_ = lanes(data, protocol, cats)
    if not lanes_:
        return ReportSection(
            "swimmer", "Time on study", ("No enrolled participant has a visit date yet.",)
        )
    fig = swimmer_figure(
        lanes_, reference_visit=protocol.study.reference_visit, simulated=simulated
    )
    caption = (
        "Each enrolled participant's time on study, from enrolment to the last visit, in days "
        f"from the reference visit {protocol.study.reference_visit}. Diamonds: dosing sessions "
        "(open: supplemental dose withheld). Triangles above a lane: adverse events by "
        "severity (star: serious). Triangles below: safety alerts. Squares: outcome status at "
        + " and ".join(defs.visits)
        + ". A cross marks a participant who left the study; an arrow one still on study."
    )
    outside = [(lane.participant_id, lane.alerts_outside) for lane in lanes_ if lane.alerts_outside]
    if outside:
        caption += (
            " Not drawn: safety alerts dated more than 30 days outside the participant's time "
            "on study (e.g. recorded long after the visit): "
            + ", ".join(f"{pid} ({fmt(n, 'count')})" for pid, n in outside)
            + "."
        )
    return ReportSection("swimmer", "Time on study", figures=(_with_caption(fig, number, caption),))


def _vitals(
    result: AnalysisResult, data: TrialData, protocol: Protocol, simulated: bool, number: int
) -> ReportSection:
    table = vitals_table(result, arm_labels(protocol))
    if not protocol.dosing:
        return ReportSection("vitals", "Vital signs", ("The protocol has no dosing sessions.",))
    sessions = [
        (
            s.number,
            f"Session {s.number} ({s.visit}): {fmt(s.initial_mg, 'mg')} + "
            f"{fmt(s.supplemental_mg, 'mg')} mg",
        )
        for s in protocol.dosing
    ]
    thresholds = {s.number: protocol.vital_thresholds(s.visit) for s in protocol.dosing}
    vitals = data.vitals[data.vitals["participant_id"].isin(result.population)]
    fig = vitals_figure(vitals, sessions, thresholds, simulated=simulated)
    caption = (
        "Vital signs during each dosing session by hours after the initial dose. Thin lines: "
        "participants; thick line: mean at each time point (drawing aid); dashed lines: the "
        "protocol's thresholds for the session; rings: readings beyond a threshold."
    )
    return ReportSection(
        "vitals",
        "Vital signs during dosing sessions",
        figures=(_with_caption(fig, number, caption),),
        tables=(table,) if table is not None else (),
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
        if s.kind != "safety"
        for note in s.notes
        if "missing value" not in note
    ]
    return ReportSection(
        "missing-data",
        "Missing data",
        tuple(paragraphs),
        items=tuple(items + notes),
    )


def _limitations(result: AnalysisResult, protocol: Protocol) -> ReportSection:
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
    if len(protocol.arms) == 1:
        items.append(
            "No control group: the change from baseline cannot be attributed to the treatment "
            "alone; natural course, the non-drug therapy sessions, expectancy and regression "
            "to the mean all contribute."
        )
    rtm = _frame(result, "rtm", "range")
    for r in rtm.to_dict(orient="records") if not rtm.empty else []:
        scale = scale_name(result, str(r["scale"]))
        items.append(
            f"Regression to the mean: participants were selected on a high {scale} at "
            f"{r['visit']}; with a test–retest reliability of "
            f"{fmt(r['reliability_low'], 'rho')}–{fmt(r['reliability_high'], 'rho')}, "
            f"regression to the mean alone would lower the mean {scale} by an expected "
            f"{fmt(r['rtm_min'], 'estimate')} to {fmt(r['rtm_max'], 'estimate')} points, "
            f"against an observed mean change of {fmt(r['observed_change'], 'estimate')}."
        )
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


def build_sections(
    result: AnalysisResult,
    data: TrialData,
    protocol: Protocol,
    *,
    rendered_at: str,
    report_software: dict[str, str],
) -> list[ReportSection]:
    """Every section of the report, in reading order (see ``docs/report.md``)."""
    simulated = result.simulated
    scales = outcome_scales(protocol)
    arms = arm_labels(protocol)
    sections: list[ReportSection] = [
        _key_results(result, protocol),
        _consort(result, protocol, simulated),
        ReportSection(
            "baseline", "Baseline characteristics", tables=(baseline_table(result, protocol, arms),)
        ),
    ]
    primary = [s for s, role in scales if role == "primary"]
    secondary = [(s, role) for s, role in scales if role != "primary"]
    sections.append(
        ReportSection(
            "primary",
            "Primary outcome",
            tables=tuple(
                t
                for t in (
                    *(outcome_table(result, protocol, s, "primary", arms) for s in primary),
                    arm_difference_table(result),
                )
                if t is not None
            ),
        )
    )
    extra = [wilcoxon_table(result, arms), exploratory_table(result, {s for s, _ in scales}, arms)]
    sections.append(
        ReportSection(
            "secondary",
            "Secondary outcomes",
            tables=(
                *(outcome_table(result, protocol, s, role, arms) for s, role in secondary),
                *(t for t in extra if t is not None),
            ),
        )
    )
    figure_no = 2
    sections.append(_trajectories(result, protocol, simulated, figure_no))
    figure_no += 1
    sections.append(_waterfall(result, protocol, simulated, figure_no))
    figure_no += 1
    response = response_table(result, arms)
    sections.append(
        ReportSection(
            "response",
            "Response and remission",
            tables=(response,) if response is not None else (),
            paragraphs=() if response is not None else ("The plan has no response analysis.",),
        )
    )
    sections.append(_transitions(result, protocol, simulated, figure_no))
    figure_no += 1
    sections.append(_swimmer(result, data, protocol, simulated, figure_no))
    figure_no += 1
    safety_tables = [*ae_tables(result, arms), *dosing_tables(result, arms)]
    alerts = alerts_table(result)
    if alerts is not None:
        safety_tables.append(alerts)
    sections.append(
        ReportSection(
            "safety",
            "Safety",
            tables=tuple(safety_tables),
            paragraphs=() if safety_tables else ("The plan has no safety analysis.",),
        )
    )
    sections.append(_vitals(result, data, protocol, simulated, figure_no))
    figure_no += 1
    cssrs = [t for t in (cssrs_table(result, arms), item10_table(result, arms)) if t is not None]
    sections.append(
        ReportSection(
            "cssrs",
            "Suicidality (C-SSRS and MADRS item 10)",
            tables=tuple(cssrs),
            paragraphs=() if cssrs else ("No C-SSRS data were analysed.",),
        )
    )
    sections.append(_missing_data(result, protocol))
    sections.append(ReportSection("methods", "Statistical methods", tuple(methods_text(result))))
    sections.append(_limitations(result, protocol))
    sections.append(_provenance(result, rendered_at, report_software))
    return _number_tables(sections)


def _number_tables(sections: Sequence[ReportSection]) -> list[ReportSection]:
    out: list[ReportSection] = []
    n = 0
    for s in sections:
        tables = []
        for t in s.tables:
            n += 1
            tables.append(
                ReportTable(
                    t.id, f"Table {n}. {t.caption}", t.header, t.rows, t.notes, t.numeric_from
                )
            )
        out.append(
            ReportSection(
                s.id, s.title, s.paragraphs, s.items, tuple(tables), s.figures, s.subsections
            )
        )
    return out


__all__ = ["ReportSection", "build_sections", "p_phrase"]
