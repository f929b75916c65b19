"""Kaplan-Meier against R survival 3.5.3 (frozen by reference/small/small_sample.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from remit.errors import StatsError
from remit.stats.survival import kaplan_meier

REF = Path(__file__).parent / "reference" / "small"
DATA = pd.read_csv(REF / "km_data.csv")
_frame = pd.read_csv(REF / "small_sample_reference.csv")
R = dict(zip(_frame["name"], _frame["value"].astype(float), strict=True))


@pytest.mark.parametrize(
    ("method", "tag"), [("log-log", "loglog"), ("log", "log"), ("plain", "plain")]
)
def test_curve_and_ci_match_r(method: str, tag: str) -> None:
    ours = kaplan_meier(DATA["time"], DATA["event"], ci_method=method).table
    theirs = pd.read_csv(REF / f"km_{tag}.csv")
    np.testing.assert_array_equal(ours["n_risk"], theirs["n_risk"])
    np.testing.assert_array_equal(ours["n_censored"], theirs["n_censor"])
    np.testing.assert_allclose(ours["survival"], theirs["survival"], rtol=1e-12)
    np.testing.assert_allclose(ours["se_log"], theirs["std_err"], rtol=1e-12)
    np.testing.assert_allclose(ours["ci_low"], theirs["lower"], rtol=1e-12)
    np.testing.assert_allclose(ours["ci_high"], theirs["upper"], rtol=1e-12)


def test_median_and_its_interval_match_r() -> None:
    r = kaplan_meier(DATA["time"], DATA["event"])
    assert r.median == R["km_median"]
    assert r.median_ci_low == R["km_median_lcl"]
    assert np.isnan(r.median_ci_high)
    assert np.isnan(R["km_median_ucl"])
    assert r.ci_method == "log-log"
    assert r.variance_method == "greenwood"


def test_greenwood_by_hand() -> None:
    r = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 0])
    # S(1) = 3/4, S(3) = 3/4 · 1/2; Greenwood: S² · (1/(4·3) + 1/(2·1))
    assert r.survival_at(3.5) == pytest.approx(0.375)
    assert r.survival_at(0.5) == 1.0
    se3 = r.table.loc[r.table.time == 3, "se"].iloc[0]
    assert se3 == pytest.approx(0.375 * np.sqrt(1 / 12 + 1 / 2))


def test_exact_half_takes_midpoint() -> None:
    r = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert r.median == 2.5


def test_bad_input_refused() -> None:
    with pytest.raises(StatsError, match="event values"):
        kaplan_meier([1, 2], [1, 2])
    with pytest.raises(StatsError, match="missing"):
        kaplan_meier([1, np.nan], [1, 0])
    with pytest.raises(StatsError, match="ci_method"):
        kaplan_meier([1, 2], [1, 0], ci_method="arcsine")
