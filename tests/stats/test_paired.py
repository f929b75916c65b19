"""Paired t, Wilcoxon signed-rank and Hodges-Lehmann against R (frozen) and scipy."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from remit.errors import DataWarning, StatsError
from remit.stats.paired import hodges_lehmann, paired_t, wilcoxon_signed_rank

REF = Path(__file__).parent / "reference" / "small"


def _reference() -> dict[str, float]:
    frame = pd.read_csv(REF / "small_sample_reference.csv")
    return dict(zip(frame["name"], frame["value"].astype(float), strict=True))


R = _reference()
DATA = pd.read_csv(REF / "small_sample_data.csv")


def _pairs(name: str) -> tuple[np.ndarray, np.ndarray]:
    d = DATA[DATA["set"] == name]
    return d["before"].to_numpy(), d["after"].to_numpy()


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_paired_t_matches_r(name: str) -> None:
    before, after = _pairs(name)
    r = paired_t(before, after)
    assert r.t == pytest.approx(R[f"{name}_t"], rel=1e-10)
    assert r.df == R[f"{name}_t_df"]
    assert r.p_value == pytest.approx(R[f"{name}_t_p"], rel=1e-8)
    assert r.ci_low == pytest.approx(R[f"{name}_t_ci_low"], rel=1e-10)
    assert r.ci_high == pytest.approx(R[f"{name}_t_ci_high"], rel=1e-10)


def test_paired_t_one_sided_matches_scipy() -> None:
    before, after = _pairs("B")
    for alt in ("less", "greater"):
        ours = paired_t(before, after, alternative=alt)
        theirs = sps.ttest_rel(after, before, alternative=alt)
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-10)


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_wilcoxon_three_p_values_match_r(name: str) -> None:
    before, after = _pairs(name)
    r = wilcoxon_signed_rank(before, after)
    assert r.statistic == R[f"{name}_wilcox_V"]
    assert r.p_value == pytest.approx(R[f"{name}_wilcox_p_default"], rel=1e-10)
    assert r.p_normal == pytest.approx(R[f"{name}_wilcox_p_normal"], rel=1e-10)
    assert r.p_normal_continuity == pytest.approx(
        R[f"{name}_wilcox_p_normal_continuity"], rel=1e-10
    )
    greater = wilcoxon_signed_rank(before, after, alternative="greater")
    assert greater.p_value == pytest.approx(R[f"{name}_wilcox_p_greater"], rel=1e-10)


def test_wilcoxon_r_and_scipy_disagree_on_ties_and_zeros() -> None:
    # The statistics.md example: scipy 0.000977, R 0.003822 on the same 12 pairs.
    before, after = _pairs("A")
    r_conv = wilcoxon_signed_rank(before, after, convention="R")
    scipy_conv = wilcoxon_signed_rank(before, after, convention="scipy")
    assert r_conv.p_value_method == "normal-continuity"
    assert round(r_conv.p_value, 6) == 0.003822
    assert scipy_conv.p_value_method == "exact"
    assert round(scipy_conv.p_value, 6) == 0.000977
    assert scipy_conv.p_value == pytest.approx(sps.wilcoxon(after, before).pvalue, rel=1e-12)
    assert r_conv.n_zero == 1
    assert r_conv.has_ties
    assert r_conv.n == 11


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_wilcoxon_scipy_convention_matches_scipy_default(name: str) -> None:
    before, after = _pairs(name)
    ours = wilcoxon_signed_rank(before, after, convention="scipy")
    theirs = sps.wilcoxon(after, before)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-10)
    assert min(ours.statistic, ours.r_minus) == theirs.statistic


def test_exact_distribution_with_ties_matches_scipy_permutation() -> None:
    rng = np.random.default_rng(4)
    before = rng.integers(10, 20, 11).astype(float)
    after = before + rng.integers(-4, 3, 11)
    after[after == before] += 1  # no zeros, ties remain
    ours = wilcoxon_signed_rank(before, after, convention="scipy")
    assert ours.has_ties
    assert ours.p_value_method == "exact"
    for alt in ("two-sided", "less", "greater"):
        theirs = sps.wilcoxon(after, before, alternative=alt)
        mine = wilcoxon_signed_rank(before, after, alternative=alt, convention="scipy")
        assert mine.p_exact == pytest.approx(theirs.pvalue, rel=1e-10)


def test_wilcoxon_to_frame_flags_the_reported_method() -> None:
    before, after = _pairs("B")
    frame = wilcoxon_signed_rank(before, after).to_frame()
    assert frame["method"].tolist() == ["exact", "normal", "normal-continuity"]
    assert frame["reported"].tolist() == [True, False, False]
    assert wilcoxon_signed_rank(before, after).to_dict()["p_value_method"] == "exact"


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_hodges_lehmann_ci_matches_r(name: str) -> None:
    before, after = _pairs(name)
    r = hodges_lehmann(before, after)
    # R finds the normal-approximation limits with uniroot (tol 1e-4); ours are exact jumps.
    tol = 0 if r.ci_method == "exact" else 2e-4
    assert r.ci_low == pytest.approx(R[f"{name}_hl_ci_low"], abs=tol or 1e-12)
    assert r.ci_high == pytest.approx(R[f"{name}_hl_ci_high"], abs=tol or 1e-12)
    assert r.ci_method == ("exact" if name == "B" else "normal-continuity")
    if name == "B":
        assert r.estimate == pytest.approx(R["B_hl_estimate"], rel=1e-12)


def test_hodges_lehmann_estimate_is_median_of_walsh_averages() -> None:
    before, after = _pairs("C")
    d = after - before
    d = d[d != 0]
    i, j = np.triu_indices(d.size)
    r = hodges_lehmann(before, after)
    assert r.estimate == pytest.approx(np.median((d[i] + d[j]) / 2))
    # R's uniroot-based pseudo-median lands close to it.
    assert r.estimate == pytest.approx(R["C_hl_estimate"], abs=0.05)


def test_missing_pairs_dropped_with_warning_and_counted() -> None:
    before = [1.0, 2.0, np.nan, 4.0, 5.0]
    after = [2.0, 2.5, 3.0, np.nan, 7.0]
    with pytest.warns(DataWarning, match="dropped 2 of 5"):
        r = paired_t(before, after)
    assert r.n == 3
    assert r.n_dropped == 2
    with pytest.raises(StatsError, match="2 of 5 pairs"):
        paired_t(before, after, nan_policy="refuse")


def test_bad_input_refused() -> None:
    with pytest.raises(StatsError, match="3 values and after has 2"):
        paired_t([1, 2, 3], [1, 2])
    with pytest.raises(StatsError, match="all 3 differences are zero"):
        wilcoxon_signed_rank([1, 2, 3], [1, 2, 3])
    with pytest.raises(StatsError, match="alternative"):
        wilcoxon_signed_rank([1, 2, 3], [2, 3, 5], alternative="bigger")
    with pytest.raises(StatsError, match="convention"):
        wilcoxon_signed_rank([1, 2, 3], [2, 3, 5], convention="SAS")
    with pytest.raises(StatsError, match="only 1 complete pairs"):
        paired_t([1.0], [2.0])
    with pytest.raises(StatsError, match="not numbers"):
        paired_t(["a", "b"], [1, 2])
    with pytest.raises(StatsError, match="equal"):
        paired_t([1, 2, 3], [2, 3, 4])


def test_results_are_frozen() -> None:
    r = paired_t([1, 2, 3, 4], [2, 4, 5, 4])
    with pytest.raises(AttributeError):
        r.n = 10  # type: ignore[misc]
    assert "PairedTResult" in r.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert r.to_frame().shape == (1, len(r.to_dict()))
