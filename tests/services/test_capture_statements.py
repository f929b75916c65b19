"""The write path of a form costs a fixed, small number of SQL statements (issue 16): one read
per thing needed, one INSERT per row made, the audit rows in one INSERT of many rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session
from tests.support.forms import madrs
from tests.support.trial import OsloTrial, enrolled

from remit import services as sv
from remit.store import verify_audit_chain
from remit.store.tables import Alert, AuditEvent, IdempotencyKey

#: The statements of one new form by engine (SQLite: ``BEGIN IMMEDIATE`` is one of them;
#: PostgreSQL: the participant's and the idempotency key's advisory locks are one statement,
#: the audit chain's lock goes with the read of its head, sent by the driver itself).
BUDGET = {"sqlite": 9, "postgresql": 8}


def _statements(engine: Engine, write: Any) -> tuple[Any, list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        return write(), seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_form_costs_a_fixed_number_of_statements(oslo: OsloTrial, db_backend: str) -> None:
    engine = oslo.engine
    pid = enrolled(oslo, "V3")
    form, seen = _statements(
        engine,
        lambda: sv.record_assessment(
            engine, oslo.rater, pid, "V3", "madrs", madrs(3, 1), idempotency_key="form-1"
        ),
    )
    inserts = [s.split(" (")[0] for s in seen if s.startswith("INSERT")]
    assert inserts == [
        "INSERT INTO assessment",
        "INSERT INTO idempotency_key",
        "INSERT INTO audit_event",
    ]
    assert len(seen) <= BUDGET[db_backend], "\n".join(seen)
    with Session(engine) as session:
        audited = session.scalar(
            select(func.count()).where(
                AuditEvent.table_name == "assessment", AuditEvent.record_id == form.id
            )
        )
    assert audited == 17  # a row per field of the form but its id

    # a form raising an alert adds the alert's INSERT and nothing else; a retry reads only
    other = enrolled(oslo, "V3")
    urgent, seen = _statements(
        engine,
        lambda: sv.record_assessment(
            engine, oslo.rater, other, "V3", "madrs", madrs(3, 6), idempotency_key="form-2"
        ),
    )
    assert [a.rule_id for a in urgent.alerts] == ["madrs_item10_6"]
    assert len(seen) <= BUDGET[db_backend] + 1, "\n".join(seen)
    again, seen = _statements(
        engine,
        lambda: sv.record_assessment(
            engine, oslo.rater, other, "V3", "madrs", madrs(3, 6), idempotency_key="form-2"
        ),
    )
    assert again.id == urgent.id
    assert again.alerts == urgent.alerts
    assert not [s for s in seen if s.startswith("INSERT")]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 2
    assert verify_audit_chain(engine).ok
