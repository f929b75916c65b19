"""Approximate-Bayesian reference-based multiple imputation (issue 17): known properties.

The Monte Carlo tolerance: the pooled estimate of ``n`` imputations has Monte Carlo standard
error sqrt(B / n), B the between-imputation variance (``replicates.var(ddof=1)``); an estimate
within 4 such errors of its target (plus 1e-9 where nothing is imputed and B is 0) fails by
chance with probability about 6e-5 per comparison. The seeds are fixed, so a test either always
passes or always fails.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from tests.stats.test_rbmi import KW, _fast, _trial

from remit.errors import StatsError
from remit.stats import RbmiResult, fit_mmrm, rbmi_bayes, rbmi_condmean, tipping_point
from remit.stats.rbmi import _rubin

N_SAMPLES = 400


def _mc_se(res: RbmiResult) -> npt.NDArray[np.float64]:
    reps = res.replicates[:, :, 0]
    return np.asarray(np.sqrt(reps.var(axis=0, ddof=1) / reps.shape[0]), dtype=float)


def _est(res: RbmiResult) -> npt.NDArray[np.float64]:
    return np.asarray(res.to_frame()["estimate"], dtype=float)


@pytest.mark.parametrize(
    ("strategy", "delta"),
    [("MAR", None), ("J2R", None), ("CR", None), ("CIR", None), ("J2R", -1.5)],
)
def test_bayes_agrees_with_conditional_mean_within_monte_carlo_error(
    strategy: str, delta: float | None
) -> None:
    df = _trial()
    bayes = rbmi_bayes(
        df,
        covariates=["base", "sex"],
        strategy=strategy,
        delta=delta,
        n_samples=N_SAMPLES,
        seed=2024,
        **KW,
    )
    cm = rbmi_condmean(df, covariates=["base", "sex"], **_fast(strategy=strategy, delta=delta))
    diff = np.abs(_est(bayes) - _est(cm))
    tol = 4.0 * _mc_se(bayes) + 1e-9
    assert np.all(diff <= tol), (diff, tol)
    # the Monte Carlo error is small against the effects compared (the test has teeth)
    assert np.all(tol < 0.1)


def test_bayes_under_mar_agrees_with_mmrm() -> None:
    df = _trial()
    res = rbmi_bayes(df, covariates=["base", "sex"], n_samples=N_SAMPLES, seed=99, **KW)
    mmrm = fit_mmrm(
        df.dropna(subset=["y"]),
        "y ~ arm*visit + base*visit + sex*visit",
        subject="id",
        visit="visit",
        group="arm",
    ).differences()
    table = res.to_frame()
    tol = 4.0 * _mc_se(res) + 1e-9
    assert np.all(np.abs(_est(res) - mmrm["estimate"].to_numpy()) <= tol)
    # proper imputation: Rubin's total variance matches the MMRM's (improper imputation,
    # with the parameters fixed at their estimates, would understate it)
    ratio = table["se"].to_numpy() / mmrm["se"].to_numpy()
    assert np.all(np.abs(ratio - 1.0) < 0.08), ratio
    assert np.all((table["df"] > 30) & (table["df"] < 80))


def test_parameter_draws_widen_the_variance() -> None:
    """Rubin's variance must exceed the within-imputation variance where values are imputed."""
    df = _trial()
    res = rbmi_bayes(df, strategy="J2R", n_samples=100, seed=1, **KW)
    b = res.replicates[:, :, 0].var(axis=0, ddof=1)
    assert b[0] < 1e-20  # visit 1: nothing imputed
    assert np.all(b[1:] > 1e-3)


def test_deterministic_given_seed_and_delta_zero_is_mar() -> None:
    df = _trial(n_per_arm=20, seed=4)
    a = rbmi_bayes(df, strategy="CIR", n_samples=20, seed=5, **KW)
    b = rbmi_bayes(df, strategy="CIR", n_samples=20, seed=5, **KW)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert a.seed == 5
    assert a.method == "bayes"
    assert a.n_resamples == 20
    c = rbmi_bayes(df, strategy="CIR", n_samples=20, seed=6, **KW)
    assert not np.allclose(_est(a)[1:], _est(c)[1:])
    mar = rbmi_bayes(df, n_samples=20, seed=5, **KW)
    zero = rbmi_bayes(df, delta=0.0, n_samples=20, seed=5, **KW)
    pd.testing.assert_frame_equal(mar.to_frame(), zero.to_frame())
    fresh = rbmi_bayes(df, n_samples=3, **KW)
    assert isinstance(fresh.seed, int)
    again = rbmi_bayes(df, n_samples=3, seed=fresh.seed, **KW)
    pd.testing.assert_frame_equal(fresh.to_frame(), again.to_frame())


def test_complete_data_is_plain_ancova() -> None:
    df = _trial(n_per_arm=15, seed=8).copy()
    rng = np.random.default_rng(0)
    df["y"] = rng.normal(size=len(df)) + (df["arm"] == "trt") * 1.0
    res = rbmi_bayes(df, strategy="J2R", n_samples=5, seed=1, **KW).to_frame()
    for j, v in enumerate(sorted(df["visit"].unique())):
        sub = df[df["visit"] == v]
        x = np.column_stack([np.ones(len(sub)), np.asarray(sub["arm"] == "trt", dtype=float)])
        yv = sub["y"].to_numpy()
        coef, rss, _, _ = np.linalg.lstsq(x, yv, rcond=None)
        se = np.sqrt(rss[0] / (len(sub) - 2) * np.linalg.inv(x.T @ x)[1, 1])
        assert res["estimate"][j] == pytest.approx(coef[1], abs=1e-10)
        assert res["se"][j] == pytest.approx(se, rel=1e-10)
        # no between-imputation variance: Barnard–Rubin df is the adjusted complete-data df
        dof = len(sub) - 2
        assert res["df"][j] == pytest.approx((dof + 1) / (dof + 3) * dof, rel=1e-8)


def test_rubin_rules_hand_computed() -> None:
    """M = 3, estimates 1, 2, 3, variances 1, complete-data df 10, worked by hand:
    Q = 2, U = 1, B = 1, T = 1 + 4/3 = 7/3, λ = 4/7, ν_old = 2 / λ² = 6.125,
    ν_obs = 11/13 · 10 · 3/7 = 3.626373626…, ν = 1 / (1/ν_old + 1/ν_obs) = 2.277785604…"""
    est = np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1)
    var = np.ones((3, 1, 1))
    q, parts = _rubin(est, var, 10.0, 0.05)
    assert q[0, 0] == pytest.approx(2.0)
    assert parts["se"][0, 0] == pytest.approx(np.sqrt(7.0 / 3.0))
    nu_obs = 11.0 / 13.0 * 10.0 * 3.0 / 7.0
    assert nu_obs == pytest.approx(3.626373626, rel=1e-9)
    assert parts["df"][0, 0] == pytest.approx(1.0 / (1.0 / 6.125 + 1.0 / nu_obs), rel=1e-12)
    assert parts["df"][0, 0] == pytest.approx(2.277785604, rel=1e-9)
    # t(2.2777) 97.5% quantile, from scipy's t at the same df
    from scipy import stats

    crit = stats.t.ppf(0.975, parts["df"][0, 0])
    assert parts["ci_high"][0, 0] == pytest.approx(2.0 + crit * np.sqrt(7.0 / 3.0))
    assert parts["p"][0, 0] == pytest.approx(
        2 * stats.t.sf(2.0 / np.sqrt(7.0 / 3.0), parts["df"][0, 0])
    )


def test_tipping_point_with_bayes() -> None:
    df = _trial()
    grid = np.arange(0.0, -20.0, -1.0)
    tp = tipping_point(
        df, strategy="MAR", deltas=grid, method="bayes", n_samples=50, seed=3, stop=False, **KW
    )
    table = tp.to_frame()
    assert tp.tipping_delta is not None
    assert tp.tipping_delta < 0
    # the same draws serve every delta: the estimate is linear in delta
    slope = np.diff(table["estimate"].to_numpy())
    np.testing.assert_allclose(slope, slope[0], atol=1e-9)
    assert slope[0] < 0
    first = table.iloc[0]
    mar = rbmi_bayes(df, n_samples=50, seed=3, **KW).to_frame().iloc[-1]
    assert first["estimate"] == pytest.approx(mar["estimate"], abs=1e-12)
    assert first["se"] == pytest.approx(mar["se"], abs=1e-12)
    sig = table[table["delta"] > tp.tipping_delta]
    assert np.all(sig["ci_low"] > 0)


def test_result_protocol_and_bad_input() -> None:
    df = _trial(n_per_arm=10, seed=7)
    res = rbmi_bayes(df, strategy="J2R", n_samples=10, seed=1, **KW)
    out: dict[str, Any] = res.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["method"] == "bayes"
    assert out["table"][-1]["df"] > 0
    assert "Rubin" in res.summary()
    for bad in (1, 0, 2.5, True):
        with pytest.raises(StatsError, match="n_samples"):
            rbmi_bayes(df, n_samples=bad, **KW)  # type: ignore[arg-type]
    with pytest.raises(StatsError, match="unknown strategy"):
        rbmi_bayes(df, strategy="LOCF", n_samples=5, **KW)


# ------------------------------------------------------------------ one arm (no reference)


def _one_arm() -> pd.DataFrame:
    """The active arm of the test trial alone, as a change from a zero baseline: the values
    fall visit by visit (an improving single-arm trial, lower is better)."""
    df = _trial()
    out = df[df["arm"] == "trt"].drop(columns="arm").copy()
    out["y"] = -out["y"]
    return out.reset_index(drop=True)


ONE = {"y": "y", "subject": "id", "visit": "visit", "group": None}


def test_one_arm_mar_equals_mmrm_visit_means() -> None:
    df = _one_arm()
    res = rbmi_condmean(df, **ONE, method="bootstrap", n_boot=2, seed=1).to_frame()
    fit = fit_mmrm(df.dropna(subset=["y"]), "y ~ visit", subject="id", visit="visit")
    means = fit.lsmeans("visit")["estimate"].to_numpy()
    np.testing.assert_allclose(res["estimate"], means, rtol=0, atol=1e-8)
    assert list(res["contrast"]) == ["mean"] * 4


def test_one_arm_bayes_and_tipping_point() -> None:
    df = _one_arm()
    cm = rbmi_condmean(df, **ONE, delta=2.0, method="bootstrap", n_boot=2, seed=1)
    bayes = rbmi_bayes(df, **ONE, delta=2.0, n_samples=N_SAMPLES, seed=8)
    tol = 4.0 * _mc_se(bayes) + 1e-9
    assert np.all(np.abs(_est(bayes) - _est(cm)) <= tol)
    assert bayes.reference is None
    # delta moves only the imputed values: visit 1 (complete) keeps its plain mean
    assert _est(bayes)[0] == pytest.approx(df[df["visit"] == 1]["y"].mean(), abs=1e-10)
    tp = tipping_point(df, **ONE, deltas=np.arange(0.0, 60.0, 2.0), method="jackknife")
    table = tp.to_frame()
    assert tp.tipping_delta is not None
    assert tp.tipping_delta > 0
    assert tp.reference is None
    assert "the mean" in tp.summary()
    assert table["ci_high"].iloc[-1] >= 0 >= table["ci_low"].iloc[-1]
    assert np.all(table["ci_high"].iloc[:-1] < 0)


def test_one_arm_refuses_reference_based_strategies() -> None:
    df = _one_arm()
    with pytest.raises(StatsError, match="need a reference arm"):
        rbmi_condmean(df, **ONE, strategy="J2R")
    with pytest.raises(StatsError, match="without a group column"):
        rbmi_bayes(df, **ONE, reference="ctl", n_samples=5)
