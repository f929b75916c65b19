"""Descriptive statistics, Wilcoxon signed-rank tests and effect sizes of within-subject change."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from remit.analysis.context import Context, estimated
from remit.analysis.result import SectionResult, headline_frame, headline_row, section_fields
from remit.errors import InputError
from remit.protocol import DescriptiveAnalysis, EffectSizeAnalysis, WilcoxonAnalysis
from remit.stats.effect_size import paired_effect_sizes
from remit.stats.paired import (
    HodgesLehmannResult,
    WilcoxonResult,
    hodges_lehmann,
    wilcoxon_signed_rank,
)

QUANTILE_CONVENTION = "quartiles by linear interpolation (R type 7, pandas default)"
SD_CONVENTION = "SD with n − 1 denominator; SE = SD/√n"
FloatArray = np.ndarray[Any, np.dtype[np.float64]]

# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False, kw_only=True)
class DescriptiveSectionResult(SectionResult):
    """Result of a ``descriptive`` analysis: totals and changes from baseline by visit."""

    by_visit: pd.DataFrame
    change_by_visit: pd.DataFrame


@dataclass(frozen=True, eq=False, kw_only=True)
class WilcoxonSectionResult(SectionResult):
    """Result of a ``wilcoxon`` analysis: one signed-rank test per arm, scale and visit."""

    tests: pd.DataFrame


@dataclass(frozen=True, eq=False, kw_only=True)
class EffectSizeSectionResult(SectionResult):
    """Result of an ``effect_size`` analysis: one row per arm, scale, visit and measure."""

    effect_sizes: pd.DataFrame


# --------------------------------------------------------------------------- descriptive


def _pairs(
    ctx: Context, scales: tuple[str, ...], baseline_visit: str, visits: tuple[str, ...]
) -> Iterator[tuple[str | None, str, str, FloatArray, FloatArray]]:
    """(arm, scale, visit, baseline values, visit values) for every cell of a paired
    analysis, aligned by participant (NaN where a value is missing)."""
    for arm, ids in ctx.groups:
        for scale in scales:
            before = ctx.values(scale, baseline_visit, ids)
            for visit in visits:
                yield arm, scale, visit, before, ctx.values(scale, visit, ids)


def run_descriptive(a: DescriptiveAnalysis, ctx: Context) -> DescriptiveSectionResult:
    """Summary statistics of each scale total (and its change from baseline) by visit.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> t = run_descriptive(oslo.analysis.analyses[0], ctx).table
    >>> t[t.scale == "madrs"][["visit", "n", "mean"]].values.tolist()
    [['V3', 6, 29.666666666666668], ['V13', 6, 12.666666666666666], ['FU7', 6, 12.166666666666666]]
    """
    rows: list[dict[str, Any]] = []
    change_rows: list[dict[str, Any]] = []
    for arm, ids in ctx.groups:
        for scale in a.scales:
            for visit in a.visits:
                x = ctx.values(scale, visit, ids)
                here = {"arm": arm, "scale": scale, "visit": visit}
                rows.append({**here, **_describe(x, len(ids))})
                sub = ctx.cell(scale, visit)
                sub = sub[sub["participant_id"].isin(set(ids))]
                chg = sub["CHG"].dropna().to_numpy(dtype=float)
                if len(chg):
                    base = str(sub["BASEVIS"].iloc[0])
                    d = _describe(chg, len(ids))
                    change_rows.append({**here, "baseline_visit": base, **d})
    keep = ["arm", "scale", "visit", "n", "n_missing", *[s for s in a.statistics if s != "n"]]
    if "iqr" in a.statistics:
        keep += ["q1", "q3"]
    table = pd.DataFrame(rows)
    table = table[[c for c in dict.fromkeys(keep) if c in table.columns]]
    return DescriptiveSectionResult(
        by_visit=table,
        change_by_visit=pd.DataFrame(change_rows),
        **section_fields(
            a,
            conventions={"sd": SD_CONVENTION, "quartiles": QUANTILE_CONVENTION},
            headline=headline_frame(
                [
                    headline_row(r, "mean", "observed cases", estimate=r["mean"])
                    for r in rows
                    if r["n"] > 0
                ]
            ),
        ),
    )


def _describe(x: FloatArray, n_population: int) -> dict[str, Any]:
    obs = x[~np.isnan(x)]
    n = int(obs.size)
    s = pd.Series(obs)
    sd = float(s.std(ddof=1)) if n > 1 else math.nan
    q1 = float(s.quantile(0.25)) if n else math.nan
    q3 = float(s.quantile(0.75)) if n else math.nan
    return {
        "n": n,
        "n_missing": n_population - n,
        "mean": float(s.mean()) if n else math.nan,
        "sd": sd,
        "se": sd / math.sqrt(n) if n > 1 else math.nan,
        "median": float(s.median()) if n else math.nan,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "min": float(s.min()) if n else math.nan,
        "max": float(s.max()) if n else math.nan,
    }


# --------------------------------------------------------------------------- wilcoxon


def wilcoxon_convention(a: WilcoxonAnalysis) -> str:
    """The p-value convention of a Wilcoxon analysis, in words.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> a = load_protocol("oslo-mdma-mdd").analysis.analyses[1]
    >>> wilcoxon_convention(a).endswith("without continuity correction")
    True
    """
    cc = "with" if a.correction else "without"
    if a.method == "exact":
        return (
            "exact permutation distribution of the signed-rank statistic (exact conditional "
            "distribution when there are ties)"
        )
    if a.method == "approx":
        return f"normal approximation with tie-corrected variance, {cc} continuity correction"
    return (
        "exact distribution when there are fewer than 50 non-zero differences and no ties or "
        "zero differences (as R's wilcox.test), otherwise the normal approximation with "
        f"tie-corrected variance, {cc} continuity correction"
    )


def pick_wilcoxon_p(a: WilcoxonAnalysis, n: int, clean: bool) -> str:
    """Which of the three p-values of :class:`WilcoxonResult` the plan reports.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> a = load_protocol("oslo-mdma-mdd").analysis.analyses[1]
    >>> pick_wilcoxon_p(a, 12, clean=True), pick_wilcoxon_p(a, 12, clean=False)
    ('exact', 'normal')
    """
    normal = "normal-continuity" if a.correction else "normal"
    if a.method == "exact":
        return "exact"
    if a.method == "approx":
        return normal
    return "exact" if (n < 50 and clean) else normal


def _signed_rank_tests(
    before: FloatArray, after: FloatArray, a: WilcoxonAnalysis, conf_level: float
) -> tuple[WilcoxonResult, HodgesLehmannResult]:
    return (
        wilcoxon_signed_rank(before, after, alternative=a.alternative),
        hodges_lehmann(before, after, conf_level=conf_level),
    )


def run_wilcoxon(a: WilcoxonAnalysis, ctx: Context) -> WilcoxonSectionResult:
    """Signed-rank test of each visit against the baseline visit, per scale.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> t = run_wilcoxon(oslo.analysis.analyses[1], ctx).table
    >>> t[["scale", "visit", "n", "p_value_method"]].values.tolist()[0]
    ['madrs', 'V13', 6, 'exact']
    """
    if a.zero_method != "wilcox":
        raise InputError(
            f"analysis {a.id!r} asks for zero_method {a.zero_method!r}",
            expected="zero_method 'wilcox' (zero differences dropped), the one remit.stats "
            "implements",
            hint="change the protocol's analysis plan",
        )
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    for arm, scale, visit, before, after in _pairs(ctx, a.scales, a.baseline_visit, a.visits):
        key = ctx.key(arm, scale, visit)
        tests = estimated(notes, key, _signed_rank_tests, before, after, a, ctx.conf_level)
        if tests is None:
            continue
        w, hl = tests
        raw[key] = w
        raw[f"{key}/hodges_lehmann"] = hl
        method = pick_wilcoxon_p(a, w.n, not w.has_ties and w.n_zero == 0)
        p = {
            "exact": w.p_exact,
            "normal": w.p_normal,
            "normal-continuity": w.p_normal_continuity,
        }
        complete = ~(np.isnan(before) | np.isnan(after))
        d = (after - before)[complete]
        rows.append(
            {
                "arm": arm,
                "scale": scale,
                "visit": visit,
                "baseline_visit": a.baseline_visit,
                "n": int(complete.sum()),
                "n_nonzero": w.n,
                "n_zero": w.n_zero,
                "n_dropped": w.n_dropped,
                "has_ties": w.has_ties,
                "median_difference": float(np.median(d)),
                "statistic": w.statistic,
                "p_value": p[method],
                "p_value_method": method,
                "alternative": a.alternative,
                "hl_estimate": hl.estimate,
                "hl_ci_low": hl.ci_low,
                "hl_ci_high": hl.ci_high,
                "hl_ci_method": hl.ci_method,
            }
        )
    return WilcoxonSectionResult(
        tests=pd.DataFrame(rows),
        **section_fields(
            a,
            stats=raw,
            conventions={
                "p_value": wilcoxon_convention(a),
                "zero_differences": "dropped before ranking (Wilcoxon's convention)",
                "ties": "mid-ranks",
                "statistic": "V = sum of the ranks of the positive differences (visit − baseline)",
                "hodges_lehmann_ci": "inverted signed-rank test as R's wilcox.test(conf.int=TRUE)",
            },
            notes=tuple(notes),
            headline=headline_frame(
                [
                    headline_row(
                        r,
                        f"change vs {r['baseline_visit']} (Hodges-Lehmann; Wilcoxon p)",
                        r["p_value_method"],
                        estimate=r["hl_estimate"],
                        ci_low=r["hl_ci_low"],
                        ci_high=r["hl_ci_high"],
                        p=r["p_value"],
                    )
                    for r in rows
                ]
            ),
        ),
    )


# --------------------------------------------------------------------------- effect sizes


def run_effect_size(a: EffectSizeAnalysis, ctx: Context) -> EffectSizeSectionResult:
    """Standardised within-subject change from baseline at each visit, per scale.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> t = run_effect_size(oslo.analysis.analyses[3], ctx).table
    >>> sorted(set(t["effect_size"]))
    ['d_av', 'd_z']
    """
    rows: list[pd.DataFrame] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    for arm, scale, visit, before, after in _pairs(ctx, a.scales, a.baseline_visit, a.visits):
        key = ctx.key(arm, scale, visit)
        r = estimated(notes, key, paired_effect_sizes, before, after, conf_level=ctx.conf_level)
        if r is None:
            continue
        raw[key] = r
        f = r.to_frame()
        f = f[f["effect_size"].isin(a.measures)].copy()
        f.insert(0, "visit", visit)
        f.insert(0, "scale", scale)
        f.insert(0, "arm", arm)
        f["mean_difference"] = r.mean_difference
        f["sd_difference"] = r.sd_difference
        rows.append(f)
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return EffectSizeSectionResult(
        effect_sizes=table,
        **section_fields(
            a,
            stats=raw,
            conventions={
                "d_z": "mean(d)/sd(d), d = visit − baseline; exact CI by inverting the "
                "noncentral t",
                "d_av": "mean(d)/((sd(baseline) + sd(visit))/2); CI: d_z limits scaled by "
                "sd(d)/s_av (approximate)",
                "g": "Hedges' exact J(df) = Γ(df/2)/(√(df/2)·Γ((df−1)/2)) applied to d and its CI",
            },
            notes=tuple(notes),
            headline=headline_frame(
                [
                    headline_row(r, r["effect_size"], r["ci_method"])
                    for r in table.to_dict(orient="records")
                ]
            ),
        ),
    )
