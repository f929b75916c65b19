"""The report's single number formatter."""

from __future__ import annotations

import math

import pytest

from remit.reports.format import DECIMALS, fmt, fmt_ci, fmt_count, fmt_mean_sd


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (29.583, "score", "29.6"),
        (-19.25, "estimate", "−19.2"),  # round half to even on the binary value
        (-19.35, "estimate", "−19.4"),
        (-0.04, "estimate", "0.0"),  # no negative zero
        (0.0004, "p", "<0.001"),
        (0.001, "p", "0.001"),
        (0.0123, "p", "0.012"),
        (1.0, "p", "1.000"),
        (-2.1195, "effect", "−2.12"),
        (12, "count", "12"),
        (72.72727, "percent", "72.7%"),
        (0.390257, "proportion", "0.39"),
        (37.3, "temperature", "37.3"),
        (169.0, "vital", "169"),
    ],
)
def test_fmt_kinds(value: float, kind: str, text: str) -> None:
    assert fmt(value, kind) == text  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", [None, math.nan, float("nan"), "text", True])
def test_fmt_missing_is_an_en_dash(missing: object) -> None:
    assert fmt(missing) == "–"


def test_fmt_infinities() -> None:
    assert fmt(math.inf) == "∞"
    assert fmt(-math.inf) == "−∞"


def test_every_kind_has_decimals() -> None:
    assert all(isinstance(d, int) and d >= 0 for d in DECIMALS.values())
    assert DECIMALS["p"] == 3


def test_composites() -> None:
    assert fmt_ci(-21.533, -11.878) == "−21.5 to −11.9"
    assert fmt_ci(0.39, 0.94, "proportion") == "0.39 to 0.94"
    assert fmt_count(8, 11) == "8/11 (72.7%)"
    assert fmt_count(8, 11, 50.0) == "8/11 (50.0%)"
    assert fmt_count(0, 0) == "0/0"
    assert fmt_count(None, 3) == "–"
    assert fmt_mean_sd(28.833, 4.0189) == "28.8 (4.0)"
    assert fmt_mean_sd(37.3, 7e-15, "temperature") == "37.3 (0.0)"
