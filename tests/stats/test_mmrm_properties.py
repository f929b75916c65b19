"""Identities, invariances and refusals of fit_mmrm (no external reference needed)."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import FrozenInstanceError

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from remit.errors import ConvergenceWarning, DataWarning, StatsError
from remit.stats import fit_mmrm
from remit.stats.mmrm.covariance import STRUCTURES, make_structure
from remit.stats.mmrm.fit import Likelihood, kr_sums
from remit.stats.mmrm.inference import kr_adjusted


def simulate(
    seed: int, n: int = 40, visits: int = 4, missing: float = 0.2, arms: bool = True
) -> pd.DataFrame:
    """Trial-like data: two arms, a baseline, correlated visits, some missing visits."""
    rng = np.random.default_rng(seed)
    idx = np.arange(visits)
    cov = 4.0 * 0.6 ** np.abs(idx[:, None] - idx[None, :]) * np.outer(1 + idx / 4, 1 + idx / 4)
    rows = []
    for i in range(n):
        arm = "TRT" if (arms and i % 2) else "CTRL"
        base = rng.normal(20, 3)
        e = rng.multivariate_normal(np.zeros(visits), cov)
        for v in range(visits):
            if v > 0 and rng.random() < missing:
                continue
            mu = 1.0 - 0.5 * v - (0.7 * v if arm == "TRT" else 0.0) + 0.1 * (base - 20)
            rows.append(
                {"pid": f"P{i:03d}", "visit": f"W{v + 1}", "arm": arm, "base": base, "y": mu + e[v]}
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- derivatives


@pytest.mark.parametrize("name", STRUCTURES)
def test_structure_derivatives_match_finite_differences(name: str) -> None:
    m = 4
    s = make_structure(name, m, coordinates=[0.0, 1.0, 2.5, 4.0])
    rng = np.random.default_rng(3)
    spd = np.cov(rng.normal(size=(m, 30))) + np.eye(m)
    phi = s.start(spd) + rng.normal(scale=0.05, size=s.n_params)
    d = s.derivatives(phi, 2)
    assert d.d2 is not None
    eps = 1e-6
    for k in range(s.n_params):
        step = np.zeros(s.n_params)
        step[k] = eps
        up, down = s.derivatives(phi + step, 1), s.derivatives(phi - step, 1)
        np.testing.assert_allclose((up.sigma - down.sigma) / (2 * eps), d.d1[k], atol=1e-6)
        np.testing.assert_allclose((up.d1 - down.d1) / (2 * eps), d.d2[k], atol=1e-5)
    np.testing.assert_allclose(d.sigma, d.sigma.T)
    assert len(s.param_names()) == s.n_params == s.natural(phi).size


def test_natural_parameters_are_sas_ones() -> None:
    ar1 = make_structure("ar1", 3)
    phi = np.array([0.5 * math.log(4.0), math.atanh(0.5)])
    sigma = ar1.derivatives(phi, 0).sigma
    assert sigma[0, 2] == pytest.approx(4.0 * 0.25)
    np.testing.assert_allclose(ar1.natural(phi), [4.0, 0.5])
    cs = make_structure("cs", 3)
    sig = cs.derivatives(phi, 0).sigma
    # SAS CS: (covariance, residual variance); Σ = σ1·J + σ²·I
    cov, resid = cs.natural(phi)
    np.testing.assert_allclose(sig, cov * np.ones((3, 3)) + resid * np.eye(3))


@pytest.mark.parametrize(
    ("reml", "weighted", "by"),
    [(True, False, None), (False, False, None), (True, True, None), (True, False, "arm")],
)
def test_likelihood_gradient_and_hessian_are_exact(
    reml: bool, weighted: bool, by: str | None
) -> None:
    data = simulate(5, n=50)
    data["w"] = np.linspace(0.5, 2.0, len(data))
    fit = fit_mmrm(
        data,
        "y ~ base + arm*visit",
        subject="pid",
        visit="visit",
        covariance="csh",
        weights="w" if weighted else None,
        method="reml" if reml else "ml",
        covariance_by=by,
    )
    groups = 2 if by else 1
    lik = Likelihood(fit.design, [make_structure("csh", 4)] * groups, reml=reml)
    phi = fit.phi + 0.05
    ev = lik.evaluate(phi, 2)
    assert ev.grad is not None
    assert ev.hess is not None
    eps = 1e-6
    for k in range(phi.size):
        step = np.zeros(phi.size)
        step[k] = eps
        up, down = lik.evaluate(phi + step, 1), lik.evaluate(phi - step, 1)
        assert (up.f - down.f) / (2 * eps) == pytest.approx(ev.grad[k], rel=1e-5, abs=1e-6)
        assert up.grad is not None
        assert down.grad is not None
        np.testing.assert_allclose(
            (up.grad - down.grad) / (2 * eps), ev.hess[k], rtol=1e-4, atol=1e-5
        )


# ---------------------------------------------------------------- paired t identity


@pytest.fixture(scope="module")
def paired() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 15
    before = rng.normal(25, 4, n)
    after = before - 3 + rng.normal(0, 3, n)
    data = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), 2),
            "t": ["pre", "post"] * n,
            "y": np.column_stack([before, after]).ravel(),
        }
    )
    return data, before, after


@pytest.mark.parametrize("df_method", ["satterthwaite", "kenward-roger-linear", "kenward-roger"])
def test_paired_t_is_a_two_visit_mmrm(paired, df_method: str) -> None:  # type: ignore[no-untyped-def]
    data, before, after = paired
    fit = fit_mmrm(
        data, "y ~ t", subject="id", visit="t", visit_levels=["pre", "post"], df=df_method
    )
    ref = stats.ttest_rel(after, before)
    row = fit.coefficients.set_index("term").loc["tpost"]
    d = after - before
    assert row["estimate"] == pytest.approx(d.mean(), rel=1e-10)
    assert row["se"] == pytest.approx(d.std(ddof=1) / math.sqrt(d.size), rel=1e-7)
    assert row["df"] == pytest.approx(d.size - 1, rel=1e-7)
    assert row["t"] == pytest.approx(ref.statistic, rel=1e-7)
    assert row["p"] == pytest.approx(ref.pvalue, rel=1e-6)


def test_kr_on_log_cholesky_scale_understates_paired_se(paired) -> None:  # type: ignore[no-untyped-def]
    """The trap in R's mmrm: KR's second-order term taken on the log-Cholesky scale.

    SAS takes it on the covariances themselves (linear, so R = 0) and recovers the paired t
    exactly; on the optimiser's scale the SE shrinks below the paired-t SE.
    """
    data, before, after = paired
    fit = fit_mmrm(
        data,
        "y ~ t",
        subject="id",
        visit="t",
        visit_levels=["pre", "post"],
        df="kenward-roger",
    )
    lik = Likelihood(fit.design, [make_structure("us", 2)])
    ev = lik.evaluate(fit.phi, 2)
    assert ev.M is not None
    w = fit.theta_cov_working
    working = kr_adjusted(
        ev.phi_cov, ev.M, w, kr_sums(lik, ev, w, True, parameterisation="working")
    )
    paired_se = (after - before).std(ddof=1) / math.sqrt(before.size)
    assert fit.coefficients["se"].iloc[1] == pytest.approx(paired_se, rel=1e-7)
    assert math.sqrt(working[1, 1]) < paired_se * (1 - 1e-3)


# ---------------------------------------------------------------- invariances


@settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(seed=st.integers(0, 10_000), shuffle=st.integers(0, 10_000))
def test_row_order_and_subject_labels_do_not_matter(seed: int, shuffle: int) -> None:
    data = simulate(seed, n=24)
    a = fit_mmrm(data, "y ~ base + arm*visit", subject="pid", visit="visit", group="arm")
    rng = np.random.default_rng(shuffle)
    perm = data.sample(frac=1.0, random_state=rng.integers(0, 2**31)).copy()
    relabel = {p: f"X{rng.integers(1e9)}_{k}" for k, p in enumerate(perm["pid"].unique())}
    perm["pid"] = perm["pid"].map(relabel)
    b = fit_mmrm(perm, "y ~ base + arm*visit", subject="pid", visit="visit", group="arm")
    assert a.converged
    assert b.converged
    assert b.neg2_loglik == pytest.approx(a.neg2_loglik, abs=1e-7)
    np.testing.assert_allclose(b.beta, a.beta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b.covariance_matrix(), a.covariance_matrix(), rtol=1e-5)
    np.testing.assert_allclose(b.coefficients["df"], a.coefficients["df"], rtol=1e-4)


@settings(
    max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(seed=st.integers(0, 10_000), missing=st.floats(0.0, 0.3))
def test_unstructured_sigma_is_positive_definite(seed: int, missing: float) -> None:
    data = simulate(seed, n=40, missing=missing)
    fit = fit_mmrm(data, "y ~ arm*visit", subject="pid", visit="visit")
    assert fit.converged
    assert np.linalg.eigvalsh(fit.covariance_matrix()).min() > 0
    assert np.all(fit.coefficients["se"] > 0)


def test_constant_weights_scale_sigma_only() -> None:
    data = simulate(8)
    data["w"] = 2.5
    plain = fit_mmrm(data, "y ~ base + arm*visit", subject="pid", visit="visit")
    weighted = fit_mmrm(data, "y ~ base + arm*visit", subject="pid", visit="visit", weights="w")
    np.testing.assert_allclose(weighted.beta, plain.beta, rtol=1e-6)
    np.testing.assert_allclose(
        weighted.covariance_matrix(), 2.5 * plain.covariance_matrix(), rtol=1e-5
    )
    np.testing.assert_allclose(weighted.coefficients["se"], plain.coefficients["se"], rtol=1e-5)


def test_covariance_by_group_matches_separate_fits() -> None:
    data = simulate(21, n=60)
    fit = fit_mmrm(data, "y ~ arm*visit", subject="pid", visit="visit", covariance_by="arm")
    assert isinstance(fit.covariance, dict)
    assert set(fit.covariance) == {"CTRL", "TRT"}
    assert len(fit.theta) == 20
    for arm in ("CTRL", "TRT"):
        alone = fit_mmrm(data[data["arm"] == arm], "y ~ visit", subject="pid", visit="visit")
        np.testing.assert_allclose(
            fit.covariance[arm].to_numpy(), alone.covariance_matrix(), rtol=1e-5
        )
    ls = fit.lsmeans(["visit", "arm"]).set_index(["visit", "arm"])
    ctrl = fit_mmrm(data[data["arm"] == "CTRL"], "y ~ visit", subject="pid", visit="visit")
    np.testing.assert_allclose(
        ls.xs("CTRL", level="arm")["estimate"].to_numpy(),
        ctrl.lsmeans("visit")["estimate"].to_numpy(),
        rtol=1e-6,
    )


def test_start_values_from_an_earlier_fit() -> None:
    data = simulate(4)
    first = fit_mmrm(data, "y ~ arm*visit", subject="pid", visit="visit")
    again = fit_mmrm(data, "y ~ arm*visit", subject="pid", visit="visit", start=first.phi)
    assert again.iterations <= 1
    assert again.neg2_loglik == pytest.approx(first.neg2_loglik, abs=1e-9)


def test_ml_counts_fixed_effects_in_aic() -> None:
    data = simulate(2)
    ml = fit_mmrm(
        data, "y ~ arm*visit", subject="pid", visit="visit", method="ml", covariance="ar1"
    )
    assert ml.aic == pytest.approx(ml.neg2_loglik + 2 * (2 + 8))
    assert ml.bic == pytest.approx(ml.neg2_loglik + (2 + 8) * math.log(ml.n_subjects))


# ---------------------------------------------------------------- tests and contrasts


def test_one_row_f_test_is_the_squared_t() -> None:
    data = simulate(9)
    for method in ("satterthwaite", "kenward-roger"):
        fit = fit_mmrm(data, "y ~ base + arm*visit", subject="pid", visit="visit", df=method)  # type: ignore[arg-type]
        row = fit.coefficients.set_index("term").loc["armTRT"]
        test = fit.f_test({"armTRT": 1.0})
        assert test.f == pytest.approx(row["t"] ** 2, rel=1e-9)
        assert test.p == pytest.approx(row["p"], rel=1e-7)
        assert test.den_df == pytest.approx(row["df"], rel=1e-9)


def test_multi_row_f_tests_are_sane() -> None:
    data = simulate(10, n=60)
    terms = ["armTRT:visitW2", "armTRT:visitW3", "armTRT:visitW4"]
    for method in ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual"):
        fit = fit_mmrm(data, "y ~ base + arm*visit", subject="pid", visit="visit", df=method)  # type: ignore[arg-type]
        rows = np.zeros((3, len(fit.terms)))
        for i, t in enumerate(terms):
            rows[i, fit.terms.index(t)] = 1.0
        test = fit.f_test(rows)
        assert test.num_df == 3
        assert 2.0 < test.den_df < fit.n_obs
        assert 0.0 <= test.p <= 1.0
        assert test.f > 0
        if method.startswith("kenward"):
            assert 0.5 < test.scale <= 1.0 + 1e-9
        assert "F(3" in test.summary()


def test_differences_and_contrast_agree() -> None:
    data = simulate(12)
    fit = fit_mmrm(data, "y ~ base + arm*visit", subject="pid", visit="visit", group="arm")
    diff = fit.differences().set_index("visit")
    # at W1 the difference is the arm coefficient itself (covariate terms cancel)
    direct = fit.contrast({"armTRT": 1.0}).iloc[0]
    assert diff.loc["W1", "estimate"] == pytest.approx(direct["estimate"], rel=1e-10)
    assert diff.loc["W1", "se"] == pytest.approx(direct["se"], rel=1e-10)
    assert list(diff["contrast"].unique()) == ["TRT - CTRL"]
    rev = fit.differences(reference="TRT").set_index("visit")
    np.testing.assert_allclose(rev["estimate"], -diff["estimate"])
    ls = fit.lsmeans().set_index(["visit", "arm"])
    assert ls.loc[("W3", "TRT"), "estimate"] - ls.loc[("W3", "CTRL"), "estimate"] == (
        pytest.approx(diff.loc["W3", "estimate"])
    )
    assert np.all(ls["ci_low"] < ls["estimate"])


def test_result_is_frozen_and_serialisable() -> None:
    data = simulate(13)
    fit = fit_mmrm(data, "y ~ arm*visit", subject="pid", visit="visit", group="arm")
    with pytest.raises(FrozenInstanceError):
        fit.neg2_loglik = 0.0  # type: ignore[misc]
    as_dict = fit.to_dict()
    json.dumps(as_dict)
    assert as_dict["n_subjects"] == fit.n_subjects
    assert len(as_dict["coefficients"]) == len(fit.terms)
    assert list(fit.to_frame().columns) == [
        "term",
        "estimate",
        "se",
        "df",
        "t",
        "p",
        "ci_low",
        "ci_high",
    ]
    assert "MMRM (REML, us covariance" in fit.summary()


# ---------------------------------------------------------------- reporting and refusals


def test_dropped_rows_are_reported() -> None:
    data = simulate(14)
    data.loc[[3, 7], "y"] = np.nan
    data.loc[10, "base"] = np.nan
    with pytest.warns(DataWarning, match="3 row"):
        fit = fit_mmrm(data, "y ~ base + arm*visit", subject="pid", visit="visit")
    assert sorted(fit.dropped_rows) == [3, 7, 10]
    assert fit.n_obs == len(data) - 3


def test_aliased_columns_are_dropped_and_reported() -> None:
    data = simulate(15)
    data["base2"] = 2.0 * data["base"]
    with pytest.warns(DataWarning, match="aliased"):
        fit = fit_mmrm(data, "y ~ base + base2 + visit", subject="pid", visit="visit")
    assert fit.aliased == ("base2",)
    assert "base2" not in fit.terms


def test_non_convergence_is_reported() -> None:
    data = simulate(16)
    with pytest.warns(ConvergenceWarning):
        fit = fit_mmrm(
            data, "y ~ arm*visit", subject="pid", visit="visit", max_iter=1, start=np.zeros(10)
        )
    assert not fit.converged
    assert "did not converge" in fit.message


def test_degenerate_unstructured_fit_is_reported() -> None:
    # 30 subjects, half of the later visits missing: only 8 subjects have both W3 and W4, and
    # the REML likelihood keeps growing as the conditional variance of W4 shrinks to zero.
    data = simulate(0, n=30, missing=0.5)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = fit_mmrm(data, "y ~ arm*visit", subject="pid", visit="visit")
    assert not fit.converged
    # the same data are fine with a structure that has fewer parameters
    assert fit_mmrm(
        data, "y ~ arm*visit", subject="pid", visit="visit", covariance="ar1h"
    ).converged


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"formula": "y ~ nothere"}, "not found"),
        ({"subject": "who"}, "not found"),
        ({"formula": "y ~ arm +"}, "formula"),
        ({"formula": "arm ~ visit"}, "not numeric"),
        ({"covariance": "banana"}, "unknown covariance"),
        ({"df": "guess"}, "df method"),
        ({"method": "bayes"}, "method"),
        ({"group": "base"}, "not a factor"),
        ({"df": "kenward-roger", "method": "ml"}, "REML"),
        ({"alpha": 1.5}, "alpha"),
        ({"coordinates": "base"}, "only by covariance='sp_exp'"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object], match: str) -> None:
    data = simulate(17)
    args: dict[str, object] = {"formula": "y ~ arm*visit", "subject": "pid", "visit": "visit"}
    args.update(kwargs)
    formula = args.pop("formula")
    with pytest.raises(StatsError, match=match):
        fit_mmrm(data, formula, **args)  # type: ignore[arg-type]


def test_one_visit_and_too_few_subjects_are_refused() -> None:
    data = simulate(18)
    with pytest.raises(StatsError, match="at least two visits"):
        fit_mmrm(data[data["visit"] == "W1"], "y ~ arm", subject="pid", visit="visit")
    tiny = simulate(19, n=3, missing=0.0)
    with pytest.raises(StatsError, match="cannot inform"):
        fit_mmrm(tiny, "y ~ arm*visit", subject="pid", visit="visit")


def test_infinite_values_are_refused() -> None:
    data = simulate(27)
    data.loc[4, "y"] = np.inf
    with pytest.raises(StatsError, match="infinite"):
        fit_mmrm(data, "y ~ arm*visit", subject="pid", visit="visit")


def test_duplicate_visits_are_refused() -> None:
    data = simulate(20)
    dup = pd.concat([data, data.iloc[[0]]], ignore_index=True)
    with pytest.raises(StatsError, match="more than one row"):
        fit_mmrm(dup, "y ~ arm*visit", subject="pid", visit="visit")


def test_visit_levels_order_and_unknown_visits() -> None:
    data = simulate(22)
    order = ["W4", "W3", "W2", "W1"]
    fit = fit_mmrm(data, "y ~ visit", subject="pid", visit="visit", visit_levels=order)
    assert list(fit.covariance_matrix().shape) == [4, 4]
    assert fit.visits == tuple(order)
    assert fit.terms[1] == "visitW3"  # first listed level is the reference
    with pytest.warns(DataWarning, match="W5"):
        fewer = fit_mmrm(
            data,
            "y ~ visit",
            subject="pid",
            visit="visit",
            visit_levels=["W1", "W2", "W3", "W4", "W5"],
        )
    assert fewer.visits == ("W1", "W2", "W3", "W4")
    with pytest.raises(StatsError, match="not in visit_levels"):
        fit_mmrm(data, "y ~ visit", subject="pid", visit="visit", visit_levels=["W1", "W2"])


def test_no_warning_on_clean_data() -> None:
    data = simulate(23)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_mmrm(data, "y ~ base + arm*visit", subject="pid", visit="visit")


def test_spatial_exponential_on_equal_spacing_is_ar1() -> None:
    data = simulate(24)
    data["week"] = data["visit"].str[1:].astype(float) * 2.0  # 2, 4, 6, 8
    sp = fit_mmrm(
        data, "y ~ arm*visit", subject="pid", visit="visit", covariance="sp_exp", coordinates="week"
    )
    ar1 = fit_mmrm(data, "y ~ arm*visit", subject="pid", visit="visit", covariance="ar1")
    assert sp.neg2_loglik == pytest.approx(ar1.neg2_loglik, abs=1e-7)
    np.testing.assert_allclose(sp.covariance_matrix(), ar1.covariance_matrix(), rtol=1e-5)
    # range: ρ per unit distance = exp(−1/range); two weeks per visit
    assert math.exp(-2.0 / sp.theta["range"]) == pytest.approx(ar1.theta["rho"], rel=1e-5)
    with pytest.raises(StatsError, match="coordinate"):
        fit_mmrm(data, "y ~ visit", subject="pid", visit="visit", covariance="sp_exp")
    # one subject seen half a week late: positions now vary within a visit, so that
    # subject gets its own Σ_i (the other subjects' Σ_i are unchanged)
    data.loc[0, "week"] = 2.5
    late = fit_mmrm(
        data, "y ~ arm*visit", subject="pid", visit="visit", covariance="sp_exp", coordinates="week"
    )
    assert late.converged
    assert late.design.row_coordinates is not None
    assert abs(late.neg2_loglik - sp.neg2_loglik) > 1e-6


@pytest.mark.parametrize("df_method", ["satterthwaite", "kenward-roger"])
def test_covariance_by_inference_separates_by_group(df_method: str) -> None:
    # y ~ arm*visit with a Σ per arm is two separate models: each arm's LS means, their SE
    # (KR-adjusted too) and df equal those of a fit to that arm alone
    data = simulate(25, n=60)
    joint = fit_mmrm(
        data,
        "y ~ arm*visit",
        subject="pid",
        visit="visit",
        group="arm",
        covariance_by="arm",
        df=df_method,
    )  # type: ignore[arg-type]
    ls = joint.lsmeans().set_index(["visit", "arm"])
    for arm in ("CTRL", "TRT"):
        alone = fit_mmrm(
            data[data["arm"] == arm], "y ~ visit", subject="pid", visit="visit", df=df_method
        )  # type: ignore[arg-type]
        mine = ls.xs(arm, level="arm")
        ref = alone.lsmeans("visit").set_index("visit")
        np.testing.assert_allclose(mine["estimate"], ref["estimate"], rtol=1e-7)
        np.testing.assert_allclose(mine["se"], ref["se"], rtol=1e-5)
        np.testing.assert_allclose(mine["df"], ref["df"], rtol=1e-4)


def test_numeric_group_column_is_a_factor() -> None:
    data = simulate(26)
    data["arm01"] = (data["arm"] == "TRT").astype(int)
    coded = fit_mmrm(data, "y ~ arm01*visit", subject="pid", visit="visit", group="arm01")
    named = fit_mmrm(data, "y ~ arm*visit", subject="pid", visit="visit", group="arm")
    assert "arm011" in coded.terms
    np.testing.assert_allclose(coded.differences()["estimate"], named.differences()["estimate"])


@pytest.mark.parametrize("name", ["ar1", "csh", "adh", "toeph", "sp_exp"])
def test_kenward_roger_second_order_term_matches_numeric_derivatives(name: str) -> None:
    """Φ_A = Φ + Λ − ½ Σ W^θ_hj ∂²Φ/∂θ_h∂θ_j (Kenward & Roger 1997, eq. for E[Φ(θ̂)]), with
    Λ = Φ{Σ W (Q − PΦP)}Φ = (Φ_A,linear − Φ)/2 and the second derivatives of Φ taken
    numerically on SAS's natural parameters (variances, correlations)."""
    data = simulate(28, n=50)
    # sp_exp: each subject's own study days (subject-specific Σ_i)
    data["day"] = 7.0 * data["visit"].str[1:].astype(float) + np.linspace(-2, 2, len(data))
    kw = {
        "subject": "pid",
        "visit": "visit",
        "covariance": name,
        "coordinates": "day" if name == "sp_exp" else None,
    }
    full = fit_mmrm(data, "y ~ arm*visit", df="kenward-roger", **kw)  # type: ignore[arg-type]
    lin = fit_mmrm(data, "y ~ arm*visit", df="kenward-roger-linear", **kw)  # type: ignore[arg-type]
    s = make_structure(name, 4, full.design.visit_coordinates)
    lik = Likelihood(full.design, [s])
    nsd = 4 if name not in ("ar1", "sp_exp") else 1

    def phi_of(theta: np.ndarray) -> np.ndarray:
        if name == "sp_exp":  # θ = (σ², range), ρ = exp(−1/range), working logit ρ
            rho = np.exp(-1.0 / theta[1:])
            return np.concatenate([0.5 * np.log(theta[:1]), np.log(rho / (1.0 - rho))])
        return np.concatenate([0.5 * np.log(theta[:nsd]), np.arctanh(theta[nsd:])])

    theta0 = s.natural(full.phi)
    np.testing.assert_allclose(phi_of(theta0), full.phi, atol=1e-10)
    # W on the natural scale: J W J' with J = dθ/dφ (diagonal)
    if name == "sp_exp":
        rho0 = np.exp(-1.0 / theta0[1])
        drange = 1.0 / (rho0 * np.log(rho0) ** 2) * rho0 * (1.0 - rho0)
        jac = np.array([2.0 * theta0[0], drange])
    else:
        jac = np.concatenate([2.0 * theta0[:nsd], 1.0 - theta0[nsd:] ** 2])
    w_nat = jac[:, None] * full.theta_cov_working * jac[None, :]
    k = theta0.size
    h = 1e-4 * np.maximum(np.abs(theta0), 0.1)

    def phi_cov(theta: np.ndarray) -> np.ndarray:
        return lik.evaluate(phi_of(theta), 0).phi_cov

    second = np.zeros_like(full.beta_cov_model.to_numpy())
    for a in range(k):
        for b in range(k):
            ea, eb = np.eye(k)[a] * h[a], np.eye(k)[b] * h[b]
            d2 = (
                phi_cov(theta0 + ea + eb)
                - phi_cov(theta0 + ea - eb)
                - phi_cov(theta0 - ea + eb)
                + phi_cov(theta0 - ea - eb)
            ) / (4 * h[a] * h[b])
            second += w_nat[a, b] * d2
    phi0 = full.beta_cov_model.to_numpy()
    lam = (lin.beta_cov.to_numpy() - phi0) / 2.0
    expected = phi0 + lam - 0.5 * second
    np.testing.assert_allclose(full.beta_cov.to_numpy(), expected, rtol=2e-4, atol=1e-7)
    assert not np.allclose(full.beta_cov.to_numpy(), lin.beta_cov.to_numpy(), rtol=1e-6)


def test_subject_specific_positions_gradient_and_hessian_are_exact() -> None:
    data = simulate(29, n=40)
    data["day"] = 7.0 * data["visit"].str[1:].astype(float) + np.linspace(-2, 2, len(data))
    fit = fit_mmrm(
        data,
        "y ~ arm*visit",
        subject="pid",
        visit="visit",
        covariance="sp_exp",
        coordinates="day",
        covariance_by="arm",
    )
    assert fit.converged
    structures = [make_structure("sp_exp", 4, fit.design.visit_coordinates)] * 2
    lik = Likelihood(fit.design, structures)
    phi = fit.phi + 0.05
    ev = lik.evaluate(phi, 2)
    assert ev.grad is not None
    assert ev.hess is not None
    eps = 1e-6
    for k in range(phi.size):
        step = np.zeros(phi.size)
        step[k] = eps
        up, down = lik.evaluate(phi + step, 1), lik.evaluate(phi - step, 1)
        assert (up.f - down.f) / (2 * eps) == pytest.approx(ev.grad[k], rel=1e-5, abs=1e-6)
        assert up.grad is not None
        assert down.grad is not None
        np.testing.assert_allclose(
            (up.grad - down.grad) / (2 * eps), ev.hess[k], rtol=1e-4, atol=1e-5
        )
