"""Reference-based conditional mean imputation (Wolbers et al. 2022, R package rbmi).

The imputation model is an MMRM with an unstructured Σ and visit-specific means for every arm
and every covariate (``y ~ group*visit + covariate*visit``), fitted by REML to the observed
data. Each subject's missing values are replaced by their conditional mean given the observed
ones, under the mean vector the subject's strategy prescribes:

* ``MAR`` — the subject's own arm;
* ``J2R`` (jump to reference) — own arm up to the last observed visit, the reference arm after;
* ``CR`` (copy reference) — the reference arm at every visit;
* ``CIR`` (copy increments in reference) — own arm up to the last observed visit, then the own
  mean at that visit plus the reference arm's increments from it.

Only visits after a subject's last observed visit (monotone dropout, the intercurrent event)
follow the strategy; a subject whose last visit is observed is imputed under MAR whatever the
strategy (intermittent gaps are MAR, as in rbmi). The completed data are analysed visit by visit
with an ANCOVA (``y_visit ~ group + covariates``); standard errors come from the jackknife
(leave one subject out, refit everything) or the bootstrap (subjects resampled within arms).

Under MAR the estimate equals the MMRM's treatment difference at every visit (the completed-data
least squares normal equations are the MMRM's GLS normal equations times Σ).

:func:`rbmi_bayes` is the multiple-imputation counterpart: each imputed data set draws (β, Σ)
from an approximate posterior and the missing values from their conditional distribution under
the same strategies; the per-visit ANCOVAs are pooled by Rubin's rules.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special, stats

from remit.errors import ConvergenceWarning, StatsError
from remit.stats._tidy import TidyResult, plain
from remit.stats.choices import STRATEGIES as STRATEGIES
from remit.stats.choices import Strategy as Strategy
from remit.stats.mmrm import MMRMResult, fit_mmrm
from remit.stats.mmrm.covariance import Unstructured

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: The arm label of single-arm data (no group column).
SINGLE_ARM = "all"
Method = Literal["jackknife", "bootstrap"]
DeltaLike = float | Mapping[Hashable, float] | None

__all__ = [
    "STRATEGIES",
    "RbmiResult",
    "TippingPointResult",
    "rbmi_bayes",
    "rbmi_condmean",
    "tipping_point",
]


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class _Trial:
    """The data in wide form: one row per subject."""

    y: Array  # (n, V), NaN where missing
    arm: IntArray  # (n,), 0 = reference
    z: Array  # (n, q) numeric covariates (dummy-coded factors)
    strategy: IntArray  # (n,) index into STRATEGIES
    subjects: tuple[Hashable, ...]
    visits: tuple[Hashable, ...]
    arms: tuple[Hashable, ...]  # reference first
    covariate_names: tuple[str, ...]

    def take(self, idx: IntArray) -> _Trial:
        return _Trial(
            y=self.y[idx],
            arm=self.arm[idx],
            z=self.z[idx],
            strategy=self.strategy[idx],
            subjects=tuple(range(idx.size)),
            visits=self.visits,
            arms=self.arms,
            covariate_names=self.covariate_names,
        )


def _prepare(
    data: pd.DataFrame,
    *,
    y: str,
    subject: str,
    visit: str,
    group: str | None,
    reference: Hashable,
    covariates: Sequence[str],
    strategy: str | Mapping[Hashable, str],
    visit_levels: Sequence[Hashable] | None,
) -> _Trial:
    if not isinstance(data, pd.DataFrame):
        raise StatsError(
            f"data must be a pandas DataFrame, got {type(data).__name__}",
            expected="a long-format DataFrame, one row per subject and visit",
        )
    if isinstance(covariates, str):
        covariates = (covariates,)
    wanted = [y, subject, visit, *([] if group is None else [group]), *covariates]
    missing = [c for c in dict.fromkeys(wanted) if c not in data.columns]
    if missing:
        raise StatsError(
            f"column(s) {missing} not found in the data",
            expected="one of " + ", ".join(map(str, data.columns)),
        )
    frame = data.loc[:, list(dict.fromkeys(wanted))]
    for name in (subject, visit, *([] if group is None else [group]), *covariates):
        if frame[name].isna().any():
            raise StatsError(
                f"column {name!r} has missing values",
                expected="complete subject, visit, group and covariate columns",
                hint="only the response may be missing; drop or fill the incomplete rows",
            )
    if frame.duplicated([subject, visit]).any():
        raise StatsError(
            f"some subject has two rows at the same {visit!r}",
            expected="one row per subject and visit",
        )
    response = pd.to_numeric(frame[y], errors="coerce")
    if (response.isna() & frame[y].notna()).any():
        raise StatsError(f"response {y!r} holds values that are not numbers", expected="numbers")
    if np.isinf(response.to_numpy(dtype=float)).any():
        raise StatsError(f"response {y!r} has infinite values", expected="finite numbers or NaN")

    if visit_levels is None:
        uniq = pd.unique(frame[visit]).tolist()
        try:
            visits = sorted(uniq)
        except TypeError:
            visits = sorted(uniq, key=str)
    else:
        visits = list(visit_levels)
        unknown = sorted(set(frame[visit]) - set(visits), key=str)
        if unknown:
            raise StatsError(
                f"visit column {visit!r} has values {unknown} not in visit_levels",
                expected="visit_levels listing every visit in the data",
            )
    if len(visits) < 1:
        raise StatsError("the data have no visits", expected="at least one visit")

    per_subject = frame.groupby(subject, sort=True)
    subjects = list(per_subject.groups)
    fixed = ([] if group is None else [group]) + list(covariates)
    varying = [c for c in fixed if bool((per_subject[c].nunique(dropna=False) > 1).any())]
    if varying:
        raise StatsError(
            f"column(s) {varying} change within a subject",
            expected="group and covariates fixed per subject (baseline values)",
        )
    first = per_subject.first()
    if group is None:
        if reference is not None:
            raise StatsError(
                f"reference {reference!r} given without a group column",
                expected="group=... naming the arm column, or no reference for one arm",
            )
        arms: tuple[Hashable, ...] = (SINGLE_ARM,)
        arm = np.zeros(len(subjects), dtype=np.int64)
    else:
        arms, arm = _arms(first[group], group, reference)
    z_cols: list[Array] = []
    z_names: list[str] = []
    for c in covariates:
        col: pd.Series = first[c]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            dummies = pd.get_dummies(col.astype(str), prefix=c, drop_first=True, dtype=float)
            z_cols.extend(dummies[d].to_numpy(dtype=float) for d in dummies.columns)
            z_names.extend(str(d) for d in dummies.columns)
        else:
            z_cols.append(col.to_numpy(dtype=float))
            z_names.append(c)
    z = np.column_stack(z_cols) if z_cols else np.zeros((len(subjects), 0))

    wide = (
        pd.DataFrame({"s": frame[subject], "v": frame[visit], "y": response})
        .pivot(index="s", columns="v", values="y")
        .reindex(index=subjects, columns=visits)
    )
    y_wide = wide.to_numpy(dtype=float)

    codes = np.zeros(len(subjects), dtype=np.int64)
    if isinstance(strategy, str):
        codes[:] = _strategy_code(strategy)
    elif isinstance(strategy, Mapping):
        index = {s: i for i, s in enumerate(subjects)}
        unknown_s = [s for s in strategy if s not in index]
        if unknown_s:
            raise StatsError(
                f"strategy names subject(s) not in the data: {unknown_s[:5]}",
                expected=f"keys that are values of {subject!r}",
            )
        for s, name in strategy.items():
            codes[index[s]] = _strategy_code(name)
    else:
        raise StatsError(
            f"strategy must be a name or a mapping, got {type(strategy).__name__}",
            expected="'MAR', 'J2R', 'CR', 'CIR' or a mapping subject → one of them",
        )
    if len(arms) == 1 and np.any(codes != 0):
        raise StatsError(
            "J2R, CR and CIR need a reference arm, and the data have one arm",
            expected="strategy 'MAR' (with delta for a sensitivity analysis) for a single arm",
        )
    return _Trial(
        y=y_wide,
        arm=arm,
        z=z,
        strategy=codes,
        subjects=tuple(subjects),
        visits=tuple(visits),
        arms=arms,
        covariate_names=tuple(z_names),
    )


def _arms(
    arm_values: pd.Series, group: str, reference: Hashable
) -> tuple[tuple[Hashable, ...], IntArray]:
    levels = pd.unique(arm_values).tolist()
    if reference not in levels:
        raise StatsError(
            f"reference {reference!r} is not a level of {group!r}",
            expected="one of " + ", ".join(map(str, levels)),
        )
    try:
        others = sorted(lv for lv in levels if lv != reference)
    except TypeError:
        others = sorted((lv for lv in levels if lv != reference), key=str)
    if not others:
        raise StatsError(
            f"{group!r} has only the reference level {reference!r}",
            expected="at least two arms",
            hint="for one arm leave out group and reference (MAR and delta only)",
        )
    arms = (reference, *others)
    arm_code = {a: i for i, a in enumerate(arms)}
    return arms, np.array([arm_code[a] for a in arm_values], dtype=np.int64)


def _strategy_code(name: str) -> int:
    key = str(name).upper()
    if key not in STRATEGIES:
        raise StatsError(f"unknown strategy {name!r}", expected="one of " + ", ".join(STRATEGIES))
    return [str(x) for x in STRATEGIES].index(key)


def _delta_matrix(delta: DeltaLike, delta_arms: Sequence[Hashable] | None, trial: _Trial) -> Array:
    """(arms, visits): what is added to a subject's imputed values after dropout."""
    n_arms, n_visits = len(trial.arms), len(trial.visits)
    out = np.zeros((n_arms, n_visits))
    if delta is None:
        return out
    if isinstance(delta, Mapping):
        unknown = [v for v in delta if v not in trial.visits]
        if unknown:
            raise StatsError(
                f"delta names visit(s) not in the data: {unknown}",
                expected="a mapping visit → delta over the visits "
                + ", ".join(map(str, trial.visits)),
            )
        row = np.array([float(delta.get(v, 0.0)) for v in trial.visits])
    else:
        try:
            row = np.full(n_visits, float(delta))
        except (TypeError, ValueError):
            raise StatsError(
                f"delta {delta!r} is not a number", expected="a number or a mapping visit → number"
            ) from None
    if not np.all(np.isfinite(row)):
        raise StatsError("delta has non-finite values", expected="finite numbers")
    if delta_arms is None:
        arms = list(trial.arms[1:]) if len(trial.arms) > 1 else list(trial.arms)
    else:
        arms = list(delta_arms)
    for a in arms:
        if a not in trial.arms:
            raise StatsError(
                f"delta_arms names {a!r}, not an arm",
                expected="levels among " + ", ".join(map(str, trial.arms)),
            )
        out[trial.arms.index(a)] = row
    return out


# ---------------------------------------------------------------------------- core
class _FitFailedError(Exception):
    pass


@dataclass(frozen=True)
class _Completed:
    """One data set imputed without delta, and where delta may be added."""

    y: Array  # (n, V) completed
    post: BoolArray  # (n, V) imputed after the last observed visit
    arm: IntArray
    z: Array
    phi: Array = field(repr=False)


def _imputation_fit(trial: _Trial, start: Array | None, strict: bool) -> MMRMResult:
    """REML fit of the imputation model ``y ~ g*v + z*v`` (unstructured Σ) to the observed data."""
    n_visits = trial.y.shape[1]
    observed = ~np.isnan(trial.y)
    rows, cols = np.nonzero(observed)
    q = trial.z.shape[1]
    long = pd.DataFrame(
        {
            "y": trial.y[rows, cols],
            "s": rows,
            "v": cols,
            "g": trial.arm[rows],
            **{f"z{j}": trial.z[rows, j] for j in range(q)},
        }
    )
    one_arm = len(trial.arms) == 1
    formula = ("y ~ v" if one_arm else "y ~ g*v") + "".join(f" + z{j}*v" for j in range(q))
    try:
        with warnings.catch_warnings():
            if not strict:
                warnings.simplefilter("error", ConvergenceWarning)
            fit = fit_mmrm(
                long,
                formula,
                subject="s",
                visit="v",
                group=None if one_arm else "g",
                df="residual",
                visit_levels=list(range(n_visits)),
                start=start,
            )
    except (StatsError, ConvergenceWarning, np.linalg.LinAlgError) as exc:
        if strict:
            raise
        raise _FitFailedError(str(exc)) from None
    if fit.aliased:
        msg = (
            f"the imputation model cannot estimate {', '.join(fit.aliased)}: some arm has no "
            "observation at some visit, or covariates are collinear"
        )
        if strict:
            raise StatsError(msg, expected="every arm observed at every visit")
        raise _FitFailedError(msg)
    return fit


def _mean_rows(fit: MMRMResult, trial: _Trial, arm: IntArray) -> Array:
    """Design rows (n·V × p) of every subject at every visit, as if in ``arm``."""
    n, n_visits = trial.y.shape
    q = trial.z.shape[1]
    levels = fit.design.factors
    grid = pd.DataFrame(
        {
            "y": 0.0,
            "s": np.repeat(np.arange(n), n_visits),
            "v": pd.Categorical(np.tile(np.arange(n_visits), n), categories=levels["v"]),
            **{f"z{j}": np.repeat(trial.z[:, j], n_visits) for j in range(q)},
        }
    )
    if "g" in levels:
        grid["g"] = pd.Categorical(np.repeat(arm, n_visits), categories=levels["g"])
    return fit.design.rows(grid)


def _last_observed(trial: _Trial) -> tuple[IntArray, BoolArray]:
    """Each subject's last observed visit (−1: none) and the visits after it (n × V)."""
    n_visits = trial.y.shape[1]
    observed = ~np.isnan(trial.y)
    last = np.where(observed.any(axis=1), n_visits - 1 - np.argmax(observed[:, ::-1], axis=1), -1)
    return last, np.arange(n_visits)[None, :] > last[:, None]


def _strategy_mean(trial: _Trial, mu_own: Array, mu_ref: Array) -> tuple[Array, BoolArray]:
    """Each subject's mean vector under its strategy, and the visits after its last one seen."""
    n_visits = trial.y.shape[1]
    last, after = _last_observed(trial)
    dropout = last < n_visits - 1
    code = np.where(dropout, trial.strategy, 0)
    mean = mu_own.copy()
    j2r = code == STRATEGIES.index("J2R")
    mean[j2r] = np.where(after[j2r], mu_ref[j2r], mu_own[j2r])
    cr = code == STRATEGIES.index("CR")
    mean[cr] = mu_ref[cr]
    cir = code == STRATEGIES.index("CIR")
    if cir.any():
        li = np.maximum(last[cir], 0)
        rix = np.nonzero(cir)[0]
        own_l = mu_own[rix, li][:, None]
        ref_l = mu_ref[rix, li][:, None]
        incr = np.where(last[cir][:, None] >= 0, own_l + mu_ref[cir] - ref_l, mu_ref[cir])
        mean[cir] = np.where(after[cir], incr, mu_own[cir])
    return mean, after


def _fill(
    trial: _Trial,
    mean: Array,
    sigma: Array,
    rng: np.random.Generator | None,
) -> Array:
    """Missing values: conditional mean given the observed ones (plus a normal draw with the
    conditional covariance when ``rng`` is given)."""
    observed = ~np.isnan(trial.y)
    completed = trial.y.copy()
    patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
    for k, pat in enumerate(patterns):
        if pat.all():
            continue
        who = np.nonzero(inverse.reshape(-1) == k)[0]
        o, m = np.nonzero(pat)[0], np.nonzero(~pat)[0]
        fill = mean[np.ix_(who, m)]
        cond = sigma[np.ix_(m, m)]
        if o.size:
            gain = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)])
            fill = fill + (trial.y[np.ix_(who, o)] - mean[np.ix_(who, o)]) @ gain
            cond = cond - sigma[np.ix_(m, o)] @ gain
        if rng is not None:
            chol = np.linalg.cholesky((cond + cond.T) / 2.0)
            fill = fill + rng.standard_normal((who.size, m.size)) @ chol.T
        completed[np.ix_(who, m)] = fill
    return completed


def _impute(trial: _Trial, start: Array | None, strict: bool) -> _Completed:
    n, n_visits = trial.y.shape
    fit = _imputation_fit(trial, start, strict)
    sigma = fit.covariance_matrix()
    mu_own = (_mean_rows(fit, trial, trial.arm) @ fit.beta).reshape(n, n_visits)
    mu_ref = (_mean_rows(fit, trial, np.zeros(n, dtype=np.int64)) @ fit.beta).reshape(n, n_visits)
    mean, after = _strategy_mean(trial, mu_own, mu_ref)
    completed = _fill(trial, mean, sigma, None)
    observed = ~np.isnan(trial.y)
    return _Completed(
        y=completed, post=after & ~observed, arm=trial.arm, z=trial.z, phi=fit.phi.copy()
    )


def _analysis_design(done: _Completed, n_arms: int) -> tuple[Array, slice]:
    """ANCOVA design per visit (intercept, arm dummies, covariates) and the columns reported;
    one arm: the intercept alone (the mean)."""
    if n_arms == 1:
        return np.ones((done.arm.size, 1)), slice(0, 1)
    onehot = (done.arm[:, None] == np.arange(1, n_arms)[None, :]).astype(float)
    return np.column_stack([np.ones(done.arm.size), onehot, done.z]), slice(1, n_arms)


def _ancova(done: _Completed, delta: Array, n_arms: int) -> Array:
    """Per-visit ANCOVA treatment differences (visits × non-reference arms; one arm: mean)."""
    y = done.y + done.post * delta[done.arm]
    design, cols = _analysis_design(done, n_arms)
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    if rank < design.shape[1]:
        raise _FitFailedError("the ANCOVA design is rank deficient (collinear covariates)")
    return np.asarray(coef[cols].T, dtype=float)


@dataclass(frozen=True)
class _Replicates:
    full: _Completed
    resampled: list[_Completed]
    n_failed: int
    seed: int | None


def _replicates(
    trial: _Trial,
    method: str,
    n_boot: int,
    seed: int | None,
) -> _Replicates:
    full = _impute(trial, None, strict=True)
    try:
        _ancova(full, np.zeros((len(trial.arms), len(trial.visits))), len(trial.arms))
    except _FitFailedError as exc:
        raise StatsError(str(exc), expected="covariates that are not collinear") from None
    n = trial.y.shape[0]
    out: list[_Completed] = []
    if method == "jackknife":
        for i in range(n):
            idx = np.delete(np.arange(n), i)
            try:
                out.append(_impute(trial.take(idx), full.phi, strict=False))
            except _FitFailedError as exc:
                raise StatsError(
                    f"the jackknife sample without subject {trial.subjects[i]!r} "
                    f"cannot be fitted: {exc}",
                    expected="data in which every arm stays observed at every visit",
                    hint="use method='bootstrap' or merge sparse visits",
                ) from None
        return _Replicates(full, out, 0, None)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
    rng = np.random.default_rng(seed)
    strata = [np.nonzero(trial.arm == a)[0] for a in range(len(trial.arms))]
    failed = 0
    while len(out) < n_boot:
        idx = np.concatenate([rng.choice(s, size=s.size, replace=True) for s in strata])
        try:
            out.append(_impute(trial.take(idx), full.phi, strict=False))
        except _FitFailedError:
            failed += 1
            if failed > n_boot:
                raise StatsError(
                    f"{failed} bootstrap samples could not be fitted",
                    expected="data in which every arm is observed at every visit",
                    hint="use method='jackknife' or merge sparse visits",
                ) from None
    return _Replicates(full, out, failed, seed)


def _summarise(
    est: Array,
    reps: Array,
    method: str,
    alpha: float,
    bootstrap_ci: str,
) -> dict[str, Array]:
    """est (V, K-1), reps (R, V, K-1) → se, ci, p, df arrays shaped like est."""
    z = float(special.ndtri(1.0 - alpha / 2.0))
    if method == "jackknife":
        r = reps.shape[0]
        se = np.sqrt((r - 1) / r * np.sum((reps - reps.mean(axis=0)) ** 2, axis=0))
    else:
        se = reps.std(axis=0, ddof=1) if reps.shape[0] > 1 else np.full_like(est, np.nan)
    if method == "bootstrap" and bootstrap_ci == "percentile":
        low = np.quantile(reps, alpha / 2.0, axis=0, method="weibull")
        high = np.quantile(reps, 1.0 - alpha / 2.0, axis=0, method="weibull")
        below = np.sum(reps < 0, axis=0)
        above = np.sum(reps > 0, axis=0)
        p = np.minimum(2.0 * (np.minimum(below, above) + 1.0) / (reps.shape[0] + 1.0), 1.0)
    else:
        low, high = est - z * se, est + z * se
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 2.0 * special.ndtr(-np.abs(est / se))
    return {"se": se, "ci_low": low, "ci_high": high, "p": p, "df": np.full_like(est, math.inf)}


# ---------------------------------------------------------------------------- bayes
@dataclass(frozen=True)
class _Draws:
    """The multiply imputed data sets of the approximate-Bayesian method."""

    completed: list[_Completed]
    seed: int


def _posterior_draws(trial: _Trial, n_samples: int, seed: int | None) -> _Draws:
    """Impute ``n_samples`` data sets, each from its own draw of (β, Σ).

    θ, the log-Cholesky working parameters of Σ, is drawn from the normal approximation of
    its marginal posterior: the REML likelihood is the likelihood of θ with β integrated out
    under a flat prior (Harville 1974), so the draw is N(θ̂_REML, W) with W the inverse of
    the Hessian of −ℓ_REML at θ̂ (a flat prior on θ). Given Σ, β is drawn from its exact
    conditional posterior under a flat prior, N(β̂_GLS(Σ), (X'V⁻¹X)⁻¹). The missing values
    are then drawn from their conditional normal distribution given the observed ones, around
    the mean vector the subject's strategy prescribes.
    """
    n, n_visits = trial.y.shape
    fit = _imputation_fit(trial, None, strict=True)
    p = fit.beta.size
    x_own = _mean_rows(fit, trial, trial.arm).reshape(n, n_visits, p)
    x_ref = _mean_rows(fit, trial, np.zeros(n, dtype=np.int64)).reshape(n, n_visits, p)
    observed = ~np.isnan(trial.y)
    patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
    groups = []
    for k, pat in enumerate(patterns):
        o = np.nonzero(pat)[0]
        if o.size == 0:
            continue
        who = np.nonzero(inverse.reshape(-1) == k)[0]
        groups.append((o, x_own[np.ix_(who, o)], trial.y[np.ix_(who, o)]))
    structure = Unstructured(n_visits)
    w = np.asarray(fit.theta_cov_working, dtype=float)
    try:
        w_chol = np.linalg.cholesky((w + w.T) / 2.0)
    except np.linalg.LinAlgError:
        raise StatsError(
            "the REML information of the imputation model's covariance is not positive "
            "definite, so its posterior cannot be approximated by a normal distribution",
            expected="data that inform every variance and covariance of Σ",
            hint="use rbmi_condmean (conditional mean imputation) or merge sparse visits",
        ) from None
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
    rng = np.random.default_rng(seed)
    post = _last_observed(trial)[1] & ~observed
    out: list[_Completed] = []
    for _ in range(n_samples):
        phi = fit.phi + w_chol @ rng.standard_normal(fit.phi.size)
        sigma = structure.derivatives(phi, order=0).sigma
        xtvx = np.zeros((p, p))
        xtvy = np.zeros(p)
        for o, xo, yo in groups:
            inv = np.linalg.inv(sigma[np.ix_(o, o)])
            xtvx += np.einsum("kap,ab,kbq->pq", xo, inv, xo)
            xtvy += np.einsum("kap,ab,kb->p", xo, inv, yo)
        chol = np.linalg.cholesky(xtvx)
        beta_hat = np.linalg.solve(xtvx, xtvy)
        # β ~ N(β̂, (X'V⁻¹X)⁻¹): solve Lᵀ u = z with L Lᵀ = X'V⁻¹X
        beta = beta_hat + np.linalg.solve(chol.T, rng.standard_normal(p))
        mean, _ = _strategy_mean(trial, x_own @ beta, x_ref @ beta)
        completed = _fill(trial, mean, sigma, rng)
        out.append(_Completed(y=completed, post=post, arm=trial.arm, z=trial.z, phi=phi))
    return _Draws(out, seed)


def _ancova_with_se(done: _Completed, delta: Array, n_arms: int) -> tuple[Array, Array, float]:
    """Per-visit ANCOVA: differences and their variances (visits × contrasts), residual df."""
    y = done.y + done.post * delta[done.arm]
    design, cols = _analysis_design(done, n_arms)
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    dof = design.shape[0] - design.shape[1]
    if rank < design.shape[1] or dof < 1:
        raise StatsError(
            "the ANCOVA design is rank deficient or has no residual degrees of freedom",
            expected="covariates that are not collinear and more subjects than terms",
        )
    resid = y - design @ coef
    s2 = np.sum(resid**2, axis=0) / dof
    inv_diag = np.diag(np.linalg.inv(design.T @ design))[cols]
    var = s2[:, None] * inv_diag[None, :]
    return np.asarray(coef[cols].T, dtype=float), var, float(dof)


def _rubin(est: Array, var: Array, df_com: float, alpha: float) -> tuple[Array, dict[str, Array]]:
    """Rubin's rules over imputations (axis 0) with the Barnard–Rubin (1999) df."""
    m = est.shape[0]
    q = est.mean(axis=0)
    u = var.mean(axis=0)
    b = est.var(axis=0, ddof=1)
    t = u + (1.0 + 1.0 / m) * b
    lam = (1.0 + 1.0 / m) * b / t
    nu_obs = (df_com + 1.0) / (df_com + 3.0) * df_com * (1.0 - lam)
    with np.errstate(divide="ignore"):
        nu_old = np.where(lam > 0, (m - 1) / np.maximum(lam, 1e-300) ** 2, np.inf)
        nu = 1.0 / (1.0 / nu_old + 1.0 / nu_obs)
    se = np.sqrt(t)
    crit = stats.t.ppf(1.0 - alpha / 2.0, nu)
    p = 2.0 * stats.t.sf(np.abs(q / se), nu)
    return q, {"se": se, "ci_low": q - crit * se, "ci_high": q + crit * se, "p": p, "df": nu}


def _bayes_result(trial: _Trial, draws: _Draws, delta: Array, alpha: float) -> RbmiResult:
    n_arms = len(trial.arms)
    fits = [_ancova_with_se(c, delta, n_arms) for c in draws.completed]
    est = np.stack([f[0] for f in fits])
    var = np.stack([f[1] for f in fits])
    q, parts = _rubin(est, var, fits[0][2], alpha)
    return _assemble(trial, q, parts, est, delta, "bayes", None, len(fits), 0, draws.seed, alpha)


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class RbmiResult(TidyResult):
    """Treatment differences per visit after reference-based imputation.

    Attributes
    ----------
    table
        visit, contrast (``"active - reference"``), estimate, se, ci_low, ci_high, p, df
        (``inf``: normal-based intervals and p-values, as in rbmi's conditional mean method;
        finite: the Barnard–Rubin df of multiple imputation).
    method
        ``"jackknife"`` or ``"bootstrap"`` (conditional mean imputation), or ``"bayes"``
        (approximate-Bayesian multiple imputation pooled by Rubin's rules);
        ``bootstrap_ci`` says how bootstrap intervals were
        formed (``"percentile"``: quantiles of the replicates and rbmi's percentile p-value,
        with ``se`` the replicates' standard deviation; ``"normal"``: estimate ± z·se).
    strategies
        Number of subjects per strategy given, and ``n_dropout`` (subjects whose last visit is
        missing; only these follow a non-MAR strategy).
    n_subjects, n_imputed
        Subjects analysed and values imputed.
    n_resamples, n_failed, seed
        Jackknife or bootstrap samples (or imputations, for ``"bayes"``) used, bootstrap
        samples redrawn because their fit failed, and the seed (``None`` for the jackknife).
    reference, visits, alpha
        The reference arm, the visit order, and 1 − confidence level.
    delta
        Added to imputed values after dropout: one row per arm, one column per visit.
    replicates
        Estimates of every resample or imputed data set (resamples × visits × contrasts).
    """

    table: pd.DataFrame
    method: str
    bootstrap_ci: str | None
    strategies: dict[str, int]
    n_subjects: int
    n_imputed: int
    n_resamples: int
    n_failed: int
    seed: int | None
    reference: Hashable
    visits: tuple[Hashable, ...]
    alpha: float
    delta: pd.DataFrame
    replicates: Array = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The per-visit table (a copy)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """Summary fields and the table (replicates left out; infinite df as ``None``)."""
        out = super().to_dict()
        out.pop("replicates")
        out["delta"] = {str(k): plain(v) for k, v in self.delta.to_dict(orient="index").items()}
        out["table"] = [
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in r.items()
            }
            for r in out["table"]
        ]
        return out

    def summary(self) -> str:
        """The table with a line on method and strategies."""
        given = ", ".join(f"{k} {v}" for k, v in self.strategies.items())
        if self.method == "bayes":
            how = (
                f"approximate-Bayesian multiple imputation ({self.n_resamples} imputations, "
                "Rubin's rules)"
            )
        else:
            how = (
                f"conditional mean imputation ({self.method}"
                + (f", {self.bootstrap_ci} CI" if self.bootstrap_ci else "")
                + f", {self.n_resamples} resamples)"
            )
        head = (
            f"RbmiResult: {how}: {self.n_subjects} subjects, "
            f"{self.n_imputed} values imputed; strategies: {given}"
        )
        with pd.option_context("display.max_columns", None, "display.width", 200):
            return head + "\n" + self.table.to_string(index=False)


def _table(trial: _Trial, est: Array, parts: dict[str, Array]) -> pd.DataFrame:
    rows = []
    labels = (
        ["mean"] if len(trial.arms) == 1 else [f"{arm} - {trial.arms[0]}" for arm in trial.arms[1:]]
    )
    for v, visit in enumerate(trial.visits):
        for k, label in enumerate(labels):
            rows.append(
                {
                    "visit": plain(visit),
                    "contrast": label,
                    "estimate": float(est[v, k]),
                    **{name: float(val[v, k]) for name, val in parts.items()},
                }
            )
    cols = ["visit", "contrast", "estimate", "se", "ci_low", "ci_high", "p", "df"]
    return pd.DataFrame(rows, columns=cols)


def _check_options(method: str, n_boot: int, alpha: float, bootstrap_ci: str) -> None:
    if method not in ("jackknife", "bootstrap"):
        raise StatsError(f"method {method!r} is not known", expected="'jackknife' or 'bootstrap'")
    if method == "bootstrap" and (not isinstance(n_boot, int) or n_boot < 2):
        raise StatsError(f"n_boot={n_boot!r}", expected="an integer ≥ 2 (rbmi suggests ≥ 1000)")
    if not 0.0 < alpha < 1.0:
        raise StatsError(f"alpha {alpha} is outside (0, 1)", expected="e.g. 0.05")
    if bootstrap_ci not in ("percentile", "normal"):
        raise StatsError(
            f"bootstrap_ci {bootstrap_ci!r} is not known", expected="'percentile' or 'normal'"
        )


def _result(
    trial: _Trial,
    reps: _Replicates,
    delta: Array,
    method: str,
    alpha: float,
    bootstrap_ci: str,
) -> RbmiResult:
    n_arms = len(trial.arms)
    est = _ancova(reps.full, delta, n_arms)
    rep = np.stack([_ancova(c, delta, n_arms) for c in reps.resampled])
    parts = _summarise(est, rep, method, alpha, bootstrap_ci)
    return _assemble(
        trial,
        est,
        parts,
        rep,
        delta,
        method,
        bootstrap_ci if method == "bootstrap" else None,
        len(reps.resampled),
        reps.n_failed,
        reps.seed,
        alpha,
    )


def _assemble(
    trial: _Trial,
    est: Array,
    parts: dict[str, Array],
    rep: Array,
    delta: Array,
    method: str,
    bootstrap_ci: str | None,
    n_resamples: int,
    n_failed: int,
    seed: int | None,
    alpha: float,
) -> RbmiResult:
    observed = ~np.isnan(trial.y)
    dropout = ~observed[:, -1]
    counts: dict[str, int] = {}
    for i, s in enumerate(STRATEGIES):
        if np.any(trial.strategy == i):
            counts[s] = int(np.sum(trial.strategy == i))
    counts["n_dropout"] = int(dropout.sum())
    return RbmiResult(
        table=_table(trial, est, parts),
        method=method,
        bootstrap_ci=bootstrap_ci,
        strategies=counts,
        n_subjects=len(trial.subjects),
        n_imputed=int((~observed).sum()),
        n_resamples=n_resamples,
        n_failed=n_failed,
        seed=seed,
        reference=None if len(trial.arms) == 1 else trial.arms[0],
        visits=trial.visits,
        alpha=alpha,
        delta=pd.DataFrame(delta, index=list(trial.arms), columns=list(trial.visits)),
        replicates=rep,
    )


# ---------------------------------------------------------------------------- public
def rbmi_condmean(
    data: pd.DataFrame,
    *,
    y: str,
    subject: str,
    visit: str,
    group: str | None,
    reference: Hashable = None,
    covariates: Sequence[str] = (),
    strategy: str | Mapping[Hashable, str] = "MAR",
    delta: DeltaLike = None,
    delta_arms: Sequence[Hashable] | None = None,
    method: Method = "jackknife",
    n_boot: int = 1000,
    seed: int | None = None,
    bootstrap_ci: Literal["percentile", "normal"] = "percentile",
    visit_levels: Sequence[Hashable] | None = None,
    alpha: float = 0.05,
) -> RbmiResult:
    """Reference-based conditional mean imputation with jackknife or bootstrap inference.

    The approach of Wolbers et al. (2022) as in R's ``rbmi`` (``method_condmean``): an MMRM
    with unstructured Σ and ``group*visit + covariate*visit`` means, fitted by REML to the
    observed data, gives each subject's conditional mean of the missing values under the mean
    vector of the subject's strategy (see the module docstring); the completed data are
    analysed by an ANCOVA per visit (``y ~ group + covariates``).

    Parameters
    ----------
    data
        Long format, one row per subject and visit; a missing visit is a NaN response or an
        absent row.
    y, subject, visit, group
        Columns: response, subject, visit (its order: sorted, or ``visit_levels``), arm.
    reference
        The reference (control) arm.
    covariates
        Baseline columns (constant within a subject, complete); non-numeric ones are
        dummy-coded. Each enters the imputation model by visit and the ANCOVA.
    strategy
        ``"MAR"``, ``"J2R"``, ``"CR"`` or ``"CIR"`` for everyone, or a mapping subject →
        strategy (subjects not named: MAR). Only visits after a subject's last observed visit
        follow it; intermittent gaps are MAR.
    delta
        Added to the imputed values after the last observed visit of subjects in
        ``delta_arms``: a number, or a mapping visit → number (visits not named: 0).
    delta_arms
        Arms whose imputed values get ``delta`` (default: every arm but the reference).
    method
        ``"jackknife"`` (leave one subject out, refit everything; deterministic) or
        ``"bootstrap"`` (``n_boot`` samples of subjects within arms, from ``seed``).
    n_boot, seed
        Bootstrap samples and seed (a fresh seed, recorded in the result, when ``None``).
    bootstrap_ci
        ``"percentile"`` (rbmi's default) or ``"normal"``.
    visit_levels
        Order of the visits.
    alpha
        1 − confidence level.

    Returns
    -------
    RbmiResult
        One row per visit and active arm: estimate, se, ci_low, ci_high, p, df.

    Raises
    ------
    StatsError
        Unknown columns or strategy, covariates that vary within a subject, an arm never
        observed at a visit (also in a jackknife sample), and other unusable input.

    Notes
    -----
    For multiple imputation with Rubin's rules see :func:`rbmi_bayes`. With
    ``method="jackknife"`` the MMRM is refitted once per subject.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> n, visits = 24, [1, 2, 3]
    >>> arm = np.repeat(["ctl", "trt"], n // 2)
    >>> yv = rng.normal(size=(n, 3)).cumsum(axis=1) - (arm == "trt")[:, None] * [0.5, 1.0, 1.5]
    >>> yv[[2, 5, 14, 20], 2] = np.nan          # four dropouts before visit 3
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(n), 3), "visit": visits * n,
    ...                    "arm": np.repeat(arm, 3), "y": yv.ravel()})
    >>> mar = rbmi_condmean(df, y="y", subject="id", visit="visit", group="arm",
    ...                     reference="ctl", strategy="MAR")
    >>> j2r = rbmi_condmean(df, y="y", subject="id", visit="visit", group="arm",
    ...                     reference="ctl", strategy="J2R")
    >>> list(mar.to_frame().columns)
    ['visit', 'contrast', 'estimate', 'se', 'ci_low', 'ci_high', 'p', 'df']
    >>> last = [r.to_frame().iloc[-1] for r in (mar, j2r)]
    >>> bool(last[0].estimate < last[1].estimate < 0), bool(last[1].se > 0)
    (True, True)
    """
    _check_options(method, n_boot, alpha, bootstrap_ci)
    trial = _prepare(
        data,
        y=y,
        subject=subject,
        visit=visit,
        group=group,
        reference=reference,
        covariates=covariates,
        strategy=strategy,
        visit_levels=visit_levels,
    )
    dmat = _delta_matrix(delta, delta_arms, trial)
    reps = _replicates(trial, method, n_boot, seed)
    return _result(trial, reps, dmat, method, alpha, bootstrap_ci)


def rbmi_bayes(
    data: pd.DataFrame,
    *,
    y: str,
    subject: str,
    visit: str,
    group: str | None,
    reference: Hashable = None,
    covariates: Sequence[str] = (),
    strategy: str | Mapping[Hashable, str] = "MAR",
    delta: DeltaLike = None,
    delta_arms: Sequence[Hashable] | None = None,
    n_samples: int = 200,
    seed: int | None = None,
    visit_levels: Sequence[Hashable] | None = None,
    alpha: float = 0.05,
) -> RbmiResult:
    """Reference-based approximate-Bayesian multiple imputation, pooled by Rubin's rules.

    The imputation model is that of :func:`rbmi_condmean` (MMRM, unstructured Σ,
    ``group*visit + covariate*visit``, REML). Each of ``n_samples`` imputed data sets uses its
    own draw of the parameters from their approximate posterior:

    * Σ: its log-Cholesky working parameters θ from N(θ̂, W), the normal approximation of
      their marginal posterior — the REML likelihood is the likelihood of θ with β integrated
      out under a flat prior, and W is the inverse Hessian of −log REML at θ̂ (flat prior on
      θ; every draw gives a positive definite Σ);
    * β given Σ: its exact conditional posterior under a flat prior,
      N(β̂_GLS(Σ), (X'V⁻¹X)⁻¹).

    Each subject's missing values are drawn from their normal distribution given the observed
    ones, around the mean vector of the subject's strategy (MAR, J2R, CR, CIR; see the module
    docstring), plus ``delta`` after the last observed visit. Every data set is analysed by an
    ANCOVA per visit (``y ~ group + covariates``) and the results pooled by Rubin's rules with
    the Barnard–Rubin (1999) small-sample degrees of freedom (complete-data df: subjects minus
    ANCOVA terms).

    R's rbmi offers two related schemes: ``method_bayes`` samples the same posterior by MCMC
    and ``method_approxbayes`` replaces it by bootstrap refits; this function uses the large-
    sample normal approximation above instead, which needs one REML fit in all.

    Parameters
    ----------
    data, y, subject, visit, group, reference, covariates, strategy, delta, delta_arms,
    visit_levels, alpha
        As for :func:`rbmi_condmean`.
    n_samples
        Imputed data sets (rbmi suggests ≥ 100; the Monte Carlo standard error of an estimate
        is about sqrt(B / n_samples), B the between-imputation variance).
    seed
        Seed of the draws (a fresh seed, recorded in the result, when ``None``); the same seed
        gives the same result.

    Returns
    -------
    RbmiResult
        ``method="bayes"``; one row per visit and active arm: estimate, se, ci_low, ci_high,
        p and the Barnard–Rubin df; ``replicates`` holds every imputed set's estimates.

    Raises
    ------
    StatsError
        As :func:`rbmi_condmean`; also ``n_samples`` < 2.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> n, visits = 24, [1, 2, 3]
    >>> arm = np.repeat(["ctl", "trt"], n // 2)
    >>> yv = rng.normal(size=(n, 3)).cumsum(axis=1) - (arm == "trt")[:, None] * [0.5, 1.0, 1.5]
    >>> yv[[2, 5, 14, 20], 2] = np.nan
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(n), 3), "visit": visits * n,
    ...                    "arm": np.repeat(arm, 3), "y": yv.ravel()})
    >>> res = rbmi_bayes(df, y="y", subject="id", visit="visit", group="arm",
    ...                  reference="ctl", strategy="J2R", n_samples=50, seed=7)
    >>> again = rbmi_bayes(df, y="y", subject="id", visit="visit", group="arm",
    ...                    reference="ctl", strategy="J2R", n_samples=50, seed=7)
    >>> res.to_frame().equals(again.to_frame()), res.method, res.n_resamples
    (True, 'bayes', 50)
    """
    _check_samples(n_samples)
    if not 0.0 < alpha < 1.0:
        raise StatsError(f"alpha {alpha} is outside (0, 1)", expected="e.g. 0.05")
    trial = _prepare(
        data,
        y=y,
        subject=subject,
        visit=visit,
        group=group,
        reference=reference,
        covariates=covariates,
        strategy=strategy,
        visit_levels=visit_levels,
    )
    dmat = _delta_matrix(delta, delta_arms, trial)
    draws = _posterior_draws(trial, n_samples, seed)
    return _bayes_result(trial, draws, dmat, alpha)


def _check_samples(n_samples: int) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise StatsError(
            f"n_samples={n_samples!r}",
            expected="an integer ≥ 2 imputed data sets (rbmi suggests ≥ 100)",
        )


@dataclass(frozen=True)
class TippingPointResult(TidyResult):
    """Tipping-point analysis: a grid of deltas on the active arm's imputed values.

    Attributes
    ----------
    table
        One row per delta tried: delta, estimate, se, ci_low, ci_high, p (at ``visit``).
    tipping_delta
        The first delta of the grid at which the confidence interval includes 0 (significance
        is lost), or ``None`` when none did.
    visit, arm, reference, strategy, method
        What was analysed.
    alpha
        1 − confidence level of the intervals.
    """

    table: pd.DataFrame
    tipping_delta: float | None
    visit: Hashable
    arm: Hashable
    reference: Hashable | None
    strategy: str
    method: str
    alpha: float = 0.05

    def to_frame(self) -> pd.DataFrame:
        """The delta table (a copy)."""
        return self.table.copy()

    def summary(self) -> str:
        """The tipping delta and the table."""
        tip = "not reached" if self.tipping_delta is None else repr(self.tipping_delta)
        what = "the mean" if self.reference is None else f"{self.arm} - {self.reference}"
        head = (
            f"Tipping point ({self.strategy}, {self.method}) for {what} "
            f"at visit {self.visit}: delta {tip}"
        )
        with pd.option_context("display.max_columns", None, "display.width", 200):
            return head + "\n" + self.table.to_string(index=False)


def tipping_point(
    data: pd.DataFrame,
    *,
    y: str,
    subject: str,
    visit: str,
    group: str | None,
    reference: Hashable = None,
    deltas: Sequence[float] | Array,
    arm: Hashable | None = None,
    at_visit: Hashable | None = None,
    covariates: Sequence[str] = (),
    strategy: str | Mapping[Hashable, str] = "MAR",
    method: Method | Literal["bayes"] = "jackknife",
    n_boot: int = 1000,
    n_samples: int = 200,
    seed: int | None = None,
    bootstrap_ci: Literal["percentile", "normal"] = "percentile",
    visit_levels: Sequence[Hashable] | None = None,
    alpha: float = 0.05,
    stop: bool = True,
) -> TippingPointResult:
    """Delta-adjusted conditional mean imputation over a grid of deltas until the CI has 0.

    The imputation models (full data and every resample) are fitted once; each delta of
    ``deltas`` (in the order given) is added to the imputed values after dropout of the
    ``arm`` subjects, and the treatment difference at ``at_visit`` re-estimated, as in
    :func:`rbmi_condmean` with ``delta_arms=[arm]``.

    Parameters
    ----------
    data, y, subject, visit, group, reference, covariates, strategy, n_boot, seed,
    bootstrap_ci, visit_levels, alpha
        As for :func:`rbmi_condmean`.
    method
        ``"jackknife"`` or ``"bootstrap"`` (conditional mean imputation, as
        :func:`rbmi_condmean`), or ``"bayes"`` (multiple imputation as :func:`rbmi_bayes`
        with ``n_samples`` data sets; the same draws serve every delta).
    deltas
        The grid, in the order to try (e.g. from 0 towards less benefit for the active arm).
    arm
        The active arm (default: the only arm besides the reference).
    at_visit
        The visit analysed (default: the last).
    stop
        Stop at the first delta whose interval includes 0 (``False``: run the whole grid).

    Returns
    -------
    TippingPointResult
        The table and the tipping delta.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> n = 30
    >>> arm = np.repeat(["ctl", "trt"], n // 2)
    >>> yv = rng.normal(size=(n, 2)) - (arm == "trt")[:, None] * [1.0, 2.0]
    >>> yv[[1, 17, 19, 25], 1] = np.nan
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(n), 2), "visit": [1, 2] * n,
    ...                    "arm": np.repeat(arm, 2), "y": yv.ravel()})
    >>> tp = tipping_point(df, y="y", subject="id", visit="visit", group="arm",
    ...                    reference="ctl", deltas=np.arange(0, 30, 2.0))
    >>> tp.tipping_delta is not None and tp.tipping_delta > 0
    True
    """
    if method == "bayes":
        _check_samples(n_samples)
        _check_options("jackknife", n_boot, alpha, bootstrap_ci)
    else:
        _check_options(method, n_boot, alpha, bootstrap_ci)
    trial = _prepare(
        data,
        y=y,
        subject=subject,
        visit=visit,
        group=group,
        reference=reference,
        covariates=covariates,
        strategy=strategy,
        visit_levels=visit_levels,
    )
    active = trial.arms[1:] if len(trial.arms) > 1 else trial.arms
    if arm is None:
        if len(active) != 1:
            raise StatsError(
                f"{group!r} has {len(trial.arms)} arms",
                expected="arm=... naming the active arm",
            )
        arm = active[0]
    if arm not in active:
        raise StatsError(
            f"arm {arm!r} is not an active arm",
            expected="one of " + ", ".join(map(str, active)),
        )
    k = active.index(arm)
    target = trial.visits[-1] if at_visit is None else at_visit
    if target not in trial.visits:
        raise StatsError(
            f"at_visit {target!r} is not a visit",
            expected="one of " + ", ".join(map(str, trial.visits)),
        )
    v = trial.visits.index(target)
    grid = [float(d) for d in deltas]
    if not grid or not all(math.isfinite(d) for d in grid):
        raise StatsError("deltas is empty or not finite", expected="a grid of finite numbers")
    if method == "bayes":
        draws = _posterior_draws(trial, n_samples, seed)

        def analyse(dmat: Array) -> RbmiResult:
            return _bayes_result(trial, draws, dmat, alpha)
    else:
        reps = _replicates(trial, method, n_boot, seed)

        def analyse(dmat: Array) -> RbmiResult:
            return _result(trial, reps, dmat, method, alpha, bootstrap_ci)

    rows: list[dict[str, float]] = []
    tipping: float | None = None
    for d in grid:
        res = analyse(_delta_matrix(d, [arm], trial))
        row = res.table.iloc[v * len(active) + k]
        rows.append(
            {
                "delta": d,
                **{c: float(row[c]) for c in ("estimate", "se", "ci_low")},
                "ci_high": float(row["ci_high"]),
                "p": float(row["p"]),
            }
        )
        if tipping is None and row["ci_low"] <= 0.0 <= row["ci_high"]:
            tipping = d
            if stop:
                break
    table = pd.DataFrame(rows, columns=["delta", "estimate", "se", "ci_low", "ci_high", "p"])
    return TippingPointResult(
        table=table,
        tipping_delta=tipping,
        visit=plain(target),
        arm=arm,
        reference=None if len(trial.arms) == 1 else trial.arms[0],
        strategy=strategy if isinstance(strategy, str) else "per subject",
        method=method,
        alpha=alpha,
    )
