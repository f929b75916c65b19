"""The write path of a form, made cheaper (issue 16), returns and stores what it did before: the
form's row made without the constructor's tracked assignments holds what the constructor
gives it; the record a form's write returns (its visit taken from the visit the write read)
is the record read back; the transaction still starts with ``BEGIN IMMEDIATE`` (seen by the
cursor listeners, a driver error raised as SQLAlchemy's); on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, inspect
from sqlalchemy.exc import OperationalError
from tests.support.forms import madrs
from tests.support.trial import OsloTrial, enrolled

from remit import services as sv
from remit.errors import InputError
from remit.services._common import (
    BEFORE_SCREENING,
    CLOCK_SKEW,
    EARLIEST_CLINICAL,
    assessment_record,
    aware,
    now_utc,
    plausible_time,
)
from remit.store import unit_of_work
from remit.store.cursor import on_cursor
from remit.store.queries import unsaved
from remit.store.tables import Assessment, Participant, Visit

SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"])


def test_an_unsaved_row_holds_what_the_constructor_gives_it() -> None:
    values: dict[str, Any] = {
        "participant_id": 3,
        "visit_id": 7,
        "status": "complete",
        "idempotency_key": None,
        "assessed_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    }
    made, built = unsaved(Assessment, **values), Assessment(**values)
    for prop in Assessment.__mapper__.column_attrs:
        assert getattr(made, prop.key) == getattr(built, prop.key), prop.key
    state = inspect(made)
    assert state.transient
    assert state.session is None
    with pytest.raises(TypeError):
        unsaved(Assessment, participant_id=3, no_such_column=1)
    with pytest.raises(TypeError):
        Assessment(participant_id=3, no_such_column=1)


def _comparable(record: Any) -> dict[str, Any]:
    return dataclasses.asdict(record)


def test_the_record_a_form_returns_is_the_record_read_back(
    oslo: OsloTrial, db_backend: str
) -> None:
    """Including its visit code and the alerts it raised (MADRS item 10 at 4 raises one)."""
    engine = oslo.engine
    pid = enrolled(oslo, "V3")
    entered = sv.record_assessment(
        engine, oslo.rater, pid, "V3", "madrs", madrs(3, 4), idempotency_key="k"
    )
    assert entered.visit_code == "V3"
    assert entered.alerts
    read = sv.get_assessment(engine, oslo.rater, entered.id)
    assert _comparable(entered) == _comparable(read)
    again = sv.record_assessment(
        engine, oslo.rater, pid, "V3", "madrs", madrs(3, 4), idempotency_key="k"
    )
    assert _comparable(again) == _comparable(read)


def test_a_record_is_refused_another_visit_than_its_own(oslo: OsloTrial, db_backend: str) -> None:
    engine = oslo.engine
    pid = enrolled(oslo, "V3")
    entered = sv.record_assessment(engine, oslo.rater, pid, "V3", "madrs", madrs(3, 1))
    with unit_of_work(engine, oslo.rater) as uow:
        row = uow.session.get_one(Assessment, entered.id)
        other = uow.session.query(Visit).filter(Visit.id != row.visit_id).first()
        assert other is not None
        participant = uow.session.get_one(Participant, row.participant_id)
        with pytest.raises(InputError):
            assessment_record(uow.session, participant, row, visit=other)
        own = uow.session.get_one(Visit, row.visit_id)
        assert assessment_record(uow.session, participant, row, visit=own) == assessment_record(
            uow.session, participant, row
        )


@SQLITE_ONLY  # BEGIN IMMEDIATE is SQLite's
def test_a_write_still_begins_immediate_and_listeners_see_it(oslo: OsloTrial) -> None:
    engine = oslo.engine
    pid = enrolled(oslo, "V3")
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        sv.record_assessment(engine, oslo.rater, pid, "V3", "madrs", madrs(3, 1))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert seen[0] == "BEGIN IMMEDIATE"
    with engine.connect() as connection:  # a read begins with a plain BEGIN
        seen.clear()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            connection.exec_driver_sql("SELECT 1")
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert seen[:2] == ["BEGIN", "SELECT 1"]


@SQLITE_ONLY  # BEGIN IMMEDIATE is SQLite's
def test_a_failing_begin_is_sqlalchemy_s_error(oslo: OsloTrial) -> None:
    """SQLite refuses a BEGIN inside a transaction: the error is SQLAlchemy's, as before."""
    with oslo.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")  # began
        with pytest.raises(OperationalError):
            on_cursor(connection, "BEGIN", ())


def _old_plausible_time(
    value: datetime | None,
    name: str,
    *,
    screened_at: datetime | None = None,
    now: datetime | None = None,
) -> datetime | None:
    """plausible_time as it was before its reason was spelled only for its message."""
    when = aware(value, name)
    if when is None:
        return None
    latest = (now or now_utc()) + CLOCK_SKEW
    if when > latest:
        raise InputError(
            f"{name} {when.isoformat(timespec='minutes')} is in the future",
            expected=f"a time that has passed (no later than {latest:%Y-%m-%d %H:%M} UTC, "
            f"allowing {CLOCK_SKEW.seconds // 60} minutes of clock difference)",
            hint="check the year and the time zone offset; record an event once it happened",
        )
    earliest, why = EARLIEST_CLINICAL, f"{EARLIEST_CLINICAL:%Y-%m-%d}, the earliest plausible"
    if screened_at is not None:
        start = aware(screened_at, "screened_at")
        if start is not None and start - BEFORE_SCREENING > earliest:
            earliest = start - BEFORE_SCREENING
            why = (
                f"{earliest:%Y-%m-%d}: {BEFORE_SCREENING.days} days before the participant's "
                f"start in the study on {start:%Y-%m-%d}"
            )
    if when < earliest:
        raise InputError(
            f"{name} {when.isoformat(timespec='minutes')} is too early to be plausible",
            expected=f"a time on or after {why}",
            hint="check the year (and the participant)",
        )
    return when


def _checked(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return "accepted", function(*args, **kwargs)
    except InputError as error:
        return "refused", str(error), error.expected, error.hint


_zones = st.sampled_from([UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=5))])
_times = st.none() | st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.none() | _zones
)


@settings(max_examples=500, deadline=None)
@given(value=_times, screened_at=_times, now=_times)
def test_a_clinical_time_is_checked_as_before(
    value: datetime | None, screened_at: datetime | None, now: datetime | None
) -> None:
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now = now or datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert _checked(plausible_time, value, "t", screened_at=screened_at, now=now) == _checked(
        _old_plausible_time, value, "t", screened_at=screened_at, now=now
    )
