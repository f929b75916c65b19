"""Reference-based conditional mean imputation: the known properties (issue 17)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from remit.errors import StatsError
from remit.stats import RbmiResult, fit_mmrm, rbmi_condmean, tipping_point

REFERENCE = Path(__file__).parent / "reference"

KW: dict[str, Any] = {
    "y": "y",
    "subject": "id",
    "visit": "visit",
    "group": "arm",
    "reference": "ctl",
}


@cache
def _trial(n_per_arm: int = 40, seed: int = 11) -> pd.DataFrame:
    """Two arms, four visits, a baseline and a sex covariate; the active arm improves more;
    monotone dropout (more of it late) and a few intermittent gaps."""
    rng = np.random.default_rng(seed)
    n, n_visits = 2 * n_per_arm, 4
    arm = np.repeat(["ctl", "trt"], n_per_arm)
    base = rng.normal(20.0, 3.0, n)
    sex = rng.choice(["F", "M"], n)
    t = np.arange(1, n_visits + 1)
    mean = 0.5 * t[None, :] + 0.3 * (base[:, None] - 20.0) + (sex == "M")[:, None] * 0.4
    mean = mean + (arm == "trt")[:, None] * 1.0 * t[None, :]
    corr = 0.6 ** np.abs(np.subtract.outer(t, t))
    sd = np.linspace(1.5, 2.5, n_visits)
    chol = np.linalg.cholesky(corr * np.outer(sd, sd))
    y = mean + rng.standard_normal((n, n_visits)) @ chol.T
    drop_at = rng.choice([1, 2, 3, 4], n, p=[0.1, 0.1, 0.15, 0.65])  # first missing visit index
    for i, d in enumerate(drop_at):
        if d < n_visits:
            y[i, d:] = np.nan
    for i in rng.choice(n, 6, replace=False):  # intermittent gaps at visit 2
        if not np.isnan(y[i, 2]):
            y[i, 1] = np.nan
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), n_visits),
            "visit": np.tile(t, n),
            "arm": np.repeat(arm, n_visits),
            "base": np.repeat(base, n_visits),
            "sex": np.repeat(sex, n_visits),
            "y": y.ravel(),
        }
    )


def _estimates(res: RbmiResult) -> npt.NDArray[np.float64]:
    return np.asarray(res.to_frame()["estimate"], dtype=float)


def _fast(**extra: Any) -> dict[str, Any]:
    """Point estimates only need the full-data fit: two bootstrap samples keep tests quick."""
    return {**KW, "method": "bootstrap", "n_boot": 2, "seed": 5, **extra}


def test_mar_equals_mmrm_difference_at_every_visit() -> None:
    df = _trial()
    res = rbmi_condmean(df, covariates=["base", "sex"], **_fast(strategy="MAR"))
    mmrm = fit_mmrm(
        df.dropna(subset=["y"]),
        "y ~ arm*visit + base*visit + sex*visit",
        subject="id",
        visit="visit",
        group="arm",
    )
    diff = mmrm.differences(reference="ctl")
    assert res.to_frame()["visit"].tolist() == diff["visit"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(_estimates(res), diff["estimate"].to_numpy(), rtol=0, atol=1e-8)


def test_mar_equals_mmrm_without_covariates() -> None:
    df = _trial(n_per_arm=25, seed=3)
    res = rbmi_condmean(df, **_fast())
    mmrm = fit_mmrm(
        df.dropna(subset=["y"]), "y ~ arm*visit", subject="id", visit="visit", group="arm"
    )
    np.testing.assert_allclose(
        _estimates(res), mmrm.differences()["estimate"].to_numpy(), rtol=0, atol=1e-8
    )


@pytest.mark.parametrize("strategy", ["J2R", "CR", "CIR"])
def test_reference_based_lies_between_mar_and_zero(strategy: str) -> None:
    df = _trial()
    mar = _estimates(rbmi_condmean(df, covariates=["base"], **_fast(strategy="MAR")))
    ref = _estimates(rbmi_condmean(df, covariates=["base"], **_fast(strategy=strategy)))
    assert np.all(mar > 0)
    # visit 1 is always observed; every later visit has dropouts
    assert ref[0] == pytest.approx(mar[0], abs=1e-10)
    assert np.all(ref[1:] < mar[1:] - 1e-6)
    assert np.all(ref[1:] > 0)


def test_strategy_order_at_last_visit() -> None:
    """J2R is the most conservative; CIR keeps the benefit reached at dropout."""
    df = _trial()
    est = {
        s: _estimates(rbmi_condmean(df, covariates=["base"], **_fast(strategy=s)))[-1]
        for s in ("MAR", "J2R", "CR", "CIR")
    }
    assert est["J2R"] < est["CR"] < est["MAR"]
    assert est["J2R"] < est["CIR"] < est["MAR"]


def test_strategy_per_subject() -> None:
    df = _trial(n_per_arm=25, seed=3)
    all_j2r = rbmi_condmean(df, **_fast(strategy="J2R"))
    mapping = rbmi_condmean(df, **_fast(strategy=dict.fromkeys(df["id"].unique(), "j2r")))
    pd.testing.assert_frame_equal(all_j2r.to_frame(), mapping.to_frame())
    # J2R for the reference arm is MAR: naming only control subjects changes nothing
    ctl = df.loc[df["arm"] == "ctl", "id"].unique()
    partial = rbmi_condmean(df, **_fast(strategy=dict.fromkeys(ctl, "J2R")))
    mar = rbmi_condmean(df, **_fast())
    np.testing.assert_allclose(_estimates(partial), _estimates(mar), atol=1e-12)


def test_delta_zero_reproduces_mar_and_delta_moves_estimate() -> None:
    df = _trial(n_per_arm=25, seed=3)
    mar = _estimates(rbmi_condmean(df, **_fast()))
    zero = _estimates(rbmi_condmean(df, **_fast(delta=0.0)))
    np.testing.assert_array_equal(zero, mar)
    up = _estimates(rbmi_condmean(df, **_fast(delta=2.0)))
    down = _estimates(rbmi_condmean(df, **_fast(delta=-2.0)))
    # visit 1 is always observed: nothing imputed there, nothing moves
    assert up[0] == mar[0] == down[0]
    assert np.all(up[1:] > mar[1:])
    assert np.all(down[1:] < mar[1:])
    np.testing.assert_allclose(up - mar, mar - down, atol=1e-10)  # linear in delta
    # a delta at one visit only moves that visit
    one = _estimates(rbmi_condmean(df, **_fast(delta={4: 2.0})))
    np.testing.assert_allclose(one[:3], mar[:3], atol=1e-12)
    assert one[3] == pytest.approx(up[3])
    # on the reference arm it moves the other way
    ref = _estimates(rbmi_condmean(df, **_fast(delta=2.0, delta_arms=["ctl"])))
    assert np.all(ref[1:] < mar[1:])


def test_jackknife_se_deterministic_and_positive() -> None:
    df = _trial(n_per_arm=15, seed=7)
    a = rbmi_condmean(df, strategy="J2R", **KW)
    b = rbmi_condmean(df, strategy="J2R", **KW)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    frame = a.to_frame()
    assert a.n_resamples == 30
    assert a.seed is None
    assert np.all(frame["se"] > 0)
    np.testing.assert_allclose(
        frame["ci_high"] - frame["estimate"], 1.959963984540054 * frame["se"], rtol=1e-12
    )
    assert np.all(np.isinf(frame["df"]))
    reps = a.replicates[:, :, 0]
    n = reps.shape[0]
    se = np.sqrt((n - 1) / n * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0))
    np.testing.assert_allclose(frame["se"].to_numpy(), se)


def test_bootstrap_deterministic_given_seed() -> None:
    df = _trial(n_per_arm=15, seed=7)
    a = rbmi_condmean(df, strategy="CIR", method="bootstrap", n_boot=20, seed=42, **KW)
    b = rbmi_condmean(df, strategy="CIR", method="bootstrap", n_boot=20, seed=42, **KW)
    c = rbmi_condmean(df, strategy="CIR", method="bootstrap", n_boot=20, seed=43, **KW)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert not np.allclose(a.to_frame()["se"], c.to_frame()["se"])
    np.testing.assert_array_equal(a.to_frame()["estimate"], c.to_frame()["estimate"])
    frame = a.to_frame()
    assert a.seed == 42
    assert a.n_resamples == 20
    assert a.bootstrap_ci == "percentile"
    assert np.all(frame["se"] > 0)
    assert np.all(frame["ci_low"] <= frame["ci_high"])
    assert np.all((frame["p"] > 0) & (frame["p"] <= 1))
    normal = rbmi_condmean(
        df, strategy="CIR", method="bootstrap", n_boot=20, seed=42, bootstrap_ci="normal", **KW
    ).to_frame()
    np.testing.assert_allclose(normal["se"], frame["se"])
    np.testing.assert_allclose(
        normal["ci_high"] - normal["estimate"], 1.959963984540054 * normal["se"]
    )


def test_complete_data_is_plain_ancova_whatever_the_strategy() -> None:
    df = _trial(n_per_arm=20, seed=2).copy()
    df["y"] = df["y"].fillna(df.groupby("visit")["y"].transform("mean"))
    res = {s: _estimates(rbmi_condmean(df, **_fast(strategy=s))) for s in ("MAR", "CR")}
    np.testing.assert_array_equal(res["MAR"], res["CR"])
    for j, v in enumerate([1, 2, 3, 4]):
        sub = df[df["visit"] == v]
        x = np.column_stack([np.ones(len(sub)), np.asarray(sub["arm"] == "trt", dtype=float)])
        coef = np.linalg.lstsq(x, sub["y"].to_numpy(), rcond=None)[0]
        assert res["MAR"][j] == pytest.approx(coef[1], abs=1e-10)


def test_tipping_point() -> None:
    df = _trial(n_per_arm=15, seed=7)
    grid = np.arange(0.0, -20.0, -1.0)  # less benefit for the active arm
    tp = tipping_point(df, strategy="MAR", deltas=grid, **KW)
    table = tp.to_frame()
    assert tp.tipping_delta is not None
    assert tp.tipping_delta < 0
    assert table["delta"].iloc[-1] == tp.tipping_delta
    assert table["ci_low"].iloc[-1] <= 0 <= table["ci_high"].iloc[-1]
    assert np.all(table["ci_low"].iloc[:-1] > 0)
    mar = rbmi_condmean(df, strategy="MAR", **KW).to_frame().iloc[-1]
    assert table["estimate"].iloc[0] == pytest.approx(mar["estimate"])
    at = rbmi_condmean(df, strategy="MAR", delta=tp.tipping_delta, **KW).to_frame().iloc[-1]
    assert table["estimate"].iloc[-1] == pytest.approx(at["estimate"])
    assert table["se"].iloc[-1] == pytest.approx(at["se"])
    full = tipping_point(df, strategy="MAR", deltas=grid, stop=False, **KW)
    assert len(full.to_frame()) == grid.size
    assert full.tipping_delta == tp.tipping_delta


def test_result_protocol() -> None:
    df = _trial(n_per_arm=10, seed=7)
    res = rbmi_condmean(df, strategy="J2R", **KW)
    out = res.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["table"][0]["df"] is None
    assert "replicates" not in out
    assert out["strategies"]["J2R"] == 20
    assert "J2R" in res.summary()
    assert "jackknife" in res.summary()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strategy": "LOCF"}, "unknown strategy"),
        ({"reference": "placebo"}, "reference"),
        ({"strategy": {999: "J2R"}}, "not in the data"),
        ({"method": "bayes"}, "method"),
        ({"delta": {9: 1.0}}, "visit"),
    ],
)
def test_bad_input(change: dict[str, Any], message: str) -> None:
    df = _trial(n_per_arm=10, seed=7)
    with pytest.raises(StatsError, match=message):
        rbmi_condmean(df, **{**KW, **change})


def test_covariate_changing_within_subject_is_refused() -> None:
    df = _trial(n_per_arm=10, seed=7).copy()
    df.loc[0, "base"] = -1.0
    with pytest.raises(StatsError, match="change within a subject"):
        rbmi_condmean(df, covariates=["base"], **KW)


def test_one_subject_shift_matches_hand_computation() -> None:
    """Without covariates the ANCOVA is a difference of means, so giving one active subject a
    reference-based strategy shifts the estimate by (its imputed change) / n_active, which
    follows from the MMRM's differences d and Σ by hand."""
    df = _trial(n_per_arm=25, seed=3)
    y = df.pivot(index="id", columns="visit", values="y")
    arms = df.groupby("id")["arm"].first()
    who = next(i for i in y.index if arms[i] == "trt" and y.loc[i].isna().tolist() == [0, 0, 1, 1])
    n_trt = int((arms == "trt").sum())
    fit = fit_mmrm(
        df.dropna(subset=["y"]), "y ~ arm*visit", subject="id", visit="visit", group="arm"
    )
    d = fit.differences(reference="ctl")["estimate"].to_numpy()
    sigma = fit.covariance_matrix()
    gain = np.linalg.solve(sigma[:2, :2], sigma[:2, 2:])  # observed visits 1-2 → 3-4
    mar = _estimates(rbmi_condmean(df, **_fast()))
    expected = {
        "J2R": -d[2:],
        "CIR": d[1] - d[2:],
        "CR": -d[2:] + d[:2] @ gain,
    }
    for strategy, shift in expected.items():
        est = _estimates(rbmi_condmean(df, **_fast(strategy={who: strategy})))
        np.testing.assert_allclose(est[:2], mar[:2], atol=1e-10)
        np.testing.assert_allclose(est[2:] - mar[2:], shift / n_trt, atol=1e-10)


def test_antidepressant_j2r_jackknife_matches_rbmi() -> None:
    """rbmi's published J2R jackknife table (3 decimals; rbmi's sign is PLACEBO − DRUG)."""
    data = pd.read_csv(REFERENCE / "data" / "antidepressant_data.csv")
    ref = pd.read_csv(REFERENCE / "rbmi" / "condmean_jackknife_j2r.csv")
    res = rbmi_condmean(
        data,
        y="CHANGE",
        subject="PATIENT",
        visit="VISIT",
        group="THERAPY",
        reference="PLACEBO",
        covariates=["BASVAL"],
        strategy="J2R",
    ).to_frame()
    assert res["visit"].tolist() == ref["visit"].tolist()
    tol = 5.1e-4
    np.testing.assert_allclose(res["estimate"], -ref["est"], atol=tol)
    np.testing.assert_allclose(res["se"], ref["se"], atol=tol)
    np.testing.assert_allclose(res["ci_low"], -ref["uci"], atol=tol)
    np.testing.assert_allclose(res["ci_high"], -ref["lci"], atol=tol)
    np.testing.assert_allclose(res["p"], ref["pval"], atol=tol)
