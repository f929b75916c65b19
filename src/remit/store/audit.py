"""Units of work and the audit trail they write, field by field, in the same transaction.

Every change to a Remit table goes through :func:`unit_of_work`. Session hooks
(``before_flush`` / ``after_flush``, registered for every SQLAlchemy session) look at each
inserted, updated and deleted row and append one ``audit_event`` row per field — who, role,
UTC time, table, record, field, old and new value as canonical JSON, action, reason — to a
keyed hash chain (HMAC-SHA256 with the engine's audit key, :mod:`remit.store.audit_keys`).
Services cannot forget to audit: a flush that touches a Remit table outside a unit of work is
refused.

Appends are serialised so the chain stays linear: on SQLite the unit of work's transaction
starts with ``BEGIN IMMEDIATE``; on PostgreSQL the writer takes ``pg_advisory_xact_lock`` before
reading the last hash. The database refuses UPDATE and DELETE of ``audit_event`` (triggers, see
the initial migration).
"""

from __future__ import annotations

import json
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from json.encoder import encode_basestring
from math import isfinite
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Engine, Table, event, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction
from sqlalchemy.orm.base import LoaderCallableStatus
from sqlalchemy.orm.exc import StaleDataError

from remit.errors import (
    ConflictError,
    InputError,
    RemitError,
    StorageFullError,
    StoreError,
    TransactionCollisionError,
)
from remit.protocol.roles import PARTICIPANT_ROLE, SYSTEM_ROLE, Role
from remit.store.audit_keys import audit_keys_of
from remit.store.canonical import GENESIS_HASH, REDACTED, canonical_json, iso_utc
from remit.store.cursor import compiled_once, log_statement, on_cursor, run_compiled
from remit.store.engine import is_disk_full, is_transaction_collision, one_writer, write_engine
from remit.store.tables import AuditEvent, Base, ProtocolVersion
from remit.store.types import utc_now
from remit.store.vocab import AuditAction

#: Key of the PostgreSQL advisory lock that serialises appends to the audit chain.
AUDIT_LOCK_KEY = 0x52454D4954  # "REMIT"

_UOW_KEY = "remit_unit_of_work"
_INSERT = AuditAction.INSERT.value
_ROLES = frozenset({*(r.value for r in Role), SYSTEM_ROLE, PARTICIPANT_ROLE})
_NO_VALUE = LoaderCallableStatus.NO_VALUE


@dataclass(frozen=True)
class Actor:
    """Who is acting: recorded on every audit row of the unit of work.

    ``role`` is one of :class:`remit.store.vocab.Role` or ``"system"`` (work done by Remit
    itself, such as creating a study before any user exists). ``site_id`` is the site the role
    is held at (``None`` for study-wide).
    """

    user_id: int | None
    username: str
    role: str
    site_id: int | None = None

    def __post_init__(self) -> None:
        if not self.username or not self.username.strip():
            raise InputError("an actor needs a username", expected="a non-empty username")
        if self.role not in _ROLES:
            raise InputError(
                f"role {self.role!r} is not a Remit role",
                expected="one of " + ", ".join(sorted(_ROLES)),
            )

    @classmethod
    def system(cls, username: str = "remit") -> Actor:
        """The actor for work Remit does itself (initialisation, simulation)."""
        return cls(user_id=None, username=username, role=SYSTEM_ROLE)


class AuditRecord(NamedTuple):
    """One audit row before it is chained and written (a tuple: a form makes some 26 of
    them, and a tuple is made and unpacked at C speed)."""

    action: str
    table_name: str
    record_id: int
    participant_id: int | None
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str | None

    def values(self) -> tuple[Any, ...]:
        """The fields in the order they are declared (that of the ``audit_event`` columns
        they fill)."""
        return tuple(self)


#: The fields of an :class:`AuditRecord`, in the order of :meth:`AuditRecord.values`.
_RECORD_FIELDS = AuditRecord._fields
#: ``_new_record(AuditRecord, values)``: the record of the 8 ``values`` (what the named tuple's
#: own ``__new__`` does, without its Python frame).
_new_record = tuple.__new__


@dataclass
class UnitOfWork:
    """One audited write transaction (made by :func:`unit_of_work`, not directly).

    Attributes
    ----------
    session
        The SQLAlchemy session, inside a write transaction.
    actor
        Who acts; written on every audit row.
    reason
        Why; required to change a completed, signed or locked form. May be set (or changed)
        before the flush that needs it.
    protocol_version_id
        Protocol version to tag new clinical records with; the newest stored one when ``None``.
    transaction_id
        Random id shared by the audit rows of this unit of work.
    """

    session: Session
    actor: Actor
    reason: str | None = None
    protocol_version_id: int | None = None
    transaction_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _pending: list[tuple[Base, str, dict[str, Any]]] = field(default_factory=list, repr=False)
    #: The id and hash of the last audit row this transaction appended (the chain's head: no
    #: other writer appends while it holds the append lock), so that the next flush of the
    #: same transaction chains on without reading it back. Forgotten whenever a (nested)
    #: transaction ends: a rolled-back savepoint takes its rows, and the lock, with it.
    _head: tuple[int, str] | None = field(default=None, repr=False)
    #: Audit rows of this transaction's flushes not written yet: they are chained and written
    #: in one INSERT before the commit (or before anything reads the trail in this
    #: transaction, or a savepoint begins: inside one, rows are written at each flush so that
    #: a rollback to it takes them).
    _queued: list[AuditRecord] = field(default_factory=list, repr=False)
    _savepoints: int = field(default=0, repr=False)
    _closing: bool = field(default=False, repr=False)
    _always: list[Callable[[UnitOfWork], None]] = field(default_factory=list, repr=False)
    #: The connection of this transaction, from its begin to its end (session_connection).
    _connection: Connection | None = field(default=None, repr=False)

    def add(self, record: Base) -> Base:
        """Add ``record`` to the session (it is written and audited at the next flush)."""
        self.session.add(record)
        return record

    def flush(self) -> None:
        """Write pending changes (and their audit rows) now, e.g. to learn new ids."""
        self.session.flush()

    def record_event(
        self,
        action: AuditAction | str,
        table_name: str,
        record_id: int,
        *,
        participant_id: int | None = None,
        field: str | None = None,
        old_value: Any = None,
        new_value: Any = None,
        reason: str | None = None,
    ) -> None:
        """Append an audit row for something that is not a row change (e.g. a read)."""
        self.session.flush()
        self.append_audit(
            [
                AuditRecord(
                    action=AuditAction(action).value,
                    table_name=table_name,
                    record_id=record_id,
                    participant_id=participant_id,
                    field=field,
                    old_value=None if old_value is None else canonical_json(old_value),
                    new_value=None if new_value is None else canonical_json(new_value),
                    reason=reason if reason is not None else self.reason,
                )
            ],
        )

    def insert(self, model: type[Base], values: Mapping[str, Any]) -> dict[str, Any]:
        """Insert one ``model`` row with ``values`` by a Core INSERT and put its audit rows on
        this transaction's chain; return every column of the stored row (with its ``id``).

        What is stored and audited is what ``add(model(**values))`` and a flush store and
        audit — the same defaults, the protocol version tag, the version counter, the audit
        rows field by field in the same order — without the ORM's unit-of-work machinery: for
        the write path of a form, where that machinery costs more than the statement. The row
        is not in the session (read it with a query, or build a transient object from the
        values returned). Changes pending in the session are flushed first, so the audit rows
        keep the order of the changes.
        """
        session = self.session
        session.flush()
        plan = _insert_plan(model)
        unknown = set(values).difference(plan.keys)
        if unknown:
            raise StoreError(f"{model.__tablename__} has no column {', '.join(sorted(unknown))}")
        connection = session_connection(session)
        row = dict(values)
        for key, default in plan.defaults:
            if row.get(key) is None:  # as the ORM: a column with a default is not left NULL
                row[key] = default()
        if plan.tagged and row.get("protocol_version_id") is None:
            version = self.protocol_version_id or _latest_protocol_version(connection)
            if version is None:
                raise StoreError(
                    f"cannot tag a new {model.__tablename__} with a protocol version: none stored",
                    hint="store the protocol first (remit.store.store_protocol_version) and flush",
                )
            row["protocol_version_id"] = version
        row["id"] = _insert_row(connection, plan, model, row)
        # the order of a flush's audit rows: the values it knew, then those written as NULL
        given = [key for key in plan.keys if key in row]
        nulls = [key for key in plan.keys if key not in row and key in plan.nulls]
        for key in nulls:
            row[key] = None
        missing = [key for key in plan.keys if key not in row]
        if missing:  # a server-side default: as stored
            row.update(_stored_values(connection, model, row["id"], missing))
        participant = _participant_of(connection, model, row)
        action, table, record_id, reason = _INSERT, model.__tablename__, row["id"], self.reason
        _queue(
            self,
            [
                # AuditRecord(...) made at C speed (its __new__ is this call)
                _new_record(
                    AuditRecord, (action, table, record_id, participant, key, None, new, reason)
                )
                for key, new in _spelled(model, row, (*given, *nulls, *missing))
                if key != "id"
            ],
        )
        return row

    def append_audit(self, records: list[AuditRecord]) -> None:
        """Put ``records`` on this transaction's audit chain, after the rows of the changes
        flushed so far (for writers that cannot go through the session hooks)."""
        self.session.flush()
        _queue(self, records)

    def write_audit(self) -> None:
        """Chain and write the audit rows queued so far (one INSERT)."""
        if self._queued:
            records, self._queued = self._queued, []
            _append(session_connection(self.session), self, records)

    def always(self, write: Callable[[UnitOfWork], None]) -> None:
        """Make ``write`` happen even if this unit of work fails.

        On success it runs in this transaction just before commit; on failure it runs in a new
        unit of work (same actor) after the rollback. Used to log refused identity reads.
        """
        self._always.append(write)


@contextmanager
def unit_of_work(
    engine: Engine,
    actor: Actor,
    reason: str | None = None,
    *,
    protocol_version_id: int | None = None,
) -> Iterator[UnitOfWork]:
    """Open an audited write transaction; commit on normal exit, roll back on error.

    Examples
    --------
    ``with unit_of_work(engine, actor=Actor(1, "kari", "investigator")) as uow:
    uow.add(Site(study_id=1, code="OSL", name="Oslo"))`` writes the site and its audit rows
    in one transaction.

    Errors from the database become :class:`remit.errors.RemitError` subclasses: a concurrent
    save of the same row → :class:`~remit.errors.ConflictError`; a save PostgreSQL stopped to
    break a deadlock (nothing of it is stored; send it again as it is) → its subclass
    :class:`~remit.errors.TransactionCollisionError`; a broken constraint or a
    locked database → :class:`~remit.errors.StoreError`.
    """
    session = Session(bind=write_engine(engine), autoflush=True, expire_on_commit=False)
    uow = UnitOfWork(
        session=session, actor=actor, reason=reason, protocol_version_id=protocol_version_id
    )
    session.info[_UOW_KEY] = uow
    failed: BaseException | None = None
    try:
        with one_writer(engine):
            try:
                yield uow
                for write in uow._always:
                    write(uow)
                uow._always.clear()
                session.flush()
                uow._closing = True  # a flush from here on writes its rows at once
                _write_audit_and_commit(uow)
            except BaseException as error:
                failed = error
                session.rollback()
                raise
            finally:
                session.close()
    except StaleDataError as error:
        raise ConflictError(
            f"the record was changed by someone else while you edited it ({error})",
            hint="reload the record and apply your change again",
        ) from error
    except IntegrityError as error:
        raise StoreError(
            f"the database refused the change: {error.orig}",
            hint="check for a duplicate key or a missing related record",
        ) from error
    except OperationalError as error:
        if is_transaction_collision(error):
            raise TransactionCollisionError(
                "this save collided with another one made at the same moment and the database "
                f"stopped it; nothing of it was stored ({error.orig})",
                expected="a save that does not wait for rows another save holds",
                hint="send it again (with the same Idempotency-Key it is stored once)",
            ) from error
        if is_disk_full(error):
            raise StorageFullError(
                f"the database is full, nothing was stored: {error.orig}",
                expected="free space for the database",
                hint="free disk space (or ask the database administrator), then submit again",
            ) from error
        raise StoreError(
            f"the database could not complete the transaction: {error.orig}",
            hint="retry; if the database is locked, another writer held it for too long",
        ) from error
    finally:
        if failed is not None and uow._always:
            _run_after_failure(engine, actor, uow._always, failed)


def _run_after_failure(
    engine: Engine,
    actor: Actor,
    writes: list[Callable[[UnitOfWork], None]],
    failed: BaseException,
) -> None:
    try:
        with unit_of_work(engine, actor) as again:
            for write in writes:
                write(again)
    except (RemitError, SQLAlchemyError) as error:
        failed.add_note(f"and recording the attempt failed too: {error}")


def current_unit_of_work(session: Session) -> UnitOfWork | None:
    """The unit of work ``session`` belongs to, if any."""
    found = session.info.get(_UOW_KEY)
    return found if isinstance(found, UnitOfWork) else None


# --- the flush hooks -------------------------------------------------------------------------


def _columns(record: Base) -> list[str]:
    return [prop.key for prop in record.__mapper__.column_attrs]


def _stored_values(
    connection: Connection, model: Base | type[Base], record_id: int, keys: list[str]
) -> dict[str, Any]:
    mapper = model.__mapper__
    table = mapper.local_table
    columns = [mapper.column_attrs[key].columns[0] for key in keys]
    row = connection.execute(select(*columns).where(table.c.id == record_id)).one()
    return dict(zip(keys, row, strict=True))


@dataclass(frozen=True)
class _InsertPlan:
    """How :meth:`UnitOfWork.insert` writes a row of one table (worked out once per table)."""

    statement: Any  # an Insert
    returning: Any  # the same, returning the id
    keys: tuple[str, ...]  # the columns, in the mapper's order
    defaults: tuple[tuple[str, Callable[[], Any]], ...]  # Python-side defaults, the version
    nulls: frozenset[str]  # written as NULL when not given (see _inserted_as_null)
    tagged: bool  # a ProtocolTagged table


_PLANS: dict[type[Base], _InsertPlan] = {}


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _insert_plan(model: type[Base]) -> _InsertPlan:
    found = _PLANS.get(model)
    if found is not None:
        return found
    mapper = model.__mapper__
    keys = tuple(prop.key for prop in mapper.column_attrs)
    defaults: list[tuple[str, Callable[[], Any]]] = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        default = column.default
        if mapper.version_id_col is not None and column is mapper.version_id_col:
            defaults.append((prop.key, partial(int, 1)))  # the first version (the ORM's rule)
        elif default is not None and getattr(default, "is_callable", False):
            defaults.append((prop.key, partial(default.arg, None)))
        elif default is not None and getattr(default, "is_scalar", False):
            defaults.append((prop.key, _constant(default.arg)))
        elif default is not None:
            raise StoreError(f"{model.__tablename__}.{prop.key}: a default insert() cannot use")
    table = cast(Table, mapper.local_table)
    found = _InsertPlan(
        statement=insert(table),
        returning=insert(table).returning(table.c.id),
        keys=keys,
        defaults=tuple(defaults),
        nulls=_null_on_insert(mapper),
        tagged="protocol_version_id" in keys,
    )
    _PLANS[model] = found
    return found


def _insert_row(
    connection: Connection, plan: _InsertPlan, model: type[Base], row: dict[str, Any]
) -> int:
    """INSERT ``row`` (values by column) through the DB-API cursor (:mod:`remit.store.cursor`:
    compiled once per dialect and set of columns, the types' conversions, the listeners, the
    errors as SQLAlchemy's) and return its id: SQLite's ``lastrowid``, PostgreSQL's
    ``RETURNING id`` (what SQLAlchemy's ``inserted_primary_key`` takes on each)."""
    dialect = connection.dialect
    sqlite = dialect.name == "sqlite"
    statement = plan.statement if sqlite else plan.returning
    query = compiled_once(dialect, statement, tuple(row))
    if len(query.params) != len(row):  # a default SQLAlchemy would compute: not planned
        missing = {name for _, name, _, _ in query.params}.symmetric_difference(row)
        raise StoreError(f"{model.__tablename__}: cannot insert {', '.join(sorted(missing))}")
    rows, last = run_compiled(connection, query, row, fetch=not sqlite)
    found = last if sqlite else (rows[0][0] if rows else None)
    if found is None:  # a table without an integer id: not one of Remit's
        raise StoreError(f"{model.__tablename__}: no id came back from the INSERT")
    return int(found)


def _values_before(connection: Connection, record: Base) -> dict[str, Any]:
    """Every column of ``record`` as stored before this flush (from memory, else the database)."""
    state = record._sa_instance_state  # type: ignore[attr-defined]
    found: dict[str, Any] = {}
    missing: list[str] = []
    for key in _columns(record):
        if key in state.committed_state:
            value = state.committed_state[key]
        elif key in state.dict:
            value = state.dict[key]
        else:
            value = _NO_VALUE
        if value is _NO_VALUE:
            missing.append(key)
        else:
            found[key] = value
    if missing:
        found.update(_stored_values(connection, record, record.id, missing))  # type: ignore[attr-defined]
    return found


def _inserted_as_null(record: Base) -> frozenset[str]:
    """The attributes the ORM's INSERT of ``record`` writes as an explicit NULL when they were
    not set: nullable, not in the primary key, no default of either side (SQLAlchemy's own
    rule, ``Mapper._insert_cols_as_none``). Their value after the insert is known: ``None``."""
    return _null_on_insert(record.__mapper__)


def _null_on_insert(mapper: Any) -> frozenset[str]:
    found = _NULL_ON_INSERT.get(mapper)
    if found is None:
        found = frozenset(
            prop.key
            for prop in mapper.column_attrs
            if len(prop.columns) == 1
            and (column := prop.columns[0]).nullable
            and not column.primary_key
            and column.default is None
            and column.server_default is None
        )
        _NULL_ON_INSERT[mapper] = found
    return found


_NULL_ON_INSERT: dict[Any, frozenset[str]] = {}


def _values_now(connection: Connection, record: Base, *, inserted: bool = False) -> dict[str, Any]:
    """Every column of ``record`` as it is in memory (expired ones read back from the database;
    for a row just ``inserted``, the columns its INSERT wrote as NULL need no reading)."""
    state = record._sa_instance_state  # type: ignore[attr-defined]
    keys = _columns(record)
    found = {key: state.dict[key] for key in keys if key in state.dict}
    if inserted:
        null = _inserted_as_null(record)
        found.update({key: None for key in keys if key not in found and key in null})
    missing = [key for key in keys if key not in found]
    if missing:
        found.update(_stored_values(connection, record, record.id, missing))  # type: ignore[attr-defined]
    return found


def _check_reason(record: Base, before: dict[str, Any], uow: UnitOfWork, deleting: bool) -> None:
    rule = record.__reason_rule__
    if rule is None or (uow.reason and uow.reason.strip()):
        return
    old_status = before.get("status")
    if not rule.always and old_status not in rule.statuses:
        return
    name = f"{record.__tablename__} {before.get('id')}"
    state = "" if old_status is None else f" (status {old_status})"
    if deleting:
        raise InputError(
            f"deleting {name}{state} needs a reason",
            hint="pass reason=... to unit_of_work or set uow.reason",
        )
    now = record._sa_instance_state.dict  # type: ignore[attr-defined]
    changed = sorted(
        key
        for key in _columns(record)
        if key in now and canonical_json(now[key]) != canonical_json(before[key])
    )
    if not changed:
        return
    new_status = now.get("status", old_status)
    if set(changed) <= {"status", *rule.bookkeeping} and (old_status, new_status) in rule.forward:
        return
    raise InputError(
        f"changing {', '.join(changed)} of {name}{state} needs a reason",
        hint="pass reason=... to unit_of_work or set uow.reason before saving",
    )


def _latest_protocol_version(connection: Connection) -> int | None:
    return connection.execute(
        select(ProtocolVersion.id).order_by(ProtocolVersion.id.desc()).limit(1)
    ).scalar()


def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    new = [r for r in session.new if isinstance(r, Base)]
    dirty = [
        r
        for r in session.dirty
        if isinstance(r, Base) and session.is_modified(r, include_collections=False)
    ]
    deleted = [r for r in session.deleted if isinstance(r, Base)]
    if not (new or dirty or deleted):
        return
    uow = current_unit_of_work(session)
    if uow is None:
        raise StoreError(
            "Remit tables may be changed only inside remit.store.unit_of_work(...)",
            hint="open a unit of work so the change is audited",
        )
    if any(isinstance(r, AuditEvent) for r in (*new, *dirty, *deleted)):
        raise StoreError("audit_event rows are written only by the audit trail itself")
    connection = session_connection(session)
    tagged = [r for r in new if hasattr(r, "protocol_version_id") and r.protocol_version_id is None]
    if tagged:
        version = uow.protocol_version_id or _latest_protocol_version(connection)
        if version is None:
            raise StoreError(
                f"cannot tag a new {tagged[0].__tablename__} with a protocol version: none stored",
                hint="store the protocol first (remit.store.store_protocol_version) and flush",
            )
        for record in tagged:
            record.protocol_version_id = version
    uow._pending.clear()
    for record in dirty:
        if record.__audited__:
            before = _values_before(connection, record)
            _check_reason(record, before, uow, deleting=False)
            uow._pending.append((record, AuditAction.UPDATE.value, before))
    for record in deleted:
        if record.__audited__:
            before = _values_before(connection, record)
            _check_reason(record, before, uow, deleting=True)
            uow._pending.append((record, AuditAction.DELETE.value, before))


def _participant_of(
    connection: Connection, record: Base | type[Base], values: dict[str, Any]
) -> int | None:
    table = record.__tablename__
    if table == "participant":
        return values.get("id")
    if values.get("participant_id") is not None:
        return int(values["participant_id"])
    parent: tuple[str, str] | None = {
        "dose": ("dosing_session", "dosing_session_id"),
        "data_query_message": ("data_query", "data_query_id"),
        "vital_sign_value": ("vital_sign", "vital_sign_id"),
    }.get(table)
    if parent is None or values.get(parent[1]) is None:
        return None
    parent_table = Base.metadata.tables[parent[0]]
    found = connection.execute(
        select(parent_table.c.participant_id).where(parent_table.c.id == values[parent[1]])
    ).scalar()
    return None if found is None else int(found)


def _value(record: Base | type[Base], key: str, value: Any) -> str:
    # A redacted column shows whether it holds a value and when it changed, never the value.
    if key in record.__audit_redact__ and value is not None:
        return canonical_json(REDACTED)
    spell = _FIELD_SPELLING.get(type(value))
    if spell is not None:  # most fields: the very text canonical_json writes, directly
        return spell(value)
    return canonical_json(value)


def _spelled(
    model: Base | type[Base], row: Mapping[str, Any], keys: tuple[str, ...]
) -> list[tuple[str, str]]:
    """Each of ``keys`` with :func:`_value` of ``row[key]``, without a call per field: most
    fields are spelled directly by their type."""
    redacted, spelling, spelled = model.__audit_redact__, _FIELD_SPELLING.get, []
    for key in keys:
        value = row[key]
        spell = None if key in redacted else spelling(type(value))
        spelled.append((key, _value(model, key, value) if spell is None else spell(value)))
    return spelled


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    uow = current_unit_of_work(session)
    if uow is None:
        return
    connection = session_connection(session)
    records: list[AuditRecord] = []
    inserted = sorted(
        (r for r in session.new if isinstance(r, Base) and r.__audited__),
        key=lambda r: (r.__tablename__, r.id),  # type: ignore[attr-defined]
    )
    for record in inserted:
        values = _values_now(connection, record, inserted=True)
        participant = _participant_of(connection, record, values)
        for key, value in values.items():
            if key == "id":
                continue
            records.append(
                AuditRecord(
                    AuditAction.INSERT.value,
                    record.__tablename__,
                    values["id"],
                    participant,
                    key,
                    None,
                    _value(record, key, value),
                    uow.reason,
                )
            )
    pending = sorted(
        uow._pending,
        key=lambda p: (p[1], p[0].__tablename__, p[2]["id"]),
    )
    uow._pending.clear()
    for record, action, before in pending:
        change = partial(
            AuditRecord,
            action,
            record.__tablename__,
            before["id"],
            _participant_of(connection, record, before),
        )
        if action == AuditAction.DELETE.value:
            for key, value in before.items():
                if key != "id":
                    records.append(change(key, _value(record, key, value), None, uow.reason))
            continue
        after = _values_now(connection, record)
        for key, value in after.items():
            if canonical_json(before[key]) != canonical_json(value):
                old, new = _value(record, key, before[key]), _value(record, key, value)
                records.append(change(key, old, new, uow.reason))
    _queue(uow, records)


#: PostgreSQL's append lock and the chain's head, in the driver's own spelling (sent together).
_PG_APPEND_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"
_PG_HEAD_SQL = "SELECT id, row_hash FROM audit_event ORDER BY id DESC LIMIT 1"


def _chain_head(connection: Connection) -> tuple[int, str]:
    """The id and hash of the chain's last row, read once this transaction holds the append
    lock (taken here on PostgreSQL: taking it again in the same transaction is cheap, and safe
    after a rollback to a savepoint; SQLite's ``BEGIN IMMEDIATE`` already serialises writers).

    PostgreSQL: one writer at a time appends to the chain. The lock is taken when the audit
    rows are written — just before the commit, or at once inside a savepoint — not before a
    transaction's first change: it is held from here to the end of the transaction, so the
    shorter that is, the more saves per second (every save queues for it). The lock and the
    read of the head go in one round trip (psycopg's pipeline mode), as two statements: the
    read must be a statement of its own, started after the lock is granted, so that its
    snapshot sees the rows of the writer that held the lock before (a single statement's
    snapshot is taken before it waits for the lock, and would miss them). A writer now waits
    for the lock holding the row locks of its changes, so two transactions can deadlock (each
    waiting for a lock the other holds); PostgreSQL breaks the cycle and the one it stops is
    refused with nothing stored (:func:`unit_of_work`: a :class:`~remit.errors.ConflictError`
    to send again).
    """
    if connection.dialect.name != "postgresql":
        head = compiled_once(connection.dialect, _HEAD)
        found, _ = run_compiled(connection, head, {}, fetch=True)
        last = found[0] if found else None
    else:  # by the driver itself: SQLAlchemy cannot read a result in pipeline mode
        driver = connection.connection.dbapi_connection
        if connection.engine.echo:
            log_statement(connection.engine, _PG_APPEND_LOCK_SQL, (AUDIT_LOCK_KEY,))
            log_statement(connection.engine, _PG_HEAD_SQL, ())
        try:
            with driver.pipeline():  # type: ignore[union-attr]
                driver.execute(_PG_APPEND_LOCK_SQL, (AUDIT_LOCK_KEY,))  # type: ignore[union-attr]
                cursor = driver.execute(_PG_HEAD_SQL)  # type: ignore[union-attr]
            last = cursor.fetchone()
        except connection.dialect.loaded_dbapi.Error as error:  # as SQLAlchemy's own errors
            raise DBAPIError.instance(
                _PG_APPEND_LOCK_SQL + "; " + _PG_HEAD_SQL,
                (AUDIT_LOCK_KEY,),
                error,
                connection.dialect.loaded_dbapi.Error,
                dialect=connection.dialect,
            ) from error
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def _write_audit_and_commit(uow: UnitOfWork) -> None:
    """Write the queued audit rows and commit.

    PostgreSQL: the rows' INSERT and the COMMIT go together (psycopg's pipeline mode: one
    round trip), so that the append lock is held for two round trips — the lock with the
    head, then the rows with the commit — and no Python work but the rows' hashing. The
    driver commits inside the pipeline; the session's commit that follows finds the
    transaction ended and sends nothing (the session must not commit inside the pipeline:
    it hands the connection back to the pool, to another thread, before the pipeline ends).
    """
    session = uow.session
    if uow._queued and session.get_bind().dialect.name == "postgresql":
        connection = session_connection(session)
        driver = connection.connection.dbapi_connection
        dbapi = connection.dialect.loaded_dbapi
        try:
            with driver.pipeline():  # type: ignore[union-attr]
                uow.write_audit()
                driver.commit()  # type: ignore[union-attr]
        except dbapi.Error as error:  # as SQLAlchemy's own errors (an INSERT's is seen here)
            raise DBAPIError.instance(
                "COMMIT", None, error, dbapi.Error, dialect=connection.dialect
            ) from error
    else:
        uow.write_audit()
    session.commit()


def _queue(uow: UnitOfWork, records: list[AuditRecord]) -> None:
    """Put ``records`` on the unit of work's queue (written before its commit), or, inside a
    savepoint or once the commit has begun, on the chain at once."""
    uow._queued.extend(records)
    if uow._savepoints or uow._closing:
        uow.write_audit()


def _append(connection: Connection, uow: UnitOfWork, records: list[AuditRecord]) -> None:
    """Chain ``records`` onto the audit trail, in this transaction."""
    if records:
        uow._head = append_audit_records(
            connection,
            uow.actor,
            uow.transaction_id,
            records,
            head=uow._head,
        )


#: The unit of work each connection of a write transaction serves (the savepoint hook has
#: only the connection).
_UOW_OF: weakref.WeakKeyDictionary[Connection, UnitOfWork] = weakref.WeakKeyDictionary()


def _connection_begins(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    uow = current_unit_of_work(session)
    if uow is not None:
        _UOW_OF[connection] = uow
        if transaction.parent is None:
            uow._connection = connection


def session_connection(session: Session) -> Connection:
    """``session.connection()``: for a unit of work's session, the connection its transaction
    began on, kept from its begin to its end (the statements of a write ask for it a dozen
    times; the session would look it up through its transactions each time)."""
    uow = session.info.get(_UOW_KEY)
    if uow is not None and uow._connection is not None:
        return uow._connection  # type: ignore[no-any-return]
    return session.connection()


def _before_savepoint(connection: Connection, _name: str | None) -> None:
    # the rows queued so far belong before the savepoint: written before it is set, a rollback
    # to it cannot take them
    uow = _UOW_OF.get(connection)
    if uow is not None and uow._queued:
        records, uow._queued = uow._queued, []
        _append(connection, uow, records)


def _savepoint_begins(session: Session, transaction: SessionTransaction) -> None:
    # inside a savepoint each flush's rows are written at once: a rollback to it takes them
    uow = current_unit_of_work(session)
    if uow is not None and transaction.nested:
        uow._savepoints += 1


def _forget_head(session: Session, transaction: SessionTransaction) -> None:
    # a savepoint or the transaction itself ended (not the subtransaction of a flush)
    uow = current_unit_of_work(session)
    if uow is not None and (transaction.nested or transaction.parent is None):
        uow._head = None
        if transaction.parent is None:
            uow._connection = None
        if transaction.nested:
            uow._savepoints -= 1


_HEAD = select(AuditEvent.id, AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1)

#: The columns of an audit row that its hash covers (all but ``prev_hash`` and ``row_hash``).
AUDIT_CONTENT_COLUMNS = (
    "id",
    "occurred_at",
    "transaction_id",
    "user_id",
    "username",
    "role",
    "site_id",
    "action",
    "table_name",
    "record_id",
    "participant_id",
    "field",
    "old_value",
    "new_value",
    "reason",
)

#: The columns of ``audit_event`` in the order of the INSERT's values.
_AUDIT_COLUMNS = (*AUDIT_CONTENT_COLUMNS, "prev_hash", "row_hash")
#: The placeholder of one value by the driver's parameter style.
_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
#: Audit rows per INSERT statement at most: 50 rows are 850 parameters, under the 999 of the
#: oldest SQLite builds (PostgreSQL takes 65,535); a form's 26 rows go in one statement.
AUDIT_ROWS_PER_INSERT = 50
#: The multi-row INSERTs of audit rows in the driver's own spelling, by parameter style and
#: number of rows (made when first needed): one statement for many rows, so the database
#: parses and plans it once and PostgreSQL's backend runs one statement, not one per row;
#: the values go as one flat tuple, with no per-row parameter processing in Python.
_AUDIT_INSERT_SQL: dict[tuple[str, int], str] = {}


#: PostgreSQL's INSERT of any number of audit rows: what the rows share as single values, and
#: each row's own columns as one JSON array of arrays (one text parameter, unpacked by the
#: server), so the statement and its 7 parameters are the same for every append (psycopg
#: converts it once, adapts no value one by one, and the server runs one statement). The
#: array is read as ``jsonb``, parsed once: each ``->>`` of a ``json`` value parses its text
#: again from the start, 11 times per row (the statement took 0.5 ms of the server's CPU for
#: a form's 26 rows, 0.3 ms as ``jsonb``, and runs while the append lock is held). The
#: integers are cast back from their text; every other element is a JSON string, which both
#: types give back as written.
_PG_AUDIT_INSERT_SQL = (
    f"INSERT INTO audit_event ({', '.join(_AUDIT_COLUMNS)}) "
    "SELECT (r->>0)::integer, %s::timestamptz, %s::varchar, %s::integer, %s::varchar, "
    "%s::varchar, %s::integer, r->>1, r->>2, (r->>3)::integer, (r->>4)::integer, r->>5, "
    "r->>6, r->>7, r->>8, r->>9, r->>10 FROM jsonb_array_elements(%s::jsonb) AS e(r)"
)
#: The JSON of those rows (``->>`` gives back each text exactly as written).
_PG_ROWS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _audit_insert_sql(paramstyle: str, n_rows: int) -> str:
    found = _AUDIT_INSERT_SQL.get((paramstyle, n_rows))
    if found is None:
        one = f"({', '.join([_MARKS[paramstyle]] * len(_AUDIT_COLUMNS))})"
        found = f"INSERT INTO audit_event ({', '.join(_AUDIT_COLUMNS)}) VALUES " + ", ".join(
            [one] * n_rows
        )
        _AUDIT_INSERT_SQL[(paramstyle, n_rows)] = found
    return found


_OCCURRED_AT = Base.metadata.tables["audit_event"].c.occurred_at


def append_audit_records(
    connection: Connection,
    actor: Actor,
    transaction_id: str,
    records: list[AuditRecord],
    *,
    head: tuple[int, str] | None = None,
) -> tuple[int, str] | None:
    """Chain ``records`` onto the audit trail in ``connection``'s transaction, in one pass and
    one INSERT of many rows; return the new head of the chain (id and hash of the last row),
    or ``None`` when there was nothing to append.

    For writers that cannot go through the session hooks, such as a migration moving rows from
    one table to another: ``old_value`` and ``new_value`` must already be canonical JSON text
    (:func:`remit.store.canonical_json`). Takes the append lock on PostgreSQL; on SQLite the
    caller must hold the write lock (a write transaction).

    ``head`` is the head this very transaction returned from its previous append, while it
    still holds the append lock (the unit of work keeps it): the lock is not taken again and
    the head not read back. Without it the lock is taken (again: that is cheap) together with
    the read of the head, in one round trip (:func:`_chain_head`).
    """
    if not records:
        return None
    if head is None:
        head = _chain_head(connection)
    ring = audit_keys_of(connection)
    next_id, prev_hash = head[0] + 1, head[1]
    occurred_at = utc_now()
    writer = AuditContentWriter(iso_utc(occurred_at), transaction_id, actor)
    dialect = connection.dialect
    processed = _OCCURRED_AT.type._cached_bind_processor(dialect)
    stored_at = occurred_at if processed is None else processed(occurred_at)
    fixed = (transaction_id, actor.user_id, actor.username, actor.role, actor.site_id)
    sign = ring.signer()
    if dialect.name == "postgresql":
        own: list[tuple[Any, ...]] = []
        for record in records:
            row_hash = sign(prev_hash, writer.json(next_id, record))
            own.append((next_id, *record, prev_hash, row_hash))
            prev_hash = row_hash
            next_id += 1
        on_cursor(connection, _PG_AUDIT_INSERT_SQL, (stored_at, *fixed, _PG_ROWS_JSON(own)))
        return next_id - 1, prev_hash
    values: list[Any] = []  # the rows' values, one after the other
    for record in records:
        row_hash = sign(prev_hash, writer.json(next_id, record))
        values += (next_id, stored_at, *fixed, *record, prev_hash, row_hash)
        prev_hash = row_hash
        next_id += 1
    width = len(_AUDIT_COLUMNS) * AUDIT_ROWS_PER_INSERT
    for start in range(0, len(values), width):
        chunk = tuple(values[start : start + width])
        sql = _audit_insert_sql(dialect.paramstyle, len(chunk) // len(_AUDIT_COLUMNS))
        on_cursor(connection, sql, chunk)
    return next_id - 1, prev_hash


#: The JSON the writer spells itself, by the value's exact type (not ``bool``, a subclass of
#: ``int``: canonical JSON writes it ``true``; not ``float``: NaN becomes ``null``; not a str
#: subclass such as an enum), each a function written in C (``"null".format`` ignores its
#: argument): one dictionary look-up and one call spell a value, with no Python function in
#: between (26 rows x 9 values per form). A value of any other type is not found
#: (``KeyError``): it is converted as canonical_json does.
_SPELLING: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    type(None): "null".format,
}
_SCALAR = frozenset(_SPELLING)


def _spell_float(value: float) -> str:
    # canonical JSON: a finite float as json.dumps writes it (its repr), NaN and ±inf null
    return float.__repr__(value) if isfinite(value) else "null"


def _spell_datetime(value: datetime) -> str:
    # canonical JSON: UTC ISO 8601 with microseconds and Z, quoted (no character to escape)
    return f'"{iso_utc(value)}"'


def _spell_date(value: date) -> str:
    return f'"{value.isoformat()}"'


#: The spelling of a field's value (:func:`_value`): the scalars above and the other types a
#: row's columns hold, each exactly as canonical_json writes it (tests/store/
#: test_audit_spelling_types.py checks them against it for any value).
_FIELD_SPELLING: dict[type, Callable[[Any], str]] = {
    **_SPELLING,
    bool: {True: "true", False: "false"}.__getitem__,
    float: _spell_float,
    datetime: _spell_datetime,
    date: _spell_date,
}


def _scalar(value: str | int | None) -> str:
    """The JSON of a str, int or None exactly as :func:`json.dumps` (``ensure_ascii=False``)."""
    return _SPELLING[type(value)](value)


class AuditContentWriter:
    """The canonical JSON of the hashed content of the audit rows one append writes
    (:func:`audit_content`; the text :func:`remit.store.canonical_json` writes for it).

    The rows of one append share their time, transaction and actor: those fields are spelled
    once, and each row's own fields are put in between, in the sorted order of the keys.
    A value of a type the fast spelling does not cover is converted as canonical_json does.
    """

    def __init__(self, occurred_at: str, transaction_id: str, actor: Actor) -> None:
        self._fixed = {
            "occurred_at": occurred_at,
            "transaction_id": transaction_id,
            "user_id": actor.user_id,
            "username": actor.username,
            "role": actor.role,
            "site_id": actor.site_id,
        }
        shared = self._fixed
        if all(type(v) in _SCALAR for v in shared.values()):
            self._tail = f',"occurred_at":{_scalar(shared["occurred_at"])},"old_value":'
            self._middle = (
                f',"role":{_scalar(shared["role"])}'
                f',"site_id":{_scalar(shared["site_id"])},"table_name":'
            )
            self._end = (
                f',"transaction_id":{_scalar(shared["transaction_id"])}'
                f',"user_id":{_scalar(shared["user_id"])}'
                f',"username":{_scalar(shared["username"])}}}'
            )
            self._fast = True
        else:
            self._fast = False
        #: The shared values of the record spelled last (action, table, record, participant,
        #: reason: the same objects for the rows of one row's change) and the text before and
        #: after its own fields
        self._last: tuple[Any, ...] | None = None

    def content(self, row_id: int, record: AuditRecord) -> dict[str, Any]:
        """The hashed content of the row ``row_id`` holding ``record``."""
        return audit_content(
            id=row_id, **self._fixed, **dict(zip(_RECORD_FIELDS, record.values(), strict=True))
        )

    def json(self, row_id: int, record: AuditRecord) -> str:
        """``canonical_json(self.content(row_id, record))``, spelled directly."""
        if self._fast:
            spell = _SPELLING
            action, table_name, record_id, participant_id, key, old, new, reason = record
            try:  # each value of a type of its own spelling (else KeyError: the slow way)
                last = self._last
                if (  # the very objects spelled last: the same text (no look at their values)
                    last is not None
                    and last[0] is action
                    and last[1] is table_name
                    and last[2] is record_id
                    and last[3] is participant_id
                    and last[4] is reason
                ):
                    head, rest = last[5], last[6]
                else:
                    head = f'{{"action":{spell[type(action)](action)},"field":'
                    rest = (
                        f',"participant_id":{spell[type(participant_id)](participant_id)}'
                        f',"reason":{spell[type(reason)](reason)}'
                        f',"record_id":{spell[type(record_id)](record_id)}'
                        f"{self._middle}{spell[type(table_name)](table_name)}{self._end}"
                    )
                    self._last = (action, table_name, record_id, participant_id, reason, head, rest)
                return (
                    f"{head}{spell[type(key)](key)}"
                    f',"id":{spell[type(row_id)](row_id)}'
                    f',"new_value":{spell[type(new)](new)}'
                    f"{self._tail}{spell[type(old)](old)}{rest}"
                )
            except KeyError:
                pass
        return canonical_json(self.content(row_id, record))


def audit_content(**columns: Any) -> dict[str, Any]:
    """The hashed content of an audit row (every column but the two hashes)."""
    expected = set(AUDIT_CONTENT_COLUMNS)
    if set(columns) != expected:
        raise StoreError(f"audit content needs exactly {sorted(expected)}, got {sorted(columns)}")
    if not isinstance(columns["occurred_at"], str):
        columns["occurred_at"] = iso_utc(columns["occurred_at"])
    return columns


def _refuse_bulk_writes(state: ORMExecuteState) -> None:
    # ORM-enabled INSERT/UPDATE/DELETE statements skip the flush, and so the audit trail.
    if not (state.is_insert or state.is_update or state.is_delete):
        if state.is_select:
            # a read of the trail sees this transaction's rows (looked for only when some are
            # queued: finding the mappers of a statement costs more than most reads)
            uow = current_unit_of_work(state.session)
            if (
                uow is not None
                and uow._queued
                and any(m.class_ is AuditEvent for m in state.all_mappers)
            ):
                uow.write_audit()
        return
    touched = [m.class_ for m in state.all_mappers if issubclass(m.class_, Base)]
    if touched:
        names = ", ".join(sorted({cls.__tablename__ for cls in touched}))
        raise StoreError(
            f"bulk INSERT/UPDATE/DELETE statements on {names} would bypass the audit trail",
            hint="load the records and change them (or session.add / session.delete them)",
        )


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "after_flush", _after_flush)
event.listen(Session, "do_orm_execute", _refuse_bulk_writes)
event.listen(Session, "after_begin", _connection_begins)
event.listen(Engine, "savepoint", _before_savepoint)
event.listen(Session, "after_transaction_create", _savepoint_begins)
event.listen(Session, "after_transaction_end", _forget_head)
