"""Power and sample size for an MMRM comparison of two arms at the last visit.

Analytic (``method="lu-luo-chen-2008"``): Lu, Luo & Chen (2008), formula (3), as in R's
``longpower::power.mmrm``. With monotone dropout, retention r_j (the proportion still observed
at visit j, r_1 = 1) and correlation matrix R over J visits, the information per subject is

    I = Σ_j (r_j − r_{j+1}) · [R_{1..j}^{-1} padded with zeros],  r_{J+1} = 0,

and φ = (I^{-1})_{JJ} is the variance inflation of the last-visit mean. For arms a and b with
N_a = λ·N_b,

    N_a = (φ_a + λ·φ_b) · (z_{1−α/s} + z_{power})² · σ² / δ²,

where s = 2 for a two-sided test and σ is the mean of the two arms' standard deviations.
``sample_size_mmrm`` rounds each arm up (as longpower does when it reports whole people);
``power_mmrm`` inverts the same formula for a given total N.

Simulation-based power of an actual MMRM analysis is in :mod:`remit.stats.power_sim`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from remit.errors import StatsError
from remit.stats._tidy import TidyResult

METHOD = "lu-luo-chen-2008"


@dataclass(frozen=True)
class MMRMPowerResult(TidyResult):
    """Analytic MMRM power / sample size (Lu, Luo & Chen 2008).

    Attributes
    ----------
    n_a, n_b, n_total
        Subjects per arm and in total (whole numbers when solved for; as given otherwise).
    n_a_exact, n_b_exact
        The unrounded solution of the formula (equal to ``n_a``, ``n_b`` when N was given).
    power, delta, sigma, alpha, alternative, ratio
        Power achieved, difference at the last visit, SD, significance level, sidedness,
        λ = N_a / N_b.
    phi_a, phi_b
        Variance inflation of the last-visit mean in each arm from dropout.
    """

    n_a: float
    n_b: float
    n_total: float
    n_a_exact: float
    n_b_exact: float
    power: float
    delta: float
    sigma: float
    alpha: float
    alternative: str
    ratio: float
    phi_a: float
    phi_b: float
    method: str = METHOD

    def to_frame(self) -> pd.DataFrame:
        """One row."""
        return pd.DataFrame([self.to_dict()])


def compound_symmetry(n_visits: int, rho: float) -> npt.NDArray[np.float64]:
    """Compound-symmetry correlation matrix.

    Parameters
    ----------
    n_visits
        Number of visits J.
    rho
        Common correlation, −1/(J − 1) < ρ < 1.

    Returns
    -------
    numpy.ndarray
        J × J matrix.

    Examples
    --------
    >>> compound_symmetry(3, 0.25).tolist()
    [[1.0, 0.25, 0.25], [0.25, 1.0, 0.25], [0.25, 0.25, 1.0]]
    """
    if n_visits < 1:
        raise StatsError(f"n_visits={n_visits}", expected="at least 1")
    out = np.full((n_visits, n_visits), float(rho))
    np.fill_diagonal(out, 1.0)
    return out


def ar1(n_visits: int, rho: float) -> npt.NDArray[np.float64]:
    """First-order autoregressive correlation matrix, ρ^|i − j|.

    Parameters
    ----------
    n_visits
        Number of visits J.
    rho
        Lag-one correlation, −1 < ρ < 1.

    Returns
    -------
    numpy.ndarray
        J × J matrix.

    Examples
    --------
    >>> ar1(3, 0.5).tolist()
    [[1.0, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 1.0]]
    """
    if n_visits < 1:
        raise StatsError(f"n_visits={n_visits}", expected="at least 1")
    idx = np.arange(n_visits)
    return np.asarray(float(rho) ** np.abs(idx[:, None] - idx[None, :]), dtype=np.float64)


def _check_design(
    correlation: Any, retention: Sequence[float], arm: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    corr = np.asarray(correlation, dtype=np.float64)
    ret = np.asarray(retention, dtype=np.float64).ravel()
    if corr.ndim != 2 or corr.shape[0] != corr.shape[1]:
        raise StatsError(
            f"correlation of arm {arm} has shape {corr.shape}", expected="a square matrix"
        )
    if ret.size != corr.shape[0]:
        raise StatsError(
            f"arm {arm}: {ret.size} retention values for a {corr.shape[0]}-visit matrix",
            expected="one retention proportion per visit",
        )
    if not np.allclose(corr, corr.T) or np.linalg.eigvalsh(corr).min() <= 0:
        raise StatsError(
            f"correlation of arm {arm} is not symmetric positive definite",
            expected="a valid correlation matrix",
        )
    if (ret <= 0).any() or (ret > 1).any() or (np.diff(ret) > 1e-12).any():
        raise StatsError(
            f"arm {arm}: retention {ret.tolist()}",
            expected="proportions in (0, 1], non-increasing over visits (monotone dropout)",
        )
    return corr, ret


def dropout_inflation(correlation: Any, retention: Sequence[float]) -> float:
    """φ: variance of the last-visit mean under monotone dropout, per unit variance and subject.

    Parameters
    ----------
    correlation
        J × J correlation matrix of the repeated measures.
    retention
        Proportion observed at each visit (non-increasing; 1 at the first visit).

    Returns
    -------
    float
        1 without dropout; larger with it.

    Examples
    --------
    >>> dropout_inflation(compound_symmetry(4, 0.25), [1, 1, 1, 1])
    1.0
    >>> round(dropout_inflation(compound_symmetry(4, 0.25), [1, 0.9, 0.8, 0.7]), 6)
    1.385417
    """
    corr, ret = _check_design(correlation, retention, "a")
    j_max = corr.shape[0]
    r = np.append(ret, 0.0)
    info = np.zeros_like(corr)
    for j in range(1, j_max + 1):
        block = np.zeros_like(corr)
        block[:j, :j] = np.linalg.inv(corr[:j, :j])
        info += (r[j - 1] - r[j]) * block
    return float(np.linalg.inv(info)[-1, -1])


def _z_sum(alpha: float, alternative: str) -> float:
    if not 0 < alpha < 1:
        raise StatsError(f"alpha={alpha}", expected="a significance level between 0 and 1")
    if alternative not in ("two-sided", "one-sided"):
        raise StatsError(f"alternative={alternative!r}", expected="'two-sided' or 'one-sided'")
    sides = 2.0 if alternative == "two-sided" else 1.0
    return float(sps.norm.isf(alpha / sides))


def _phis(
    correlation: Any,
    retention: Sequence[float],
    correlation_b: Any | None,
    retention_b: Sequence[float] | None,
    sigma: float,
    sigma_b: float | None,
    delta: float,
    ratio: float,
) -> tuple[float, float, float]:
    if not (math.isfinite(delta) and delta != 0):
        raise StatsError(f"delta={delta}", expected="a non-zero difference at the last visit")
    if not sigma > 0 or (sigma_b is not None and not sigma_b > 0):
        raise StatsError("sigma must be positive", expected="standard deviations > 0")
    if not ratio > 0:
        raise StatsError(f"ratio={ratio}", expected="N_a / N_b > 0")
    phi_a = dropout_inflation(correlation, retention)
    corr_b = correlation if correlation_b is None else correlation_b
    ret_b = retention if retention_b is None else retention_b
    _check_design(corr_b, ret_b, "b")
    phi_b = dropout_inflation(corr_b, ret_b)
    s = sigma if sigma_b is None else (sigma + sigma_b) / 2.0
    return phi_a, phi_b, s


def sample_size_mmrm(
    *,
    correlation: Any,
    retention: Sequence[float],
    delta: float,
    sigma: float = 1.0,
    power: float = 0.8,
    alpha: float = 0.05,
    ratio: float = 1.0,
    correlation_b: Any | None = None,
    retention_b: Sequence[float] | None = None,
    sigma_b: float | None = None,
    alternative: str = "two-sided",
) -> MMRMPowerResult:
    """Subjects needed to detect ``delta`` at the last visit with an MMRM (Lu, Luo & Chen).

    Parameters
    ----------
    correlation
        J × J correlation matrix of arm a (and of arm b unless ``correlation_b``).
    retention
        Proportion of arm a still observed at each visit (and of b unless ``retention_b``).
    delta
        Difference between the arms' means at the last visit.
    sigma, sigma_b
        Standard deviation (arm a, arm b; their mean is used as in longpower).
    power, alpha, alternative
        Target power, significance level, ``"two-sided"`` or ``"one-sided"``.
    ratio
        λ = N_a / N_b.
    correlation_b, retention_b
        Arm b's own correlation and retention, if different.

    Returns
    -------
    MMRMPowerResult

    Examples
    --------
    >>> r = sample_size_mmrm(correlation=compound_symmetry(4, 0.25),
    ...                      retention=[1, 0.9, 0.8, 0.7], delta=0.5)
    >>> r.n_a, r.n_b, r.n_total
    (87.0, 87.0, 174.0)
    """
    if not 0 < power < 1:
        raise StatsError(f"power={power}", expected="a target power between 0 and 1")
    phi_a, phi_b, s = _phis(
        correlation, retention, correlation_b, retention_b, sigma, sigma_b, delta, ratio
    )
    z = _z_sum(alpha, alternative) + float(sps.norm.ppf(power))
    n_a = (phi_a + ratio * phi_b) * z * z * s * s / (delta * delta)
    n_b = n_a / ratio
    whole_a, whole_b = float(math.ceil(n_a - 1e-9)), float(math.ceil(n_b - 1e-9))
    return MMRMPowerResult(
        n_a=whole_a,
        n_b=whole_b,
        n_total=whole_a + whole_b,
        n_a_exact=n_a,
        n_b_exact=n_b,
        power=power,
        delta=delta,
        sigma=s,
        alpha=alpha,
        alternative=alternative,
        ratio=ratio,
        phi_a=phi_a,
        phi_b=phi_b,
    )


def power_mmrm(
    n_total: float,
    *,
    correlation: Any,
    retention: Sequence[float],
    delta: float,
    sigma: float = 1.0,
    alpha: float = 0.05,
    ratio: float = 1.0,
    correlation_b: Any | None = None,
    retention_b: Sequence[float] | None = None,
    sigma_b: float | None = None,
    alternative: str = "two-sided",
) -> MMRMPowerResult:
    """Power of an MMRM comparison at the last visit for ``n_total`` subjects (Lu, Luo & Chen).

    Parameters
    ----------
    n_total
        Subjects in both arms together (split N_a = λ·N_b).
    correlation, retention, delta, sigma, alpha, ratio, correlation_b, retention_b, sigma_b,
    alternative
        As for :func:`sample_size_mmrm`.

    Returns
    -------
    MMRMPowerResult

    Examples
    --------
    >>> r = power_mmrm(174, correlation=compound_symmetry(4, 0.25),
    ...                retention=[1, 0.9, 0.8, 0.7], delta=0.5)
    >>> round(r.power, 4)
    0.8
    """
    if not n_total > 0:
        raise StatsError(f"n_total={n_total}", expected="a positive number of subjects")
    phi_a, phi_b, s = _phis(
        correlation, retention, correlation_b, retention_b, sigma, sigma_b, delta, ratio
    )
    n_a = n_total * ratio / (1.0 + ratio)
    n_b = n_total - n_a
    z_alpha = _z_sum(alpha, alternative)
    z = math.sqrt(n_a * delta * delta / ((phi_a + ratio * phi_b) * s * s))
    power = float(sps.norm.cdf(z - z_alpha))
    return MMRMPowerResult(
        n_a=n_a,
        n_b=n_b,
        n_total=float(n_total),
        n_a_exact=n_a,
        n_b_exact=n_b,
        power=power,
        delta=delta,
        sigma=s,
        alpha=alpha,
        alternative=alternative,
        ratio=ratio,
        phi_a=phi_a,
        phi_b=phi_b,
    )
