"""One function per kind of analysis in the plan; each calls :mod:`remit.stats` and keeps what
it returned (raw result objects and their tidy rows, unrounded)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from remit.analysis.endpoints import EndpointsResult
from remit.analysis.result import SectionResult, headline_frame
from remit.errors import InputError, StatsError
from remit.protocol import (
    AnalysisPlan,
    ChangeEndpoint,
    DescriptiveAnalysis,
    EffectSizeAnalysis,
    McNemarAnalysis,
    MMRMAnalysis,
    ProportionAnalysis,
    Protocol,
    RelapseEndpoint,
    RemissionEndpoint,
    ResponseEndpoint,
    RTMAnalysis,
    WilcoxonAnalysis,
)
from remit.stats.effect_size import paired_effect_sizes
from remit.stats.mcnemar import mcnemar_exact
from remit.stats.mmrm import MMRMResult, fit_mmrm
from remit.stats.paired import hodges_lehmann, wilcoxon_signed_rank
from remit.stats.proportion import proportion_ci
from remit.stats.rtm import regression_to_mean

#: The plan's words for the MMRM degrees of freedom → :func:`fit_mmrm`'s ``df``.
DF_METHODS: dict[str, str] = {
    "satterthwaite": "satterthwaite",
    "kenward_roger": "kenward-roger",
    "kenward_roger_linear": "kenward-roger-linear",
    "residual": "residual",
}
#: The plan's words for CI methods → :func:`proportion_ci`'s interval names.
CI_METHODS: dict[str, str] = {"clopper_pearson": "clopper-pearson", "wilson": "wilson"}
CI_SHORT: dict[str, str] = {"clopper_pearson": "CP", "wilson": "Wilson"}
CI_NAMES: dict[str, str] = {"clopper_pearson": "Clopper-Pearson (exact)", "wilson": "Wilson score"}
QUANTILE_CONVENTION = "quartiles by linear interpolation (R type 7, pandas default)"
SD_CONVENTION = "SD with n − 1 denominator; SE = SD/√n"


@dataclass(frozen=True)
class Context:
    """What every section needs: the plan, the protocol, ADQS totals, endpoints, population."""

    protocol: Protocol
    plan: AnalysisPlan
    totals: pd.DataFrame
    endpoints: EndpointsResult
    population: tuple[str, ...]
    _cells: dict[tuple[str, str], pd.DataFrame] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cells = {
            (str(key[0]), str(key[1])): group
            for key, group in self.totals.groupby(["scale", "visit_code"], sort=False)
        }
        object.__setattr__(self, "_cells", cells)

    @property
    def conf_level(self) -> float:
        return self.plan.ci_level

    def cell(self, scale: str, visit: str) -> pd.DataFrame:
        """The ADQS total records of ``scale`` at ``visit`` (may be empty)."""
        found = self._cells.get((scale, visit))
        return self.totals.iloc[0:0] if found is None else found

    def values(self, scale: str, visit: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Scale totals at ``visit`` for each participant of the population, NaN if missing."""
        sub = self.cell(scale, visit)
        lookup = dict(zip(sub["participant_id"], sub["AVAL"], strict=True))
        return np.array([float(lookup.get(p, math.nan)) for p in self.population])


@contextmanager
def _collect(notes: list[str], where: str) -> Iterator[None]:
    """Turn warnings raised by stats into notes of the section."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        text = f"{where}: {w.message}"
        if text not in notes:
            notes.append(text)


def _not_estimable(notes: list[str], where: str, error: StatsError) -> None:
    notes.append(f"{where}: not estimable ({error})")


# --------------------------------------------------------------------------- descriptive


def run_descriptive(a: DescriptiveAnalysis, ctx: Context) -> SectionResult:
    """Summary statistics of each scale total (and its change from baseline) by visit."""
    rows: list[dict[str, Any]] = []
    change_rows: list[dict[str, Any]] = []
    for scale in a.scales:
        for visit in a.visits:
            x = ctx.values(scale, visit)
            rows.append({"scale": scale, "visit": visit, **_describe(x, len(ctx.population))})
            sub = ctx.cell(scale, visit)
            chg = sub["CHG"].dropna().to_numpy(dtype=float)
            if len(chg):
                base = str(sub["BASEVIS"].iloc[0])
                d = _describe(chg, len(ctx.population))
                change_rows.append({"scale": scale, "visit": visit, "baseline_visit": base, **d})
    keep = ["scale", "visit", "n", "n_missing", *[s for s in a.statistics if s != "n"]]
    if "iqr" in a.statistics:
        keep += ["q1", "q3"]
    table = pd.DataFrame(rows)
    table = table[[c for c in dict.fromkeys(keep) if c in table.columns]]
    tables = {"by_visit": table, "change_by_visit": pd.DataFrame(change_rows)}
    return SectionResult(
        id=a.id,
        kind=a.kind,
        label=a.label,
        tables=tables,
        stats={},
        conventions={"sd": SD_CONVENTION, "quartiles": QUANTILE_CONVENTION},
        assumption=a.assumption,
        spec=a.model_dump(mode="json"),
        headline=headline_frame(
            [
                {
                    "scale": r["scale"],
                    "visit": r["visit"],
                    "quantity": "mean",
                    "estimate": r["mean"],
                    "se": r["se"],
                    "n": r["n"],
                    "method": "observed cases",
                }
                for r in rows
                if r["n"] > 0
            ]
        ),
    )


def _describe(x: np.ndarray[Any, np.dtype[np.float64]], n_population: int) -> dict[str, Any]:
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
    """The p-value convention of a Wilcoxon analysis, in words."""
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
    """Which of the three p-values of :class:`WilcoxonResult` the plan reports."""
    normal = "normal-continuity" if a.correction else "normal"
    if a.method == "exact":
        return "exact"
    if a.method == "approx":
        return normal
    return "exact" if (n < 50 and clean) else normal


def run_wilcoxon(a: WilcoxonAnalysis, ctx: Context) -> SectionResult:
    """Signed-rank test of each visit against the baseline visit, per scale."""
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
    for scale in a.scales:
        before = ctx.values(scale, a.baseline_visit)
        for visit in a.visits:
            after = ctx.values(scale, visit)
            key = f"{scale}/{visit}"
            try:
                with _collect(notes, key):
                    w = wilcoxon_signed_rank(before, after, alternative=a.alternative)
                    hl = hodges_lehmann(before, after, conf_level=ctx.conf_level)
            except StatsError as error:
                _not_estimable(notes, key, error)
                continue
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
    return SectionResult(
        id=a.id,
        kind=a.kind,
        label=a.label,
        tables={"tests": pd.DataFrame(rows)},
        stats=raw,
        conventions={
            "p_value": wilcoxon_convention(a),
            "zero_differences": "dropped before ranking (Wilcoxon's convention)",
            "ties": "mid-ranks",
            "statistic": "V = sum of the ranks of the positive differences (visit − baseline)",
            "hodges_lehmann_ci": "inverted signed-rank test as R's wilcox.test(conf.int=TRUE)",
        },
        notes=tuple(notes),
        assumption=a.assumption,
        spec=a.model_dump(mode="json"),
        headline=headline_frame(
            [
                {
                    "scale": r["scale"],
                    "visit": r["visit"],
                    "quantity": f"change vs {r['baseline_visit']} (Hodges-Lehmann; Wilcoxon p)",
                    "estimate": r["hl_estimate"],
                    "ci_low": r["hl_ci_low"],
                    "ci_high": r["hl_ci_high"],
                    "p": r["p_value"],
                    "n": r["n"],
                    "method": r["p_value_method"],
                }
                for r in rows
            ]
        ),
    )


# --------------------------------------------------------------------------- mmrm


def _lsmean_rows(fit: MMRMResult) -> pd.DataFrame:
    """The L vector of the LS mean of each visit (covariates at their mean, other factors
    averaged), as :meth:`MMRMResult.lsmeans` builds them."""
    # MMRMResult has no public accessor for the L vectors; lsmeans() uses this one.
    keys, rows = fit._grid_rows([fit.design.visit])
    return pd.DataFrame(rows, index=[str(k) for k in keys.iloc[:, 0]])


def run_mmrm(a: MMRMAnalysis, ctx: Context) -> SectionResult:
    """MMRM per scale over the plan's visits, with LS means and differences vs baseline."""
    rows: list[dict[str, Any]] = []
    ls_rows: list[pd.DataFrame] = []
    fit_rows: list[dict[str, Any]] = []
    arm_rows: list[pd.DataFrame] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    df_method = DF_METHODS[a.df_method]
    t = ctx.totals
    for scale in a.scales:
        sub = t[
            (t["scale"] == scale)
            & t["visit_code"].isin(a.visits)
            & t["participant_id"].isin(ctx.population)
        ]
        levels = list(a.visits)
        if a.outcome == "change":
            sub = sub[sub["visit_code"] != a.baseline_visit]
            levels = [v for v in levels if v != a.baseline_visit]
        frame = pd.DataFrame(
            {
                "participant_id": sub["participant_id"].astype(str).to_numpy(),
                "visit": sub["visit_code"].astype(str).to_numpy(),
                "arm": sub["arm"].astype(object).to_numpy(),
                "baseline": sub["BASE"].to_numpy(dtype=float),
                "value": sub["AVAL"].to_numpy(dtype=float),
                "change": sub["CHG"].to_numpy(dtype=float),
            }
        )
        frame = frame[frame[a.outcome].notna()].reset_index(drop=True)
        empty = [v for v in levels if v not in set(frame["visit"])]
        if empty:
            notes.append(f"{scale}: no observation at {', '.join(empty)}; left out of the model")
            levels = [v for v in levels if v not in empty]
        if len(levels) < 2 or (a.outcome == "value" and a.baseline_visit not in levels):
            notes.append(f"{scale}: not estimable (fewer than two visits with data)")
            continue
        formula = f"{a.outcome} ~ {a.formula}"
        group = "arm" if "arm" in a.formula.replace("*", " ").replace(":", " ").split() else None
        observed = frame.groupby("visit").size().reindex(levels, fill_value=0)
        try:
            with _collect(notes, scale):
                fit = fit_mmrm(
                    frame,
                    formula,
                    subject="participant_id",
                    visit="visit",
                    covariance=a.covariance,
                    group=group,
                    method="reml" if a.reml else "ml",
                    df=df_method,  # type: ignore[arg-type]
                    visit_levels=levels,
                    alpha=1.0 - ctx.conf_level,
                )
        except StatsError as error:
            _not_estimable(notes, scale, error)
            continue
        raw[scale] = fit
        if not fit.converged:
            notes.append(f"{scale}: the fit did not converge ({fit.message})")
        fit_rows.append(
            {
                "scale": scale,
                "formula": formula,
                "n_subjects": fit.n_subjects,
                "n_obs": fit.n_obs,
                "neg2_loglik": fit.neg2_loglik,
                "aic": fit.aic,
                "bic": fit.bic,
                "converged": fit.converged,
                "covariance": fit.covariance_structure,
                "method": fit.method,
                "df_method": fit.df_method,
            }
        )
        ls = fit.lsmeans(by="visit")
        ls.insert(0, "scale", scale)
        ls["n_obs"] = [int(observed.get(str(v), 0)) for v in ls["visit"]]
        ls_rows.append(ls)
        if "visit_vs_baseline" in a.contrasts:
            if a.outcome == "change":
                for rec in ls.to_dict(orient="records"):
                    rows.append(
                        {
                            "scale": scale,
                            "visit": rec["visit"],
                            "contrast": f"mean change {rec['visit']} - {a.baseline_visit}",
                            **{k: rec[k] for k in ("estimate", "se", "df", "t", "p")},
                            "ci_low": rec["ci_low"],
                            "ci_high": rec["ci_high"],
                            "n_obs": rec["n_obs"],
                        }
                    )
            else:
                L = _lsmean_rows(fit)
                post = [v for v in levels if v != a.baseline_visit]
                names = [f"{v} - {a.baseline_visit}" for v in post]
                diffs = fit.contrast(
                    np.array(
                        [L.loc[v].to_numpy() - L.loc[a.baseline_visit].to_numpy() for v in post]
                    ),
                    names=names,
                )
                for v, rec in zip(post, diffs.to_dict(orient="records"), strict=True):
                    rows.append(
                        {
                            "scale": scale,
                            "visit": v,
                            **{str(k): x for k, x in rec.items()},
                            "n_obs": int(observed.get(v, 0)),
                        }
                    )
        if "arm_by_visit" in a.contrasts:
            if group is None or frame["arm"].nunique() < 2:
                notes.append(f"{scale}: arm_by_visit needs an arm term and two arms; skipped")
            else:
                d = fit.differences(group="arm")
                d.insert(0, "scale", scale)
                arm_rows.append(d)
    tables = {
        "change_vs_baseline": pd.DataFrame(rows),
        "lsmeans": pd.concat(ls_rows, ignore_index=True) if ls_rows else pd.DataFrame(),
        "fits": pd.DataFrame(fit_rows),
    }
    if arm_rows:
        tables["arm_differences"] = pd.concat(arm_rows, ignore_index=True)
    return SectionResult(
        id=a.id,
        kind=a.kind,
        label=a.label,
        tables=tables,
        stats=raw,
        conventions={
            "model": f"{a.outcome} ~ {a.formula}, visits {', '.join(a.visits)}",
            "covariance": f"{a.covariance} ({_COVARIANCE_WORDS.get(a.covariance, a.covariance)}) "
            "residual covariance over visits within participant",
            "estimation": "REML" if a.reml else "ML",
            "df": _DF_WORDS[a.df_method],
            "contrasts": "LS-mean difference of each visit vs "
            f"{a.baseline_visit} (covariates at their mean)",
            "missing_data": "every observed visit used; no imputation (missing at random)",
        },
        notes=tuple(notes),
        assumption=a.assumption,
        spec=a.model_dump(mode="json"),
        headline=headline_frame(
            [
                {
                    "scale": r["scale"],
                    "visit": r["visit"],
                    "quantity": f"mean change vs {a.baseline_visit} (MMRM)",
                    "estimate": r["estimate"],
                    "se": r["se"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "p": r["p"],
                    "n": r["n_obs"],
                    "method": f"{a.covariance}, {_DF_WORDS[a.df_method]} df",
                }
                for r in rows
            ]
        ),
    )


_COVARIANCE_WORDS = {
    "us": "unstructured",
    "cs": "compound symmetry",
    "csh": "heterogeneous compound symmetry",
    "ar1": "first-order autoregressive",
    "ar1h": "heterogeneous first-order autoregressive",
    "toep": "Toeplitz",
    "toeph": "heterogeneous Toeplitz",
    "adh": "heterogeneous ante-dependence",
}
_DF_WORDS = {
    "satterthwaite": "Satterthwaite",
    "kenward_roger": "Kenward-Roger",
    "kenward_roger_linear": "Kenward-Roger (linear variant, as SAS)",
    "residual": "residual (n_obs − rank X)",
}


# --------------------------------------------------------------------------- effect sizes


def run_effect_size(a: EffectSizeAnalysis, ctx: Context) -> SectionResult:
    """Standardised within-subject change from baseline at each visit, per scale."""
    rows: list[pd.DataFrame] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    for scale in a.scales:
        before = ctx.values(scale, a.baseline_visit)
        for visit in a.visits:
            key = f"{scale}/{visit}"
            try:
                with _collect(notes, key):
                    r = paired_effect_sizes(
                        before, ctx.values(scale, visit), conf_level=ctx.conf_level
                    )
            except StatsError as error:
                _not_estimable(notes, key, error)
                continue
            raw[key] = r
            f = r.to_frame()
            f = f[f["effect_size"].isin(a.measures)].copy()
            f.insert(0, "visit", visit)
            f.insert(0, "scale", scale)
            f["mean_difference"] = r.mean_difference
            f["sd_difference"] = r.sd_difference
            rows.append(f)
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return SectionResult(
        id=a.id,
        kind=a.kind,
        label=a.label,
        tables={"effect_sizes": table},
        stats=raw,
        conventions={
            "d_z": "mean(d)/sd(d), d = visit − baseline; exact CI by inverting the noncentral t",
            "d_av": "mean(d)/((sd(baseline) + sd(visit))/2); CI: d_z limits scaled by "
            "sd(d)/s_av (approximate)",
            "g": "Hedges' exact J(df) = Γ(df/2)/(√(df/2)·Γ((df−1)/2)) applied to d and its CI",
        },
        notes=tuple(notes),
        assumption=a.assumption,
        spec=a.model_dump(mode="json"),
        headline=headline_frame(
            [
                {
                    "scale": r["scale"],
                    "visit": r["visit"],
                    "quantity": r["effect_size"],
                    "estimate": r["estimate"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "n": r["n"],
                    "method": r["ci_method"],
                }
                for r in table.to_dict(orient="records")
            ]
        ),
    )


# --------------------------------------------------------------------------- proportions


def run_proportion(a: ProportionAnalysis, ctx: Context) -> SectionResult:
    """Counts of binary endpoints with the plan's confidence intervals."""
    counts = ctx.endpoints.counts()
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    for endpoint_id in a.endpoints:
        e = ctx.protocol.endpoint(endpoint_id)
        if isinstance(e, ChangeEndpoint):
            notes.append(f"{endpoint_id}: a change endpoint has no proportion; skipped")
            continue
        for rec in counts[counts["endpoint_id"] == endpoint_id].to_dict(orient="records"):
            key = f"{endpoint_id}/{rec['visit_code']}"
            row: dict[str, Any] = {
                "endpoint_id": endpoint_id,
                "kind": rec["kind"],
                "visit": rec["visit_code"],
                "k": rec["n_yes"],
                "n": rec["n"],
                "n_population": rec["n_population"],
                "n_at_risk": rec["n_at_risk"],
                "n_undecided": rec["n_undecided"],
                "estimate": math.nan,
            }
            for m in a.ci_methods:
                row[f"{m}_low"] = math.nan
                row[f"{m}_high"] = math.nan
            if rec["n"] > 0:
                r = proportion_ci(int(rec["n_yes"]), int(rec["n"]), conf_level=ctx.conf_level)
                raw[key] = r
                row["estimate"] = r.estimate
                for m in a.ci_methods:
                    low, high = r.ci(CI_METHODS[m])
                    row[f"{m}_low"] = low
                    row[f"{m}_high"] = high
            else:
                notes.append(f"{key}: nobody could be assessed; no proportion")
            if rec["n_undecided"]:
                who = ctx.endpoints.ids_with(endpoint_id, rec["visit_code"], None)
                if rec["kind"] == "relapse":
                    at_risk = _relapse_at_risk(ctx.endpoints, endpoint_id)
                    who = [p for p in who if p in at_risk]
                notes.append(
                    f"{key}: {rec['n_undecided']} not assessable (missing value): " + ", ".join(who)
                )
            row["definition"] = rec["definition"]
            rows.append(row)
    return SectionResult(
        id=a.id,
        kind=a.kind,
        label=a.label,
        tables={"proportions": pd.DataFrame(rows)},
        stats=raw,
        conventions={
            "denominator": "participants whose status could be decided (observed cases; "
            "relapse: remitters at the earlier visit with the later visit observed)",
            **{f"ci_{m}": CI_NAMES[m] for m in a.ci_methods},
        },
        notes=tuple(notes),
        assumption=a.assumption,
        spec=a.model_dump(mode="json"),
        headline=headline_frame(
            [
                {
                    "scale": ctx.protocol.endpoint(r["endpoint_id"]).scale,
                    "visit": r["visit"],
                    "quantity": f"{r['endpoint_id']} {r['k']}/{r['n']} ({CI_SHORT[m]})",
                    "estimate": r["estimate"],
                    "ci_low": r[f"{m}_low"],
                    "ci_high": r[f"{m}_high"],
                    "n": r["n"],
                    "method": CI_NAMES[m],
                }
                for r in rows
                for m in a.ci_methods
            ]
        ),
    )


def _relapse_at_risk(endpoints: EndpointsResult, endpoint_id: str) -> set[str]:
    s = endpoints.status
    sub = s[(s["endpoint_id"] == endpoint_id) & (s["at_risk"] == True)]  # noqa: E712
    return {str(p) for p in sub["participant_id"]}


# --------------------------------------------------------------------------- mcnemar


def _status_at(endpoints: EndpointsResult, endpoint_id: str, visit: str) -> dict[str, Any]:
    s = endpoints.status
    sub = s[(s["endpoint_id"] == endpoint_id) & (s["visit_code"] == visit)]
    return dict(zip(sub["participant_id"], sub["status"], strict=True))


def _word(status: object) -> str:
    if status is None or (isinstance(status, float) and math.isnan(status)):
        return "missing"
    return "yes" if bool(status) else "no"


def run_mcnemar(a: McNemarAnalysis, ctx: Context) -> SectionResult:
    """Status transition table between two visits with the exact McNemar test."""
    if a.method != "exact":
        raise InputError(
            f"analysis {a.id!r} asks for McNemar method {a.method!r}",
            expected="method 'exact', the one remit.stats implements",
            hint="change the protocol's analysis plan",
        )
    rows: list[dict[str, Any]] = []
    cells: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    for endpoint_id in a.endpoints:
        e = ctx.protocol.endpoint(endpoint_id)
        if not isinstance(e, ResponseEndpoint | RemissionEndpoint):
            notes.append(
                f"{endpoint_id}: only response and remission endpoints have a status "
                "at each visit; skipped"
            )
            continue
        if a.from_visit not in e.visits or a.to_visit not in e.visits:
            notes.append(f"{endpoint_id}: not assessed at both {a.from_visit} and {a.to_visit}")
            continue
        first = _status_at(ctx.endpoints, endpoint_id, a.from_visit)
        second = _status_at(ctx.endpoints, endpoint_id, a.to_visit)
        for f_word in ("yes", "no", "missing"):
            for s_word in ("yes", "no", "missing"):
                ids = [
                    p
                    for p in ctx.population
                    if _word(first.get(p)) == f_word and _word(second.get(p)) == s_word
                ]
                cells.append(
                    {
                        "endpoint_id": endpoint_id,
                        "from_visit": a.from_visit,
                        "to_visit": a.to_visit,
                        "from_status": f_word,
                        "to_status": s_word,
                        "n": len(ids),
                        "participant_ids": ids,
                    }
                )
        x = [_as_number(first.get(p)) for p in ctx.population]
        y = [_as_number(second.get(p)) for p in ctx.population]
        try:
            with _collect(notes, endpoint_id):
                r = mcnemar_exact(x, y, conf_level=ctx.conf_level)
        except StatsError as error:
            _not_estimable(notes, endpoint_id, error)
            continue
        raw[endpoint_id] = r
        (nn, ny), (yn, yy) = r.table
        rows.append(
            {
                "endpoint_id": endpoint_id,
                "from_visit": a.from_visit,
                "to_visit": a.to_visit,
                "n": r.n,
                "n_dropped": r.n_dropped,
                "n_yes_yes": yy,
                "n_yes_no": yn,
                "n_no_yes": ny,
                "n_no_no": nn,
                "p_value": r.p_value,
                "p_value_method": r.p_value_method,
                "proportion_first": r.proportion_first,
                "proportion_second": r.proportion_second,
                "odds_ratio": r.odds_ratio,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "definition": e.definition,
            }
        )
    relapses = _relapse_table(a, ctx)
    return SectionResult(
        id=a.id,
        kind=a.kind,
        label=a.label,
        tables={
            "tests": pd.DataFrame(rows),
            "transitions": pd.DataFrame(cells),
            "relapses": relapses,
        },
        stats=raw,
        conventions={
            "test": "exact McNemar: two-sided binomial test on the discordant pairs",
            "odds_ratio_ci": "conditional odds ratio with the Clopper-Pearson interval of "
            "b/(b + c)",
            "missing": "participants with a missing status at either visit are left out of "
            "the test and shown as 'missing' in the transition table",
        },
        notes=tuple(notes),
        assumption=a.assumption,
        spec=a.model_dump(mode="json"),
        headline=headline_frame(
            [
                {
                    "scale": ctx.protocol.endpoint(r["endpoint_id"]).scale,
                    "visit": f"{r['from_visit']}→{r['to_visit']}",
                    "quantity": f"{r['endpoint_id']} status change (McNemar)",
                    "estimate": r["proportion_second"] - r["proportion_first"],
                    "p": r["p_value"],
                    "n": r["n"],
                    "method": r["p_value_method"],
                }
                for r in rows
            ]
        ),
    )


def _as_number(status: object) -> float:
    if status is None or (isinstance(status, float) and math.isnan(status)):
        return math.nan
    return 1.0 if bool(status) else 0.0


def _relapse_table(a: McNemarAnalysis, ctx: Context) -> pd.DataFrame:
    counts = ctx.endpoints.counts()
    rows = []
    for e in ctx.protocol.endpoints:
        if isinstance(e, RelapseEndpoint) and (e.from_visit, e.to_visit) == (
            a.from_visit,
            a.to_visit,
        ):
            c = counts[counts["endpoint_id"] == e.id].iloc[0]
            rows.append(
                {
                    "endpoint_id": e.id,
                    "from_visit": e.from_visit,
                    "to_visit": e.to_visit,
                    "n_at_risk": int(c["n_at_risk"]),
                    "n": int(c["n"]),
                    "n_relapsed": int(c["n_yes"]),
                    "participant_ids": ctx.endpoints.ids_with(e.id, e.to_visit, True),
                    "definition": e.definition,
                }
            )
    columns = [
        "endpoint_id",
        "from_visit",
        "to_visit",
        "n_at_risk",
        "n",
        "n_relapsed",
        "participant_ids",
        "definition",
    ]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- rtm


def reliability_grid(low: float, high: float, step: float = 0.05) -> tuple[float, ...]:
    """``low``, every multiple of ``step`` strictly between, and ``high``.

    Examples
    --------
    >>> reliability_grid(0.65, 0.93)
    (0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93)
    """
    inside = [
        round(k * step, 10)
        for k in range(math.floor(low / step) + 1, math.ceil(high / step))
        if low < k * step < high
    ]
    return tuple(dict.fromkeys([low, *inside, high]))


def run_rtm(a: RTMAnalysis, ctx: Context) -> SectionResult:
    """Expected regression to the mean over the plan's reliability range and population means."""
    notes: list[str] = []
    x = ctx.values(a.scale, a.visit)
    obs = x[~np.isnan(x)]
    change_endpoint = _change_endpoint_for(ctx.protocol, a.scale, a.visit)
    observed: float | None = None
    if change_endpoint is not None:
        c = ctx.endpoints.change
        values = c.loc[c["endpoint_id"] == change_endpoint.id, "change"].dropna()
        if len(values):
            observed = float(values.mean())
    raw: dict[str, Any] = {}
    tables: dict[str, pd.DataFrame] = {}
    if obs.size == 0:
        notes.append(f"no {a.scale} total at {a.visit}: regression to the mean not estimable")
        tables["range"] = pd.DataFrame()
    else:
        r = regression_to_mean(
            float(obs.mean()),
            a.population_means,
            reliability_grid(*a.reliability),
            observed_change=observed,
        )
        raw[a.scale] = r
        tables["range"] = pd.DataFrame(
            [
                {
                    "scale": a.scale,
                    "visit": a.visit,
                    "n": int(obs.size),
                    "selected_mean": r.selected_mean,
                    "rtm_min": r.rtm_min,
                    "rtm_max": r.rtm_max,
                    "observed_change": r.observed_change,
                    "observed_change_endpoint": change_endpoint.id if change_endpoint else None,
                    "reliability_low": a.reliability[0],
                    "reliability_high": a.reliability[1],
                    "entry_cutoff": a.entry_cutoff,
                }
            ]
        )
        tables["grid"] = r.to_frame()
    return SectionResult(
        id=a.id,
        kind=a.kind,
        label=a.label,
        tables=tables,
        stats=raw,
        conventions={
            "formula": "expected RTM = (1 − ρ)·(baseline mean of those enrolled − population "
            "mean μ)",
            "assumptions": "scores normal with equal variance at both times; ρ = test–retest "
            f"reliability over {a.reliability[0]:g}–{a.reliability[1]:g}; μ over "
            + ", ".join(f"{m:g}" for m in a.population_means),
        },
        notes=tuple(notes),
        assumption=a.assumption,
        spec=a.model_dump(mode="json"),
    )


def _change_endpoint_for(protocol: Protocol, scale: str, visit: str) -> ChangeEndpoint | None:
    found = [
        e
        for e in protocol.endpoints
        if isinstance(e, ChangeEndpoint) and e.scale == scale and e.from_visit == visit
    ]
    primary = [e for e in found if e.role == "primary"]
    if primary:
        return primary[0]
    return found[0] if found else None


SECTION_RUNNERS: dict[str, Callable[[Any, Context], SectionResult]] = {
    "descriptive": run_descriptive,
    "wilcoxon": run_wilcoxon,
    "mmrm": run_mmrm,
    "effect_size": run_effect_size,
    "proportion": run_proportion,
    "mcnemar": run_mcnemar,
    "rtm": run_rtm,
}

__all__ = [
    "CI_METHODS",
    "DF_METHODS",
    "SECTION_RUNNERS",
    "Context",
    "pick_wilcoxon_p",
    "reliability_grid",
    "wilcoxon_convention",
]
