"""Schedule arithmetic: targets, windows, classification on each boundary, moving anchors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remit.errors import InputError, ScheduleError
from remit.protocol import (
    Protocol,
    classify_visit_date,
    compute_schedule,
    load_protocol,
    protocol_from_text,
)

D = timedelta


@pytest.fixture
def proto(mini: str) -> Protocol:
    return protocol_from_text(mini, "mini")


# SCR: consent + 0 [0, 7]; BL: SCR + 14 [-7, 7]; D1: BL + 7 [-3, 3]; END: D1 + 28 [-7, 7]


@pytest.mark.parametrize(
    ("offset", "status", "side", "outside"),
    [
        (-9, "out_of_window", "before", 2),
        (-8, "out_of_window", "before", 1),
        (-7, "early", None, 0),
        (-1, "early", None, 0),
        (0, "on_time", None, 0),
        (1, "late", None, 0),
        (7, "late", None, 0),
        (8, "out_of_window", "after", 1),
        (30, "out_of_window", "after", 23),
    ],
)
def test_classify_each_boundary(offset: int, status: str, side: str | None, outside: int) -> None:
    target = date(2024, 2, 28)
    timing = classify_visit_date(target + D(offset), target, (-7, 7))
    assert timing.status == status
    assert timing.side == side
    assert timing.days_outside == outside
    assert timing.days_from_target == offset


def test_classify_asymmetric_window_and_words() -> None:
    target = date(2024, 1, 1)
    assert classify_visit_date(date(2023, 12, 31), target, (0, 2)).describe() == (
        "out of window: 1 day before the window opened"
    )
    assert classify_visit_date(date(2024, 1, 3), target, (0, 2)).describe() == (
        "late: 2 days after target, inside the window"
    )
    with pytest.raises(InputError, match="inverted"):
        classify_visit_date(target, target, (3, -3))


def test_targets_follow_the_anchor_chain_through_actual_dates(proto: Protocol) -> None:
    consent = date(2024, 1, 10)
    s = compute_schedule(proto, {"consent": consent})
    scr = s.visit("SCR")
    assert (scr.target_date, scr.earliest_date, scr.latest_date) == (
        consent, consent, consent + D(7),
    )  # fmt: skip
    assert scr.status == "scheduled"
    assert scr.anchor_basis == "event"
    # BL waits for SCR to happen
    assert s.visit("BL").status == "awaiting_anchor"
    assert s.visit("BL").target_date is None
    assert s.visit("BL").note == "no target yet: anchor visit SCR has not happened"

    s = compute_schedule(proto, {"consent": consent}, {"SCR": date(2024, 1, 12)})
    bl = s.visit("BL")
    assert bl.anchor_basis == "actual"
    assert bl.target_date == date(2024, 1, 26)
    assert (bl.earliest_date, bl.latest_date) == (date(2024, 1, 19), date(2024, 2, 2))
    assert s.visit("SCR").timing is not None
    assert s.visit("SCR").timing.status == "late"


def test_unknown_anchor_dates_give_no_target(proto: Protocol) -> None:
    s = compute_schedule(proto, {})
    assert all(v.target_date is None for v in s.visits)
    assert s.visit("SCR").note == "no target yet: anchor event consent has no date recorded"
    assert {v.status for v in s.visits} == {"awaiting_anchor"}


def test_anchor_moves_but_happened_visits_stay(proto: Protocol) -> None:
    actual = {"SCR": date(2024, 1, 12), "BL": date(2024, 1, 26)}
    before = compute_schedule(proto, {"consent": date(2024, 1, 10)}, actual)
    after = compute_schedule(proto, {"consent": date(2024, 1, 5)}, actual)
    # SCR happened: its date stays; only its target (and so its timing) follows the anchor
    assert after.visit("SCR").actual_date == before.visit("SCR").actual_date == date(2024, 1, 12)
    assert after.visit("SCR").target_date == date(2024, 1, 5)
    assert after.visit("SCR").timing is not None
    assert after.visit("SCR").timing.status == "late"
    assert after.visit("SCR").timing.days_from_target == 7
    # D1 hangs on BL's actual date, so it does not move when consent moves
    assert after.visit("D1").target_date == before.visit("D1").target_date == date(2024, 2, 2)


def test_moving_an_actual_date_moves_what_hangs_on_it(proto: Protocol) -> None:
    anchors = {"consent": date(2024, 1, 10)}
    a = compute_schedule(proto, anchors, {"SCR": date(2024, 1, 12), "BL": date(2024, 1, 26)})
    b = compute_schedule(proto, anchors, {"SCR": date(2024, 1, 12), "BL": date(2024, 1, 30)})
    assert b.visit("D1").target_date == a.visit("D1").target_date + D(4)
    assert b.visit("BL").timing is not None
    assert b.visit("BL").timing.status == "late"


def test_done_visit_without_known_anchor(proto: Protocol) -> None:
    s = compute_schedule(proto, {}, {"D1": date(2024, 2, 2)})
    d1 = s.visit("D1")
    assert d1.status == "done"
    assert d1.timing is None
    assert d1.note == "done; no target: anchor visit BL has not happened"
    assert s.visit("END").target_date == date(2024, 3, 1)
    with pytest.raises(ScheduleError, match="no target date yet"):
        s.visit("BL").classify(date(2024, 1, 1))


def test_provisional_projection_is_labelled(proto: Protocol) -> None:
    s = compute_schedule(proto, {"consent": date(2024, 1, 10)}, provisional=True)
    bl = s.visit("BL")
    assert bl.status == "provisional"
    assert bl.anchor_basis == "target"
    assert bl.target_date == date(2024, 1, 24)
    assert s.visit("END").target_date == date(2024, 1, 24) + D(7 + 28)


def test_oslo_published_timing() -> None:
    oslo = load_protocol("oslo-mdma-mdd")
    v4 = date(2023, 1, 16)
    v5 = date(2023, 1, 23)
    v9 = date(2023, 2, 21)
    s = compute_schedule(oslo, {}, {"V4": v4, "V5": v5, "V9": v9})
    assert s.visit("V9").timing is not None
    assert s.visit("V9").timing.status == "late"  # 29 days after V5, target 28
    assert s.visit("V13").target_date == v9 + D(56)
    assert s.visit("FU7").target_date == v4 + D(210)
    assert s.visit("V6").target_date == v5 + D(1)


def test_bad_inputs_are_refused(proto: Protocol) -> None:
    with pytest.raises(InputError, match="pass its date in `actual`"):
        compute_schedule(proto, {"SCR": date(2024, 1, 1)})
    with pytest.raises(InputError, match="not an event"):
        compute_schedule(proto, {"randomisation": date(2024, 1, 1)})
    with pytest.raises(InputError, match="'V99' is not in protocol"):
        compute_schedule(proto, {}, {"V99": date(2024, 1, 1)})
    with pytest.raises(InputError, match="not a date"):
        compute_schedule(proto, {"consent": "2024-01-01"})  # type: ignore[dict-item]


def test_arm_filter() -> None:
    rct = load_protocol("mdma-mdd-rct-example")
    assert len(compute_schedule(rct, {}, arm="PLACEBO").visits) == len(rct.visits)
    from remit.errors import NotFoundError

    with pytest.raises(NotFoundError):
        compute_schedule(rct, {}, arm="SHAM")


def test_arm_limited_visits(mini: str) -> None:
    text = mini.replace(
        "[[events]]",
        '[[arms]]\ncode = "B"\nlabel = "B"\n\n[randomisation]\nblock_sizes = [2]\n\n[[events]]',
        1,
    ).replace(
        'kind = "assessment"\nanchor = "D1"', 'kind = "assessment"\nanchor = "D1"\narms = ["A"]'
    )
    proto = protocol_from_text(text)
    codes_b = [v.code for v in compute_schedule(proto, {}, arm="B").visits]
    codes_a = [v.code for v in compute_schedule(proto, {}, arm="A").visits]
    assert "END" in codes_a
    assert "END" not in codes_b


def test_schedule_outputs(proto: Protocol) -> None:
    s = compute_schedule(proto, {"consent": date(2024, 1, 10)}, {"SCR": date(2024, 1, 10)})
    d = s.to_dict()
    assert d["visits"][0]["target_date"] == "2024-01-10"
    assert d["visits"][0]["timing"]["status"] == "on_time"
    frame = s.to_frame()
    assert list(frame["visit_code"]) == ["SCR", "BL", "D1", "END"]
    assert frame.loc[0, "timing"] == "on_time"
    assert "target 2024-01-24" in s.summary()
    assert s.protocol_sha256 == proto.sha256


@given(
    offset=st.integers(-400, 400),
    lower=st.integers(-60, 0),
    upper=st.integers(0, 60),
)
def test_classification_agrees_with_the_window(offset: int, lower: int, upper: int) -> None:
    target = date(2024, 6, 1)
    timing = classify_visit_date(target + D(offset), target, (lower, upper))
    inside = lower <= offset <= upper
    assert (timing.status != "out_of_window") == inside
    assert timing.days_from_target == offset
    if inside:
        assert timing.days_outside == 0
        assert timing.status == ("on_time" if offset == 0 else "early" if offset < 0 else "late")
    else:
        expected_side = "before" if offset < lower else "after"
        assert timing.side == expected_side
        assert timing.days_outside == (lower - offset if offset < lower else offset - upper)
        assert timing.days_outside > 0


@pytest.mark.parametrize("name", ["oslo-mdma-mdd", "mdma-mdd-rct-example"])
def test_visits_on_target_follow_the_nominal_days(name: str) -> None:
    """Doing every visit on its target day, one after another, lands on the planned days."""
    protocol = load_protocol(name)
    anchors = {"referral": date(2023, 1, 2)}
    actual: dict[str, date] = {}
    for visit in protocol.visits:
        scheduled = compute_schedule(protocol, anchors, actual).visit(visit.code)
        assert scheduled.status == "scheduled", visit.code
        assert scheduled.target_date is not None
        actual[visit.code] = scheduled.target_date
    final = compute_schedule(protocol, anchors, actual)
    assert {v.timing.status for v in final.visits if v.timing} == {"on_time"}
    day0 = actual[protocol.study.reference_visit]
    for code, day in protocol.nominal_days().items():
        assert day is not None
        assert (actual[code] - day0).days == day, code


def test_overdue(proto: Protocol) -> None:
    s = compute_schedule(proto, {"consent": date(2024, 1, 10)}, {"SCR": date(2024, 1, 12)})
    bl = s.visit("BL")  # window 2024-01-19 … 2024-02-02
    assert not bl.is_overdue(date(2024, 2, 2))
    assert bl.is_overdue(date(2024, 2, 3))
    assert not s.visit("SCR").is_overdue(date(2030, 1, 1))  # done
    assert not s.visit("D1").is_overdue(date(2030, 1, 1))  # no target yet
