"""MADRS worked examples (Montgomery & Åsberg 1979; bands 0-6, 7-19, 20-34, 35-60)."""

from __future__ import annotations

import pytest

from remit.errors import AnswerError
from remit.scales import MissingRule, score

# A moderately depressed participant: items 1-10.
EXAMPLE = {"1": 4, "2": 4, "3": 3, "4": 4, "5": 2, "6": 3, "7": 3, "8": 4, "9": 3, "10": 2}


def test_worked_example_total_and_band() -> None:
    r = score("madrs", EXAMPLE)
    assert r.total == 32
    assert r.band == "moderate"
    assert r.n_missing == 0
    assert not r.prorated
    assert r.notes == ()
    assert r.derived["suicidal_thoughts"] == 2
    assert r.answers["suicidal_thoughts"] == 2


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "normal"),
        (6, "normal"),
        (7, "mild"),
        (19, "mild"),
        (20, "moderate"),
        (34, "moderate"),
        (35, "severe"),
        (60, "severe"),
    ],
)
def test_band_boundaries(total: int, band: str) -> None:
    answers = {str(i): 0 for i in range(1, 11)}
    remaining = total
    for i in range(1, 11):
        answers[str(i)] = min(6, remaining)
        remaining -= answers[str(i)]
    r = score("madrs", answers)
    assert (r.total, r.band) == (total, band)


def test_keys_by_code_and_number_mix() -> None:
    answers = {k: v for k, v in EXAMPLE.items() if k != "10"} | {"suicidal_thoughts": 2}
    assert score("madrs", answers).total == 32


def test_one_missing_makes_the_total_missing_by_default() -> None:
    answers = dict(EXAMPLE) | {"4": None}
    r = score("madrs", answers)
    assert r.total is None
    assert r.band is None
    assert r.n_missing == 1
    assert not r.prorated
    assert "1 of 10 items missing" in r.notes[0]


def test_one_missing_prorated_when_the_protocol_allows() -> None:
    answers = {k: v for k, v in EXAMPLE.items() if k != "4"}  # absent = missing
    r = score("madrs", answers, missing=MissingRule("prorate", max_missing=1))
    # 28 over 9 answered items, times 10
    assert r.total == pytest.approx(28 / 9 * 10)
    assert r.prorated
    assert r.n_missing == 1
    assert r.notes == ("total prorated from 9 of 10 items",)
    assert r.band == "moderate"


def test_two_missing_exceed_the_prorating_limit() -> None:
    answers = dict(EXAMPLE) | {"4": None, "5": None}
    r = score("madrs", answers, missing=MissingRule("prorate", max_missing=1))
    assert r.total is None
    assert r.n_missing == 2
    assert not r.prorated


def test_all_missing() -> None:
    r = score("madrs", {})
    assert r.total is None
    assert r.band is None
    assert r.n_missing == 10
    r = score("madrs", {str(i): None for i in range(1, 11)}, missing=MissingRule("prorate", 1))
    assert r.total is None
    assert r.n_missing == 10
    assert r.derived["suicidal_thoughts"] is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (7, "out of range"),
        (-1, "out of range"),
        (3.5, "not a whole number"),
        ("3.5", "not a whole number"),
        ("three", "not a whole number"),
        (True, "yes/no"),
        ([3], "not a whole number"),
    ],
)
def test_bad_answers_are_refused_naming_the_item(value: object, why: str) -> None:
    with pytest.raises(AnswerError) as info:
        score("madrs", dict(EXAMPLE) | {"10": value})
    assert info.value.item == "suicidal_thoughts"
    message = str(info.value)
    assert why in message
    assert "item 10" in message
    assert repr(value) in message
    assert "0 to 6" in message


def test_whole_number_text_and_float_are_accepted() -> None:
    r = score("madrs", dict(EXAMPLE) | {"1": "4", "2": 4.0, "3": " 3 "})
    assert r.total == 32
    assert r.answers["apparent_sadness"] == 4
    assert isinstance(r.answers["reported_sadness"], int)


def test_unknown_item_is_refused() -> None:
    with pytest.raises(AnswerError) as info:
        score("madrs", dict(EXAMPLE) | {"11": 2})
    assert info.value.item == "11"
    assert "madrs has no item '11'" in str(info.value)


def test_same_item_twice_with_different_answers_is_refused() -> None:
    with pytest.raises(AnswerError, match="answered twice") as info:
        score("madrs", dict(EXAMPLE) | {"suicidal_thoughts": 3})
    assert info.value.item == "suicidal_thoughts"
    # the same answer twice is harmless
    assert score("madrs", dict(EXAMPLE) | {"suicidal_thoughts": 2}).total == 32


def test_result_shapes() -> None:
    r = score("madrs", EXAMPLE)
    d = r.to_dict()
    assert d["scale"] == "madrs"
    assert d["total"] == 32
    assert d["answers"]["apparent_sadness"] == 4
    frame = r.to_frame()
    assert list(frame.columns) == ["scale", "version", "kind", "name", "value"]
    assert frame.loc[frame["name"] == "suicidal_thoughts"].shape[0] == 2  # derived + item
    assert "total 32 — moderate" in r.summary()
    with pytest.raises(AttributeError):
        r.total = 1  # type: ignore[misc]
