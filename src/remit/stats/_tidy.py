"""Shared plumbing of the small-sample functions: input checks and the tidy-result protocol.

Every result of :mod:`remit.stats` (outside the MMRM) is a frozen dataclass that mixes in
:class:`TidyResult`, which gives it ``to_dict()`` (JSON-ready plain Python values) and
``summary()`` (a short human-readable text) on top of its own ``to_frame()``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from remit.errors import DataWarning, StatsError

ArrayLike = Sequence[float] | npt.NDArray[Any] | pd.Series
FloatArray = npt.NDArray[np.float64]

#: Alternative hypotheses of the tests, declared once (the protocol mirrors them).
Alternative = Literal["two-sided", "less", "greater"]
ALTERNATIVES: tuple[Alternative, ...] = get_args(Alternative)


def plain(value: Any) -> Any:
    """Convert numpy scalars, arrays, tuples and DataFrames into plain JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, pd.DataFrame):
        return [plain(row) for row in value.to_dict(orient="records")]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


class TidyResult:
    """Mixin for frozen result dataclasses: ``to_dict()`` and ``summary()``."""

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain Python values (numbers, strings, lists, dicts)."""
        out: dict[str, Any] = plain(self)
        return out

    def summary(self) -> str:
        """A short text: the class name and the tidy table, numbers unrounded."""
        frame = self.to_frame()
        with pd.option_context("display.max_columns", None, "display.width", 200):
            return f"{type(self).__name__}\n{frame.to_string(index=False)}"


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    """One-dimensional float array from ``values``; refuses what is not numeric."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise StatsError(
            f"{name} holds values that are not numbers ({error})",
            expected="a one-dimensional sequence of numbers (NaN for missing)",
        ) from None
    if array.ndim != 1:
        raise StatsError(
            f"{name} has shape {array.shape}", expected="a one-dimensional sequence of numbers"
        )
    if np.isinf(array).any():
        raise StatsError(f"{name} contains infinite values", expected="finite numbers or NaN")
    return array


def paired_differences(
    before: ArrayLike, after: ArrayLike, *, nan_policy: str = "drop", min_n: int = 2
) -> tuple[FloatArray, FloatArray, int]:
    """Check a pair of columns and return the complete pairs and how many were dropped.

    Pairs where either value is NaN are dropped with a :class:`DataWarning` (``nan_policy=
    "drop"``) or refused (``"refuse"``).
    """
    x = as_float_array(before, "before")
    y = as_float_array(after, "after")
    if x.shape != y.shape:
        raise StatsError(
            f"before has {x.size} values and after has {y.size}",
            expected="two columns of the same length, one pair per row",
        )
    if nan_policy not in ("drop", "refuse"):
        raise StatsError(f"nan_policy={nan_policy!r}", expected="'drop' or 'refuse'")
    incomplete = np.isnan(x) | np.isnan(y)
    n_dropped = int(incomplete.sum())
    if n_dropped:
        if nan_policy == "refuse":
            raise StatsError(
                f"{n_dropped} of {x.size} pairs have a missing value",
                expected="complete pairs",
                hint="pass nan_policy='drop' to analyse complete pairs only",
            )
        warnings.warn(
            f"dropped {n_dropped} of {x.size} pairs with a missing value",
            DataWarning,
            stacklevel=3,
        )
    x, y = x[~incomplete], y[~incomplete]
    if x.size < min_n:
        raise StatsError(
            f"only {x.size} complete pairs",
            expected=f"at least {min_n}",
        )
    return x, y, n_dropped


def check_alternative(alternative: str) -> None:
    """Refuse an unknown alternative hypothesis."""
    if alternative not in ALTERNATIVES:
        raise StatsError(
            f"alternative={alternative!r}", expected="'two-sided', 'less' or 'greater'"
        )


def check_conf_level(conf_level: float) -> None:
    """Refuse a confidence level outside (0, 1)."""
    if not (isinstance(conf_level, int | float) and 0.0 < conf_level < 1.0):
        raise StatsError(f"conf_level={conf_level!r}", expected="a number between 0 and 1")
