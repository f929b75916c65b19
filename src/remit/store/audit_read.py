"""Reading the audit trail: verify the hash chain, list the history, replay it into tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import NotFoundError
from remit.store.audit import AUDIT_CONTENT_COLUMNS, audit_content
from remit.store.canonical import GENESIS_HASH, REDACTED, chain_hash, iso_utc, to_json_value
from remit.store.tables import AuditEvent, Participant, audited_tables
from remit.store.vocab import AuditAction

if TYPE_CHECKING:
    import pandas as pd

_BATCH = 5_000


@dataclass(frozen=True)
class AuditVerifyResult:
    """Outcome of walking the audit hash chain.

    ``ok`` is true when every row fits. Otherwise ``first_bad_id`` names the first row that does
    not, ``problem`` says how (``row_hash``: its content was altered; ``prev_hash``: a row before
    it is missing, altered or reordered; ``id``: a gap or duplicate in the ids), and
    ``expected_hash`` / ``found_hash`` show the hashes compared. ``head_hash`` is the hash of the
    last row — record it elsewhere to detect a truncated tail later.
    """

    ok: bool
    rows_checked: int
    head_id: int | None
    head_hash: str | None
    first_bad_id: int | None = None
    problem: str | None = None
    expected_hash: str | None = None
    found_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dictionary."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """The result as a one-row DataFrame."""
        import pandas as pd

        return pd.DataFrame([self.to_dict()])

    def summary(self) -> str:
        """One line for people."""
        if self.ok:
            head = f"; head {self.head_id} {self.head_hash}" if self.head_id else ""
            return f"audit chain intact: {self.rows_checked} rows checked{head}"
        return (
            f"audit chain broken at row {self.first_bad_id} ({self.problem}): expected "
            f"{self.expected_hash}, found {self.found_hash}; {self.rows_checked} rows fit before it"
        )


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit trail, values decoded from their JSON text."""

    id: int
    occurred_at: datetime
    transaction_id: str
    user_id: int | None
    username: str
    role: str
    site_id: int | None
    action: str
    table_name: str
    record_id: int
    participant_id: int | None
    field: str | None
    old_value: Any
    new_value: Any
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """The entry as a plain JSON-ready dictionary."""
        data = asdict(self)
        data["occurred_at"] = iso_utc(self.occurred_at)
        return data


def _rows(session: Session) -> Iterator[AuditEvent]:
    after = 0
    while True:
        batch = session.scalars(
            select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id).limit(_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].id
        session.expunge_all()


def _columns(row: AuditEvent) -> dict[str, Any]:
    return {name: getattr(row, name) for name in AUDIT_CONTENT_COLUMNS}


def _content(row: AuditEvent) -> dict[str, Any]:
    return audit_content(**_columns(row))


def verify_audit_chain(engine: Engine) -> AuditVerifyResult:
    """Walk the audit chain from the first row and name the first row that does not fit."""
    checked = 0
    prev_hash = GENESIS_HASH
    prev_id = 0
    with Session(engine) as session:
        for row in _rows(session):
            if row.id != prev_id + 1:
                return AuditVerifyResult(
                    False, checked, prev_id or None, prev_hash, row.id, "id",
                    f"id {prev_id + 1}", f"id {row.id}",
                )  # fmt: skip
            if row.prev_hash != prev_hash:
                return AuditVerifyResult(
                    False, checked, prev_id or None, prev_hash, row.id, "prev_hash",
                    prev_hash, row.prev_hash,
                )  # fmt: skip
            expected = chain_hash(prev_hash, _content(row))
            if row.row_hash != expected:
                return AuditVerifyResult(
                    False, checked, prev_id or None, prev_hash, row.id, "row_hash",
                    expected, row.row_hash,
                )  # fmt: skip
            checked += 1
            prev_hash = row.row_hash
            prev_id = row.id
    return AuditVerifyResult(True, checked, prev_id or None, prev_hash if checked else None)


def _decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def audit_log(
    engine: Engine,
    participant: int | str | None = None,
    *,
    table: str | None = None,
    record_id: int | None = None,
) -> list[AuditEntry]:
    """The audit history, oldest first; optionally of one participant (id or study ID).

    Rows about the participant's records (visits, assessments, doses…) are included: each audit
    row carries the participant it concerns.
    """
    with Session(engine) as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if participant is not None:
            query = query.where(AuditEvent.participant_id == _participant_id(session, participant))
        if table is not None:
            query = query.where(AuditEvent.table_name == table)
        if record_id is not None:
            query = query.where(AuditEvent.record_id == record_id)
        return [
            AuditEntry(
                **{
                    **_columns(row),
                    "old_value": _decode(row.old_value),
                    "new_value": _decode(row.new_value),
                }
            )
            for row in session.scalars(query)
        ]


def _participant_id(session: Session, participant: int | str) -> int:
    if isinstance(participant, int):
        return participant
    found = session.scalar(select(Participant.id).where(Participant.study_id == participant))
    if found is None:
        raise NotFoundError(
            f"participant {participant!r} is not in this database",
            hint="list participants with `remit participant list`",
        )
    return found


Tables = dict[str, dict[int, dict[str, Any]]]


def replay_audit(engine: Engine) -> Tables:
    """Rebuild every audited table from the audit trail alone.

    Returns ``{table: {id: {column: value}}}`` with values in their JSON form (dates as ISO
    text, timestamps as UTC ISO text); redacted columns hold ``"[redacted]"`` (``None`` when
    empty). Compare it with :func:`snapshot_tables`.
    """
    tables: Tables = {name: {} for name in audited_tables()}
    with Session(engine) as session:
        for row in _rows(session):
            if row.action in (AuditAction.READ.value, AuditAction.READ_REFUSED.value):
                continue
            records = tables.setdefault(row.table_name, {})
            if row.action == AuditAction.DELETE.value:
                records.pop(row.record_id, None)
                continue
            record = records.setdefault(row.record_id, {"id": row.record_id})
            if row.field is not None:
                record[row.field] = _decode(row.new_value)
    return tables


def snapshot_tables(engine: Engine) -> Tables:
    """Every audited table as stored, in the same form as :func:`replay_audit` returns."""
    tables: Tables = {}
    with engine.connect() as connection:
        for name, cls in audited_tables().items():
            table = cls.__table__
            redact = cls.__audit_redact__
            records: dict[int, dict[str, Any]] = {}
            for row in connection.execute(select(table).order_by(table.c.id)).mappings():
                records[row["id"]] = {
                    key: REDACTED if key in redact and value is not None else to_json_value(value)
                    for key, value in row.items()
                }
            tables[name] = records
    return tables
