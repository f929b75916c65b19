"""Within-subject effect sizes against frozen R numbers and closed forms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special
from scipy import stats as sps

from remit.errors import StatsError
from remit.stats.effect_size import hedges_j, noncentral_t_ci, paired_effect_sizes

REF = Path(__file__).parent / "reference" / "small"
_frame = pd.read_csv(REF / "small_sample_reference.csv")
R = dict(zip(_frame["name"], _frame["value"].astype(float), strict=True))
DATA = pd.read_csv(REF / "small_sample_data.csv")


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_dz_and_exact_ci_match_r(name: str) -> None:
    d = DATA[DATA["set"] == name]
    r = paired_effect_sizes(d["before"], d["after"])
    assert r.d_z == pytest.approx(R[f"{name}_dz"], rel=1e-12)
    # R's uniroot on pt(ncp) with tol 1e-12; scipy's noncentral t agrees to ~1e-7.
    assert r.d_z_ci_low == pytest.approx(R[f"{name}_dz_ci_low"], rel=1e-6)
    assert r.d_z_ci_high == pytest.approx(R[f"{name}_dz_ci_high"], rel=1e-6)


def test_hedges_j_exact_against_gamma_and_approximation() -> None:
    for df in (2, 5, 11, 40):
        exact = special.gamma(df / 2) / (math.sqrt(df / 2) * special.gamma((df - 1) / 2))
        assert hedges_j(df) == pytest.approx(exact, rel=1e-12)
        assert hedges_j(df) == pytest.approx(1 - 3 / (4 * df - 1), abs=0.01)
    assert hedges_j(1000) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(StatsError):
        hedges_j(1)


def test_d_av_g_and_ci_relations() -> None:
    d = DATA[DATA["set"] == "B"]
    before, after = d["before"].to_numpy(), d["after"].to_numpy()
    r = paired_effect_sizes(before, after)
    sd_av = (before.std(ddof=1) + after.std(ddof=1)) / 2
    assert r.d_av == pytest.approx((after - before).mean() / sd_av)
    assert r.g_z == pytest.approx(r.d_z * hedges_j(9))
    assert r.g_av_ci_high == pytest.approx(r.d_av_ci_high * r.j)
    assert r.d_z_ci_low < r.d_z < r.d_z_ci_high
    assert r.d_av_ci_low < r.d_av < r.d_av_ci_high
    frame = r.to_frame()
    assert frame["effect_size"].tolist() == ["d_z", "g_z", "d_av", "g_av"]
    assert set(frame["ci_method"]) >= {"noncentral-t", "noncentral-t-scaled"}


def test_noncentral_ci_has_the_stated_tail_probabilities() -> None:
    lo, hi = noncentral_t_ci(2.5, 7, 0.9)
    assert sps.nct.cdf(2.5, 7, lo) == pytest.approx(0.95, abs=1e-9)
    assert sps.nct.cdf(2.5, 7, hi) == pytest.approx(0.05, abs=1e-9)
    lo0, hi0 = noncentral_t_ci(0.0, 20)
    assert lo0 == pytest.approx(-hi0, abs=1e-8)


def test_constant_differences_refused() -> None:
    with pytest.raises(StatsError, match="standard deviation is zero"):
        paired_effect_sizes([1, 2, 3, 4], [2, 3, 4, 5])
    with pytest.raises(StatsError, match="at least 3"):
        paired_effect_sizes([1, 2], [2, 4])
    assert np.isfinite(paired_effect_sizes([1, 2, 3, 5], [2, 3, 5, 5]).d_z)
