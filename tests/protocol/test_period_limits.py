"""Period limits: V13 at 13 ± 3 weeks after baseline V4, not only the chained windows."""

from __future__ import annotations

from datetime import date, timedelta

from remit.protocol import compute_schedule, load_protocol

OSLO = load_protocol("oslo-mdma-mdd")
REFERRAL = date(2023, 1, 2)
V4 = date(2023, 3, 1)


def _latest_chain() -> dict[str, date]:
    """V5, V9 each on the last day of their own windows: V13 may then land 119 days after V4."""
    v5 = V4 + timedelta(days=7 + 7)
    v9 = v5 + timedelta(days=28 + 14)
    return {"V4": V4, "V5": v5, "V9": v9}


def test_v13_window_is_cut_by_the_period_limit() -> None:
    s = compute_schedule(OSLO, {"referral": REFERRAL}, _latest_chain())
    v13 = s.visit("V13")
    assert v13.target_date == V4 + timedelta(days=112)
    # the chained window would run to day 119; the period (91 ± 21 days) ends it at day 112
    assert v13.earliest_date == V4 + timedelta(days=105)
    assert v13.latest_date == V4 + timedelta(days=112)


def test_v13_119_days_after_baseline_is_out_of_window() -> None:
    actual = _latest_chain() | {"V13": V4 + timedelta(days=119)}
    v13 = compute_schedule(OSLO, {"referral": REFERRAL}, actual).visit("V13")
    assert v13.timing is not None
    # inside V13's own window (target + 7) but 7 days past the period limit
    assert v13.timing.status == "out_of_window"
    assert (v13.timing.side, v13.timing.days_outside) == ("after", 7)
    assert v13.timing.limit == "91 ± 21 days after V4"
    assert v13.timing.describe() == (
        "out of window: 7 days after the window closed (period limit: 91 ± 21 days after V4)"
    )
    # day 112 is the last day the period allows
    actual["V13"] = V4 + timedelta(days=112)
    v13 = compute_schedule(OSLO, {"referral": REFERRAL}, actual).visit("V13")
    assert v13.timing is not None
    assert v13.timing.status == "on_time"


def test_on_target_chain_keeps_the_own_window() -> None:
    actual = {"V4": V4, "V5": V4 + timedelta(days=7), "V9": V4 + timedelta(days=35)}
    v13 = compute_schedule(OSLO, {"referral": REFERRAL}, actual).visit("V13")
    assert (v13.earliest_date, v13.latest_date) == (
        V4 + timedelta(days=84),
        V4 + timedelta(days=98),
    )


def test_period_waits_for_its_from_visit_unless_provisional() -> None:
    s = compute_schedule(OSLO, {"referral": REFERRAL}, provisional=True)
    v13 = s.visit("V13")
    assert v13.status == "provisional"
    assert v13.earliest_date is not None
    assert v13.latest_date is not None
