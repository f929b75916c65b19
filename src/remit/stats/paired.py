"""Paired comparisons of two measurements on the same units: t-test, Wilcoxon, Hodges-Lehmann.

Differences are always ``after − before``. Pairs with a missing value are dropped with a
:class:`~remit.errors.DataWarning` and counted in the result (``n_dropped``), or refused with
``nan_policy="refuse"``.

Wilcoxon signed-rank conventions
--------------------------------
Zero differences are dropped before ranking (Wilcoxon's convention, the default of both R and
scipy); tied absolute differences get mid-ranks. Three p-values are computed:

``exact``
    the permutation distribution of the signed-rank sum given the observed ranks (every sign
    pattern equally likely). Without ties it is the classical signed-rank distribution (R's
    ``psignrank``); with ties it is the exact conditional distribution, which is what scipy's
    permutation test computes. Computed when at most ``EXACT_MAX_N`` non-zero differences.
``normal``
    the normal approximation with the tie-corrected variance, no continuity correction.
``normal-continuity``
    the same with a continuity correction of 0.5 towards the mean.

Which one is *reported* (``p_value`` and ``p_value_method``) follows a named convention:

``convention="R"`` (default; R's ``wilcox.test``)
    exact if fewer than 50 non-zero differences and no ties and no zeros, otherwise
    normal-continuity.
``convention="scipy"`` (``scipy.stats.wilcoxon`` defaults, scipy ≥ 1.15)
    exact if at most 50 differences and no ties and no zeros; exact (permutation) if there are
    ties or zeros and at most 13 differences; otherwise normal without continuity correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from remit.errors import StatsError
from remit.stats._tidy import (
    ArrayLike,
    FloatArray,
    TidyResult,
    check_alternative,
    check_conf_level,
    paired_differences,
)

EXACT_MAX_N = 400
"""Largest number of non-zero differences for which the exact distribution is computed."""

CONVENTIONS = ("R", "scipy")

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PairedTResult(TidyResult):
    """Paired t-test of ``after − before``.

    Attributes
    ----------
    n, n_dropped
        Complete pairs analysed and pairs dropped for a missing value.
    mean_difference, sd_difference, se
        Mean, standard deviation (n − 1 denominator) and standard error of the differences.
    t, df, p_value
        Test of mean difference = ``mu`` against ``alternative``.
    ci_low, ci_high, conf_level
        Confidence interval of the mean difference (t distribution).
    """

    n: int
    n_dropped: int
    mean_difference: float
    sd_difference: float
    se: float
    t: float
    df: float
    p_value: float
    ci_low: float
    ci_high: float
    conf_level: float
    alternative: str
    mu: float
    difference: str = "after - before"

    def to_frame(self) -> pd.DataFrame:
        """One row: the test."""
        return pd.DataFrame([self.to_dict()])


@dataclass(frozen=True)
class WilcoxonResult(TidyResult):
    """Wilcoxon signed-rank test of ``after − before`` (see the module text for conventions).

    Attributes
    ----------
    statistic
        V, the sum of the ranks of the positive differences (R's ``V``).
    r_minus
        The sum of the ranks of the negative differences (scipy reports ``min(V, r_minus)``).
    n, n_zero, n_dropped
        Non-zero differences ranked, zero differences dropped, pairs dropped for a missing value.
    has_ties
        Whether tied absolute differences were given mid-ranks.
    p_exact, p_normal, p_normal_continuity
        The three p-values (``p_exact`` is NaN when n > ``EXACT_MAX_N``).
    z, z_continuity
        The standardised statistic without and with the continuity correction.
    p_value, p_value_method, convention
        The reported p-value, which of the three it is, and the convention that chose it.
    """

    statistic: float
    r_minus: float
    n: int
    n_zero: int
    n_dropped: int
    has_ties: bool
    z: float
    z_continuity: float
    p_exact: float
    p_normal: float
    p_normal_continuity: float
    p_value: float
    p_value_method: str
    convention: str
    alternative: str
    difference: str = "after - before"

    def to_frame(self) -> pd.DataFrame:
        """One row per p-value method, the reported one flagged."""
        rows = [
            ("exact", self.p_exact, math.nan),
            ("normal", self.p_normal, self.z),
            ("normal-continuity", self.p_normal_continuity, self.z_continuity),
        ]
        return pd.DataFrame(
            [
                {
                    "method": method,
                    "statistic": self.statistic,
                    "z": z,
                    "p_value": p,
                    "reported": method == self.p_value_method,
                    "n": self.n,
                    "n_zero": self.n_zero,
                    "has_ties": self.has_ties,
                }
                for method, p, z in rows
            ]
        )


@dataclass(frozen=True)
class HodgesLehmannResult(TidyResult):
    """Hodges-Lehmann estimate (pseudo-median of ``after − before``) with its CI.

    Attributes
    ----------
    estimate
        Median of the Walsh averages (d_i + d_j)/2, i ≤ j, of the non-zero differences.
    ci_low, ci_high, conf_level, ci_method
        Interval inverted from the signed-rank test as R's ``wilcox.test(conf.int=TRUE)``:
        ``"exact"`` (order statistics of the Walsh averages) when fewer than 50 non-zero
        differences and no ties or zeros, else ``"normal-continuity"`` (the Walsh averages where
        the continuity-corrected normal statistic crosses its critical values).
    achieved_conf_level
        Coverage actually achieved by the exact interval (NaN for the normal one).
    """

    estimate: float
    ci_low: float
    ci_high: float
    conf_level: float
    achieved_conf_level: float
    ci_method: str
    n: int
    n_zero: int
    difference: str = "after - before"

    def to_frame(self) -> pd.DataFrame:
        """One row: the estimate and its interval."""
        return pd.DataFrame([self.to_dict()])


def paired_t(
    before: ArrayLike,
    after: ArrayLike,
    *,
    mu: float = 0.0,
    alternative: str = "two-sided",
    conf_level: float = 0.95,
    nan_policy: str = "drop",
) -> PairedTResult:
    """Paired t-test of the mean of ``after − before``.

    Parameters
    ----------
    before, after
        The two measurements of each unit, in the same order.
    mu
        Mean difference under the null hypothesis.
    alternative
        ``"two-sided"``, ``"less"`` or ``"greater"`` (mean difference less/greater than ``mu``).
    conf_level
        Coverage of the confidence interval (one-sided intervals for one-sided alternatives).
    nan_policy
        ``"drop"`` incomplete pairs with a warning, or ``"refuse"`` them.

    Returns
    -------
    PairedTResult

    Examples
    --------
    >>> r = paired_t([30, 28, 35, 31], [20, 22, 30, 21])
    >>> float(r.mean_difference), r.df
    (-7.75, 3.0)
    >>> round(r.p_value, 5)
    0.00975
    """
    check_alternative(alternative)
    check_conf_level(conf_level)
    x, y, n_dropped = paired_differences(before, after, nan_policy=nan_policy, min_n=2)
    d = y - x
    n = d.size
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    df = float(n - 1)
    if se == 0.0:
        raise StatsError(
            f"all {n} differences are equal ({mean}); the t statistic is undefined",
            expected="differences that vary",
            hint="report the constant difference; use the Wilcoxon or sign test if needed",
        )
    t = (mean - mu) / se
    if alternative == "two-sided":
        p = 2.0 * float(sps.t.sf(abs(t), df))
        q = float(sps.t.ppf(1 - (1 - conf_level) / 2, df))
        lo, hi = mean - q * se, mean + q * se
    elif alternative == "less":
        p = float(sps.t.cdf(t, df))
        lo, hi = -math.inf, mean + float(sps.t.ppf(conf_level, df)) * se
    else:
        p = float(sps.t.sf(t, df))
        lo, hi = mean - float(sps.t.ppf(conf_level, df)) * se, math.inf
    return PairedTResult(
        n=n,
        n_dropped=n_dropped,
        mean_difference=mean,
        sd_difference=sd,
        se=se,
        t=t,
        df=df,
        p_value=min(p, 1.0),
        ci_low=lo,
        ci_high=hi,
        conf_level=conf_level,
        alternative=alternative,
        mu=mu,
    )


def _signed_ranks(d: FloatArray) -> tuple[FloatArray, bool]:
    """Mid-ranks of ``|d|`` and whether there were ties."""
    ranks = sps.rankdata(np.abs(d)).astype(np.float64)
    _, counts = np.unique(np.abs(d), return_counts=True)
    return ranks, bool((counts > 1).any())


def _sign_flip_distribution(doubled_ranks: IntArray) -> FloatArray:
    """P(S = s) for S = Σ a_i·B_i, B_i iid Bernoulli(1/2), a_i non-negative integers."""
    total = int(doubled_ranks.sum())
    prob = np.zeros(total + 1)
    prob[0] = 1.0
    top = 0
    for a in doubled_ranks.tolist():
        shifted = np.zeros_like(prob)
        shifted[a : top + a + 1] = prob[: top + 1]
        prob[: top + a + 1] = 0.5 * (prob[: top + a + 1] + shifted[: top + a + 1])
        top += a
    return prob


def _exact_p(ranks: FloatArray, positive: npt.NDArray[np.bool_], alternative: str) -> float:
    doubled = np.rint(2.0 * ranks).astype(np.int64)
    prob = _sign_flip_distribution(doubled)
    s = int(doubled[positive].sum())
    cdf = float(prob[: s + 1].sum())
    sf = float(prob[s:].sum())
    if alternative == "two-sided":
        return min(1.0, 2.0 * min(cdf, sf))
    return cdf if alternative == "less" else sf


def _normal_parts(ranks: FloatArray) -> tuple[float, float]:
    """Mean and tie-corrected standard deviation of V under the null."""
    n = ranks.size
    _, counts = np.unique(ranks, return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24.0 - float(np.sum(counts**3 - counts)) / 48.0
    return n * (n + 1) / 4.0, math.sqrt(var)


def _normal_p(z: float, alternative: str) -> float:
    if alternative == "two-sided":
        return min(1.0, 2.0 * float(sps.norm.sf(abs(z))))
    return float(sps.norm.cdf(z)) if alternative == "less" else float(sps.norm.sf(z))


def _correction(diff: float, alternative: str) -> float:
    if alternative == "two-sided":
        return 0.5 * float(np.sign(diff))
    return 0.5 if alternative == "greater" else -0.5


def wilcoxon_signed_rank(
    before: ArrayLike,
    after: ArrayLike,
    *,
    alternative: str = "two-sided",
    convention: str = "R",
    nan_policy: str = "drop",
) -> WilcoxonResult:
    """Wilcoxon signed-rank test of ``after − before`` with all three p-values.

    Parameters
    ----------
    before, after
        The two measurements of each unit, in the same order.
    alternative
        ``"two-sided"``, ``"less"`` or ``"greater"`` (differences tend to be below/above 0).
    convention
        ``"R"`` (default) or ``"scipy"``: the rule that picks the reported p-value (module text).
    nan_policy
        ``"drop"`` incomplete pairs with a warning, or ``"refuse"`` them.

    Returns
    -------
    WilcoxonResult

    Examples
    --------
    Twelve pairs, one zero difference and tied ranks: R and scipy report different p-values.

    >>> before = [30, 28, 35, 31, 27, 33, 29, 34, 26, 32, 30, 25]
    >>> after = [30, 26, 34, 26, 23, 31, 26, 28, 21, 25, 22, 16]
    >>> r = wilcoxon_signed_rank(before, after)
    >>> r.p_value_method, round(r.p_value, 6)
    ('normal-continuity', 0.003822)
    >>> s = wilcoxon_signed_rank(before, after, convention="scipy")
    >>> s.p_value_method, round(s.p_value, 6)
    ('exact', 0.000977)
    """
    check_alternative(alternative)
    if convention not in CONVENTIONS:
        raise StatsError(f"convention={convention!r}", expected="'R' or 'scipy'")
    x, y, n_dropped = paired_differences(before, after, nan_policy=nan_policy, min_n=1)
    d_all = y - x
    n_total = d_all.size
    nonzero = d_all != 0
    n_zero = int((~nonzero).sum())
    d = d_all[nonzero]
    n = d.size
    if n == 0:
        raise StatsError(
            f"all {n_total} differences are zero",
            expected="at least one non-zero difference",
        )
    ranks, has_ties = _signed_ranks(d)
    positive = d > 0
    v = float(ranks[positive].sum())
    r_minus = float(ranks[~positive].sum())
    mean, sd = _normal_parts(ranks)
    if sd > 0:
        z = (v - mean) / sd
        z_cc = (v - mean - _correction(v - mean, alternative)) / sd
        p_normal, p_cc = _normal_p(z, alternative), _normal_p(z_cc, alternative)
    else:
        z = z_cc = p_normal = p_cc = math.nan
    p_exact = _exact_p(ranks, positive, alternative) if n <= EXACT_MAX_N else math.nan
    clean = not has_ties and n_zero == 0
    if convention == "R":
        method = "exact" if (n < 50 and clean) else "normal-continuity"
    elif n_total <= 50 and clean:
        method = "exact"
    else:
        method = "exact" if n_total <= 13 else "normal"
    reported = {"exact": p_exact, "normal": p_normal, "normal-continuity": p_cc}[method]
    return WilcoxonResult(
        statistic=v,
        r_minus=r_minus,
        n=n,
        n_zero=n_zero,
        n_dropped=n_dropped,
        has_ties=has_ties,
        z=z,
        z_continuity=z_cc,
        p_exact=p_exact,
        p_normal=p_normal,
        p_normal_continuity=p_cc,
        p_value=reported,
        p_value_method=method,
        convention=convention,
        alternative=alternative,
    )


def _walsh_averages(d: FloatArray) -> FloatArray:
    i, j = np.triu_indices(d.size)
    return np.sort((d[i] + d[j]) / 2.0)


def _z_corrected(d: FloatArray, mu: float) -> float:
    """R's ``wdiff``: continuity-corrected signed-rank z of ``d − mu`` (zeros dropped)."""
    xd = d - mu
    xd = xd[xd != 0]
    if xd.size == 0:
        return 0.0
    ranks = sps.rankdata(np.abs(xd))
    nx = xd.size
    zd = float(ranks[xd > 0].sum()) - nx * (nx + 1) / 4.0
    _, counts = np.unique(ranks, return_counts=True)
    sigma = math.sqrt(nx * (nx + 1) * (2 * nx + 1) / 24.0 - float(np.sum(counts**3 - counts)) / 48)
    if sigma == 0:
        return 0.0
    return float((zd - 0.5 * np.sign(zd)) / sigma)


def _crossing(d: FloatArray, walsh: FloatArray, zq: float) -> float:
    """The Walsh average at which the (non-increasing) corrected z drops below ``zq``."""
    points = np.unique(walsh)
    # Midpoints between consecutive Walsh averages, plus one beyond each end.
    probes = np.concatenate(
        ([points[0] - 1.0], (points[:-1] + points[1:]) / 2.0, [points[-1] + 1.0])
    )
    lo, hi = 0, probes.size - 1
    if _z_corrected(d, float(probes[hi])) >= zq:
        return float(points[-1])
    if _z_corrected(d, float(probes[lo])) < zq:
        return float(points[0])
    while hi - lo > 1:  # invariant: z(probes[lo]) >= zq > z(probes[hi])
        mid = (lo + hi) // 2
        if _z_corrected(d, float(probes[mid])) >= zq:
            lo = mid
        else:
            hi = mid
    return float(points[lo])


def hodges_lehmann(
    before: ArrayLike,
    after: ArrayLike,
    *,
    conf_level: float = 0.95,
    nan_policy: str = "drop",
) -> HodgesLehmannResult:
    """Hodges-Lehmann estimate of the pseudo-median of ``after − before`` with a CI.

    Parameters
    ----------
    before, after
        The two measurements of each unit, in the same order.
    conf_level
        Requested coverage of the two-sided interval.
    nan_policy
        ``"drop"`` incomplete pairs with a warning, or ``"refuse"`` them.

    Returns
    -------
    HodgesLehmannResult
        ``ci_method`` says whether the interval is exact or from the normal approximation
        (R's ``wilcox.test(conf.int=TRUE)`` rule: exact when fewer than 50 non-zero
        differences and no ties or zeros).

    Examples
    --------
    >>> r = hodges_lehmann([10, 12, 9, 15, 11, 14], [7, 8, 8, 10, 4, 12])
    >>> r.estimate, r.ci_method
    (-3.5, 'exact')
    >>> (r.ci_low, r.ci_high)
    (-7.0, -1.0)
    """
    check_conf_level(conf_level)
    x, y, _ = paired_differences(before, after, nan_policy=nan_policy, min_n=1)
    d_all = y - x
    d = d_all[d_all != 0]
    n_zero = int(d_all.size - d.size)
    n = d.size
    if n < 2:
        raise StatsError(
            f"{n} non-zero differences", expected="at least 2 to estimate a pseudo-median"
        )
    walsh = _walsh_averages(d)
    estimate = float(np.median(walsh))
    alpha = 1.0 - conf_level
    _, has_ties = _signed_ranks(d)
    if n < 50 and not has_ties and n_zero == 0:
        prob = _sign_flip_distribution(np.arange(1, n + 1, dtype=np.int64))
        cdf = np.cumsum(prob)
        qu = int(np.searchsorted(cdf, alpha / 2.0 - 1e-12))  # R's qsignrank(alpha/2, n)
        qu = max(qu, 1)
        ql = n * (n + 1) // 2 - qu
        achieved = 1.0 - 2.0 * float(cdf[qu - 1])
        lo, hi = float(walsh[qu - 1]), float(walsh[ql])
        method = "exact"
    else:
        z = float(sps.norm.ppf(1.0 - alpha / 2.0))
        lo = _crossing(d, walsh, z)
        hi = _crossing(d, walsh, -z)
        achieved = math.nan
        method = "normal-continuity"
    return HodgesLehmannResult(
        estimate=estimate,
        ci_low=lo,
        ci_high=hi,
        conf_level=conf_level,
        achieved_conf_level=achieved,
        ci_method=method,
        n=n,
        n_zero=n_zero,
    )
