"""Simulation-based power of an MMRM analysis (any covariance, dropout, number of arms).

Each simulated trial draws every subject's outcomes at all visits from a multivariate normal
with the arm's mean vector and covariance matrix, removes visits after dropout (monotone, with
the arm's retention curve) and, optionally, intermittently missed visits; then fits
:func:`remit.stats.fit_mmrm` with ``y ~ arm * visit`` and tests each arm against the first at
the target visit. Power is the share of trials with p < α.

Reproducibility: trial *i* uses its own random stream, child *i* of
``numpy.random.SeedSequence(seed)``, so the result is identical whatever the number of
worker processes. Trials whose fit fails or does not converge count as not rejecting
(``power``) and are reported (``n_failed``); ``power_converged`` leaves them out.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from remit.errors import ConvergenceWarning, DataWarning, RemitError, StatsError
from remit.stats._tidy import TidyResult

Array = npt.NDArray[np.float64]
#: Trials simulated and fitted together by the batched engine (memory ≈ 40 kB per trial).
BATCH_CHUNK = 250
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SimulationDesign:
    """Everything one simulated trial needs (picklable, so it can go to worker processes)."""

    n_per_arm: tuple[int, ...]
    means: Array
    chol: tuple[Array, ...]
    retention: Array
    intermittent: Array
    target_visit: int
    alpha: float
    covariance: str
    df: str

    @property
    def arm_names(self) -> list[str]:
        return [f"arm{a:02d}" for a in range(len(self.n_per_arm))]

    @property
    def visit_names(self) -> list[str]:
        return [f"v{j:02d}" for j in range(self.means.shape[1])]


@dataclass(frozen=True)
class SimulatedPowerResult(TidyResult):
    """Simulated power of the MMRM comparison of each arm with the first at the target visit.

    Attributes
    ----------
    comparisons
        One row per comparison: ``contrast`` (``"arm01 - arm00"``), ``power``, ``mc_se``
        (√(p(1 − p)/n_sim)), ``power_converged``, ``mean_estimate``, ``mean_se``.
    n_sim, n_failed, seed
        Trials simulated, trials whose fit failed or did not converge, and the seed used.
    alpha, covariance, df_method, target_visit
        The test and the analysis model.
    rejections
        Boolean matrix (trials × comparisons): did trial i reject for comparison k.
    engine
        ``"batch"`` (all trials fitted together, :mod:`remit.stats.mmrm.batch`) or
        ``"single"`` (one :func:`~remit.stats.fit_mmrm` per trial).
    n_refitted
        Trials of a batch refitted one at a time because the batched iterations did not
        converge (they are included in the results; ``n_failed`` counts those that failed
        again).
    """

    comparisons: pd.DataFrame
    n_sim: int
    n_failed: int
    seed: int
    alpha: float
    covariance: str
    df_method: str
    target_visit: int
    rejections: npt.NDArray[np.bool_]
    engine: str = "single"
    n_refitted: int = 0

    @property
    def power(self) -> float:
        """Power of the first comparison (arm01 − arm00)."""
        return float(self.comparisons["power"].iloc[0])

    @property
    def mc_se(self) -> float:
        """Monte Carlo standard error of :attr:`power`."""
        return float(self.comparisons["mc_se"].iloc[0])

    def to_frame(self) -> pd.DataFrame:
        """The comparisons table (a copy)."""
        return self.comparisons.copy()

    def to_dict(self) -> dict[str, Any]:
        """Summary fields and comparisons (the per-trial matrix is left out)."""
        out = super().to_dict()
        out.pop("rejections")
        return out


def _trial_arrays(
    design: SimulationDesign, rng: np.random.Generator
) -> tuple[Array, npt.NDArray[np.bool_]]:
    """One trial's outcomes (subjects × visits, arm by arm) and which of them are observed."""
    ys = []
    seen_all = []
    n_visits = design.means.shape[1]
    for a, n_a in enumerate(design.n_per_arm):
        z = rng.standard_normal((n_a, n_visits))
        y = design.means[a] + z @ design.chol[a].T
        u = rng.random(n_a)
        # Visits observed under monotone dropout: j is seen while u < retention[a, j].
        seen = u[:, None] < design.retention[a][None, :]
        skip = rng.random((n_a, n_visits)) < design.intermittent[a][None, :]
        skip[:, 0] = False
        ys.append(y)
        seen_all.append(seen & ~skip)
    return np.concatenate(ys), np.concatenate(seen_all)


def _arm_codes(design: SimulationDesign) -> npt.NDArray[np.intp]:
    return np.repeat(np.arange(len(design.n_per_arm)), design.n_per_arm).astype(np.intp)


def _frame(design: SimulationDesign, y: Array, observed: npt.NDArray[np.bool_]) -> pd.DataFrame:
    """Long data frame (id, visit, arm, y) of the observed outcomes of one trial."""
    n_subj, n_visits = y.shape
    arms = np.asarray(design.arm_names)[_arm_codes(design)]
    frame = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n_subj), n_visits),
            "visit": np.tile(design.visit_names, n_subj),
            "arm": np.repeat(arms, n_visits),
            "y": y.ravel(),
        }
    )
    data: pd.DataFrame = frame[observed.ravel()].reset_index(drop=True)
    return data


def _trial_data(design: SimulationDesign, rng: np.random.Generator) -> pd.DataFrame:
    y, observed = _trial_arrays(design, rng)
    return _frame(design, y, observed)


def _run_trial(design: SimulationDesign, seed_seq: np.random.SeedSequence) -> Array:
    """One trial: [estimate, se, p] per comparison (NaN when the fit failed)."""
    return _fit_single(design, _trial_data(design, np.random.default_rng(seed_seq)))


def _fit_single(design: SimulationDesign, data: pd.DataFrame) -> Array:
    """Fit one trial with the general engine: [estimate, se, p] per comparison (NaN if failed)."""
    # Imported here so that workers import the MMRM code only once they run.
    from remit.stats.mmrm import fit_mmrm

    n_comp = len(design.n_per_arm) - 1
    out = np.full((n_comp, 3), np.nan)
    try:
        with warnings.catch_warnings():
            # a fit that does not converge is counted and reported, not warned about per trial
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", DataWarning)
            fit = fit_mmrm(
                data,
                "y ~ arm * visit",
                subject="id",
                visit="visit",
                group="arm",
                covariance=design.covariance,
                df=design.df,  # type: ignore[arg-type]
                visit_levels=design.visit_names,
            )
    except RemitError:
        return out
    if not fit.converged:
        return out
    target = design.visit_names[design.target_visit]
    reference = design.arm_names[0]
    terms = set(fit.terms)
    # With treatment coding of y ~ arm * visit, arm k − arm 0 at visit v is the arm-k main
    # effect plus its interaction with v. Building that contrast directly is much cheaper than
    # computing every LS mean; the general route is kept for term names it does not expect.
    for k, arm in enumerate(design.arm_names[1:]):
        weights = {f"arm{arm}": 1.0}
        if design.target_visit != 0:
            weights[f"arm{arm}:visit{target}"] = 1.0
        if set(weights) <= terms:
            table = fit.contrast(weights)
        else:
            diffs = fit.differences()
            wanted = (diffs["visit"] == target) & (diffs["contrast"] == f"{arm} - {reference}")
            table = diffs[wanted]
        if table.empty:  # nobody of this arm (or of the reference) at the target visit
            continue
        out[k] = [float(table[col].iloc[0]) for col in ("estimate", "se", "p")]
    return out


def batch_supported(covariance: str, df: str) -> bool:
    """Whether the batched fitter covers this analysis model (unstructured, Satterthwaite)."""
    return covariance.lower() == "us" and df.lower() == "satterthwaite"


@dataclass(frozen=True)
class BatchOutcome:
    """Per-trial results of a batch: (trials × comparisons × [estimate, se, df, p])."""

    values: Array
    refitted: npt.NDArray[np.intp]  # trials refitted one at a time with the general engine


def run_batch(design: SimulationDesign, seeds: Sequence[np.random.SeedSequence]) -> BatchOutcome:
    """Simulate the trials of ``seeds`` and fit them together (unstructured Σ, Satterthwaite).

    Trial *i* draws its data from ``seeds[i]`` exactly as the one-at-a-time path does. Trials
    the batched Newton iterations do not bring to convergence (or with an arm × visit cell
    without data) are refitted singly with :func:`remit.stats.fit_mmrm`; their indices are
    returned. Values are NaN where that fit failed too (its df is then NaN as well).
    """
    from remit.stats.mmrm.batch import arm_differences, fit_us_batch, pattern_stats

    if not batch_supported(design.covariance, design.df):
        raise StatsError(
            f"covariance={design.covariance!r}, df={design.df!r}",
            expected="covariance 'us' with df 'satterthwaite' for the batched fitter",
        )
    n_comp = len(design.n_per_arm) - 1
    arrays = [_trial_arrays(design, np.random.default_rng(s)) for s in seeds]
    y = np.stack([a[0] for a in arrays])
    observed = np.stack([a[1] for a in arrays])
    stats_ = pattern_stats(y, observed, _arm_codes(design), len(design.n_per_arm))
    fit = fit_us_batch(stats_)
    diff = arm_differences(fit, design.target_visit)
    values = np.stack([diff.estimate, diff.se, diff.df, diff.p], axis=2)
    refit = np.flatnonzero(~fit.converged).astype(np.intp)
    for t in refit:
        single = _fit_single(design, _frame(design, y[t], observed[t]))
        values[t] = np.nan
        values[t, :, 0] = single[:, 0]
        values[t, :, 1] = single[:, 1]
        values[t, :, 3] = single[:, 2]
    values = values.reshape(len(seeds), n_comp, 4)
    return BatchOutcome(values=values, refitted=refit)


def _run_chunk(design: SimulationDesign, seeds: list[np.random.SeedSequence]) -> list[Array]:
    return [_run_trial(design, s) for s in seeds]


def _start_method() -> str:
    # fork starts workers fastest and does not re-import the caller's script (so a script
    # without an ``if __name__ == "__main__"`` guard still works); elsewhere spawn.
    if sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _as_matrix(value: Any, shape: tuple[int, int], name: str) -> Array:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1:
        arr = np.broadcast_to(arr, shape).copy()
    if arr.shape != shape:
        raise StatsError(
            f"{name} has shape {arr.shape}",
            expected=f"one value per visit, or one row per arm: shape {shape}",
        )
    return arr


def simulate_power_mmrm(
    n_per_arm: Sequence[int],
    means: Any,
    covariance_matrix: Any,
    *,
    retention: Any | None = None,
    intermittent: Any | None = None,
    n_sim: int = 1000,
    alpha: float = 0.05,
    target_visit: int = -1,
    covariance: str = "us",
    df: str = "satterthwaite",
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: Progress | None = None,
    engine: str = "auto",
) -> SimulatedPowerResult:
    """Power of an MMRM analysis by simulating trials and fitting each one.

    Parameters
    ----------
    n_per_arm
        Subjects randomised to each arm, e.g. ``(87, 87)``. The first arm is the reference.
    means
        Expected outcome, arms × visits (a single row is used for every arm).
    covariance_matrix
        Visits × visits covariance of the outcomes, or one such matrix per arm.
    retention
        Proportion still in the study at each visit (non-increasing, first 1), per visit or
        arms × visits; default everybody completes.
    intermittent
        Probability of missing a visit while still in the study (never the first), per visit
        or arms × visits; default 0.
    n_sim
        Number of simulated trials.
    alpha
        Two-sided significance level of the test at the target visit.
    target_visit
        Index of the visit compared (default the last).
    covariance, df
        Covariance structure and df method of the analysis model (see ``fit_mmrm``).
    seed
        Seed of the whole simulation (a random one is drawn and reported when ``None``).
    n_jobs
        Worker processes of the one-at-a-time engine (default: all cores). The result does
        not depend on it; the batched engine runs in the calling process.
    progress
        Called as ``progress(done, n_sim)`` as trials finish (for a progress bar).
    engine
        ``"batch"``: fit all trials together (unstructured covariance with Satterthwaite df
        only; same estimates as one-at-a-time fits); ``"single"``: one fit per trial;
        ``"auto"`` (default): batch where it applies.

    Returns
    -------
    SimulatedPowerResult

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.full((3, 3), 0.3) + 0.7 * np.eye(3)
    >>> r = simulate_power_mmrm((15, 15), [[0, 0, 0], [0, 0.5, 1.0]], cov,
    ...                         n_sim=4, seed=1, n_jobs=1)
    >>> r.n_sim, r.comparisons["contrast"].tolist()
    (4, ['arm01 - arm00'])
    """
    arms = tuple(int(n) for n in n_per_arm)
    if len(arms) < 2 or min(arms) < 2:
        raise StatsError(
            f"n_per_arm={list(n_per_arm)}", expected="two or more arms of at least 2 subjects"
        )
    mean_arr = np.asarray(means, dtype=np.float64)
    if mean_arr.ndim == 1:
        mean_arr = np.broadcast_to(mean_arr, (len(arms), mean_arr.size)).copy()
    if mean_arr.ndim != 2 or mean_arr.shape[0] != len(arms) or mean_arr.shape[1] < 2:
        raise StatsError(
            f"means has shape {mean_arr.shape}",
            expected=f"arms × visits, i.e. ({len(arms)}, J) with J ≥ 2",
        )
    n_visits = mean_arr.shape[1]
    shape = (len(arms), n_visits)
    cov = np.asarray(covariance_matrix, dtype=np.float64)
    covs = [cov] * len(arms) if cov.ndim == 2 else list(cov)
    if len(covs) != len(arms) or any(c.shape != (n_visits, n_visits) for c in covs):
        raise StatsError(
            f"covariance_matrix has shape {cov.shape}",
            expected=f"({n_visits}, {n_visits}) or one per arm",
        )
    chol = []
    for c in covs:
        try:
            chol.append(np.linalg.cholesky(c))
        except np.linalg.LinAlgError:
            raise StatsError(
                "a covariance matrix is not positive definite",
                expected="a symmetric positive definite matrix",
            ) from None
    ret = _as_matrix(np.ones(n_visits) if retention is None else retention, shape, "retention")
    if (ret <= 0).any() or (ret > 1).any() or (np.diff(ret, axis=1) > 1e-12).any():
        raise StatsError(
            f"retention {ret.tolist()}", expected="proportions in (0, 1], non-increasing"
        )
    inter = _as_matrix(
        np.zeros(n_visits) if intermittent is None else intermittent, shape, "intermittent"
    )
    if (inter < 0).any() or (inter >= 1).any():
        raise StatsError(f"intermittent {inter.tolist()}", expected="probabilities in [0, 1)")
    if n_sim < 1:
        raise StatsError(f"n_sim={n_sim}", expected="at least 1 simulated trial")
    if not 0 < alpha < 1:
        raise StatsError(f"alpha={alpha}", expected="a significance level between 0 and 1")
    if not -n_visits <= target_visit < n_visits:
        raise StatsError(f"target_visit={target_visit}", expected=f"an index of {n_visits} visits")
    design = SimulationDesign(
        n_per_arm=arms,
        means=mean_arr,
        chol=tuple(chol),
        retention=ret,
        intermittent=inter,
        target_visit=target_visit % n_visits,
        alpha=alpha,
        covariance=covariance,
        df=df,
    )
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
    children = np.random.SeedSequence(seed).spawn(n_sim)
    workers = n_jobs if n_jobs is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise StatsError(f"n_jobs={n_jobs}", expected="at least 1 worker")
    if engine not in ("auto", "batch", "single"):
        raise StatsError(f"engine={engine!r}", expected="'auto', 'batch' or 'single'")
    use_batch = engine == "batch" or (engine == "auto" and batch_supported(covariance, df))
    if use_batch and not batch_supported(covariance, df):
        raise StatsError(
            f"engine='batch' with covariance={covariance!r}, df={df!r}",
            expected="covariance='us' and df='satterthwaite' for the batched engine",
            hint="use engine='single' (or 'auto') for other analysis models",
        )
    results: list[Array] = [np.empty(0)] * n_sim
    done = 0
    n_refitted = 0
    if use_batch:
        for start in range(0, n_sim, BATCH_CHUNK):
            outcome = run_batch(design, children[start : start + BATCH_CHUNK])
            n_refitted += int(outcome.refitted.size)
            for i, row in enumerate(outcome.values):
                results[start + i] = row[:, [0, 1, 3]]
            done += len(outcome.values)
            if progress is not None:
                progress(done, n_sim)
    elif workers == 1 or n_sim == 1:
        for i, s in enumerate(children):
            results[i] = _run_trial(design, s)
            done += 1
            if progress is not None:
                progress(done, n_sim)
    else:
        chunk = max(1, min(25, math.ceil(n_sim / (workers * 4))))
        starts = list(range(0, n_sim, chunk))
        context = multiprocessing.get_context(_start_method())
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            pending: dict[Future[list[Array]], int] = {
                pool.submit(_run_chunk, design, children[s : s + chunk]): s for s in starts
            }
            while pending:
                finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in finished:
                    start = pending.pop(fut)
                    block = fut.result()
                    results[start : start + len(block)] = block
                    done += len(block)
                    if progress is not None:
                        progress(done, n_sim)
    stacked = np.stack(results)  # trials × comparisons × (estimate, se, p)
    pvals = stacked[:, :, 2]
    failed = np.isnan(pvals).any(axis=1)
    rejections = np.nan_to_num(pvals, nan=1.0) < alpha
    n_ok = int((~failed).sum())
    rows = []
    for k, arm in enumerate(design.arm_names[1:]):
        p_hat = float(rejections[:, k].mean())
        rows.append(
            {
                "contrast": f"{arm} - {design.arm_names[0]}",
                "visit": design.visit_names[design.target_visit],
                "power": p_hat,
                "mc_se": math.sqrt(p_hat * (1 - p_hat) / n_sim),
                "power_converged": (float(rejections[~failed, k].mean()) if n_ok else math.nan),
                "true_difference": float(
                    mean_arr[k + 1, design.target_visit] - mean_arr[0, design.target_visit]
                ),
                "mean_estimate": float(np.nanmean(stacked[:, k, 0])) if n_ok else math.nan,
                "mean_se": float(np.nanmean(stacked[:, k, 1])) if n_ok else math.nan,
            }
        )
    return SimulatedPowerResult(
        comparisons=pd.DataFrame(rows),
        n_sim=n_sim,
        n_failed=int(failed.sum()),
        seed=int(seed),
        alpha=alpha,
        covariance=covariance,
        df_method=df,
        target_visit=design.target_visit,
        rejections=rejections,
        engine="batch" if use_batch else "single",
        n_refitted=n_refitted,
    )
