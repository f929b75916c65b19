"""Random-effects LMM against lme4 1.1.31 / lmerTest 3.1.3 (reference/lmm/lmm.R).

Tolerances: −2 log-likelihood 1e-6 absolute; fixed effects 1e-6 relative; SEs 1e-5 relative;
variance components 1e-4 relative (R's optimiser stops at ~1e-7); Satterthwaite df 1e-3
absolute (observed agreement ~1e-5).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from remit.errors import ConvergenceWarning, DataWarning, StatsError
from remit.stats.mixed import fit_lmm

REF = Path(__file__).parent / "reference" / "lmm"
SLEEP = pd.read_csv(REF / "sleepstudy.csv")
UNBALANCED = pd.read_csv(REF / "sleepstudy_unbalanced.csv")
R = pd.read_csv(REF / "lmm_reference.csv")

CASES = {
    "slope_reml": (SLEEP, "Reaction ~ Days", "Days", "reml"),
    "slope_ml": (SLEEP, "Reaction ~ Days", "Days", "ml"),
    "intercept_reml": (SLEEP, "Reaction ~ Days", None, "reml"),
    "unbalanced_slope_reml": (UNBALANCED, "Reaction ~ Days * group", "Days", "reml"),
    "unbalanced_intercept_ml": (UNBALANCED, "Reaction ~ Days + group", None, "ml"),
}
VC_ORDER = {
    2: ["Subject:(Intercept):", "Residual:NA:"],
    4: [
        "Subject:(Intercept):",
        "Subject:(Intercept):Days",
        "Subject:Days:",
        "Residual:NA:",
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_against_lmertest(name: str) -> None:
    data, formula, slope, method = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_lmm(data, formula, subject="Subject", slope=slope, method=method)
    ref = R[R["model"] == name]
    coef = ref[ref["kind"] == "coef"]
    assert fit.converged
    assert fit.neg2_loglik == pytest.approx(
        ref.loc[ref["name"] == "neg2_loglik", "estimate"].iloc[0], abs=1e-6
    )
    ours = fit.coefficients
    np.testing.assert_allclose(ours["estimate"], coef["estimate"], rtol=1e-6)
    np.testing.assert_allclose(ours["se"], coef["se"], rtol=1e-5)
    np.testing.assert_allclose(ours["df"], coef["df"], atol=1e-3)
    np.testing.assert_allclose(ours["p"], coef["p"], rtol=1e-4)
    vc = ref[ref["kind"] == "vcov"].set_index("name")["estimate"]
    expected = vc[VC_ORDER[len(vc)]].to_numpy()
    np.testing.assert_allclose(fit.random_effects["estimate"], expected, rtol=1e-4)


def test_fit_statistics_and_frames() -> None:
    fit = fit_lmm(SLEEP, "Reaction ~ Days", subject="Subject", slope="Days")
    assert fit.n_obs == 180
    assert fit.n_subjects == 18
    assert fit.aic == pytest.approx(fit.neg2_loglik + 2 * 6)
    assert fit.bic == pytest.approx(fit.neg2_loglik + np.log(180) * 6)
    assert fit.to_frame()["term"].tolist() == ["Intercept", "Days"]
    assert fit.random == "intercept+slope"
    assert fit.df_method == "satterthwaite"
    assert "LMMResult (REML" in fit.summary()
    assert fit.to_dict()["coefficients"][1]["term"] == "Days"


def test_balanced_random_intercept_df_is_classical() -> None:
    # Balanced design, within-subject covariate: df = N − m − 1 exactly.
    rng = np.random.default_rng(0)
    subj = np.repeat(np.arange(10), 4)
    data = pd.DataFrame(
        {"y": rng.normal(size=40) + rng.normal(size=10)[subj], "t": np.tile(np.arange(4.0), 10)}
    )
    data["id"] = subj
    fit = fit_lmm(data, "y ~ t", subject="id")
    assert fit.coefficients["df"].iloc[1] == pytest.approx(29.0, abs=1e-6)


def test_boundary_fit_is_reported_and_df_fall_back() -> None:
    rng = np.random.default_rng(1)
    data = pd.DataFrame(
        {"y": rng.normal(size=40), "t": np.tile(np.arange(4.0), 10), "id": np.repeat(range(10), 4)}
    )
    with pytest.warns(ConvergenceWarning, match="singular"):
        fit = fit_lmm(data, "y ~ t", subject="id")
    assert fit.random_effects["estimate"].iloc[0] == pytest.approx(0.0, abs=1e-10)
    assert "boundary" in fit.message
    np.testing.assert_allclose(fit.coefficients["df"], 38.0, atol=1e-6)


def test_missing_rows_dropped_with_warning() -> None:
    data = SLEEP.copy()
    data.loc[[0, 5, 17], "Reaction"] = np.nan
    with pytest.warns(DataWarning, match="dropped 3 of 180"):
        fit = fit_lmm(data, "Reaction ~ Days", subject="Subject")
    assert fit.n_dropped == 3
    assert fit.n_obs == 177


def test_bad_input_refused() -> None:
    with pytest.raises(StatsError, match="column 'Patient'"):
        fit_lmm(SLEEP, "Reaction ~ Days", subject="Patient")
    with pytest.raises(StatsError, match="method"):
        fit_lmm(SLEEP, "Reaction ~ Days", subject="Subject", method="gee")
    with pytest.raises(StatsError, match="could not be applied"):
        fit_lmm(SLEEP, "Reaction ~ Nope", subject="Subject")
    with pytest.raises(StatsError, match="not numbers"):
        fit_lmm(SLEEP, "Reaction ~ Days", subject="Subject", slope="group")
    with pytest.raises(StatsError, match="rank deficient"):
        fit_lmm(SLEEP.assign(D2=SLEEP["Days"] * 2), "Reaction ~ Days + D2", subject="Subject")


def test_contrast_matches_lmertest_contest() -> None:
    fit = fit_lmm(UNBALANCED, "Reaction ~ Days * group", subject="Subject", slope="Days")
    row = fit.contrast({"Days": 1.0, "Days:group[T.B]": 1.0}).iloc[0]
    ref = R[(R["kind"] == "contrast")].iloc[0]
    assert row["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
    assert row["se"] == pytest.approx(ref["se"], rel=1e-5)
    assert row["df"] == pytest.approx(ref["df"], abs=1e-3)
    assert row["p"] == pytest.approx(ref["p"], rel=1e-4)
    with pytest.raises(StatsError, match="unknown term"):
        fit.contrast({"Nights": 1.0})
    assert "vcov_derivatives" not in fit.to_dict()
