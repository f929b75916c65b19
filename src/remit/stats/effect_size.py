"""Standardised effect sizes of within-subject change, with noncentral-t confidence intervals.

Conventions (named in every result):

``d_z``
    mean(d) / sd(d) of the differences d = after − before. Its CI is exact: t = d_z·√n follows
    a noncentral t with n − 1 df and noncentrality δ·√n, and the limits are the δ whose
    noncentral t puts ``(1 − conf_level)/2`` of its mass beyond the observed t
    (``ci_method="noncentral-t"``).
``d_av``
    mean(d) / ((sd(before) + sd(after)) / 2) (Cumming; Lakens 2013). Its CI scales the exact
    d_z limits by sd(d) / s_av, treating that ratio as known
    (``ci_method="noncentral-t-scaled"``; approximate).
``g_z``, ``g_av``
    Hedges' small-sample correction J(df)·d with the exact
    J(df) = Γ(df/2) / (√(df/2)·Γ((df − 1)/2)), df = n − 1; the CI limits are multiplied by J.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import pandas as pd
from scipy import optimize, special
from scipy import stats as sps

from remit.errors import StatsError
from remit.stats._tidy import ArrayLike, TidyResult, check_conf_level, paired_differences

#: The effect sizes :func:`paired_effect_sizes` reports, declared once (the protocol mirrors them).
EffectSizeMeasure = Literal["d_z", "g_z", "d_av", "g_av"]
EFFECT_SIZE_MEASURES: tuple[EffectSizeMeasure, ...] = get_args(EffectSizeMeasure)


@dataclass(frozen=True)
class EffectSizeResult(TidyResult):
    """Within-subject standardised effect sizes of ``after − before`` and their CIs.

    Attributes
    ----------
    n, n_dropped, df
        Complete pairs, pairs dropped for a missing value, and n − 1.
    d_z, d_z_ci_low, d_z_ci_high
        Standardised mean difference (by sd of the differences) and its exact CI.
    d_av, d_av_ci_low, d_av_ci_high
        Standardised by the average of the two standard deviations, with a scaled CI.
    j
        Hedges' exact correction factor J(df).
    g_z, g_z_ci_low, g_z_ci_high, g_av, g_av_ci_low, g_av_ci_high
        The same corrected by J.
    """

    n: int
    n_dropped: int
    df: float
    mean_difference: float
    sd_difference: float
    sd_average: float
    d_z: float
    d_z_ci_low: float
    d_z_ci_high: float
    d_av: float
    d_av_ci_low: float
    d_av_ci_high: float
    j: float
    g_z: float
    g_z_ci_low: float
    g_z_ci_high: float
    g_av: float
    g_av_ci_low: float
    g_av_ci_high: float
    conf_level: float
    difference: str = "after - before"

    def to_frame(self) -> pd.DataFrame:
        """One row per effect size: name, estimate, CI, and the CI method."""
        rows = []
        for name, method in (
            ("d_z", "noncentral-t"),
            ("g_z", "noncentral-t x J"),
            ("d_av", "noncentral-t-scaled"),
            ("g_av", "noncentral-t-scaled x J"),
        ):
            rows.append(
                {
                    "effect_size": name,
                    "estimate": getattr(self, name),
                    "ci_low": getattr(self, f"{name}_ci_low"),
                    "ci_high": getattr(self, f"{name}_ci_high"),
                    "conf_level": self.conf_level,
                    "ci_method": method,
                    "n": self.n,
                }
            )
        return pd.DataFrame(rows)


def hedges_j(df: float) -> float:
    """Hedges' exact small-sample correction J(df) = Γ(df/2) / (√(df/2)·Γ((df − 1)/2)).

    Parameters
    ----------
    df
        Degrees of freedom (> 1).

    Returns
    -------
    float

    Examples
    --------
    >>> round(hedges_j(11), 6)
    0.92996
    """
    if not df > 1:
        raise StatsError(f"df={df}", expected="degrees of freedom greater than 1")
    log_j = special.gammaln(df / 2) - 0.5 * math.log(df / 2) - special.gammaln((df - 1) / 2)
    return math.exp(float(log_j))


def _ncp_for(t: float, df: float, tail: float, upper: bool) -> float:
    """The noncentrality δ with P(T_δ ≤ t) = 1 − tail (lower limit) or = tail (upper)."""
    target = tail if upper else 1.0 - tail

    def f(ncp: float) -> float:
        return float(sps.nct.cdf(t, df, ncp)) - target

    # cdf(t; ncp) decreases in ncp; widen a bracket around t until it holds the root.
    width = 2.0 + abs(t) * 0.5
    lo, hi = t - width, t + width
    while f(lo) < 0:
        lo -= width
        width *= 2
    while f(hi) > 0:
        hi += width
        width *= 2
    return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12))


def noncentral_t_ci(t: float, df: float, conf_level: float = 0.95) -> tuple[float, float]:
    """Confidence limits of the noncentrality parameter given an observed t.

    Parameters
    ----------
    t
        Observed t statistic.
    df
        Its degrees of freedom.
    conf_level
        Two-sided coverage.

    Returns
    -------
    tuple of float
        (lower, upper) limits of the noncentrality parameter.

    Examples
    --------
    >>> lo, hi = noncentral_t_ci(3.0, 11)
    >>> round(lo, 4), round(hi, 4)
    (0.6336, 5.2704)
    """
    check_conf_level(conf_level)
    tail = (1.0 - conf_level) / 2.0
    return _ncp_for(t, df, tail, upper=False), _ncp_for(t, df, tail, upper=True)


def paired_effect_sizes(
    before: ArrayLike,
    after: ArrayLike,
    *,
    conf_level: float = 0.95,
    nan_policy: str = "drop",
) -> EffectSizeResult:
    """Effect sizes d_z, d_av and Hedges' g of within-subject change, with CIs.

    Parameters
    ----------
    before, after
        The two measurements of each unit, in the same order (at least 3 complete pairs).
    conf_level
        Two-sided coverage of the intervals.
    nan_policy
        ``"drop"`` incomplete pairs with a warning, or ``"refuse"`` them.

    Returns
    -------
    EffectSizeResult

    Examples
    --------
    >>> r = paired_effect_sizes([30, 28, 35, 31, 27], [20, 22, 30, 21, 24])
    >>> round(r.d_z, 4), round(r.d_av, 4), round(r.j, 4)
    (-2.1833, -1.9184, 0.7979)
    >>> r.to_frame()["effect_size"].tolist()
    ['d_z', 'g_z', 'd_av', 'g_av']
    """
    check_conf_level(conf_level)
    x, y, n_dropped = paired_differences(before, after, nan_policy=nan_policy, min_n=3)
    d = y - x
    n = d.size
    df = float(n - 1)
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    sd_av = (float(x.std(ddof=1)) + float(y.std(ddof=1))) / 2.0
    if sd == 0.0 or sd_av == 0.0:
        raise StatsError(
            "a standard deviation is zero (all differences or all values equal)",
            expected="values that vary",
            hint="a standardised effect size is undefined here; report the raw difference",
        )
    d_z = mean / sd
    root_n = math.sqrt(n)
    lo_ncp, hi_ncp = noncentral_t_ci(d_z * root_n, df, conf_level)
    dz_lo, dz_hi = lo_ncp / root_n, hi_ncp / root_n
    scale = sd / sd_av
    d_av = mean / sd_av
    j = hedges_j(df)
    return EffectSizeResult(
        n=n,
        n_dropped=n_dropped,
        df=df,
        mean_difference=mean,
        sd_difference=sd,
        sd_average=sd_av,
        d_z=d_z,
        d_z_ci_low=dz_lo,
        d_z_ci_high=dz_hi,
        d_av=d_av,
        d_av_ci_low=dz_lo * scale,
        d_av_ci_high=dz_hi * scale,
        j=j,
        g_z=j * d_z,
        g_z_ci_low=j * dz_lo,
        g_z_ci_high=j * dz_hi,
        g_av=j * d_av,
        g_av_ci_low=j * dz_lo * scale,
        g_av_ci_high=j * dz_hi * scale,
        conf_level=conf_level,
    )
