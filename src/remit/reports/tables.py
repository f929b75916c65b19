"""The report's tables, read from the typed sections of an analysis result.

Nothing here computes a statistic: each cell is a number of the result (or a count of its
rows) passed through :mod:`remit.reports.format`. Sections are found by their result class
(``MMRMSectionResult`` …), not by their id, since the ids are the protocol's choice; their
tables are read as typed fields. Safety tables are in :mod:`remit.reports.safety_tables`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from remit.analysis import (
    AnalysisResult,
    DescriptiveSectionResult,
    EffectSizeSectionResult,
    McNemarSectionResult,
    MMRMSectionResult,
    ProportionSectionResult,
    SafetySectionResult,
    SectionResult,
    WilcoxonSectionResult,
    baseline_visits,
)
from remit.analysis.binary_sections import CI_HEADINGS, ci_column
from remit.protocol import VITAL_SIGNS, ChangeEndpoint, Protocol
from remit.reports.figures.vitals import sign_kind
from remit.reports.format import fmt, fmt_ci, fmt_count, fmt_mean_sd


@dataclass(frozen=True)
class ReportTable:
    """One table of the report, every cell already text.

    A row with a single cell is a group heading spanning the table.
    """

    id: str
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()
    numeric_from: int = 1  # columns from this index on are right-aligned

    def to_frame(self) -> pd.DataFrame:
        """The body rows (group headings left out) as a DataFrame of text."""
        body = [r for r in self.rows if len(r) == len(self.header)]
        return pd.DataFrame(body, columns=list(self.header))


def ci_label(result: AnalysisResult) -> str:
    """``95% CI`` for the result's confidence level."""
    return f"{100 * result.ci_level:g}% CI"


def scale_name(result: AnalysisResult, code: str) -> str:
    """Short display name of a scale (``GAD-7``): its ``short_name``, carried by the result."""
    return result.scale(code).short_name


def _frame(frame: pd.DataFrame | None) -> pd.DataFrame:
    """``frame``, or an empty frame for a table the analysis did not produce."""
    return pd.DataFrame() if frame is None else frame


def _of(section: S | None, read: Callable[[S], pd.DataFrame | None]) -> pd.DataFrame:
    """A table of ``section`` (empty when the plan has no such section)."""
    return pd.DataFrame() if section is None else _frame(read(section))


def _where(frame: pd.DataFrame, **match: Any) -> pd.DataFrame:
    if frame.empty:
        return frame
    mask = pd.Series(True, index=frame.index)
    for col, value in match.items():
        if col not in frame:
            return frame.iloc[0:0]
        mask &= frame[col] == value
    return frame[mask]


def one_row(frame: pd.DataFrame, **match: Any) -> dict[str, Any] | None:
    """The first row of ``frame`` whose columns equal ``match`` as a dict; ``None`` if none."""
    rows = _where(frame, **match)
    return None if rows.empty else dict(rows.iloc[0])


ArmLabels = Mapping[str, str]
S = TypeVar("S", bound=SectionResult)


def arm_labels(protocol: Protocol) -> dict[str, str]:
    """Arm code → label, from the protocol."""
    return {a.code: a.label for a in protocol.arms}


def arm_groups(frame: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """The rows of each arm, in order of appearance; one group (``None``) if one arm or none."""
    if frame.empty or "arm" not in frame:
        return [(None, frame)]
    keys = [None if pd.isna(a) else str(a) for a in frame["arm"]]
    codes = list(dict.fromkeys(keys))
    if len(codes) <= 1:
        return [(None, frame)]
    return [(c, frame[[k == c for k in keys]]) for c in codes]


def _in_arm(frame: pd.DataFrame, arm: str | None) -> pd.DataFrame:
    if arm is None or frame.empty or "arm" not in frame:
        return frame
    return frame[[(None if pd.isna(a) else str(a)) == arm for a in frame["arm"]]]


def _arm_heading(arm: str | None, arms: ArmLabels) -> tuple[str]:
    return (f"Arm: {arms.get(arm, arm)}" if arm is not None else "No arm",)


def grouped(
    frame: pd.DataFrame,
    make: Callable[[Any], tuple[str, ...]],
    arms: ArmLabels,
) -> tuple[tuple[str, ...], ...]:
    """Rows made from each record, under an arm heading when the frame has several arms or
    the protocol has (``arms`` names more than one): a listing whose rows all come from one
    arm of a two-arm trial still says which arm that is."""
    groups = arm_groups(frame)
    several = len(groups) > 1 or (len(arms) > 1 and "arm" in frame and not frame.empty)
    if several and len(groups) == 1:
        arm = frame["arm"].iloc[0]
        groups = [(None if pd.isna(arm) else str(arm), frame)]
    rows: list[tuple[str, ...]] = []
    for arm, sub in groups:
        if several:
            rows.append(_arm_heading(arm, arms))
        rows.extend(make(r) for r in sub.to_dict(orient="records"))
    return tuple(rows)


def _visit_label(code: str, baseline: bool = False) -> str:
    return f"{code} (baseline)" if baseline else code


# --------------------------------------------------------------------------- baseline


def baseline_table(
    result: AnalysisResult, protocol: Protocol, arms: ArmLabels | None = None
) -> ReportTable:
    """Enrolled participants: n, sex, age, baseline scores (a column per arm when several)."""
    labels = arms or {}
    adsl = result.adsl
    enrolled = adsl[adsl["ENRLFL"] == "Y"] if "ENRLFL" in adsl else adsl.iloc[0:0]
    enrolled = enrolled[enrolled["participant_id"].isin(result.population)]
    groups = arm_groups(enrolled)
    several = len(groups) > 1
    sizes = [len(g) for _a, g in groups]

    def counts(column: str, fill: str | None) -> list[str]:
        values: set[str] = set()
        per: list[pd.Series] = []
        for _arm, g in groups:
            col = g[column]
            col = col.fillna(fill) if fill is not None else col.dropna()
            vc = col.astype(str).value_counts()
            per.append(vc)
            values |= set(vc.index)
        total = pd.concat(per).groupby(level=0).sum() if per else pd.Series(dtype=float)
        return sorted(values, key=lambda v: (-int(total.get(v, 0)), v))

    rows: list[tuple[str, ...]] = [
        ("Participants enrolled (full analysis set)", *(fmt(n, "count") for n in sizes))
    ]
    rows.append(("Sex",))
    for sex in counts("SEX", "not recorded"):
        rows.append(
            (
                f"  {sex}",
                *(
                    fmt_count(int((g["SEX"].fillna("not recorded").astype(str) == sex).sum()), n)
                    for (_a, g), n in zip(groups, sizes, strict=True)
                ),
            )
        )
    rows.append(("Age, years",))
    means, ranges = [], []
    for _arm, g in groups:
        ages = g["AGE"].dropna().astype(float)
        means.append(fmt_mean_sd(ages.mean(), ages.std(ddof=1)) if len(ages) > 1 else "–")
        ranges.append(
            f"{fmt(ages.min(), 'count')}–{fmt(ages.max(), 'count')}" if len(ages) else "–"
        )
    rows.append(("  mean (SD)", *means))
    rows.append(("  range", *ranges))
    for group in sorted(counts("AGEGR1", None)):
        rows.append(
            (
                f"  {group}",
                *(
                    fmt_count(int((g["AGEGR1"].astype(str) == group).sum()), n)
                    for (_a, g), n in zip(groups, sizes, strict=True)
                ),
            )
        )
    missing_age = [int(g["AGE"].isna().sum()) for _a, g in groups]
    if any(missing_age):
        rows.append(
            ("  not recorded", *(fmt_count(k, n) for k, n in zip(missing_age, sizes, strict=True)))
        )
    by_visit = _of(result.first(DescriptiveSectionResult), lambda s: s.by_visit)
    bases = baseline_visits(protocol)
    score_rows: list[tuple[str, ...]] = []
    for scale in dict.fromkeys(by_visit.get("scale", pd.Series(dtype=object))):
        visit = bases.get(str(scale))
        recs = [one_row(_in_arm(by_visit, arm), scale=scale, visit=visit) for arm, _g in groups]
        if not any(r is not None and r.get("n") for r in recs):
            continue
        name = f"  {scale_name(result, str(scale))} total at {visit}"
        if not several and recs[0] is not None:
            name += f" (n = {fmt(recs[0]['n'], 'count')})"
        score_rows.append(
            (
                name,
                *(
                    "–"
                    if r is None
                    else fmt_mean_sd(r["mean"], r["sd"])
                    + (f"; n = {fmt(r['n'], 'count')}" if several else "")
                    for r in recs
                ),
            )
        )
    if score_rows:
        rows.append(("Baseline scores, mean (SD)",))
        rows += score_rows
    header = (
        ("Characteristic", *(labels.get(str(a), str(a)) for a, _g in groups))
        if several
        else ("Characteristic", "Value")
    )
    return ReportTable(
        "tbl-baseline",
        "Participants at baseline",
        header,
        tuple(rows),
        notes=(
            "Counts are n (% of the full analysis set"
            + (" of the arm" if several else "")
            + "). Age is given as mean (SD, n − 1 denominator), range and age groups.",
        ),
    )


# --------------------------------------------------------------------------- outcomes


def outcome_table(
    result: AnalysisResult,
    protocol: Protocol,
    scale: str,
    role: str,
    arms: ArmLabels | None = None,
) -> ReportTable:
    """Scores by visit with the MMRM change from baseline, Wilcoxon p and d_z for one scale."""
    by_visit = _where(
        _of(result.first(DescriptiveSectionResult), lambda s: s.by_visit), scale=scale
    )
    mmrm = _where(_of(result.first(MMRMSectionResult), lambda s: s.change_vs_baseline), scale=scale)
    wilcoxon = _where(_of(result.first(WilcoxonSectionResult), lambda s: s.tests), scale=scale)
    effects = _where(
        _of(result.first(EffectSizeSectionResult), lambda s: s.effect_sizes), scale=scale
    )
    base = baseline_visits(protocol).get(scale)
    ci = ci_label(result)
    groups = arm_groups(by_visit if not by_visit.empty else mmrm)
    rows: list[tuple[str, ...]] = []
    for arm, described in groups:
        if len(groups) > 1:
            rows.append(_arm_heading(arm, arms or {}))
        m_arm, w_arm, e_arm = _in_arm(mmrm, arm), _in_arm(wilcoxon, arm), _in_arm(effects, arm)
        visits = list(dict.fromkeys(described.get("visit", pd.Series(dtype=object))))
        for frame in (m_arm, w_arm):
            for v in frame.get("visit", pd.Series(dtype=object)):
                if v not in visits:
                    visits.append(v)
        for visit in visits:
            d = one_row(described, visit=visit) or {}
            m = one_row(m_arm, visit=visit)
            w = one_row(w_arm, visit=visit)
            e = one_row(e_arm, visit=visit, effect_size="d_z")
            rows.append(
                (
                    _visit_label(str(visit), baseline=visit == base),
                    fmt(d.get("n"), "count"),
                    fmt_mean_sd(d.get("mean"), d.get("sd")),
                    f"{fmt(m['estimate'], 'estimate')} ({fmt(m['se'], 'se')})" if m else "",
                    fmt_ci(m["ci_low"], m["ci_high"]) if m else "",
                    fmt(m["p"], "p") if m else "",
                    fmt(w["p_value"], "p") if w else "",
                    f"{fmt(e['estimate'], 'effect')} "
                    f"({fmt_ci(e['ci_low'], e['ci_high'], 'effect')})"
                    if e
                    else "",
                )
            )
    name = scale_name(result, scale)
    return ReportTable(
        f"tbl-outcome-{scale}",
        f"{name} ({role} outcome): scores by visit and change from baseline",
        (
            "Visit",
            "n",
            "Mean (SD)",
            "Change (SE), MMRM",
            ci,
            "p, MMRM",
            "p, Wilcoxon",
            f"d_z ({ci})",
        ),
        tuple(rows),
        notes=(
            "Change is the MMRM least-squares mean difference from baseline; Wilcoxon is the "
            "signed-rank test on the paired observed values; d_z is the mean paired difference "
            "divided by its SD.",
        ),
    )


def arm_difference_table(
    s: MMRMSectionResult, ci: str, *, result: AnalysisResult
) -> ReportTable | None:
    """Between-arm differences of the MMRM (when the plan asks for them)."""
    diffs = _frame(s.arm_differences)
    if diffs.empty:
        return None
    rows = tuple(
        (
            scale_name(result, str(r["scale"])),
            str(r["visit"]),
            str(r["contrast"]),
            f"{fmt(r['estimate'], 'estimate')} ({fmt(r['se'], 'se')})",
            fmt_ci(r["ci_low"], r["ci_high"]),
            fmt(r["p"], "p"),
        )
        for r in diffs.to_dict(orient="records")
    )
    return ReportTable(
        "tbl-arm-differences",
        "Difference between arms (MMRM)",
        ("Scale", "Visit", "Contrast", "Difference (SE)", ci, "p"),
        rows,
        numeric_from=3,
    )


def wilcoxon_table(
    s: WilcoxonSectionResult, ci: str, arms: ArmLabels | None = None, *, result: AnalysisResult
) -> ReportTable | None:
    """Every Wilcoxon test with its statistic, p-value method and Hodges–Lehmann estimate."""
    tests = s.tests
    if tests.empty:
        return None
    rows = grouped(
        tests,
        lambda r: (
            scale_name(result, str(r["scale"])),
            f"{r['visit']} vs {r['baseline_visit']}",
            fmt(r["n"], "count"),
            fmt(r["statistic"], "stat"),
            fmt(r["p_value"], "p"),
            str(r["p_value_method"]),
            f"{fmt(r['hl_estimate'], 'estimate')} ({fmt_ci(r['hl_ci_low'], r['hl_ci_high'])})",
        ),
        arms or {},
    )
    return ReportTable(
        "tbl-wilcoxon",
        "Wilcoxon signed-rank tests (paired, observed cases)",
        ("Scale", "Comparison", "n pairs", "V", "p", "p method", f"Hodges–Lehmann ({ci})"),
        rows,
        numeric_from=2,
    )


def exploratory_table(
    s: DescriptiveSectionResult,
    shown: set[str],
    arms: ArmLabels | None = None,
    *,
    result: AnalysisResult,
) -> ReportTable | None:
    """Descriptive statistics by visit of the scales not in an outcome table."""
    by_visit = s.by_visit
    if by_visit.empty:
        return None
    rest = by_visit[~by_visit["scale"].isin(shown) & (by_visit["n"] > 0)]
    if rest.empty:
        return None
    rows = grouped(
        rest,
        lambda r: (
            scale_name(result, str(r["scale"])),
            str(r["visit"]),
            fmt(r["n"], "count"),
            fmt_mean_sd(r["mean"], r["sd"]),
            f"{fmt(r['median'], 'score')} ({fmt(r['q1'], 'score')}–{fmt(r['q3'], 'score')})",
        ),
        arms or {},
    )
    return ReportTable(
        "tbl-exploratory",
        "Other scales by visit",
        ("Scale", "Visit", "n", "Mean (SD)", "Median (Q1–Q3)"),
        rows,
        numeric_from=2,
    )


# --------------------------------------------------------------------------- response


def response_table(
    s: ProportionSectionResult, result: AnalysisResult, arms: ArmLabels | None = None
) -> ReportTable | None:
    """Responders, remitters, sustained responders and relapses with both CIs."""
    props = s.proportions
    if props.empty:
        return None
    ci = ci_label(result)
    labels = result.endpoints.labels
    # the CI methods the plan asked for are the ones with columns in the table
    columns = [(h, ci_column(m)) for m, h in CI_HEADINGS.items() if f"{ci_column(m)}_low" in props]
    rows = grouped(
        props,
        lambda r: (
            labels.get(str(r["endpoint_id"]), str(r["endpoint_id"])),
            str(r["visit"]),
            fmt_count(r["k"], r["n"], None if r["estimate"] is None else 100 * r["estimate"]),
            *(fmt_ci(r[f"{c}_low"], r[f"{c}_high"], "proportion") for _, c in columns),
            fmt(r["n_undecided"], "count"),
        ),
        arms or {},
    )
    definitions = tuple(
        f"{labels.get(e, e)}: {d}"
        for e, d in result.endpoints.definitions.items()
        if e in set(props["endpoint_id"])
    )
    return ReportTable(
        "tbl-response",
        "Response, remission, sustained response and relapse",
        (
            "Endpoint",
            "Visit",
            "k/n (%)",
            *(f"{heading} {ci}" for heading, _ in columns),
            "Not assessable",
        ),
        rows,
        notes=(
            *definitions,
            "n counts participants whose status could be decided; proportions are k/n.",
        ),
        numeric_from=2,
    )


def transition_table(
    s: McNemarSectionResult, result: AnalysisResult, arms: ArmLabels | None = None
) -> ReportTable | None:
    """Status at the earlier visit × the later one, with the exact McNemar test."""
    tests = s.tests
    if tests.empty:
        return None
    labels = result.endpoints.labels
    rows = grouped(
        tests,
        lambda r: (
            labels.get(str(r["endpoint_id"]), str(r["endpoint_id"])),
            f"{r['from_visit']} → {r['to_visit']}",
            fmt(r["n"], "count"),
            fmt(r["n_yes_yes"], "count"),
            fmt(r["n_yes_no"], "count"),
            fmt(r["n_no_yes"], "count"),
            fmt(r["n_no_no"], "count"),
            fmt(r["p_value"], "p"),
        ),
        arms or {},
    )
    relapses = s.relapses
    several = len(arm_groups(relapses)) > 1
    notes = [
        (f"{(arms or {}).get(str(r['arm']), str(r['arm']))}, " if several else "")
        + f"{labels.get(str(r['endpoint_id']), str(r['endpoint_id']))}: "
        f"{fmt(r['n_relapsed'], 'count')} of {fmt(r['n'], 'count')} remitters at "
        f"{r['from_visit']} with a {r['to_visit']} assessment"
        + (f" ({', '.join(r['participant_ids'])})" if r["participant_ids"] else "")
        for r in relapses.to_dict(orient="records")
    ]
    notes.append("Participants with a status missing at either visit are not in n.")
    return ReportTable(
        "tbl-transitions",
        "Status from the primary visit to follow-up (exact McNemar test)",
        ("Endpoint", "Visits", "n", "yes → yes", "yes → no", "no → yes", "no → no", "p"),
        rows,
        notes=tuple(notes),
        numeric_from=2,
    )


def _vitals_row(r: dict[str, Any]) -> tuple[str, ...]:
    sign = VITAL_SIGNS.get(str(r["sign"]))
    label, unit = (sign.label, sign.unit) if sign else (str(r["sign"]), "")
    kind = sign_kind(str(r["sign"]))
    limits = []
    if r["threshold_high"] is not None and not pd.isna(r["threshold_high"]):
        limits.append(f"> {fmt(r['threshold_high'], kind)}")
    if r["threshold_low"] is not None and not pd.isna(r["threshold_low"]):
        limits.append(f"< {fmt(r['threshold_low'], kind)}")
    ids = list(r["participant_ids_breached"] or [])
    session = r["session_number"]
    beyond = fmt(r["n_participants_breached"], "count") + (f" ({', '.join(ids)})" if ids else "")
    if not r.get("judged", True):
        beyond = "not judged: no limit at this visit"
    return (
        f"{'no session' if pd.isna(session) else fmt(session, 'count')} ({r['visit_code']})",
        f"{label} ({unit})",
        fmt(r["n_participants"], "count"),
        fmt_mean_sd(r["mean_peak"], r["sd_peak"], kind),
        fmt(r["max_peak"], kind),
        fmt(r["min_lowest"], kind),
        " or ".join(limits) or "–",
        beyond,
    )


def vitals_table(safety: SafetySectionResult, arms: ArmLabels | None = None) -> ReportTable | None:
    """Vital-sign peaks per dosing session against the protocol's thresholds."""
    summary = _frame(safety.vitals_summary)
    if summary.empty:
        return None
    order = list(VITAL_SIGNS)
    summary = summary.assign(
        _o=[order.index(s) if s in order else len(order) for s in summary["sign"]]
    ).sort_values(["session_number", "_o"], kind="mergesort")
    rows = grouped(summary, _vitals_row, arms or {})
    return ReportTable(
        "tbl-vitals",
        "Vital-sign peaks per dosing session",
        (
            "Session",
            "Sign",
            "n",
            "Peak, mean (SD)",
            "Highest",
            "Lowest",
            "Threshold",
            "Participants beyond",
        ),
        rows,
        notes=(
            "Peak is each participant's highest reading in the session; the threshold is where "
            "the protocol's vital-sign alerts begin (its least pressing tier; the more pressing "
            "tiers lie beyond it).",
        ),
        numeric_from=2,
    )


def outcome_scales(protocol: Protocol) -> list[tuple[str, str]]:
    """(scale, role) of the change endpoints, primary first, each scale once."""
    seen: dict[str, str] = {}
    ranked = sorted(protocol.endpoints, key=lambda e: 0 if e.role == "primary" else 1)
    for e in ranked:
        if isinstance(e, ChangeEndpoint):
            seen.setdefault(e.scale, e.role)
    return list(seen.items())


__all__ = [
    "ReportTable",
    "arm_difference_table",
    "baseline_table",
    "ci_label",
    "exploratory_table",
    "grouped",
    "one_row",
    "outcome_scales",
    "outcome_table",
    "response_table",
    "scale_name",
    "transition_table",
    "vitals_table",
    "wilcoxon_table",
]
