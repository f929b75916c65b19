"""Kaplan-Meier estimate of a survival curve (e.g. time to relapse), with the CI method named.

The variance is Greenwood's: Var(log Ŝ(t)) ≈ Σ d/(n(n − d)) over event times up to t; ``se``
in the table is the standard error of Ŝ itself (Ŝ·√ that sum), ``se_log`` that of log Ŝ
(R's ``std.err``). Pointwise intervals:

``log-log`` (default)
    exp(−exp(log(−log Ŝ) ∓ z·se_log / log Ŝ)); stays within (0, 1); undefined where Ŝ is 0
    or 1 (NaN there, as in R).
``log``
    Ŝ·exp(± z·se_log), upper limit capped at 1 (R's ``survfit`` default).
``plain``
    Ŝ ± z·Ŝ·se_log, clipped to [0, 1].

The median is the first time at which Ŝ falls below one half (the midpoint to the next event
time when Ŝ equals one half exactly), with the interval read off the CI curves as R's
``survfit`` does; NaN when not reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from remit.errors import StatsError
from remit.stats._tidy import ArrayLike, FloatArray, TidyResult, as_float_array, check_conf_level

CI_METHODS = ("log-log", "log", "plain")


@dataclass(frozen=True)
class KaplanMeierResult(TidyResult):
    """Kaplan-Meier curve.

    Attributes
    ----------
    table
        One row per distinct observed time: ``time``, ``n_risk``, ``n_event``, ``n_censored``,
        ``survival``, ``se`` (Greenwood, of Ŝ), ``se_log`` (of log Ŝ), ``ci_low``, ``ci_high``.
    median, median_ci_low, median_ci_high
        Median time and its interval (NaN when not reached).
    ci_method, conf_level, variance_method
        How the intervals were made.
    """

    table: pd.DataFrame
    n: int
    n_events: int
    median: float
    median_ci_low: float
    median_ci_high: float
    conf_level: float
    ci_method: str
    variance_method: str = "greenwood"

    def to_frame(self) -> pd.DataFrame:
        """The survival table (a copy)."""
        return self.table.copy()

    def survival_at(self, time: float) -> float:
        """Ŝ(time): the estimate at the last distinct time ≤ ``time`` (1 before the first)."""
        times = self.table["time"].to_numpy()
        idx = int(np.searchsorted(times, time, side="right")) - 1
        return 1.0 if idx < 0 else float(self.table["survival"].iloc[idx])


def _median_time(times: FloatArray, curve: FloatArray) -> float:
    """First time the curve is at or below one half, R's rule for an exact half."""
    tol = 1e-10
    below = np.nonzero(curve < 0.5 - tol)[0]
    half = np.nonzero(np.abs(curve - 0.5) <= tol)[0]
    if half.size:
        first = half[0]
        later = times[first + 1 :]
        return float((times[first] + later[0]) / 2) if later.size else float(times[first])
    return float(times[below[0]]) if below.size else math.nan


def kaplan_meier(
    time: ArrayLike,
    event: ArrayLike,
    *,
    conf_level: float = 0.95,
    ci_method: str = "log-log",
) -> KaplanMeierResult:
    """Kaplan-Meier estimate with Greenwood variance and a named pointwise CI.

    Parameters
    ----------
    time
        Follow-up time of each unit (non-negative).
    event
        1 (or True) if the event happened at ``time``, 0 if the unit was censored then.
    conf_level
        Two-sided coverage of the pointwise intervals.
    ci_method
        ``"log-log"`` (default), ``"log"`` or ``"plain"``.

    Returns
    -------
    KaplanMeierResult

    Examples
    --------
    >>> r = kaplan_meier([2, 3, 3, 5, 8, 9], [1, 1, 0, 1, 0, 1])
    >>> r.table["survival"].round(4).tolist()
    [0.8333, 0.6667, 0.4444, 0.4444, 0.0]
    >>> r.median, r.ci_method
    (5.0, 'log-log')
    """
    check_conf_level(conf_level)
    if ci_method not in CI_METHODS:
        raise StatsError(f"ci_method={ci_method!r}", expected="'log-log', 'log' or 'plain'")
    t = as_float_array(time, "time")
    e = as_float_array(event, "event")
    if t.shape != e.shape:
        raise StatsError(
            f"time has {t.size} values and event has {e.size}",
            expected="one time and one event indicator per unit",
        )
    if np.isnan(t).any() or np.isnan(e).any():
        raise StatsError(
            f"{int((np.isnan(t) | np.isnan(e)).sum())} units have a missing time or event",
            expected="complete data",
            hint="decide how those units should be censored and pass them explicitly",
        )
    if t.size == 0:
        raise StatsError("no units", expected="at least one time")
    if (t < 0).any():
        raise StatsError("negative times", expected="times ≥ 0")
    if not np.isin(e, (0.0, 1.0)).all():
        raise StatsError("event values other than 0/1", expected="1 = event, 0 = censored")
    times = np.unique(t)
    n_event = np.array([float(e[t == u].sum()) for u in times])
    n_at = np.array([float((t == u).sum()) for u in times])
    n_risk = t.size - np.concatenate(([0.0], np.cumsum(n_at)[:-1]))
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    cum = np.cumsum(terms)
    se_log = np.sqrt(cum)
    z = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        if ci_method == "log-log":
            valid = (surv > 0) & (surv < 1)
            log_s = np.log(np.where(valid, surv, 0.5))
            a = np.exp(-np.exp(np.log(-log_s) + z * se_log / log_s))
            b = np.exp(-np.exp(np.log(-log_s) - z * se_log / log_s))
            low = np.where(valid, np.minimum(a, b), np.nan)
            high = np.where(valid, np.maximum(a, b), np.nan)
            # Before the first event the curve is exactly 1 with no uncertainty (R: 1, 1).
            low = np.where(surv == 1, 1.0, low)
            high = np.where(surv == 1, 1.0, high)
        elif ci_method == "log":
            pos = surv > 0
            low = np.where(pos, surv * np.exp(-z * se_log), np.nan)
            high = np.where(pos, np.minimum(1.0, surv * np.exp(z * se_log)), np.nan)
        else:
            low = np.clip(surv - z * se_log * surv, 0.0, 1.0)
            high = np.clip(surv + z * se_log * surv, 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        # Where Ŝ = 0 the Greenwood sum is infinite and Ŝ·√sum undefined: NaN, as in R.
        se_surv = np.where(surv > 0, surv * se_log, np.nan)
    table = pd.DataFrame(
        {
            "time": times,
            "n_risk": n_risk.astype(np.int64),
            "n_event": n_event.astype(np.int64),
            "n_censored": (n_at - n_event).astype(np.int64),
            "survival": surv,
            "se": se_surv,
            "se_log": se_log,
            "ci_low": low,
            "ci_high": high,
        }
    )
    # The median's interval: first times the lower / upper curves reach one half.
    upper_curve = np.where(np.isnan(high), 1.0, high)
    lower_curve = np.where(np.isnan(low), 1.0, low)
    return KaplanMeierResult(
        table=table,
        n=int(t.size),
        n_events=int(e.sum()),
        median=_median_time(times, surv),
        median_ci_low=_median_time(times, lower_curve),
        median_ci_high=_median_time(times, upper_curve),
        conf_level=conf_level,
        ci_method=ci_method,
    )
