"""Everything usually reported for a before/after comparison in the same people, in one call."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd

from remit.errors import DataWarning
from remit.stats._tidy import ArrayLike, TidyResult, paired_differences
from remit.stats.effect_size import EffectSizeResult, paired_effect_sizes
from remit.stats.paired import (
    HodgesLehmannResult,
    PairedTResult,
    WilcoxonResult,
    hodges_lehmann,
    paired_t,
    wilcoxon_signed_rank,
)


@dataclass(frozen=True)
class PairedComparisonResult(TidyResult):
    """Paired t-test, Wilcoxon signed-rank, Hodges-Lehmann and effect sizes of one change.

    Attributes
    ----------
    n, n_dropped
        Complete pairs analysed and incomplete pairs dropped.
    t_test, wilcoxon, hodges_lehmann, effect_sizes
        The individual results (each names its conventions).
    """

    n: int
    n_dropped: int
    t_test: PairedTResult
    wilcoxon: WilcoxonResult
    hodges_lehmann: HodgesLehmannResult
    effect_sizes: EffectSizeResult

    def to_frame(self) -> pd.DataFrame:
        """One row per reported quantity: ``quantity``, ``estimate``, CI, p-value, method."""
        t, w, hl = self.t_test, self.wilcoxon, self.hodges_lehmann
        rows = [
            {
                "quantity": "mean difference",
                "estimate": t.mean_difference,
                "ci_low": t.ci_low,
                "ci_high": t.ci_high,
                "statistic": t.t,
                "df": t.df,
                "p_value": t.p_value,
                "method": "paired t",
            },
            {
                "quantity": "Wilcoxon signed-rank V",
                "estimate": float("nan"),
                "ci_low": float("nan"),
                "ci_high": float("nan"),
                "statistic": w.statistic,
                "df": float("nan"),
                "p_value": w.p_value,
                "method": f"{w.p_value_method} ({w.convention} convention)",
            },
            {
                "quantity": "Hodges-Lehmann pseudo-median",
                "estimate": hl.estimate,
                "ci_low": hl.ci_low,
                "ci_high": hl.ci_high,
                "statistic": float("nan"),
                "df": float("nan"),
                "p_value": float("nan"),
                "method": hl.ci_method,
            },
        ]
        for _, es in self.effect_sizes.to_frame().iterrows():
            rows.append(
                {
                    "quantity": str(es["effect_size"]),
                    "estimate": es["estimate"],
                    "ci_low": es["ci_low"],
                    "ci_high": es["ci_high"],
                    "statistic": float("nan"),
                    "df": self.effect_sizes.df,
                    "p_value": float("nan"),
                    "method": str(es["ci_method"]),
                }
            )
        return pd.DataFrame(rows)


def compare_paired(
    before: ArrayLike,
    after: ArrayLike,
    *,
    conf_level: float = 0.95,
    convention: str = "R",
    alternative: str = "two-sided",
    nan_policy: str = "drop",
) -> PairedComparisonResult:
    """Paired t, Wilcoxon (three p-values), Hodges-Lehmann and d_z / d_av / g of a change.

    Parameters
    ----------
    before, after
        The two measurements of each unit, in the same order (at least 3 complete pairs).
    conf_level
        Coverage of every interval.
    convention
        Which Wilcoxon p-value is reported: ``"R"`` (default) or ``"scipy"``.
    alternative
        For the t and Wilcoxon tests: ``"two-sided"``, ``"less"`` or ``"greater"``.
    nan_policy
        ``"drop"`` incomplete pairs (one warning, counted in ``n_dropped``) or ``"refuse"``.

    Returns
    -------
    PairedComparisonResult

    Examples
    --------
    >>> r = compare_paired([30, 28, 35, 31, 27, 33], [20, 22, 30, 22, 24, 26])
    >>> r.n, r.wilcoxon.p_value_method, round(r.t_test.mean_difference, 4)
    (6, 'exact', -6.6667)
    """
    _, _, n_dropped = paired_differences(before, after, nan_policy=nan_policy, min_n=3)
    with warnings.catch_warnings():
        # The drop was announced once above; the parts would repeat it.
        warnings.simplefilter("ignore", DataWarning)
        t = paired_t(before, after, alternative=alternative, conf_level=conf_level)
        w = wilcoxon_signed_rank(before, after, alternative=alternative, convention=convention)
        hl = hodges_lehmann(before, after, conf_level=conf_level)
        es = paired_effect_sizes(before, after, conf_level=conf_level)
    return PairedComparisonResult(
        n=t.n, n_dropped=n_dropped, t_test=t, wilcoxon=w, hodges_lehmann=hl, effect_sizes=es
    )
