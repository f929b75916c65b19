"""Answer checking and normalisation, missing rules, and the named-rule registry."""

from __future__ import annotations

import numpy as np
import pytest

from remit.errors import AnswerError, InputError, ScaleError
from remit.scales import (
    RULES,
    Bin,
    MissingRule,
    get_rule,
    load_scale,
    normalise_answer,
    score,
    validate_answers,
)
from remit.scales.model import apply_bins
from remit.scales.rules import time_in_bed_hours


def test_validate_returns_every_item_by_code() -> None:
    out = validate_answers("gad7", {"1": 2})
    assert list(out) == [it.code for it in load_scale("gad7").items]
    assert out["feeling_nervous"] == 2
    assert out["uncontrollable_worry"] is None


def test_int_keys_and_blank_strings() -> None:
    out = validate_answers("madrs", {1: 3, "2": "", "3": "  "})  # type: ignore[dict-item]
    assert out["apparent_sadness"] == 3
    assert out["reported_sadness"] is None
    assert out["inner_tension"] is None


def test_numpy_numbers_are_accepted() -> None:
    out = validate_answers("madrs", {"1": np.int64(3), "2": np.float64(4.0)})
    assert out["apparent_sadness"] == 3
    assert type(out["apparent_sadness"]) is int
    assert out["reported_sadness"] == 4
    vas = validate_answers("se_vas", {"1": np.float32(12.5)})
    assert vas["negative_mood"] == 12.5


def test_huge_number_is_out_of_range_not_a_crash() -> None:
    with pytest.raises(AnswerError, match="out of range"):
        validate_answers("se_vas", {"1": 10**400})
    with pytest.raises(AnswerError, match="out of range"):
        validate_answers("madrs", {"1": 10**400})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_and_infinity_are_refused(value: float) -> None:
    with pytest.raises(AnswerError):
        validate_answers("madrs", {"1": value})
    with pytest.raises(AnswerError):
        validate_answers("se_vas", {"1": value})


def test_answers_must_be_a_mapping() -> None:
    with pytest.raises(AnswerError, match="a mapping"):
        validate_answers("madrs", [1, 2, 3])  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [True, 1.5, None, ("1",)])
def test_odd_keys_are_refused(key: object) -> None:
    with pytest.raises(AnswerError, match="no item"):
        validate_answers("madrs", {key: 1})  # type: ignore[dict-item]


def test_blank_and_answer_for_the_same_item_keep_the_answer() -> None:
    out = validate_answers("madrs", {"10": 2, "suicidal_thoughts": None})
    assert out["suicidal_thoughts"] == 2
    out = validate_answers("madrs", {"suicidal_thoughts": None, "10": 2})
    assert out["suicidal_thoughts"] == 2


@pytest.mark.parametrize(
    ("given", "expected"), [("7:05", "07:05"), ("23:59", "23:59"), ("00:00:00", "00:00")]
)
def test_times_are_normalised(given: str, expected: str) -> None:
    psqi = load_scale("psqi")
    assert normalise_answer(psqi, psqi.item("1"), given) == expected


@pytest.mark.parametrize("given", ["24:00", "12:60", "noon", 2300, "12.30"])
def test_bad_times_are_refused(given: object) -> None:
    psqi = load_scale("psqi")
    with pytest.raises(AnswerError, match="clock time"):
        normalise_answer(psqi, psqi.item("1"), given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (True, True),
        ("yes", True),
        ("Y", True),
        (1, True),
        ("false", False),
        (0, False),
        ("n", False),
    ],
)
def test_yes_no_codings(given: object, expected: bool) -> None:
    sds = load_scale("sds")
    assert normalise_answer(sds, sds.item("not_working"), given) is expected


@pytest.mark.parametrize("given", [2, "maybe", 0.5, [True]])
def test_bad_yes_no_is_refused(given: object) -> None:
    sds = load_scale("sds")
    with pytest.raises(AnswerError, match="yes/no"):
        normalise_answer(sds, sds.item("not_working"), given)


def test_text_items_take_strings_only() -> None:
    psqi = load_scale("psqi")
    assert normalise_answer(psqi, psqi.item("5j_text"), "noise") == "noise"
    with pytest.raises(AnswerError, match="not text"):
        normalise_answer(psqi, psqi.item("5j_text"), 3)


def test_error_names_item_value_and_allowed_range() -> None:
    with pytest.raises(AnswerError) as info:
        validate_answers("pcl5", {"sleep": 9})
    err = info.value
    assert err.item == "sleep"
    assert "pcl5 item 20 (sleep): out of range: 9" in str(err)
    assert err.expected == "a whole number from 0 to 4"


def test_score_accepts_a_definition_object() -> None:
    d = load_scale("gad7")
    assert score(d, {str(i): 1 for i in range(1, 8)}).total == 7


# ---- missing rules ----


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "sometimes"}, "unknown"),
        ({"kind": "prorate", "max_missing": -1}, "max_missing"),
        ({"kind": "prorate", "max_missing": 1.5}, "max_missing"),
        ({"kind": "prorate", "max_missing": True}, "max_missing"),
        ({"kind": "none", "max_missing": 2}, "makes no sense"),
        ({"skipped": "drop"}, "skipped-item rule"),
    ],
)
def test_bad_missing_rules_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        MissingRule(**kwargs)  # type: ignore[arg-type]


def test_missing_rule_describes_itself() -> None:
    assert MissingRule().describe() == "no missing item allowed"
    assert MissingRule("prorate", 1).describe() == "prorate when at most 1 item is missing"
    assert MissingRule("prorate", 2, "prorate").describe() == (
        "prorate when at most 2 items are missing; skipped items: prorate"
    )


def test_prorating_with_zero_allowed_is_like_none() -> None:
    answers = {str(i): 2 for i in range(1, 10)}
    assert score("madrs", answers, missing=MissingRule("prorate", 0)).total is None


# ---- rules and bins ----


def test_rule_registry() -> None:
    assert {
        "item",
        "any_true",
        "cssrs_ideation",
        "cssrs_intensity",
        "psqi_sleep_efficiency",
        "pcl5_provisional",
        "total_at_least",
    } <= set(RULES)
    with pytest.raises(ScaleError, match="unknown") as info:
        get_rule("psqi_magic")
    assert "psqi_sleep_efficiency" in str(info.value)


def test_time_in_bed_across_midnight() -> None:
    assert time_in_bed_hours("22:00", "06:00") == 8
    assert time_in_bed_hours("02:15", "10:00") == 7.75
    assert time_in_bed_hours("06:00", "22:00") == 16  # a day sleeper
    assert time_in_bed_hours("07:00", "07:00") is None
    assert time_in_bed_hours(None, "07:00") is None


def test_bins() -> None:
    bins = (Bin(0, ge=85), Bin(1, ge=75), Bin(2, ge=65), Bin(3))
    assert [apply_bins(bins, x) for x in (100, 85, 84.9, 75, 65, 64.9, 0)] == [0, 0, 1, 1, 2, 3, 3]
    assert bins[0].describe() == ">= 85 -> 0"
    assert bins[-1].describe() == "otherwise -> 3"
    with pytest.raises(ScaleError, match="no recode bin"):
        apply_bins((Bin(0, lt=1),), 5)
