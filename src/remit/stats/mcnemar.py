"""Exact McNemar test for a change of a binary status between two occasions in the same units.

Only discordant pairs carry information: b units changed from *no* to *yes*, c from *yes* to
*no*. Under no change b ~ Binomial(b + c, ½); the two-sided exact p-value is
min(1, 2·P(X ≤ min(b, c))) (R's ``binom.test`` on the discordant pairs, and
``statsmodels.stats.contingency_tables.mcnemar(exact=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from remit.errors import StatsError
from remit.stats._tidy import ArrayLike, TidyResult, as_float_array, check_conf_level


@dataclass(frozen=True)
class McNemarResult(TidyResult):
    """Exact McNemar test.

    Attributes
    ----------
    table
        2×2 counts ``((both no, no→yes), (yes→no, both yes))``: rows are the first occasion
        (no, yes), columns the second.
    b, c
        Discordant counts: no→yes and yes→no.
    p_value, p_value_method
        Two-sided exact binomial p-value on the discordant pairs (``"exact-binomial"``).
    proportion_first, proportion_second, difference
        Proportion *yes* at each occasion and second − first.
    odds_ratio, ci_low, ci_high, ci_method
        Conditional odds ratio b/c with the exact CI from the Clopper-Pearson interval of
        b/(b + c) (``"clopper-pearson-conditional"``).
    """

    table: tuple[tuple[int, int], tuple[int, int]]
    n: int
    n_dropped: int
    b: int
    c: int
    p_value: float
    p_value_method: str
    proportion_first: float
    proportion_second: float
    difference: float
    odds_ratio: float
    ci_low: float
    ci_high: float
    conf_level: float
    ci_method: str

    def to_frame(self) -> pd.DataFrame:
        """One row: counts, test and odds ratio."""
        row = self.to_dict()
        row.pop("table")
        (a, _), (_, d) = self.table
        row.update({"n_no_no": a, "n_yes_yes": d})
        return pd.DataFrame([row])


def mcnemar_exact(
    first: ArrayLike | None = None,
    second: ArrayLike | None = None,
    *,
    table: tuple[tuple[int, int], tuple[int, int]] | None = None,
    conf_level: float = 0.95,
) -> McNemarResult:
    """Exact McNemar test from paired 0/1 statuses or from a 2×2 table.

    Parameters
    ----------
    first, second
        Status (1/True = yes, 0/False = no, NaN = missing) of each unit at the two occasions.
        Units with a missing status at either occasion are dropped and counted.
    table
        Alternatively the 2×2 counts, rows = first occasion (no, yes), columns = second.
    conf_level
        Coverage of the odds-ratio interval.

    Returns
    -------
    McNemarResult

    Examples
    --------
    >>> r = mcnemar_exact([0, 0, 0, 0, 0, 1, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1, 0, 1, 0, 1])
    >>> r.table, r.b, r.c
    (((1, 6), (1, 2)), 6, 1)
    >>> round(r.p_value, 6)
    0.125
    """
    check_conf_level(conf_level)
    n_dropped = 0
    if table is not None:
        if first is not None or second is not None:
            raise StatsError("both statuses and a table were given", expected="one or the other")
        counts = np.asarray(table)
        if counts.shape != (2, 2) or (counts < 0).any() or (counts != np.round(counts)).any():
            raise StatsError(f"table={table!r}", expected="a 2×2 table of non-negative counts")
        counts = counts.astype(np.int64)
    else:
        if first is None or second is None:
            raise StatsError("statuses missing", expected="first and second, or table=")
        x = as_float_array(first, "first")
        y = as_float_array(second, "second")
        if x.shape != y.shape:
            raise StatsError(
                f"first has {x.size} values and second has {y.size}",
                expected="one status per unit at each occasion",
            )
        keep = ~(np.isnan(x) | np.isnan(y))
        n_dropped = int((~keep).sum())
        x, y = x[keep], y[keep]
        bad = ~np.isin(x, (0.0, 1.0)) | ~np.isin(y, (0.0, 1.0))
        if bad.any():
            raise StatsError(
                f"{int(bad.sum())} statuses are neither 0 nor 1",
                expected="binary statuses (0/1, False/True)",
            )
        counts = np.array(
            [
                [int(((x == 0) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())],
                [int(((x == 1) & (y == 0)).sum()), int(((x == 1) & (y == 1)).sum())],
            ]
        )
    n = int(counts.sum())
    if n == 0:
        raise StatsError("no complete pairs", expected="at least one unit seen twice")
    b, c = int(counts[0, 1]), int(counts[1, 0])
    m = b + c
    p = 1.0 if m == 0 else min(1.0, 2.0 * float(sps.binom.cdf(min(b, c), m, 0.5)))
    a = (1 - conf_level) / 2
    if m == 0:
        lo_p, hi_p = 0.0, 1.0
    else:
        lo_p = 0.0 if b == 0 else float(sps.beta.ppf(a, b, m - b + 1))
        hi_p = 1.0 if b == m else float(sps.beta.ppf(1 - a, b + 1, m - b))
    odds = float("nan") if m == 0 else (float("inf") if c == 0 else b / c)
    return McNemarResult(
        table=(
            (int(counts[0, 0]), int(counts[0, 1])),
            (int(counts[1, 0]), int(counts[1, 1])),
        ),
        n=n,
        n_dropped=n_dropped,
        b=b,
        c=c,
        p_value=p,
        p_value_method="exact-binomial",
        proportion_first=float(counts[1].sum()) / n,
        proportion_second=float(counts[:, 1].sum()) / n,
        difference=(b - c) / n,
        odds_ratio=odds,
        ci_low=lo_p / (1 - lo_p) if lo_p < 1 else float("inf"),
        ci_high=hi_p / (1 - hi_p) if hi_p < 1 else float("inf"),
        conf_level=conf_level,
        ci_method="clopper-pearson-conditional",
    )
