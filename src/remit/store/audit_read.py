"""Reading the audit trail: verify the keyed hash chain against anchors, list the history,
replay it into tables and compare them with the stored ones."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import NotFoundError, StoreError
from remit.store.audit import AUDIT_CONTENT_COLUMNS, audit_content
from remit.store.audit_anchor import AuditAnchor
from remit.store.audit_keys import AuditKeyRing, audit_keys_of
from remit.store.canonical import GENESIS_HASH, REDACTED, chain_hash, iso_utc, to_json_value
from remit.store.tables import AuditEvent, Participant, audited_tables
from remit.store.vocab import AuditAction

if TYPE_CHECKING:
    import pandas as pd

_BATCH = 5_000


@dataclass(frozen=True)
class StateDifference:
    """A stored value the audit trail does not explain (changed without a keyed audit row).

    ``trail`` is what replaying the trail gives, ``stored`` what the table holds (JSON form);
    ``field`` is ``None`` when the whole record is missing on one side.
    """

    table: str
    record_id: int
    field: str | None
    trail: Any
    stored: Any

    def summary(self) -> str:
        """One line for people."""
        if self.field is None:
            if self.stored is None:
                return f"{self.table} {self.record_id}: in the audit trail, missing from the table"
            return f"{self.table} {self.record_id}: in the table, never written through the trail"
        return (
            f"{self.table} {self.record_id} field {self.field}: the trail says "
            f"{self.trail!r}, the table holds {self.stored!r}"
        )


@dataclass(frozen=True)
class AuditVerifyResult:
    """Outcome of walking the keyed audit hash chain (and comparing it with the tables).

    ``ok`` is true when every row fits. Otherwise ``first_bad_id`` names the first row that does
    not, ``problem`` says how (``row_hash``: its content was altered, or it was not made with a
    key of the ring; ``unkeyed``: a row with a plain, unkeyed hash after keyed rows — forged
    without the key; ``prev_hash``: a row before it is missing, altered or reordered; ``id``: a
    gap or duplicate in the ids; ``anchor``: the row an anchor recorded has another hash now —
    the history up to it was rewritten; ``truncated``: an anchor saw rows the database no longer
    has; ``anchor_signature``: an anchor file was not signed with a key of the ring; ``state``:
    a table holds a value the trail does not explain, see ``differences``), and
    ``expected_hash`` / ``found_hash`` show what was compared. ``head_hash`` is the hash of the
    last row — anchor it (``remit audit anchor``) to detect a truncated tail later.
    ``legacy_rows`` counts rows from before keyed hashing (plain SHA-256, accepted only as the
    first rows of the chain), ``keys_used`` the ids of the keys the rows were made with.
    """

    ok: bool
    rows_checked: int
    head_id: int | None
    head_hash: str | None
    first_bad_id: int | None = None
    problem: str | None = None
    expected_hash: str | None = None
    found_hash: str | None = None
    legacy_rows: int = 0
    keys_used: tuple[str, ...] = ()
    anchors_checked: int = 0
    detail: str | None = None
    differences: tuple[StateDifference, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dictionary."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """The result as a one-row DataFrame."""
        import pandas as pd

        data = self.to_dict()
        data["differences"] = len(self.differences)
        return pd.DataFrame([data])

    def summary(self) -> str:
        """One line for people."""
        if self.ok:
            head = f"; head {self.head_id} {self.head_hash}" if self.head_id else ""
            anchors = f"; {self.anchors_checked} anchor(s) hold" if self.anchors_checked else ""
            legacy = f"; {self.legacy_rows} legacy unkeyed rows" if self.legacy_rows else ""
            return f"audit chain intact: {self.rows_checked} rows checked{head}{anchors}{legacy}"
        if self.problem == "state":
            first = self.differences[0].summary() if self.differences else ""
            return (
                f"audit trail intact but {len(self.differences)} stored value(s) are not explained "
                f"by it (changed outside Remit); first: {first}"
            )
        where = f"at row {self.first_bad_id} " if self.first_bad_id is not None else ""
        text = f"audit chain broken {where}({self.problem})"
        if self.detail:
            text += f": {self.detail}"
        if self.expected_hash is not None or self.found_hash is not None:
            text += f"; expected {self.expected_hash}, found {self.found_hash}"
        return text + f"; {self.rows_checked} rows fit before it"


@dataclass(frozen=True, slots=True)
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


def _anchor_problems(
    ring: AuditKeyRing, anchors: Sequence[AuditAnchor]
) -> AuditVerifyResult | None:
    for anchor in anchors:
        try:
            expected = ring.sign(anchor.key_id, anchor.signed_content())
        except StoreError as error:
            return AuditVerifyResult(
                False,
                0,
                None,
                None,
                None,
                "anchor_signature",
                detail=f"{anchor.describe()}: {error}",
            )
        if not hmac.compare_digest(expected, anchor.signature):
            return AuditVerifyResult(
                False, 0, None, None, None, "anchor_signature", expected, anchor.signature,
                detail=f"{anchor.describe()} is not signed by key {anchor.key_id} of the ring "
                "(altered, or made for another database)",
            )  # fmt: skip
    return None


def verify_audit_chain(
    engine: Engine, anchors: Sequence[AuditAnchor] = (), *, keys: AuditKeyRing | None = None
) -> AuditVerifyResult:
    """Walk the keyed audit chain from the first row and name the first row that does not fit.

    Each row's hash must be the HMAC of its content with a key of the ring (``keys``, else the
    engine's, :func:`remit.store.audit_keys.audit_keys_of`), keys used in ring order (a row
    never goes back to an older key); plain SHA-256 rows from before keyed hashing are accepted
    only as the first rows. Each of ``anchors`` must be signed by a key of the ring, its head
    row must still be there with the hash it recorded (else ``truncated`` or ``anchor``).
    """
    ring = keys if keys is not None else audit_keys_of(engine)
    bad_anchor = _anchor_problems(ring, anchors)
    if bad_anchor is not None:
        return bad_anchor
    anchored = {anchor.head_id: anchor for anchor in anchors}
    checked = legacy = 0
    prev_hash = GENESIS_HASH
    prev_id = 0
    index = -1  # -1: legacy unkeyed rows; then positions in the ring, never going back
    used: list[str] = []
    fail = partial(_failed, used=used)
    with Session(engine) as session:
        for row in _rows(session):
            if row.id != prev_id + 1:
                return fail(checked, prev_id, prev_hash, legacy, row.id, "id",
                            f"id {prev_id + 1}", f"id {row.id}")  # fmt: skip
            if row.prev_hash != prev_hash:
                return fail(checked, prev_id, prev_hash, legacy, row.id, "prev_hash",
                            prev_hash, row.prev_hash)  # fmt: skip
            content = _content(row)
            found = _key_index(ring, index, prev_hash, content, row.row_hash)
            if found is None:
                expected = ring.row_hash(max(index, 0), prev_hash, content)
                problem = "row_hash"
                detail = "the row was altered, or written without a key of the ring"
                if index >= 0 and chain_hash(prev_hash, content) == row.row_hash:
                    problem = "unkeyed"
                    detail = "a plain SHA-256 row after keyed rows: forged without the key"
                return fail(checked, prev_id, prev_hash, legacy, row.id, problem,
                            expected, row.row_hash, detail=detail)  # fmt: skip
            if found != index:
                index = found
                used.append(ring.keys[index][0])
            if index < 0:
                legacy += 1
            anchor = anchored.get(row.id)
            if anchor is not None and anchor.head_hash != row.row_hash:
                return fail(checked, prev_id, prev_hash, legacy, row.id, "anchor",
                            anchor.head_hash, row.row_hash,
                            detail=f"{anchor.describe()} recorded another hash for this row: the "
                            "history up to it was rewritten")  # fmt: skip
            checked += 1
            prev_hash = row.row_hash
            prev_id = row.id
    for anchor in sorted(anchors, key=lambda a: a.head_id):
        if anchor.head_id > prev_id:
            return fail(checked, prev_id, prev_hash if checked else None, legacy, prev_id + 1,
                        "truncated", anchor.head_hash, None,
                        detail=f"{anchor.describe()} saw rows up to {anchor.head_id}; the "
                        f"database ends at {prev_id}: rows were deleted")  # fmt: skip
    return AuditVerifyResult(
        True, checked, prev_id or None, prev_hash if checked else None,
        legacy_rows=legacy, keys_used=tuple(used), anchors_checked=len(anchors),
    )  # fmt: skip


def _key_index(
    ring: AuditKeyRing, index: int, prev_hash: str, content: dict[str, Any], found: str
) -> int | None:
    """Position of the ring key (from ``index`` on; -1 is the legacy hash) that made ``found``."""
    for candidate in range(index, len(ring.keys)):
        if candidate < 0:
            made = chain_hash(prev_hash, content)
        else:
            made = ring.row_hash(candidate, prev_hash, content)
        if hmac.compare_digest(made, found):
            return candidate
    return None


def _failed(
    checked: int,
    prev_id: int,
    prev_hash: str | None,
    legacy: int,
    bad_id: int,
    problem: str,
    expected: str | None,
    found: str | None,
    *,
    used: list[str],
    detail: str | None = None,
) -> AuditVerifyResult:
    return AuditVerifyResult(
        False, checked, prev_id or None, prev_hash, bad_id, problem, expected, found,
        legacy_rows=legacy, keys_used=tuple(used), detail=detail,
    )  # fmt: skip


def require_matching_keys(engine: Engine, *, keys: AuditKeyRing | None = None) -> None:
    """Refuse (:class:`~remit.errors.StoreError`) a key ring that did not make the newest audit
    row: writing with it would break the chain unseen until the next verification. One row
    is checked (cheap, for start-up); ``remit audit verify`` checks them all."""
    ring = keys if keys is not None else audit_keys_of(engine)
    with Session(engine) as session:
        row = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
        if (
            row is None
            or _key_index(ring, -1, row.prev_hash, _content(row), row.row_hash) is not None
        ):
            return
    raise StoreError(
        f"the audit key ring {ring.source} did not make the newest audit row ({row.id}) of this "
        "database: it is not this database's key ring, or the row was altered",
        hint="give the database's key ring (--audit-key or $REMIT_AUDIT_KEY_FILE), then run "
        "`remit audit verify`",
    )


def compare_state(engine: Engine) -> list[StateDifference]:
    """Every stored value of an audited table that replaying the audit trail does not give.

    Covers every audited table (:func:`remit.store.tables.audited_tables`, so a table added
    later is covered too): a record missing on either side, and each field whose value differs.
    Redacted columns are compared as present or empty only.
    """
    trail = replay_audit(engine)
    stored = snapshot_tables(engine)
    found: list[StateDifference] = []
    for table in sorted(set(trail) | set(stored)):
        replayed, held = trail.get(table, {}), stored.get(table, {})
        for record_id in sorted(set(replayed) | set(held)):
            if record_id not in held:
                found.append(StateDifference(table, record_id, None, replayed[record_id], None))
                continue
            if record_id not in replayed:
                found.append(StateDifference(table, record_id, None, None, held[record_id]))
                continue
            a, b = replayed[record_id], held[record_id]
            for name in sorted(set(a) | set(b)):
                if a.get(name) != b.get(name):
                    found.append(StateDifference(table, record_id, name, a.get(name), b.get(name)))
    return found


def verify_audit(
    engine: Engine, anchors: Sequence[AuditAnchor] = (), *, keys: AuditKeyRing | None = None
) -> AuditVerifyResult:
    """:func:`verify_audit_chain`, then (when the chain holds) :func:`compare_state`: the
    trail must explain every stored value of the audited tables (problem ``state``)."""
    result = verify_audit_chain(engine, anchors, keys=keys)
    if not result.ok:
        return result
    differences = compare_state(engine)
    if not differences:
        return result
    first = differences[0]
    return replace(
        result,
        ok=False,
        problem="state",
        detail=first.summary(),
        differences=tuple(differences),
    )


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
        # plain rows, not ORM instances: a whole trail (tens of thousands of rows, read by the
        # ODM export) is built without an identity map of objects that are thrown away
        columns = [getattr(AuditEvent, name) for name in AUDIT_CONTENT_COLUMNS]
        query = select(*columns).order_by(AuditEvent.id)
        if participant is not None:
            query = query.where(AuditEvent.participant_id == _participant_id(session, participant))
        if table is not None:
            query = query.where(AuditEvent.table_name == table)
        if record_id is not None:
            query = query.where(AuditEvent.record_id == record_id)
        entries = []
        for row in session.execute(query).mappings():
            values = dict(row)
            values["old_value"] = _decode(values["old_value"])
            values["new_value"] = _decode(values["new_value"])
            entries.append(AuditEntry(**values))
        return entries


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


#: The audit rows that record history, not a change of a table's row: the audit records of
#: another system, kept as provenance of imported data (:mod:`remit.services.provenance`).
#: Replaying the trail passes them over.
SOURCE_AUDIT_TABLE = "source_audit"


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
            if row.table_name == SOURCE_AUDIT_TABLE:
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
