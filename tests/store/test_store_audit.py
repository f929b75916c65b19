"""The audit trail: field-level rows in the same transaction, reasons, append-only, hash chain."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from tests.support.db import engine_as_role, tamper_sql

import remit.store.audit as audit_module
from remit.errors import ConflictError, InputError, StoreError
from remit.store import (
    Actor,
    audit_log,
    create_app_role,
    unit_of_work,
    verify_audit_chain,
)
from remit.store.tables import Assessment, AuditEvent, Participant, Visit

Rows = Callable[[type[Any]], int]


def _assessment(trial: Any, participant_id: int, status: str = "complete") -> int:
    with unit_of_work(trial.engine, trial.rater) as uow:
        assessment = Assessment(
            participant_id=participant_id,
            scale="madrs",
            scale_version="1.0",
            rater_user_id=trial.rater.user_id,
            rater_role="independent_rater",
            answers={"item_1": 3, "item_10": 1},
            score={"total": 4.0},
            total=4.0,
            status=status,
        )
        uow.add(assessment)
        uow.flush()
        return assessment.id


def _events(engine: Engine, table: str, record_id: int) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.table_name == table, AuditEvent.record_id == record_id)
                .order_by(AuditEvent.id)
            )
        )


def test_insert_update_delete_write_one_audit_row_per_field(trial: Any) -> None:
    participant_id = trial.add_participant(sex="F", birth_year=1980)
    inserted = _events(trial.engine, "participant", participant_id)
    fields = {e.field: e for e in inserted}
    assert {e.action for e in inserted} == {"insert"}
    assert fields["study_id"].new_value == '"OSL-001"'
    assert fields["birth_year"].new_value == "1980"
    assert fields["arm"].new_value == "null"
    assert fields["protocol_version_id"].new_value == str(trial.protocol_version_id)
    assert "id" not in fields
    first = inserted[0]
    assert (first.username, first.role, first.user_id) == (
        "kari",
        "investigator",
        trial.investigator.user_id,
    )
    assert first.participant_id == participant_id
    assert first.occurred_at.tzinfo is not None

    with unit_of_work(trial.engine, trial.investigator, reason="birth year mistyped") as uow:
        participant = uow.session.get(Participant, participant_id)
        assert participant is not None
        participant.birth_year = 1981
        participant.sex = "F"  # unchanged: no row
    updated = [
        e for e in _events(trial.engine, "participant", participant_id) if e.action == "update"
    ]
    assert [(e.field, e.old_value, e.new_value, e.reason) for e in updated] == [
        ("birth_year", "1980", "1981", "birth year mistyped")
    ]

    with unit_of_work(trial.engine, trial.investigator) as uow:
        visit = Visit(participant_id=participant_id, visit_code="V1", target_date=date(2026, 3, 2))
        uow.add(visit)
        uow.flush()
        visit_id = visit.id
    with unit_of_work(trial.engine, trial.investigator, reason="entered twice") as uow:
        uow.session.delete(uow.session.get(Visit, visit_id))
    deleted = [e for e in _events(trial.engine, "visit", visit_id) if e.action == "delete"]
    assert {e.field: e.old_value for e in deleted}["target_date"] == '"2026-03-02"'
    assert all(e.new_value is None and e.reason == "entered twice" for e in deleted)
    assert verify_audit_chain(trial.engine).ok


def test_audit_rows_share_the_transaction_and_vanish_with_a_rollback(
    trial: Any, rows: Rows, audit_rows: Callable[[], int]
) -> None:
    before_participants, before_audit = rows(Participant), audit_rows()

    def crash() -> None:
        with unit_of_work(trial.engine, trial.investigator) as uow:
            uow.add(Participant(study_id="OSL-009", site_id=trial.site_id))
            uow.flush()
            inside = uow.session.scalar(
                select(AuditEvent.id).where(AuditEvent.table_name == "participant").limit(1)
            )
            assert inside is not None  # written, in this transaction
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError, match="crash"):
        crash()
    assert rows(Participant) == before_participants
    assert audit_rows() == before_audit


def test_changing_a_completed_form_needs_a_reason(
    trial: Any, rows: Rows, audit_rows: Callable[[], int]
) -> None:
    participant_id = trial.add_participant()
    assessment_id = _assessment(trial, participant_id, status="complete")
    before = audit_rows()

    def edit() -> None:
        with unit_of_work(trial.engine, trial.rater) as uow:
            assessment = uow.session.get(Assessment, assessment_id)
            assert assessment is not None
            assessment.total = 5.0
            assessment.answers = {"item_1": 4, "item_10": 1}

    def delete() -> None:
        with unit_of_work(trial.engine, trial.rater) as uow:
            uow.session.delete(uow.session.get(Assessment, assessment_id))

    with pytest.raises(
        InputError, match=r"changing answers, total of assessment .* needs a reason"
    ):
        edit()
    with pytest.raises(InputError, match="deleting assessment"):
        delete()

    def edit_with_blank_reason() -> None:
        with unit_of_work(trial.engine, trial.rater, reason="   ") as uow:
            assessment = uow.session.get(Assessment, assessment_id)
            assert assessment is not None
            assessment.total = 5.0

    with pytest.raises(InputError, match="needs a reason"):
        edit_with_blank_reason()
    assert audit_rows() == before
    with unit_of_work(trial.engine, trial.rater) as uow:
        stored = uow.session.get(Assessment, assessment_id)
        assert stored is not None
        assert (stored.total, stored.version) == (4.0, 1)

    # Moving forward (complete → signed → locked) touches only the status: no reason needed.
    for status in ("signed", "locked"):
        with unit_of_work(trial.engine, trial.investigator) as uow:
            assessment = uow.session.get(Assessment, assessment_id)
            assert assessment is not None
            assessment.status = status
    # Going back needs one; with it, the change and the reason are recorded.
    with unit_of_work(trial.engine, trial.investigator, reason="reopened for query 7") as uow:
        assessment = uow.session.get(Assessment, assessment_id)
        assert assessment is not None
        assessment.status = "complete"
    changes = [
        (e.field, e.old_value, e.new_value, e.reason)
        for e in _events(trial.engine, "assessment", assessment_id)
        if e.action == "update"
    ]
    assert changes == [
        ("status", '"complete"', '"signed"', None),
        ("version", "1", "2", None),
        ("status", '"signed"', '"locked"', None),
        ("version", "2", "3", None),
        ("status", '"locked"', '"complete"', "reopened for query 7"),
        ("version", "3", "4", "reopened for query 7"),
    ]


def test_a_draft_changes_freely_and_the_reason_can_be_set_late(trial: Any) -> None:
    participant_id = trial.add_participant()
    assessment_id = _assessment(trial, participant_id, status="draft")
    with unit_of_work(trial.engine, trial.rater) as uow:
        assessment = uow.session.get(Assessment, assessment_id)
        assert assessment is not None
        assessment.total = 6.0
        assessment.status = "complete"
        uow.flush()
        uow.reason = "item 1 re-rated after the interview recording"
        assessment.total = 7.0
    reasons = [
        (e.field, e.reason)
        for e in _events(trial.engine, "assessment", assessment_id)
        if e.action == "update" and e.field == "total"
    ]
    assert reasons == [("total", None), ("total", "item 1 re-rated after the interview recording")]


def test_writes_outside_a_unit_of_work_are_refused(trial: Any, rows: Rows) -> None:
    before = rows(Participant)
    with Session(trial.engine) as session:
        session.add(Participant(study_id="OSL-050", site_id=trial.site_id))
        with pytest.raises(StoreError, match=r"only inside remit\.store\.unit_of_work"):
            session.commit()

    def forge() -> None:
        with unit_of_work(trial.engine, trial.admin) as uow:
            uow.session.add(AuditEvent(id=10**6, transaction_id="x", username="x", role="x"))

    with pytest.raises(StoreError, match="written only by the audit trail"):
        forge()
    assert rows(Participant) == before


def test_new_records_are_tagged_with_the_protocol_in_force(trial: Any) -> None:
    participant_id = trial.add_participant()
    with Session(trial.engine) as session:
        participant = session.get(Participant, participant_id)
        assert participant is not None
        assert participant.protocol_version_id == trial.protocol_version_id


@pytest.mark.parametrize("statement", ["UPDATE {t} SET username = 'eve'", "DELETE FROM {t}"])
@pytest.mark.parametrize("table", ["audit_event", "identity_access_log"])
def test_the_database_refuses_to_change_append_only_tables(
    trial: Any, statement: str, table: str
) -> None:
    if table == "identity_access_log":
        _log_identity_read(trial)
    with trial.engine.begin() as connection:
        assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0
    with pytest.raises(DBAPIError, match="append-only"), trial.engine.begin() as connection:
        connection.execute(text(statement.format(t=table)))


@pytest.mark.parametrize("db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_postgres_refuses_truncate_of_the_audit_trail(trial: Any) -> None:
    with pytest.raises(DBAPIError, match="append-only"), trial.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_event"))


def _log_identity_read(trial: Any) -> None:
    from remit.store import read_identity, set_identity

    participant_id = trial.add_participant("OSL-077")
    with unit_of_work(trial.engine, trial.investigator) as uow:
        set_identity(uow, participant_id, name="Kari Nordmann")
        read_identity(uow, participant_id)


@pytest.mark.parametrize("db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_postgres_app_role_may_append_but_not_change_audit_rows(trial: Any, db_url: str) -> None:
    role = f"remit_app_{uuid.uuid4().hex[:8]}"
    create_app_role(trial.engine, role)
    with engine_as_role(trial.engine, db_url, role) as app_engine:
        app_trial = _with_engine(trial, app_engine)
        app_trial.add_participant("OSL-100")  # the app works: writes and appends audit rows
        for statement in ("UPDATE audit_event SET username = 'eve'", "DELETE FROM audit_event"):
            with (
                pytest.raises(DBAPIError, match="permission denied") as refused,
                app_engine.begin() as connection,
            ):
                connection.execute(text(statement))
            assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
        with pytest.raises(DBAPIError, match="permission denied"), app_engine.begin() as c:
            c.execute(text("TRUNCATE audit_event"))
        # nor can it switch the triggers off: it owns no table, and is no superuser
        for statement in (
            "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
            "ALTER TABLE audit_event DISABLE TRIGGER ALL",
            "SET session_replication_role = replica",
        ):
            with (
                pytest.raises(DBAPIError, match=r"must be owner|permission denied"),
                app_engine.begin() as c,
            ):
                c.execute(text(statement))
        assert verify_audit_chain(app_engine).ok


def _with_engine(trial: Any, engine: Engine) -> Any:
    from dataclasses import replace

    return replace(trial, engine=engine)


def _tamper(engine: Engine, db_backend: str, sql: str) -> None:
    """Change the audit trail behind the triggers' back, as a superuser or file owner could."""
    del db_backend
    tamper_sql(engine, sql)


def test_verify_names_the_row_altered_behind_the_triggers_back(trial: Any, db_backend: str) -> None:
    participant_id = trial.add_participant(birth_year=1980)
    target = next(
        e.id
        for e in _events(trial.engine, "participant", participant_id)
        if e.field == "birth_year"
    )
    intact = verify_audit_chain(trial.engine)
    assert intact.ok
    assert intact.rows_checked == intact.head_id
    _tamper(
        trial.engine, db_backend, f"UPDATE audit_event SET new_value = '1990' WHERE id = {target}"
    )
    broken = verify_audit_chain(trial.engine)
    assert not broken.ok
    assert (broken.first_bad_id, broken.problem) == (target, "row_hash")
    assert broken.rows_checked == target - 1
    assert broken.expected_hash != broken.found_hash
    assert f"row {target}" in broken.summary()


def test_verify_names_the_row_after_a_deleted_one(trial: Any, db_backend: str) -> None:
    trial.add_participant()
    head = verify_audit_chain(trial.engine).head_id
    assert head is not None
    _tamper(trial.engine, db_backend, f"DELETE FROM audit_event WHERE id = {head - 3}")
    broken = verify_audit_chain(trial.engine)
    assert (broken.first_bad_id, broken.problem) == (head - 2, "id")


def test_verify_notices_a_rehashed_row_without_the_key(trial: Any, db_backend: str) -> None:
    # A forger who recomputes the altered row's own hash without the audit key (a plain
    # SHA-256, as the chain was before it was keyed) is caught at that row.
    from remit.store.audit_read import _content
    from remit.store.canonical import chain_hash

    trial.add_participant()
    with Session(trial.engine) as session:
        row = session.get(AuditEvent, 5)
        assert row is not None
        row_hash = chain_hash(row.prev_hash, {**_content(row), "new_value": '"forged"'})
    _tamper(
        trial.engine,
        db_backend,
        f"UPDATE audit_event SET new_value = '\"forged\"', row_hash = '{row_hash}' WHERE id = 5",
    )
    broken = verify_audit_chain(trial.engine)
    assert (broken.first_bad_id, broken.problem) == (5, "unkeyed")


def test_concurrent_writers_keep_one_valid_chain(trial: Any, rows: Rows) -> None:
    per_thread, threads = 12, 3
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(per_thread):
                with unit_of_work(trial.engine, trial.investigator, reason="load") as uow:
                    participant = Participant(study_id=f"T{worker}-{n:03d}", site_id=trial.site_id)
                    uow.add(participant)
                    uow.flush()
                    participant.arm = "mdma"
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert rows(Participant) == per_thread * threads
    result = verify_audit_chain(trial.engine)
    assert result.ok, result.summary()
    arm_rows = [e for e in audit_log(trial.engine, table="participant") if e.field == "arm"]
    assert len(arm_rows) == 2 * per_thread * threads  # insert (null) and update ("mdma")


@pytest.mark.parametrize("db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_concurrent_save_of_the_same_form_is_a_conflict(trial: Any) -> None:
    participant_id = trial.add_participant()
    assessment_id = _assessment(trial, participant_id, status="draft")

    def interleaved_saves() -> None:
        with unit_of_work(trial.engine, trial.rater) as first:
            mine = first.session.get(Assessment, assessment_id)
            assert mine is not None
            with unit_of_work(trial.engine, trial.investigator) as second:
                theirs = second.session.get(Assessment, assessment_id)
                assert theirs is not None
                theirs.total = 9.0
            mine.total = 8.0

    with pytest.raises(ConflictError, match="changed by someone else"):
        interleaved_saves()
    with Session(trial.engine) as session:
        stored = session.get(Assessment, assessment_id)
        assert stored is not None
        assert (stored.total, stored.version) == (9.0, 2)


def test_audit_log_of_one_participant(trial: Any) -> None:
    first = trial.add_participant("OSL-001")
    second = trial.add_participant("OSL-002")
    _assessment(trial, second)
    history = audit_log(trial.engine, "OSL-002")
    assert history
    assert {e.participant_id for e in history} == {second}
    assert {e.table_name for e in history} == {"participant", "assessment"}
    assert all(e.participant_id == first for e in audit_log(trial.engine, first))
    answers = next(e for e in history if e.field == "answers")
    assert answers.new_value == {"item_1": 3, "item_10": 1}
    assert answers.to_dict()["occurred_at"].endswith("Z")


def test_an_actor_needs_a_known_role() -> None:
    with pytest.raises(InputError, match="not a Remit role"):
        Actor(1, "kari", "superuser")
    with pytest.raises(InputError, match="username"):
        Actor(1, " ", "admin")


def test_bulk_statements_that_would_bypass_the_audit_trail_are_refused(
    trial: Any, rows: Rows
) -> None:
    from sqlalchemy import delete, insert, update

    participant_id = trial.add_participant()
    before = rows(Participant)
    statements = [
        update(Participant).where(Participant.id == participant_id).values(arm="x"),
        delete(Participant).where(Participant.id == participant_id),
        insert(Participant).values(study_id="OSL-066", site_id=trial.site_id),
    ]
    for statement in statements:
        with (
            pytest.raises(StoreError, match="bypass the audit trail"),
            unit_of_work(trial.engine, trial.admin) as uow,
        ):
            uow.session.execute(statement)
    assert rows(Participant) == before
    with Session(trial.engine) as session:
        stored = session.get(Participant, participant_id)
        assert stored is not None
        assert stored.arm is None


def test_an_in_place_json_change_flagged_modified_is_audited_with_the_stored_old_value(
    trial: Any,
) -> None:
    from sqlalchemy.orm.attributes import flag_modified

    participant_id = trial.add_participant()
    assessment_id = _assessment(trial, participant_id, status="draft")
    with unit_of_work(trial.engine, trial.rater) as uow:
        assessment = uow.session.get(Assessment, assessment_id)
        assert assessment is not None
        assessment.answers["item_1"] = 0  # in place: the old dict is gone from memory
        flag_modified(assessment, "answers")
    changes = [
        (e.old_value, e.new_value)
        for e in _events(trial.engine, "assessment", assessment_id)
        if e.action == "update" and e.field == "answers"
    ]
    assert changes == [('{"item_1":3,"item_10":1}', '{"item_1":0,"item_10":1}')]


def test_app_roles_exist_only_on_postgres_and_need_plain_names(
    engine: Engine, db_backend: str
) -> None:
    if db_backend == "sqlite":
        with pytest.raises(StoreError, match="only on PostgreSQL"):
            create_app_role(engine, "remit_app")
    else:
        with pytest.raises(InputError, match="not a plain PostgreSQL identifier"):
            create_app_role(engine, "app; DROP TABLE audit_event")


def test_a_transaction_reads_the_chain_head_once_and_forgets_it_with_a_savepoint(
    trial: Any, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit of work queues the audit rows of its flushes and writes them in one INSERT
    before the commit; a savepoint writes the queue first (the rows belong before it) and,
    inside it, each flush's rows at once, so a savepoint rolled back takes its own audit rows
    with it and nothing else; the head is read again after it, and the chain stays valid."""
    head_reads: list[str] = []
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if " ".join(statement.split()).startswith("INSERT INTO audit_event"):
            inserts.append(statement)

    # the head is read with the append lock, on PostgreSQL by the driver in pipeline mode
    # (unseen by SQLAlchemy's events): counted where it is read
    read_head = audit_module._chain_head

    def counted_head(connection: Any) -> tuple[int, str]:
        head_reads.append(connection.dialect.name)
        return read_head(connection)

    monkeypatch.setattr(audit_module, "_chain_head", counted_head)

    before = rows(Participant)
    event.listen(trial.engine, "before_cursor_execute", count)
    try:
        with unit_of_work(trial.engine, trial.investigator, reason="test") as uow:
            first = Participant(study_id="OSL-101", site_id=trial.site_id)
            uow.add(first)
            uow.flush()
            first.arm = "mdma"
            uow.flush()
            uow.add(Participant(study_id="OSL-102", site_id=trial.site_id))
            uow.flush()
            assert (head_reads, inserts) == ([], [])  # three flushes: their rows queued
            savepoint = uow.session.begin_nested()
            uow.add(Participant(study_id="OSL-103", site_id=trial.site_id))
            uow.flush()
            # the queue before the SAVEPOINT is set, then the savepoint's own rows at once
            assert (len(head_reads), len(inserts)) == (1, 2)
            savepoint.rollback()
            uow.add(Participant(study_id="OSL-104", site_id=trial.site_id))
            uow.flush()
    finally:
        event.remove(trial.engine, "before_cursor_execute", count)
    assert len(head_reads) == 2  # read again once the savepoint was rolled back
    assert len(inserts) == 3  # OSL-104's rows at the commit
    assert rows(Participant) == before + 3
    result = verify_audit_chain(trial.engine)
    assert result.ok, result.summary()
    assert [e.new_value for e in audit_log(trial.engine, table="participant")
            if e.field == "study_id" and e.new_value and "OSL-10" in e.new_value] == [
        "OSL-101", "OSL-102", "OSL-104"
    ]  # fmt: skip


def test_a_transaction_writes_its_audit_rows_in_one_insert_and_reads_see_them(
    trial: Any,
) -> None:
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if " ".join(statement.split()).startswith("INSERT INTO audit_event"):
            inserts.append(statement)

    event.listen(trial.engine, "before_cursor_execute", count)
    try:
        with unit_of_work(trial.engine, trial.investigator, reason="test") as uow:
            first = Participant(study_id="OSL-201", site_id=trial.site_id)
            uow.add(first)
            uow.flush()
            first.arm = "mdma"
            uow.flush()
            uow.record_event("read", "participant", first.id, participant_id=first.id)
            assert inserts == []
            # a read of the trail in the same transaction sees the rows queued so far
            seen = uow.session.scalars(
                select(AuditEvent.field).where(
                    AuditEvent.table_name == "participant", AuditEvent.record_id == first.id
                )
            ).all()
            assert "study_id" in seen
            assert "arm" in seen
            assert len(inserts) == 1
            uow.add(Participant(study_id="OSL-202", site_id=trial.site_id))
    finally:
        event.remove(trial.engine, "before_cursor_execute", count)
    assert len(inserts) == 2
    result = verify_audit_chain(trial.engine)
    assert result.ok, result.summary()
    assert [e.action for e in audit_log(trial.engine, table="participant", record_id=first.id)][
        -2:
    ] == ["update", "read"]  # in the order of the changes


def test_columns_an_insert_left_null_are_audited_as_null_without_reading_them_back(
    trial: Any,
) -> None:
    participant_id = trial.add_participant()
    assessment_id = _assessment(trial, participant_id)
    fields = {e.field: e.new_value for e in _events(trial.engine, "assessment", assessment_id)}
    with Session(trial.engine) as session:
        stored = session.get_one(Assessment, assessment_id)
        assert (stored.visit_id, stored.dosing_session_id, stored.timepoint) == (None, None, None)
        assert stored.version == 1
        assert stored.entered_at is not None
    assert (fields["visit_id"], fields["dosing_session_id"], fields["timepoint"]) == (
        "null", "null", "null"
    )  # fmt: skip
    assert fields["version"] == "1"
    assert fields["entered_at"] != "null"  # defaults: as stored
