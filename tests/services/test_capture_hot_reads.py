"""The reads every form's write runs (the account and role, the protocol and the locks, the
participant with their site and consents, the visit with its forms) go through the DB-API
cursor (:func:`remit.store.queries.hot_rows`, issue 16): what they return is what SQLAlchemy
returns, the engine's cursor listeners see them, DB-API errors are SQLAlchemy's, and every
refusal they feed still refuses with nothing written, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, event, inspect, select
from sqlalchemy.exc import DBAPIError
from tests.support.db import count_all
from tests.support.forms import at, madrs
from tests.support.presets import two_site_protocol
from tests.support.trial import OsloTrial, Participant, build_trial, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError, LockedError, PermissionDeniedError
from remit.store import Actor, unit_of_work, verify_audit_chain
from remit.store.consent import Consent
from remit.store.queries import get_participant_with_consents, hot_rows, model_columns
from remit.store.tables import AuditEvent, Site
from remit.store.tables import Participant as ParticipantRow

#: The reads of a form's write, by how they start (the idempotency key comes with the
#: protocol's query, the site and consents with the participant's, the forms with the visit).
PREAMBLE_READS = (
    "SELECT user_account.",
    "SELECT protocol_version.",
    "SELECT participant.",
    "SELECT visit.",
)


def _listen(engine: Engine) -> list[tuple[str, bool]]:
    """Every statement the engine's cursors run from now on, and whether it came with
    SQLAlchemy's execution context (``False``: sent through the DB-API cursor directly)."""
    seen: list[tuple[str, bool]] = []

    def listener(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_: Any):
        seen.append((" ".join(statement.split()), context is not None))

    event.listen(engine, "before_cursor_execute", listener)
    return seen


def test_a_forms_reads_go_through_the_cursor_and_listeners_still_see_them(
    oslo: OsloTrial, db_backend: str
) -> None:
    engine = oslo.engine
    pid = enrolled(oslo, "V3")
    seen = _listen(engine)
    sv.record_assessment(engine, oslo.rater, pid, "V3", "madrs", madrs(3, 1), idempotency_key="a")
    for start in PREAMBLE_READS:
        [(statement, with_context)] = [(s, ctx) for s, ctx in seen if s.startswith(start)]
        assert not with_context, statement
    # the listener saw each of them once, as it sees the writes
    assert [s.split(" (")[0] for s, _ in seen if s.startswith("INSERT")] == [
        "INSERT INTO assessment",
        "INSERT INTO idempotency_key",
        "INSERT INTO audit_event",
    ]


def test_hot_rows_give_what_sqlalchemy_gives(oslo: OsloTrial, db_backend: str) -> None:
    pid = enrolled(oslo, "V3")
    statement = (
        select(*model_columns(ParticipantRow), *model_columns(Consent))
        .join(Consent, Consent.participant_id == ParticipantRow.id)
        .where(ParticipantRow.study_id == pid)
        .limit(5)
    )
    with unit_of_work(oslo.engine, oslo.rater) as uow:
        ours = hot_rows(uow.session, statement, {})
        theirs = [tuple(row) for row in uow.session.execute(statement).all()]
    assert ours == theirs
    assert len(ours) == 1
    row = dict(zip([c.key for c in statement.selected_columns], ours[0], strict=True))
    assert row["screened_at"].utcoffset() is not None  # aware UTC times
    assert row["simulated"] in (True, False)  # a boolean, not SQLite's 0/1
    assert isinstance(row["components"], list)  # JSON decoded


def test_hot_rows_flush_first_and_raise_sqlalchemys_errors(
    oslo: OsloTrial, db_backend: str
) -> None:
    pid = enrolled(oslo, "V3")
    status_of = select(ParticipantRow.status_reason).where(ParticipantRow.study_id == pid)
    missing = Table("no_such_table", MetaData(), Column("id", Integer, primary_key=True))
    with unit_of_work(oslo.engine, oslo.rater) as uow:
        p, _ = get_participant_with_consents(uow.session, pid)
        p.status_reason = "pending, not flushed"
        assert hot_rows(uow.session, status_of, {}) == [("pending, not flushed",)]
        with pytest.raises(DBAPIError, match="no_such_table"):
            hot_rows(uow.session, select(missing.c.id), {})
        uow.session.rollback()
    with unit_of_work(oslo.engine, oslo.rater) as uow:  # rolled back
        assert hot_rows(uow.session, status_of, {}) != [("pending, not flushed",)]


def test_the_participant_read_as_columns_is_the_sessions_and_its_changes_are_audited(
    oslo: OsloTrial, db_backend: str
) -> None:
    engine = oslo.engine
    pid = enrolled(oslo, "V3")
    with unit_of_work(engine, oslo.investigator, reason="test") as uow:
        session = uow.session
        p, consents = get_participant_with_consents(session, pid)
        assert inspect(p).persistent
        assert session.get(ParticipantRow, p.id) is p
        seen = _listen(engine)
        assert session.get(Site, p.site_id) is not None  # in the session: no query
        assert seen == []
        assert [c.participant_id for c in consents] == [p.id]
        assert consents[0].components
        again, _ = get_participant_with_consents(session, p.id)
        assert again is p
        before = p.status_reason
        p.status_reason = "changed through the object read as columns"
    with unit_of_work(engine, oslo.investigator) as uow:
        stored = uow.session.get_one(ParticipantRow, p.id)
        assert stored.status_reason == "changed through the object read as columns"
        [old] = uow.session.scalars(
            select(AuditEvent.old_value).where(
                AuditEvent.table_name == "participant",
                AuditEvent.record_id == p.id,
                AuditEvent.field == "status_reason",
                AuditEvent.new_value.like("%read as columns%"),
            )
        ).all()
    assert old == json.dumps(before)  # the value it had before, as a loaded object's
    assert verify_audit_chain(engine).ok


def test_a_form_is_refused_with_nothing_written_by_each_preamble_check(
    engine: Engine, db_backend: str
) -> None:
    trial = build_trial(
        engine,
        protocol=two_site_protocol(),
        sites=None,
        staff={
            "kari": [("investigator", None)],
            "rita": [("independent_rater", "OUS")],
            "dina": [("data_manager", None)],
        },
        participants=[
            Participant(site=site, sex="female", birth_year=1980, referral=date(2024, 1, 8),
                        through="V3")
            for site in ("OST", "OUS", "OUS", "OUS")
        ],
    )  # fmt: skip
    ost, ous, withdrawn, other = trial.participants
    rita = trial.actor_at("independent_rater", "OUS")
    day = visit_date(trial, ous, "V3")

    def form(pid: str, actor: Actor = rita) -> Any:
        return sv.record_assessment(
            engine, actor, pid, "V3", "madrs", madrs(3, 1), assessed_at=at(day, 10)
        )

    sv.withdraw_consent(
        engine, trial.investigator, withdrawn, reason="moved", withdrawn_at=at(day, 9)
    )
    before = count_all(engine)
    with pytest.raises(PermissionDeniedError, match="works at another site"):
        form(ost)
    with pytest.raises(PermissionDeniedError, match="does not hold the role"):
        form(ous, Actor(rita.user_id, rita.username, rita.role, None))
    with pytest.raises(PermissionDeniedError, match="unknown or inactive"):
        form(ous, Actor(rita.user_id, "someone-else", rita.role, rita.site_id))
    with pytest.raises(InputError, match="withdrew consent"):
        form(withdrawn)
    assert count_all(engine) == before
    sv.lock(engine, trial.data_manager, "participant", participant=ous, reason="review")
    before = count_all(engine)
    with pytest.raises(LockedError, match="this participant's data is locked"):
        form(ous)
    assert count_all(engine) == before
    sv.lock(engine, trial.data_manager, "study", reason="database lock")
    before = count_all(engine)
    with pytest.raises(LockedError, match="the study is locked"):
        form(other)
    assert count_all(engine) == before
    assert verify_audit_chain(engine).ok
