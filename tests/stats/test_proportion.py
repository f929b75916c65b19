"""Proportion CIs against statistics.md, frozen R numbers, scipy and statsmodels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from remit.errors import StatsError
from remit.stats.proportion import CI_METHODS, proportion_ci

REF = Path(__file__).parent / "reference" / "small"
_frame = pd.read_csv(REF / "small_sample_reference.csv")
R = dict(zip(_frame["name"], _frame["value"].astype(float), strict=True))


def test_reference_5_of_12() -> None:
    r = proportion_ci(5, 12)
    lo, hi = r.ci("clopper-pearson")
    assert (round(lo, 5), round(hi, 5)) == (0.15165, 0.72333)
    lo, hi = r.ci("wilson")
    assert (round(lo, 5), round(hi, 5)) == (0.19326, 0.68049)


@pytest.mark.parametrize("k", [0, 5, 9, 12])
def test_against_r_binom_and_prop_test(k: int) -> None:
    r = proportion_ci(k, 12)
    for method, tag in (("clopper-pearson", "clopper_pearson"), ("wilson", "wilson")):
        lo, hi = r.ci(method)
        assert lo == pytest.approx(R[f"prop_{k}_12_{tag}_low"], abs=1e-12)
        assert hi == pytest.approx(R[f"prop_{k}_12_{tag}_high"], abs=1e-12)


@pytest.mark.parametrize("k", [0, 1, 5, 9, 11, 12])
def test_against_scipy_binomtest(k: int) -> None:
    r = proportion_ci(k, 12)
    test = sps.binomtest(k, 12)
    exact = test.proportion_ci(confidence_level=0.95, method="exact")
    wilson = test.proportion_ci(confidence_level=0.95, method="wilson")
    assert r.ci("clopper-pearson") == pytest.approx((exact.low, exact.high), abs=1e-12)
    assert r.ci("wilson") == pytest.approx((wilson.low, wilson.high), abs=1e-12)


@pytest.mark.parametrize("k", [1, 5, 9, 11])
def test_jeffreys_and_agresti_coull_against_statsmodels(k: int) -> None:
    r = proportion_ci(k, 12, conf_level=0.9)
    assert r.ci("jeffreys") == pytest.approx(
        proportion_confint(k, 12, alpha=0.1, method="jeffreys"), abs=1e-12
    )
    assert r.ci("agresti-coull") == pytest.approx(
        proportion_confint(k, 12, alpha=0.1, method="agresti_coull"), abs=1e-12
    )


def test_edges_are_exact() -> None:
    zero = proportion_ci(0, 12)
    full = proportion_ci(12, 12)
    for method in CI_METHODS:
        assert zero.ci(method)[0] == 0.0
        assert full.ci(method)[1] == 1.0
    assert zero.ci("clopper-pearson")[1] == pytest.approx(1 - 0.025 ** (1 / 12))
    assert list(zero.to_frame()["ci_method"]) == list(CI_METHODS)


def test_bad_counts_refused() -> None:
    with pytest.raises(StatsError, match="k=13 successes out of n=12"):
        proportion_ci(13, 12)
    with pytest.raises(StatsError, match="n=0"):
        proportion_ci(0, 0)
    with pytest.raises(StatsError, match="k=-1"):
        proportion_ci(-1, 5)
    with pytest.raises(StatsError, match="conf_level"):
        proportion_ci(1, 5, conf_level=95)
    with pytest.raises(StatsError, match="CI method"):
        proportion_ci(1, 5).ci("wald")
