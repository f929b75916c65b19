"""BDI-II, GAD-7, ISI and the subjective-effects VAS: worked examples and edge cases."""

from __future__ import annotations

import pytest

from remit.errors import AnswerError
from remit.scales import MissingRule, score

# ---- BDI-II ----

BDI = {str(i): 1 for i in range(1, 22)} | {"16": "2b", "18": "1a", "9": 0}


def test_bdi2_worked_example_with_lettered_options() -> None:
    r = score("bdi2", BDI)
    # 18 items at 1, item 9 at 0, item 16 "2b" -> 2, item 18 "1a" -> 1
    assert r.total == 18 + 0 + 2 + 1
    assert r.band == "moderate"  # 20-28
    assert r.answers["changes_in_sleeping_pattern"] == "2b"
    assert r.derived["suicidal_thoughts"] == 0


@pytest.mark.parametrize(
    ("option", "points"),
    [("0", 0), ("1a", 1), ("1b", 1), ("2a", 2), ("2b", 2), ("3a", 3), ("3b", 3)],
)
def test_bdi2_item_16_recode(option: str, points: int) -> None:
    base = {str(i): 0 for i in range(1, 22)} | {"18": "0"}
    assert score("bdi2", base | {"16": option}).total == points


def test_bdi2_plain_zero_is_accepted_for_lettered_items() -> None:
    base = {str(i): 0 for i in range(1, 22)} | {"16": 0, "18": 0}
    assert score("bdi2", base).total == 0


@pytest.mark.parametrize("value", [1, 2, "1c", "4a", True])
def test_bdi2_ambiguous_or_unknown_lettered_option_is_refused(value: object) -> None:
    with pytest.raises(AnswerError, match="'1a'") as info:
        score("bdi2", BDI | {"18": value})
    assert info.value.item == "changes_in_appetite"


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (13, "minimal"),
        (14, "mild"),
        (19, "mild"),
        (20, "moderate"),
        (28, "moderate"),
        (29, "severe"),
        (63, "severe"),
    ],
)
def test_bdi2_bands(total: int, band: str) -> None:
    answers: dict[str, object] = {}
    remaining = total
    for i in range(1, 22):
        points = min(3, remaining)
        remaining -= points
        answers[str(i)] = f"{points}a" if i in (16, 18) and points else points
    r = score("bdi2", answers)
    assert (r.total, r.band) == (total, band)


def test_bdi2_missing_item() -> None:
    r = score("bdi2", BDI | {"5": None})
    assert r.total is None
    assert r.n_missing == 1


# ---- GAD-7 ----


def test_gad7_worked_example() -> None:
    r = score("gad7", {"1": 2, "2": 2, "3": 3, "4": 1, "5": 0, "6": 1, "7": 2, "8": "1"})
    assert r.total == 11
    assert r.band == "moderate"
    assert r.answers["difficulty"] == "1"


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands(total: int, band: str) -> None:
    answers = {}
    remaining = total
    for i in range(1, 8):
        answers[str(i)] = min(3, remaining)
        remaining -= answers[str(i)]
    assert score("gad7", answers).band == band


def test_gad7_difficulty_question_is_not_scored_nor_required() -> None:
    answers = {str(i): 3 for i in range(1, 8)}
    r = score("gad7", answers)
    assert r.total == 21
    assert r.n_missing == 0
    with pytest.raises(AnswerError, match="not one of the options"):
        score("gad7", answers | {"8": "4"})


def test_gad7_one_missing_and_prorated() -> None:
    answers = {str(i): 2 for i in range(1, 7)}
    assert score("gad7", answers).total is None
    r = score("gad7", answers, missing=MissingRule("prorate", 1))
    assert r.total == 14
    assert r.prorated


# ---- ISI ----


def test_isi_worked_example_and_bands() -> None:
    r = score("isi", {"1": 3, "2": 3, "3": 2, "4": 3, "5": 2, "6": 3, "7": 2})
    assert r.total == 18
    assert r.band == "moderate clinical insomnia"
    assert (
        score("isi", {str(i): 1 for i in range(1, 8)}).band == "no clinically significant insomnia"
    )
    assert score("isi", {str(i): 2 for i in range(1, 8)}).band == "subthreshold insomnia"
    assert score("isi", {str(i): 4 for i in range(1, 8)}).band == "severe clinical insomnia"


def test_isi_out_of_range() -> None:
    with pytest.raises(AnswerError, match="0 to 4") as info:
        score("isi", {"7": 5})
    assert info.value.item == "interference"


# ---- subjective-effects VAS ----


def test_vas_items_are_reported_separately() -> None:
    answers = {str(i): i * 5.5 for i in range(1, 16)}
    r = score("se_vas", answers)
    assert r.total is None
    assert r.band is None
    assert r.answers["negative_mood"] == 5.5
    assert r.answers["emotional_distress"] == 82.5
    assert r.n_missing == 0
    assert "no total" in r.summary()


@pytest.mark.parametrize("value", [100.5, -1, "far", True])
def test_vas_refuses_out_of_range(value: object) -> None:
    with pytest.raises(AnswerError) as info:
        score("se_vas", {"euphoria": value})
    assert info.value.item == "euphoria"
