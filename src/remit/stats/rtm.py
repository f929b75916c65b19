"""Regression to the mean (RTM) in a single-arm study that enrolled people above a cut-off.

If people are selected because their baseline score was high, part of their later
improvement is expected without any treatment: with test-retest reliability ρ and a population
mean μ, the expected fall of the selected group's mean is

    RTM = (1 − ρ) · (mean of the selected − μ)

(e.g. Barnett, van der Pols & Dobson 2005). Neither ρ nor μ is known exactly, so the estimate
is reported over a grid of both, with its range. When an observed change (follow-up − baseline)
is given, the grid also shows the change left after removing the expected RTM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from remit.errors import StatsError
from remit.stats._tidy import TidyResult

DEFAULT_RELIABILITIES = (0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.93)
"""Published MADRS test-retest reliabilities range from 0.65 to 0.93."""


@dataclass(frozen=True)
class RegressionToMeanResult(TidyResult):
    """Expected regression to the mean over a grid of reliability and population mean.

    Attributes
    ----------
    selected_mean
        Baseline mean of the selected group.
    grid
        Tidy grid: one row per (reliability, population_mean) with ``expected_rtm`` (the
        expected fall, ≥ 0 when the selected mean is above μ), ``expected_change_from_rtm``
        (= −expected_rtm, on the scale of follow-up − baseline) and, when an observed change
        was given, ``change_beyond_rtm`` = observed change − expected_change_from_rtm.
    rtm_min, rtm_max
        Range of ``expected_rtm`` over the grid.
    observed_change
        Observed mean change (follow-up − baseline), or NaN.
    """

    selected_mean: float
    observed_change: float
    grid: pd.DataFrame
    rtm_min: float
    rtm_max: float
    formula: str = "(1 - reliability) * (selected_mean - population_mean)"

    def to_frame(self) -> pd.DataFrame:
        """The grid (a copy)."""
        return self.grid.copy()


def regression_to_mean(
    selected_mean: float,
    population_means: Sequence[float],
    reliabilities: Sequence[float] = DEFAULT_RELIABILITIES,
    *,
    observed_change: float | None = None,
) -> RegressionToMeanResult:
    """Expected regression to the mean with a sensitivity grid over ρ and μ.

    Parameters
    ----------
    selected_mean
        Mean baseline score of the people enrolled (selected above a cut-off).
    population_means
        Plausible means μ of the population they were drawn from (one or more).
    reliabilities
        Plausible test-retest reliabilities ρ, each in [0, 1].
    observed_change
        Observed mean change follow-up − baseline (negative for improvement on a symptom
        scale), to show how much change is left beyond RTM.

    Returns
    -------
    RegressionToMeanResult

    Examples
    --------
    >>> r = regression_to_mean(33.0, [20.0, 25.0], [0.65, 0.93], observed_change=-20.0)
    >>> round(r.rtm_min, 2), round(r.rtm_max, 2)
    (0.56, 4.55)
    >>> r.grid["change_beyond_rtm"].round(2).tolist()
    [-15.45, -17.2, -19.09, -19.44]
    """
    mus = np.asarray(population_means, dtype=np.float64).ravel()
    rhos = np.asarray(reliabilities, dtype=np.float64).ravel()
    if mus.size == 0 or rhos.size == 0:
        raise StatsError("empty grid", expected="at least one population mean and one reliability")
    if not np.isfinite(selected_mean) or not np.isfinite(mus).all():
        raise StatsError("a mean is missing or infinite", expected="finite means")
    if not np.isfinite(rhos).all() or (rhos < 0).any() or (rhos > 1).any():
        raise StatsError(f"reliabilities={rhos.tolist()}", expected="values between 0 and 1")
    rho_grid, mu_grid = np.meshgrid(rhos, mus, indexing="ij")
    rtm = (1.0 - rho_grid) * (float(selected_mean) - mu_grid)
    grid = pd.DataFrame(
        {
            "reliability": rho_grid.ravel(),
            "population_mean": mu_grid.ravel(),
            "expected_rtm": rtm.ravel(),
            "expected_change_from_rtm": -rtm.ravel(),
        }
    )
    change = float("nan") if observed_change is None else float(observed_change)
    if observed_change is not None:
        grid["change_beyond_rtm"] = change - grid["expected_change_from_rtm"]
    return RegressionToMeanResult(
        selected_mean=float(selected_mean),
        observed_change=change,
        grid=grid,
        rtm_min=float(rtm.min()),
        rtm_max=float(rtm.max()),
    )
