"""What the write path keeps per process or per request stays correct: the protocol in force
is parsed once per version and an amendment is in force at the next transaction; a session is
read with its user's standing, so a deactivation ends it at the next request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session
from tests.interop.test_redcap_phq9 import dictionary, phq9_rows
from tests.support.db import count_all
from tests.support.forms import at, madrs
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import ConflictError
from remit.interop.redcap import read_redcap_dictionary
from remit.scales import list_scales, scale_source, trial_scales_key, use_trial_scales
from remit.services._common import protocol_in_force
from remit.services.web_sessions import (
    SessionTimeouts,
    count_sessions,
    create_session,
    live_session,
)
from remit.store import store_protocol_version, unit_of_work
from remit.store.tables import Alert, Participant, Study


def _statements(engine: Engine) -> tuple[list[str], Any]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", count)
    return seen, count


def test_the_protocol_is_parsed_once_and_an_amendment_is_in_force_at_the_next_transaction(
    oslo: OsloTrial,
) -> None:
    engine = oslo.engine
    with Session(engine) as session:
        first, first_id = protocol_in_force(session)
    seen, count = _statements(engine)
    try:
        with Session(engine) as session:
            again, again_id = protocol_in_force(session)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (again, again_id) == (first, first_id)
    assert again is first  # the parsed one, kept
    assert not [s for s in seen if "protocol_version.text" in s]  # the text is not read again

    amended_text = first.text + "\n# amendment 2: no change of substance\n"
    with unit_of_work(engine, sv.Actor.system()) as uow:
        study = uow.session.scalars(select(Study)).one()
        stored = store_protocol_version(
            uow, study, name=first.study.id, version="2.0", text=amended_text
        )
        amended_id = stored.id
    with Session(engine) as session:
        amended, in_force_id = protocol_in_force(session)
    assert in_force_id == amended_id != first_id
    assert amended is not first
    assert amended.text == amended_text
    # a record made now is tagged with the amendment: the version it was checked against
    made = sv.screen_participant(engine, oslo.investigator, site="OST")
    with Session(engine) as session:
        row = session.scalars(
            select(Participant).where(Participant.study_id == made.participant_id)
        ).one()
        assert row.protocol_version_id == amended_id


def test_a_session_is_read_with_its_users_standing(oslo: OsloTrial, db_backend: str) -> None:
    engine, kari = oslo.engine, oslo.investigator
    limits = SessionTimeouts(idle_s=3600, absolute_s=8 * 3600)
    token, _ = create_session(engine, kari, now=datetime.now(UTC), timeouts=limits)
    # what the database itself runs (the lookup goes to the DB-API cursor, not through
    # SQLAlchemy's execution events): SQLite's trace of every statement, BEGIN included
    ran: list[str] = []

    def trace(dbapi_connection: Any, *_: Any) -> None:
        if db_backend == "sqlite":
            dbapi_connection.set_trace_callback(ran.append)

    # PostgreSQL: how the connection comes back to the pool (before the pool's own reset):
    # the lookup ran in autocommit, so no transaction is open (the pool has nothing to roll
    # back: no ROLLBACK per request), and the connection has left autocommit again
    returned: list[tuple[str, bool]] = []

    def returning(dbapi_connection: Any, *_: Any) -> None:
        if db_backend == "postgresql":
            status = dbapi_connection.info.transaction_status.name
            returned.append((status, dbapi_connection.autocommit))

    event.listen(engine, "checkout", trace)
    event.listen(engine.pool, "reset", returning)
    try:
        found = live_session(engine, token, now=datetime.now(UTC), timeouts=limits)
    finally:
        event.remove(engine, "checkout", trace)
        event.remove(engine.pool, "reset", returning)
    if db_backend == "postgresql":
        assert returned == [("IDLE", False)], returned
    assert found is not None
    assert found.actor == kari
    assert (found.user_active, found.must_change_password) == (True, False)
    assert found.created_at.tzinfo is UTC
    assert found.last_seen_at.tzinfo is UTC
    if db_backend == "sqlite":
        # session and standing at once, in one statement and no explicit transaction
        assert len(ran) == 1, ran
        assert ran[0].startswith("SELECT"), ran

    sv.set_user_active(engine, oslo.admin, kari.username, False, reason="left the study")
    after = live_session(engine, token, now=datetime.now(UTC), timeouts=limits)
    assert after is not None
    assert after.user_active is False  # the web app ends it (core.py)


def test_a_session_lookup_refuses_the_other_kind_and_ends_an_expired_session(
    oslo: OsloTrial,
) -> None:
    engine, kari = oslo.engine, oslo.investigator
    limits = SessionTimeouts(idle_s=600, absolute_s=3600)
    start = datetime.now(UTC)
    token, _ = create_session(engine, kari, now=start, timeouts=limits, kind="bearer")
    assert live_session(engine, token, now=start, timeouts=limits, kind="cookie") is None
    assert live_session(engine, "not-a-token", now=start, timeouts=limits) is None
    # used after a while: its use is written (never moved back), and read back as written
    later = start + timedelta(seconds=limits.touch_every_s + 1)
    used = live_session(engine, token, now=later, timeouts=limits, kind="bearer")
    assert used is not None
    assert used.last_seen_at == later
    again = live_session(engine, token, now=later + timedelta(seconds=1), timeouts=limits)
    assert again is not None
    assert (again.last_seen_at, again.created_at) == (later, start)
    # idle past the timeout: ended, and its row deleted
    idle = later + timedelta(seconds=limits.idle_s + 1)
    assert live_session(engine, token, now=idle, timeouts=limits) is None
    assert count_sessions(engine) == 0


def test_kept_scales_are_read_again_only_when_another_process_added_one(
    oslo: OsloTrial, tmp_path: Path
) -> None:
    engine, dm = oslo.engine, oslo.data_manager
    path = tmp_path / "phq9_dictionary.csv"
    path.write_text(dictionary(phq9_rows()), encoding="utf-8")
    [phq9] = read_redcap_dictionary(path).scales
    sv.list_participants(engine, dm)  # this process has installed the database's scales
    installed = trial_scales_key()
    assert installed is not None
    assert "phq9" not in list_scales()
    seen, count = _statements(engine)
    try:
        sv.list_participants(engine, dm)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert not [s for s in seen if "trial_scale.definition" in s]  # nothing new: not read
    assert trial_scales_key() == installed

    # another web worker (its own engine and pool) keeps a scale in the same database
    other = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        sv.add_scale(other, dm, phq9.toml, source="phq9_dictionary.csv")
    finally:
        other.dispose()
    use_trial_scales({}, key=installed)  # this process has not seen it
    assert "phq9" not in list_scales()
    seen, count = _statements(engine)
    try:
        sv.list_participants(engine, dm)  # its next transaction
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len([s for s in seen if "trial_scale.definition" in s]) == 1
    assert scale_source("phq9") == "trial database (revision 1)"
    assert trial_scales_key() != installed


def test_a_form_reads_kept_scales_locks_and_consents_with_other_queries(oslo: OsloTrial) -> None:
    engine = oslo.engine
    pid = enrolled(oslo, "V13")
    sv.list_visits(engine, oslo.rater, pid)  # this process has read the kept scales
    # the factory's visits are dated long before today's screening entry: the form's time
    # is checked against the first visit, whose dates come with the protocol's query
    v13 = visit_date(oslo, pid, "V13")
    assert datetime.combine(v13, datetime.min.time(), UTC) < datetime.now(UTC) - timedelta(days=91)
    seen, count = _statements(engine)
    try:
        form = sv.record_assessment(
            engine, oslo.rater, pid, "V13", "madrs", madrs(2), assessed_at=at(v13, 10),
            idempotency_key="form-1",
        )  # fmt: skip
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert not [s for s in seen if "FROM trial_scale JOIN" in s]
    assert not [s for s in seen if s.startswith("SELECT lock.")]  # with the protocol's query
    assert not [s for s in seen if s.startswith("SELECT consent.")]  # with the participant
    assert not [s for s in seen if s.startswith("SELECT min(visit.actual_date)")]
    [newest] = [s for s in seen if s.startswith("SELECT protocol_version.id")]
    assert "min(visit.actual_date)" in newest
    assert not [s for s in seen if s.startswith("SELECT idempotency_key.")]
    assert "LEFT OUTER JOIN idempotency_key" in newest
    # the key read with the protocol still replays a retry and refuses another request
    before = count_all(engine)
    again = sv.record_assessment(
        engine, oslo.rater, pid, "V13", "madrs", madrs(2), assessed_at=at(v13, 10),
        idempotency_key="form-1",
    )  # fmt: skip
    assert (again.id, again.version) == (form.id, form.version)
    with pytest.raises(ConflictError, match="'form-1' was already used for a different request"):
        sv.record_assessment(
            engine, oslo.rater, pid, "V13", "madrs", madrs(1), assessed_at=at(v13, 10),
            idempotency_key="form-1",
        )  # fmt: skip
    assert count_all(engine) == before
    [participant] = [s for s in seen if s.startswith("SELECT participant.")]
    assert "LEFT OUTER JOIN consent" in participant


def _alert_rules(engine: Engine, form_id: int) -> list[str]:
    with Session(engine) as session:
        return sorted(
            session.scalars(
                select(Alert.rule_id).where(
                    Alert.source_table == "assessment", Alert.source_id == form_id
                )
            )
        )


def test_a_new_forms_alerts_are_stored_once_without_looking_for_earlier_ones(
    oslo: OsloTrial,
) -> None:
    engine = oslo.engine
    pid = enrolled(oslo, "V3")
    seen, count = _statements(engine)
    try:
        form = sv.record_assessment(engine, oslo.rater, pid, "V3", "madrs", madrs(3, 6))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [(a.rule_id, a.level) for a in form.alerts] == [("madrs_item10_6", "urgent")]
    assert not [s for s in seen if s.startswith("SELECT alert.id")]  # no alert can name it yet
    assert _alert_rules(engine, form.id) == ["madrs_item10_6"]
    # an edit looks for the alerts the form raised before: the open one is not raised twice
    seen, count = _statements(engine)
    try:
        edited = sv.update_assessment(
            engine, oslo.rater, form.id, madrs(2, 6), expected_version=form.version, reason="re"
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [s for s in seen if s.startswith("SELECT alert.id")]
    assert [a.rule_id for a in edited.alerts] == ["madrs_item10_6"]
    assert _alert_rules(engine, form.id) == ["madrs_item10_6"]
