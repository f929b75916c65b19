"""Exact McNemar and regression to the mean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from remit.errors import StatsError
from remit.stats.mcnemar import mcnemar_exact
from remit.stats.rtm import regression_to_mean

REF = Path(__file__).parent / "reference" / "small"
_frame = pd.read_csv(REF / "small_sample_reference.csv")
R = dict(zip(_frame["name"], _frame["value"].astype(float), strict=True))


def test_mcnemar_table_against_r_and_statsmodels() -> None:
    table = ((3, 9), (2, 4))
    r = mcnemar_exact(table=table)
    assert (r.b, r.c) == (R["mcnemar_b"], R["mcnemar_c"])
    assert r.p_value == pytest.approx(R["mcnemar_p"], rel=1e-12)
    assert r.p_value == pytest.approx(mcnemar(np.array(table), exact=True).pvalue, rel=1e-12)
    assert r.p_value_method == "exact-binomial"
    assert r.odds_ratio == pytest.approx(4.5)
    assert r.ci_low < 4.5 < r.ci_high


def test_mcnemar_from_statuses_builds_the_table() -> None:
    first = [0, 0, 0, 1, 1, 0, np.nan, 1]
    second = [1, 1, 0, 0, 1, 1, 1, 1]
    r = mcnemar_exact(first, second)
    assert r.table == ((1, 3), (1, 2))
    assert r.n == 7
    assert r.n_dropped == 1
    assert r.proportion_first == pytest.approx(3 / 7)
    assert r.proportion_second == pytest.approx(5 / 7)
    assert r.to_frame().loc[0, "n_no_no"] == 1


def test_mcnemar_no_discordant_pairs() -> None:
    r = mcnemar_exact(table=((4, 0), (0, 3)))
    assert r.p_value == 1.0
    assert np.isnan(r.odds_ratio)


def test_mcnemar_refuses_bad_input() -> None:
    with pytest.raises(StatsError, match="neither 0 nor 1"):
        mcnemar_exact([0, 2], [1, 1])
    with pytest.raises(StatsError, match="2×2"):
        mcnemar_exact(table=((1, 2, 3), (1, 2, 3)))  # type: ignore[arg-type]
    with pytest.raises(StatsError, match="first has 2 values"):
        mcnemar_exact([0, 1], [1, 1, 0])


def test_rtm_grid_formula_and_range() -> None:
    r = regression_to_mean(34.0, [18.0, 22.0], [0.65, 0.8, 0.93], observed_change=-15.0)
    grid = r.to_frame()
    assert len(grid) == 6
    row = grid[(grid.reliability == 0.65) & (grid.population_mean == 18.0)].iloc[0]
    assert row.expected_rtm == pytest.approx(0.35 * 16.0)
    assert row.change_beyond_rtm == pytest.approx(-15.0 + 5.6)
    assert r.rtm_max == pytest.approx(0.35 * 16.0)
    assert r.rtm_min == pytest.approx(0.07 * 12.0)
    assert "change_beyond_rtm" not in regression_to_mean(30.0, [20.0]).grid


def test_rtm_refuses_bad_reliability() -> None:
    with pytest.raises(StatsError, match="between 0 and 1"):
        regression_to_mean(30.0, [20.0], [1.2])
    with pytest.raises(StatsError, match="empty grid"):
        regression_to_mean(30.0, [], [0.8])
