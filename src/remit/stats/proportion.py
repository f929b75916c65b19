"""Confidence intervals for a binomial proportion, each method named.

``clopper-pearson``
    Exact: inverts two one-sided binomial tests (beta quantiles); never below nominal coverage.
``wilson``
    Score interval without continuity correction (R's ``prop.test(correct=FALSE)``).
``jeffreys``
    Equal-tailed Beta(k + ½, n − k + ½) posterior interval, with the lower limit set to 0 when
    k = 0 and the upper to 1 when k = n (Brown, Cai & DasGupta 2001).
``agresti-coull``
    Wald interval around (k + z²/2)/(n + z²), clipped to [0, 1].

The intervals are statsmodels' ``proportion_confint``; Remit adds the argument checks and the
boundary convention (lower limit exactly 0 at k = 0, upper exactly 1 at k = n).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from remit.errors import StatsError
from remit.stats._tidy import TidyResult, check_conf_level

#: The interval methods, declared once (the protocol's ``ci_methods`` words are a subset).
CiMethod = Literal["clopper-pearson", "wilson", "jeffreys", "agresti-coull"]
CI_METHODS: tuple[CiMethod, ...] = get_args(CiMethod)
#: Each method's name in statsmodels' ``proportion_confint`` (keyed by the vocabulary: mypy
#: refuses a word that is not a :data:`CiMethod`).
_STATSMODELS_NAMES: Mapping[CiMethod, str] = {
    "clopper-pearson": "beta",
    "wilson": "wilson",
    "jeffreys": "jeffreys",
    "agresti-coull": "agresti_coull",
}


@dataclass(frozen=True)
class ProportionCIResult(TidyResult):
    """A proportion k/n with a confidence interval by each method.

    Attributes
    ----------
    k, n, estimate, conf_level
        Successes, trials, k/n and the two-sided coverage.
    intervals
        ``{method: (low, high)}`` for every method in ``CI_METHODS``.
    """

    k: int
    n: int
    estimate: float
    conf_level: float
    intervals: dict[str, tuple[float, float]]

    def ci(self, method: str = "clopper-pearson") -> tuple[float, float]:
        """The (low, high) interval of one method."""
        if method not in self.intervals:
            raise StatsError(f"CI method {method!r}", expected=", ".join(CI_METHODS))
        return self.intervals[method]

    def to_frame(self) -> pd.DataFrame:
        """One row per CI method."""
        return pd.DataFrame(
            [
                {
                    "ci_method": method,
                    "k": self.k,
                    "n": self.n,
                    "estimate": self.estimate,
                    "ci_low": low,
                    "ci_high": high,
                    "conf_level": self.conf_level,
                }
                for method, (low, high) in self.intervals.items()
            ]
        )


def _check_counts(k: int, n: int) -> None:
    for name, value in (("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StatsError(f"{name}={value!r}", expected="a non-negative whole number")
    if n == 0:
        raise StatsError("n=0 trials", expected="at least one trial")
    if k > n:
        raise StatsError(f"k={k} successes out of n={n}", expected="k between 0 and n")


def _interval(k: int, n: int, conf_level: float, method: str) -> tuple[float, float]:
    """statsmodels' interval of ``method``, on [0, 1], with the boundary convention.

    At k = 0 the lower limit is exactly 0 and at k = n the upper limit exactly 1 (Brown, Cai &
    DasGupta 2001 for Jeffreys; for the others it removes rounding residues like 3e-17).
    """
    low, high = proportion_confint(k, n, alpha=1 - conf_level, method=method)
    return (
        0.0 if k == 0 else max(0.0, float(low)),
        1.0 if k == n else min(1.0, float(high)),
    )


def proportion_ci(k: int, n: int, *, conf_level: float = 0.95) -> ProportionCIResult:
    """A proportion with Clopper-Pearson, Wilson, Jeffreys and Agresti-Coull intervals.

    Parameters
    ----------
    k
        Number of successes (e.g. responders), 0 ≤ k ≤ n.
    n
        Number of trials (participants), n ≥ 1.
    conf_level
        Two-sided coverage.

    Returns
    -------
    ProportionCIResult

    Examples
    --------
    >>> r = proportion_ci(5, 12)
    >>> [round(v, 5) for v in r.ci("wilson")]
    [0.19326, 0.68049]
    >>> r.to_frame()["ci_method"].tolist()
    ['clopper-pearson', 'wilson', 'jeffreys', 'agresti-coull']
    """
    _check_counts(k, n)
    check_conf_level(conf_level)
    intervals: dict[str, tuple[float, float]] = {
        method: _interval(k, n, conf_level, _STATSMODELS_NAMES[method]) for method in CI_METHODS
    }
    return ProportionCIResult(k=k, n=n, estimate=k / n, conf_level=conf_level, intervals=intervals)
