"""PCL-5: total, clusters B-E, provisional PTSD by the DSM-5 rule and by the cut-off."""

from __future__ import annotations

import pytest

from remit.errors import AnswerError
from remit.scales import score


def _answers(values: list[int | None]) -> dict[str, int | None]:
    return {str(i): v for i, v in enumerate(values, start=1)}


#          B: 1-5          C: 6-7  D: 8-14                E: 15-20
MEETS = [3, 2, 1, 0, 1, 2, 0, 0, 2, 1, 2, 1, 0, 1, 2, 0, 2, 1, 0, 1]


def test_worked_example_meets_the_dsm5_rule() -> None:
    r = score("pcl5", _answers(MEETS))
    assert r.total == 22
    assert r.subscales == {
        "intrusion": 7,
        "avoidance": 2,
        "negative_cognition_mood": 7,
        "arousal_reactivity": 6,
    }
    assert r.derived["provisional_ptsd"] is True
    assert r.derived["provisional_ptsd_cutoff"] is False  # 22 < 33


def test_one_d_item_short_of_the_rule() -> None:
    values = list(MEETS)
    values[10] = 1  # item 11: D now has one endorsed item (item 9)
    r = score("pcl5", _answers(values))
    assert r.derived["provisional_ptsd"] is False


def test_no_c_item_endorsed() -> None:
    values = list(MEETS)
    values[5] = 1
    assert score("pcl5", _answers(values)).derived["provisional_ptsd"] is False


def test_cutoff_variant() -> None:
    assert score("pcl5", _answers([2] * 16 + [1] * 4)).total == 36
    assert score("pcl5", _answers([2] * 16 + [1] * 4)).derived["provisional_ptsd_cutoff"] is True
    r = score("pcl5", _answers([1] * 19 + [4]))  # 23, one E item only
    assert r.derived["provisional_ptsd_cutoff"] is False
    assert r.derived["provisional_ptsd"] is False
    thirty_three = _answers([1] * 7 + [2] * 13)
    assert score("pcl5", thirty_three).total == 33
    assert score("pcl5", thirty_three).derived["provisional_ptsd_cutoff"] is True


def test_missing_items_leave_the_rule_undecided_or_decided() -> None:
    values: list[int | None] = list(MEETS)
    values[6] = None  # item 7 (C) missing; item 6 already endorses C
    r = score("pcl5", _answers(values))
    assert r.total is None
    assert r.subscales["avoidance"] is None
    assert r.derived["provisional_ptsd"] is True
    assert r.derived["provisional_ptsd_cutoff"] is None
    undecided: list[int | None] = list(MEETS)
    undecided[5] = None  # item 6 missing, item 7 is 0: C could go either way
    assert score("pcl5", _answers(undecided)).derived["provisional_ptsd"] is None
    decided_no: list[int | None] = [0] * 20
    decided_no[0] = None
    assert score("pcl5", _answers(decided_no)).derived["provisional_ptsd"] is False


def test_all_missing() -> None:
    r = score("pcl5", {})
    assert r.total is None
    assert r.n_missing == 20
    assert r.derived["provisional_ptsd"] is None


@pytest.mark.parametrize("value", [5, -1, 2.5, "x"])
def test_bad_answer_is_refused(value: object) -> None:
    with pytest.raises(AnswerError) as info:
        score("pcl5", _answers(MEETS) | {"20": value})
    assert info.value.item == "sleep"
