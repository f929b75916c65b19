"""The one place where the report turns numbers into text.

Every number the report prints passes through :func:`fmt` (or :func:`fmt_ci` /
:func:`fmt_count`, which call it), so a test can take a number from
``AnalysisResult.to_dict()``, format it with the same helper and find it in the HTML.

Conventions: a fixed number of decimals per kind of quantity (:data:`DECIMALS`); the minus
sign is U+2212 (−); a missing value (``None``, NaN) prints as an en dash (–); p-values below
0.001 print as ``<0.001``.

Examples
--------
>>> fmt(-19.25, "estimate"), fmt(0.0004, "p"), fmt(0.0123, "p"), fmt(float("nan"))
('−19.2', '<0.001', '0.012', '–')
>>> fmt_ci(-23.8, -14.8), fmt_count(9, 12)
('−23.8 to −14.8', '9/12 (75.0%)')
"""

from __future__ import annotations

import math
from typing import Literal

Kind = Literal[
    "score",
    "estimate",
    "sd",
    "se",
    "df",
    "stat",
    "effect",
    "p",
    "percent",
    "proportion",
    "count",
    "mg",
    "vital",
    "temperature",
    "days",
    "hours",
    "rho",
]

#: Decimals printed for each kind of quantity.
DECIMALS: dict[str, int] = {
    "score": 1,
    "estimate": 1,
    "sd": 1,
    "se": 1,
    "df": 1,
    "stat": 1,
    "effect": 2,
    "p": 3,
    "percent": 1,
    "proportion": 2,
    "count": 0,
    "mg": 0,
    "vital": 0,
    "temperature": 1,
    "days": 0,
    "hours": 1,
    "rho": 2,
}

MISSING = "–"
MINUS = "−"
P_FLOOR = 0.001


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool | str):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def fmt(value: object, kind: Kind = "score") -> str:
    """Format one number for the report.

    Parameters
    ----------
    value
        The number (``None`` or NaN print as an en dash).
    kind
        What the number is; chooses the decimals (:data:`DECIMALS`) and, for ``"p"``, the
        ``<0.001`` floor; ``"percent"`` adds a ``%`` sign.

    Returns
    -------
    str
        The text printed in the report.

    Examples
    --------
    >>> fmt(29.583), fmt(4.9, "sd"), fmt(0.5, "effect"), fmt(12, "count"), fmt(75, "percent")
    ('29.6', '4.9', '0.50', '12', '75.0%')
    >>> fmt(float("inf"))
    '∞'
    """
    number = _number(value)
    if number is None:
        return MISSING
    if math.isinf(number):
        return "∞" if number > 0 else MINUS + "∞"
    if kind == "p" and number < P_FLOOR:
        return f"<{P_FLOOR:.{DECIMALS['p']}f}"
    decimals = DECIMALS.get(kind, 1)
    text = f"{number:.{decimals}f}"
    if text.startswith("-"):
        # −0.0 after rounding is 0.0
        text = MINUS + text[1:] if float(text) != 0 else text[1:]
    return text + ("%" if kind == "percent" else "")


def fmt_ci(low: object, high: object, kind: Kind = "estimate") -> str:
    """Format a confidence interval as ``low to high``.

    Examples
    --------
    >>> fmt_ci(0.4281, 0.9452, "proportion")
    '0.43 to 0.95'
    """
    return f"{fmt(low, kind)} to {fmt(high, kind)}"


def fmt_count(k: object, n: object, percent: object | None = None) -> str:
    """Format a count of ``n`` with its percentage, e.g. ``9/12 (75.0%)``.

    ``percent`` is printed when given (e.g. a proportion × 100 from the result); otherwise
    it is ``100 · k / n`` (a display of the count, not a statistic).

    Examples
    --------
    >>> fmt_count(0, 0), fmt_count(3, 12, 25.0)
    ('0/0', '3/12 (25.0%)')
    """
    kk, nn = _number(k), _number(n)
    if kk is None or nn is None:
        return MISSING
    head = f"{fmt(kk, 'count')}/{fmt(nn, 'count')}"
    if percent is None:
        if nn == 0:
            return head
        percent = 100.0 * kk / nn
    return f"{head} ({fmt(percent, 'percent')})"


def fmt_mean_sd(mean: object, sd: object, kind: Kind = "score") -> str:
    """Format ``mean (SD)``.

    Examples
    --------
    >>> fmt_mean_sd(29.6, 4.93)
    '29.6 (4.9)'
    """
    return f"{fmt(mean, kind)} ({fmt(sd, 'sd')})"


__all__ = ["DECIMALS", "MINUS", "MISSING", "Kind", "fmt", "fmt_ci", "fmt_count", "fmt_mean_sd"]
