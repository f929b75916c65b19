"""``UnitOfWork.insert`` (the Core INSERT of the form write path) stores and audits a row
exactly as adding it to the session and flushing does: the same columns, defaults, protocol
version tag and version counter, and the same audit rows in the same order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from remit.errors import StoreError
from remit.store import unit_of_work, verify_audit_chain
from remit.store.tables import Alert, Assessment, AuditEvent, Base, IdempotencyKey

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
#: The columns whose values the two rows compared are given differently (unique ones).
_VARYING = ("source_id", "record_id", "scope", "idempotency_key")


def _form(participant_id: int, key: str | None, **more: Any) -> dict[str, Any]:
    return {
        "participant_id": participant_id,
        "visit_id": None,
        "status": "complete",
        "idempotency_key": key,
        "assessed_at": WHEN,
        "scale": "madrs",
        "scale_version": "1.0",
        "rater_user_id": None,
        "rater_role": "independent_rater",
        "answers": {"item_1": 3, "item_10": 4},
        "score": {"total": 7.0, "band": "normal", "items": [3, 4]},
        "total": 7.0,
        **more,
    }


_ALERT = {
    "rule_id": "madrs_item_10",
    "level": "urgent",
    "message": "MADRS item 10 scored 4",
    "source_table": "assessment",
    "due_at": None,
}


def _trail(engine: Any, table: str, record_id: int) -> list[tuple[Any, ...]]:
    """The audit rows of one record, in chain order, without what differs between two rows
    made a moment apart (ids, times)."""
    with Session(engine) as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.table_name == table, AuditEvent.record_id == record_id)
            .order_by(AuditEvent.id)
        )
        return [
            (
                e.action,
                e.participant_id,
                e.field,
                e.old_value,
                e.new_value if e.field not in ("entered_at", "raised_at", "created_at") else "t",
                e.reason,
                e.username,
                e.role,
            )
            for e in rows
        ]


def _stored(engine: Any, model: type[Base], record_id: int) -> dict[str, Any]:
    with Session(engine) as session:
        row = session.get_one(model, record_id)
        return {
            prop.key: getattr(row, prop.key)
            for prop in model.__mapper__.column_attrs
            if prop.key not in ("id", "entered_at", "raised_at", "created_at")
        }


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Assessment, lambda pid, n: _form(pid, f"key-{n}")),
        # columns left out are written as NULL and audited after the others, as a flush does
        (Assessment, lambda pid, n: {k: v for k, v in _form(pid, None).items() if k != "visit_id"}),
        (Alert, lambda pid, n: {"participant_id": pid, "source_id": n, **_ALERT}),
        (
            IdempotencyKey,
            lambda pid, n: {
                "key": "k",
                "scope": f"user:{n}",
                "request_sha256": "0" * 64,
                "record_table": "assessment",
                "record_id": n,
                "user_id": None,
            },
        ),
    ],
    ids=["form", "form-with-columns-left-out", "alert", "idempotency-key"],
)
def test_a_core_insert_is_stored_and_audited_as_a_flush(
    trial: Any, model: type[Base], values: Any
) -> None:
    pid = trial.add_participant()
    with unit_of_work(trial.engine, trial.rater) as uow:
        flushed = model(**values(pid, 1))
        uow.add(flushed)
        uow.flush()
        flushed_id = flushed.id
    with unit_of_work(trial.engine, trial.rater) as uow:
        returned = uow.insert(model, values(pid, 2))
    inserted_id = returned["id"]
    assert inserted_id != flushed_id
    expected = _stored(trial.engine, model, flushed_id)
    for column in _VARYING:
        expected.pop(column, None)
    stored = _stored(trial.engine, model, inserted_id)
    assert {k: v for k, v in stored.items() if k in expected} == expected
    assert {k: v for k, v in returned.items() if k in expected} == expected
    if model is Assessment:
        assert returned["version"] == 1
        assert returned["protocol_version_id"] == trial.protocol_version_id
        assert returned["entered_at"].tzinfo is not None

    def trail(record_id: int) -> list[tuple[Any, ...]]:
        found = _trail(trial.engine, model.__tablename__, record_id)
        assert len(found) == len(model.__mapper__.column_attrs) - 1  # a row per field but id
        return [r if r[2] not in _VARYING else r[:4] for r in found]

    assert trail(inserted_id) == trail(flushed_id)
    assert verify_audit_chain(trial.engine).ok


def test_a_core_insert_keeps_the_order_of_the_changes_pending_before_it(trial: Any) -> None:
    pid = trial.add_participant()
    with unit_of_work(trial.engine, trial.rater) as uow:
        uow.add(Alert(participant_id=pid, source_id=1, **_ALERT))  # pending, not flushed
        form = uow.insert(Assessment, _form(pid, "ordered"))
    with Session(trial.engine) as session:
        tables = list(
            session.scalars(
                select(AuditEvent.table_name)
                .where(AuditEvent.participant_id == pid, AuditEvent.action == "insert")
                .where(AuditEvent.table_name.in_(("alert", "assessment")))
                .order_by(AuditEvent.id)
            )
        )
    assert tables == ["alert"] * 13 + ["assessment"] * 17
    assert form["id"] is not None


def test_a_core_insert_refuses_a_column_the_table_lacks_and_stores_nothing(
    trial: Any, audit_rows: Any, rows: Any
) -> None:
    pid = trial.add_participant()
    before = (audit_rows(), rows(Assessment))
    with (
        pytest.raises(StoreError, match="assessment has no column colour"),
        unit_of_work(trial.engine, trial.rater) as uow,
    ):
        uow.insert(Assessment, {**_form(pid, None), "colour": "blue"})
    assert (audit_rows(), rows(Assessment)) == before
