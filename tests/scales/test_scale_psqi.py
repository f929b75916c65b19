"""PSQI: the seven components and the global score (Buysse et al. 1989)."""

from __future__ import annotations

import pytest

from remit.errors import AnswerError
from remit.scales import score

# Bed 23:00, 40 min to fall asleep, up 07:00, 6.5 h asleep; some disturbances.
EXAMPLE: dict[str, object] = {
    "1": "23:00",
    "2": 40,
    "3": "07:00",
    "4": 6.5,
    "5a": 2,
    "5b": 3,
    "5c": 1,
    "5d": 0,
    "5e": 0,
    "5f": 1,
    "5g": 0,
    "5h": 1,
    "5i": 0,
    "5j": None,
    "6": 2,
    "7": 0,
    "8": 1,
    "9": 2,
}


def test_worked_example_components_and_global() -> None:
    r = score("psqi", EXAMPLE)
    assert r.subscales == {
        "c1_quality": 2,
        "c2_latency": 2,  # 40 min -> 2, plus 5a = 2 -> sum 4 -> 2
        "c3_duration": 1,  # 6.5 h -> 1
        "c4_efficiency": 1,  # 6.5 / 8 = 81.25 % -> 1
        "c5_disturbances": 1,  # 5b-5j sum 6 -> 1
        "c6_medication": 0,
        "c7_daytime": 2,  # 1 + 2 = 3 -> 2
    }
    assert r.total == 9
    assert r.band == "poor sleep"
    assert r.derived["time_in_bed_hours"] == 8
    assert r.derived["sleep_efficiency_pct"] == pytest.approx(81.25)
    assert "item 5j (other_reason) blank, counted as 0" in r.notes
    assert r.n_missing == 0  # 5j blank is not missing


def test_bedtime_after_midnight() -> None:
    # Bed at 01:30, up at 08:00: 6.5 h in bed; asleep 6 h -> 92.3 % -> component 0.
    r = score("psqi", EXAMPLE | {"1": "01:30", "3": "08:00", "4": 6})
    assert r.derived["time_in_bed_hours"] == 6.5
    assert r.derived["sleep_efficiency_pct"] == pytest.approx(6 / 6.5 * 100)
    assert r.subscales["c4_efficiency"] == 0
    assert r.subscales["c3_duration"] == 1  # 6 h -> 1 (6-7)


def test_bedtime_before_midnight_long_night() -> None:
    # Bed 21:00, up 09:00 = 12 h in bed, 7 h asleep = 58 % -> 3.
    r = score("psqi", EXAMPLE | {"1": "21:00", "3": "09:00", "4": 7})
    assert r.derived["time_in_bed_hours"] == 12
    assert r.subscales["c4_efficiency"] == 3
    assert r.subscales["c3_duration"] == 1  # exactly 7 h is 6-7 -> 1


@pytest.mark.parametrize(
    ("minutes", "item5a", "component"),
    [
        (15, 0, 0),
        (16, 0, 1),
        (30, 1, 1),
        (31, 0, 1),
        (60, 2, 2),
        (61, 2, 3),
        (61, 3, 3),
        (5, 3, 2),
        (15, 1, 1),
    ],
)
def test_latency_component(minutes: int, item5a: int, component: int) -> None:
    assert (
        score("psqi", EXAMPLE | {"2": minutes, "5a": item5a}).subscales["c2_latency"] == component
    )


@pytest.mark.parametrize(
    ("hours", "component"), [(8, 0), (7.5, 0), (7, 1), (6, 1), (5.5, 2), (5, 2), (4.9, 3)]
)
def test_duration_component(hours: float, component: int) -> None:
    assert score("psqi", EXAMPLE | {"4": hours}).subscales["c3_duration"] == component


def test_range_answer_counts_as_its_midpoint() -> None:
    r = score("psqi", EXAMPLE | {"2": "30-60"})
    assert r.answers["latency_minutes"] == 45
    assert r.subscales["c2_latency"] == 2  # 45 -> 2, + 5a 2 = 4 -> 2
    r = score("psqi", EXAMPLE | {"4": "6–7"})  # an en dash works too
    assert r.answers["hours_asleep"] == 6.5


def test_disturbance_component_bins() -> None:
    all3 = {f"5{c}": 3 for c in "bcdefghij"}
    assert score("psqi", EXAMPLE | all3).subscales["c5_disturbances"] == 3  # 27
    none = {f"5{c}": 0 for c in "bcdefghi"}
    assert score("psqi", EXAMPLE | none).subscales["c5_disturbances"] == 0
    assert score("psqi", EXAMPLE | none | {"5j": 1}).subscales["c5_disturbances"] == 1


def test_missing_component_makes_the_global_missing() -> None:
    r = score("psqi", EXAMPLE | {"6": None})
    assert r.subscales["c1_quality"] is None
    assert r.total is None
    assert r.band is None
    assert r.n_missing == 1
    assert "1 of 7 subscales missing" in r.notes[-1]


def test_missing_bedtime_makes_efficiency_missing() -> None:
    r = score("psqi", EXAMPLE | {"1": None})
    assert r.subscales["c4_efficiency"] is None
    assert r.derived["sleep_efficiency_pct"] is None
    assert r.total is None


def test_all_missing() -> None:
    r = score("psqi", {})
    assert r.total is None
    assert all(v is None for k, v in r.subscales.items() if k != "c5_disturbances")
    assert r.n_missing == 17  # 5j is the one item whose blank is not missing


def test_good_sleeper() -> None:
    good = {"1": "22:30", "2": 10, "3": "06:30", "4": 7.5, "6": 0, "7": 0, "8": 0, "9": 1}
    good |= {f"5{c}": 0 for c in "abcdefghi"}
    r = score("psqi", good)
    assert r.total == 1
    assert r.band == "good sleep"


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("1", "25:00", "not a clock time"),
        ("1", "11pm", "not a clock time"),
        ("2", "sixty", "not a number"),
        ("2", "60-30", "inverted"),
        ("4", 25, "out of range"),
        ("5a", 4, "out of range"),
        ("6", 1.5, "not a whole number"),
    ],
)
def test_bad_answers_are_refused(key: str, value: object, why: str) -> None:
    with pytest.raises(AnswerError, match=why) as info:
        score("psqi", EXAMPLE | {key: value})
    assert info.value.item is not None


def test_bed_partner_items_are_recorded_not_scored() -> None:
    r = score("psqi", EXAMPLE | {"10": 3, "10a": 3, "10b": 2})
    assert r.total == 9
    assert r.answers["bed_partner"] == "3"
    assert r.answers["partner_loud_snoring"] == 3


def test_bedtime_equal_to_rise_time_leaves_efficiency_missing_and_says_so() -> None:
    r = score("psqi", EXAMPLE | {"1": "07:00", "3": "07:00"})
    assert r.subscales["c4_efficiency"] is None
    assert r.total is None
    assert any("c4_efficiency could not be computed" in n for n in r.notes)
