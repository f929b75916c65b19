"""The write path of a form, made cheaper (issue 16), returns and stores what it did before: the
form's row made without the constructor's tracked assignments holds what the constructor
gives it; the record a form's write returns (its visit taken from the visit the write read)
is the record read back; the transaction still starts with ``BEGIN IMMEDIATE`` (seen by the
cursor listeners, a driver error raised as SQLAlchemy's); on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, inspect
from sqlalchemy.exc import OperationalError
from tests.support.forms import madrs
from tests.support.trial import OsloTrial, enrolled

from remit import services as sv
from remit.errors import InputError
from remit.services._common import assessment_record
from remit.store import unit_of_work
from remit.store.cursor import on_cursor
from remit.store.queries import unsaved
from remit.store.tables import Assessment, Participant, Visit


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


def test_a_write_still_begins_immediate_and_listeners_see_it(oslo: OsloTrial) -> None:
    if oslo.engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
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


def test_a_failing_begin_is_sqlalchemy_s_error(oslo: OsloTrial) -> None:
    """SQLite refuses a BEGIN inside a transaction: the error is SQLAlchemy's, as before."""
    if oslo.engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    with oslo.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")  # began
        with pytest.raises(OperationalError):
            on_cursor(connection, "BEGIN", ())
