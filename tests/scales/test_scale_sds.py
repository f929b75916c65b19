"""Sheehan Disability Scale: total of items 1-3, the not-working box, days lost/unproductive."""

from __future__ import annotations

import pytest

from remit.errors import AnswerError
from remit.scales import MissingRule, score

EXAMPLE = {"1": 6, "2": 4, "3": 7, "4": 2, "5": 3}


def test_worked_example() -> None:
    r = score("sds", EXAMPLE)
    assert r.total == 17
    assert r.band is None  # no bands are published in the reference rules
    assert r.derived["days_lost"] == 2
    assert r.derived["days_unproductive"] == 3
    assert r.derived["not_working"] is False
    assert r.derived["significant_impairment"] is True
    assert r.notes == ()
    assert not r.prorated


def test_no_item_at_5_or_more_is_not_significant_impairment() -> None:
    r = score("sds", {"1": 4, "2": 4, "3": 0})
    assert r.derived["significant_impairment"] is False
    assert r.derived["days_lost"] is None  # optional extra items left blank
    assert r.n_missing == 0


def test_not_working_scores_items_2_and_3_without_prorating_by_default() -> None:
    r = score("sds", {"not_working": True, "2": 4, "3": 6})
    assert r.total == 10
    assert not r.prorated
    assert r.n_missing == 0
    assert r.derived["not_working"] is True
    assert r.derived["significant_impairment"] is True
    assert r.notes == (
        "SDS item 1 not scored: not working for reasons unrelated to the disorder; "
        "total from the other 2 items, not prorated",
    )


def test_not_working_prorated_times_one_and_a_half_as_a_setting() -> None:
    r = score("sds", {"not_working": True, "2": 4, "3": 6}, missing=MissingRule(skipped="prorate"))
    assert r.total == 15
    assert r.prorated
    assert "total scaled up to all items" in r.notes[0]
    assert r.notes[1] == "total prorated from 2 of 3 items"


def test_item_1_answered_while_not_working_is_refused() -> None:
    with pytest.raises(AnswerError, match="skips it") as info:
        score("sds", {"not_working": True, "1": 3, "2": 4, "3": 6})
    assert info.value.item == "work_school"


def test_one_missing_item_makes_the_total_missing() -> None:
    r = score("sds", {"1": 5, "2": 5})
    assert r.total is None
    assert r.n_missing == 1
    r = score("sds", {"1": 5, "2": 5}, missing=MissingRule("prorate", 1))
    assert r.total == 15
    assert r.prorated


def test_all_missing() -> None:
    r = score("sds", {})
    assert r.total is None
    assert r.n_missing == 3
    assert r.derived["significant_impairment"] is None


@pytest.mark.parametrize(("key", "value"), [("1", 11), ("days_lost", 8), ("3", 2.5), ("2", -1)])
def test_out_of_range_or_non_integer_is_refused(key: str, value: object) -> None:
    with pytest.raises(AnswerError) as info:
        score("sds", EXAMPLE | {key: value})
    assert info.value.item is not None
    assert repr(value) in str(info.value)
