"""Issue 13 part 6: clinical times outside the plausible range are refused with a clear error
(what range, why) and nothing is stored: an SAE awareness time in 2099 (its reporting clock
would never be overdue), vital signs dated 1999 or 3000, a time long before the screening."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tests.support.db import count_all
from tests.support.forms import NORMAL_VITALS, at
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError
from remit.services._common import CLOCK_SKEW, plausible_time


def _refused(oslo: OsloTrial, call: object, says: str) -> str:
    before = count_all(oslo.engine)
    with pytest.raises(InputError) as caught:
        call()  # type: ignore[operator]
    assert says in str(caught.value), str(caught.value)
    assert count_all(oslo.engine) == before  # nothing stored, audit trail included
    return str(caught.value)


def test_implausible_clinical_times_are_refused_and_nothing_is_stored(oslo: OsloTrial) -> None:
    e, inv, the = oslo.engine, oslo.investigator, oslo.therapist
    pid = enrolled(oslo, "V4")
    v3 = visit_date(oslo, pid, "V3")
    # the trial factory enters visits dated before today's screening entry: the start is the
    # first visit's date
    start = datetime.combine(visit_date(oslo, pid, "SCR"), datetime.min.time(), UTC)

    def sae(awareness: datetime) -> object:
        return lambda: sv.record_adverse_event(
            e, inv, pid, term="hospitalised", onset_date=v3, severity="severe",
            relatedness="possible", serious=True,
            seriousness_criteria=["hospitalisation"], awareness_at=awareness,
        )  # fmt: skip

    def vitals(when: datetime) -> object:
        return lambda: sv.record_vitals(e, the, pid, "V3", measured_at=when, values=NORMAL_VITALS)

    message = _refused(oslo, sae(datetime(2099, 1, 1, 9, tzinfo=UTC)), "is in the future")
    assert "awareness_at 2099-01-01T09:00+00:00" in message
    assert "clock difference" in message
    _refused(oslo, vitals(datetime(3000, 1, 1, tzinfo=UTC)), "measured_at 3000-01-01")
    message = _refused(oslo, vitals(datetime(1999, 6, 1, tzinfo=UTC)), "too early")
    assert "2000-01-01" in message
    long_before = start - timedelta(days=200)
    message = _refused(oslo, vitals(long_before), "too early to be plausible")
    assert "90 days before the participant's start in the study on 2023-" in message

    before = count_all(e)
    sv.record_vitals(e, the, pid, "V3", measured_at=at(v3, 10), values=NORMAL_VITALS)
    sv.record_adverse_event(
        e, inv, pid, term="headache", onset_date=v3, severity="mild",
        relatedness="not_related", awareness_at=at(v3, 11),
    )  # fmt: skip
    after = count_all(e)
    assert after["vital_sign"] == before["vital_sign"] + 1
    assert after["adverse_event"] == before["adverse_event"] + 1


def test_the_plausible_range_of_one_helper() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert plausible_time(now + CLOCK_SKEW, "t", now=now) == now + CLOCK_SKEW
    with pytest.raises(InputError, match="in the future"):
        plausible_time(now + CLOCK_SKEW + timedelta(seconds=1), "t", now=now)
    screened = datetime(2025, 1, 10, tzinfo=UTC)
    assert plausible_time(screened - timedelta(days=90), "t", screened_at=screened, now=now)
    with pytest.raises(InputError, match="90 days before the participant's start"):
        plausible_time(screened - timedelta(days=91), "t", screened_at=screened, now=now)
    assert plausible_time(None, "t") is None
    with pytest.raises(InputError, match="no time zone"):
        plausible_time(datetime(2025, 1, 1), "t")
    assert date(2000, 1, 1) == plausible_time(datetime(2000, 1, 1, tzinfo=UTC), "t").date()  # type: ignore[union-attr]
