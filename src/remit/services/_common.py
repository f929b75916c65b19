"""Helpers shared by the services: the acting user, the protocol in force, idempotency keys,
locks, alerts and ORM → record conversion. Not public: import from :mod:`remit.services`."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, select, text
from sqlalchemy.orm import Session, aliased

from remit.errors import (
    ConflictError,
    InputError,
    LockedError,
    NotFoundError,
    PermissionDeniedError,
)
from remit.protocol import Protocol, protocol_from_text
from remit.protocol.roles import PARTICIPANT_ROLE, SYSTEM_ROLE
from remit.protocol.status import AlertStatus
from remit.safety import Alert as SafetyAlert
from remit.services.access import require
from remit.services.records import (
    AlertRecord,
    AssessmentRecord,
    ParticipantRecord,
    VisitRecord,
)
from remit.store import Actor, UnitOfWork, content_sha256
from remit.store.allocation import Allocation
from remit.store.queries import hot_rows
from remit.store.scales import TrialScale
from remit.store.tables import (
    Alert,
    Assessment,
    IdempotencyKey,
    Lock,
    Participant,
    ProtocolVersion,
    Site,
    UserAccount,
    UserRole,
    Visit,
)
from remit.store.vocab import LockLevel


def now_utc() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def aware(value: datetime | None, name: str) -> datetime | None:
    """Refuse a naive datetime (a clinical time without a zone is ambiguous)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InputError(f"{name} {value!r} is not a date and time", expected="a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            f"{name} {value.isoformat()} has no time zone",
            expected="a time-zone-aware datetime (e.g. 2024-03-01T09:00:00+00:00)",
            hint="add the offset or 'Z' for UTC",
        )
    return value.astimezone(UTC)


#: How far ahead of the server's clock a clinical time may lie (two machines' clocks disagree
#: a little; a time further ahead has not happened yet).
CLOCK_SKEW = timedelta(minutes=5)
#: How long before a participant's start in the study (the earlier of their screening's entry
#: and their first visit's date) a clinical time of theirs may lie (a consent signed, a
#: reading taken at a referral visit before the screening).
BEFORE_SCREENING = timedelta(days=90)
#: No clinical time of a trial run with Remit lies before this (a year typed as 1999 or 1900).
EARLIEST_CLINICAL = datetime(2000, 1, 1, tzinfo=UTC)


def plausible_time(
    value: datetime | None,
    name: str,
    *,
    screened_at: datetime | None = None,
    now: datetime | None = None,
) -> datetime | None:
    """A clinical time (zone-aware, see :func:`aware`) within the range it can lie in, else
    :class:`InputError` naming the range and why.

    The one plausibility check of every service that takes a clinical time: not after now
    (plus :data:`CLOCK_SKEW`), since what is recorded has happened — an SAE awareness time in
    2099 would never make its reporting clock overdue —; not before the participant's
    start (``screened_at``: the earlier of their screening's entry and their first visit's
    date, less :data:`BEFORE_SCREENING`) when that is known, nor before
    :data:`EARLIEST_CLINICAL`.
    """
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
    earliest, start = EARLIEST_CLINICAL, None
    if screened_at is not None:
        start = aware(screened_at, "screened_at")
        if start is not None and start - BEFORE_SCREENING > earliest:
            earliest = start - BEFORE_SCREENING
        else:
            start = None  # the earliest plausible time is the one of every trial
    if when < earliest:  # (the reason spelled only for the message)
        why = (
            f"{EARLIEST_CLINICAL:%Y-%m-%d}, the earliest plausible"
            if start is None
            else f"{earliest:%Y-%m-%d}: {BEFORE_SCREENING.days} days before the participant's "
            f"start in the study on {start:%Y-%m-%d}"
        )
        raise InputError(
            f"{name} {when.isoformat(timespec='minutes')} is too early to be plausible",
            expected=f"a time on or after {why}",
            hint="check the year (and the participant)",
        )
    return when


def a_date(value: date | None, name: str) -> date | None:
    """Refuse something that is not a date."""
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InputError(f"{name} {value!r} is not a date", expected="a date (YYYY-MM-DD)")
    return value


def text_given(value: str | None, name: str) -> str:
    """A non-empty stripped text, or :class:`InputError`."""
    if value is None or not str(value).strip():
        raise InputError(f"{name} is empty", expected=f"a {name}")
    return str(value).strip()


def choice(value: str, vocabulary: Any, name: str) -> str:
    """``value`` as a member of the enum ``vocabulary`` (its value), or :class:`InputError`
    naming ``name`` and every allowed value."""
    try:
        return str(vocabulary(value).value)
    except ValueError:
        raise InputError(
            f"{name} {value!r} is unknown",
            expected="one of " + ", ".join(v.value for v in vocabulary),
        ) from None


# --- who acts --------------------------------------------------------------------------------


#: The newest ``trial_scale`` id (0 for none): which scales the trial database keeps, read
#: with a query each transaction runs anyway (the account's); rows are only ever added, so a
#: scale added by any process changes it (:func:`remit.services.unit.install_trial_scales`).
TRIAL_SCALES_MARK = (
    select(func.coalesce(func.max(TrialScale.id), 0)).scalar_subquery().label("scales_mark")
)

#: What :func:`authorise` returns when it read no account (system and participant actors).
MARK_NOT_READ = -1


def _account_and_role(study_wide: bool) -> Any:  # a Select (typed differently by SA 2.0/2.1)
    held_at = UserRole.site_id.is_(None) if study_wide else UserRole.site_id == bindparam("site_id")
    return (
        select(UserAccount.username, UserAccount.active, UserRole.id, TRIAL_SCALES_MARK)
        .outerjoin(
            UserRole,
            and_(
                UserRole.user_id == UserAccount.id,
                UserRole.role == bindparam("role"),
                held_at,
            ),
        )
        .where(UserAccount.id == bindparam("user_id"))
        .limit(1)
    )


# The statements of every request are built once (a statement built anew for each call costs
# more Python than running it on SQLite): bound parameters carry the values.

#: The account and, if held, the role (study-wide: ``True``; at the actor's site: ``False``).
_ACCOUNT_AND_ROLE = {True: _account_and_role(True), False: _account_and_role(False)}


def authorise(session: Session, actor: Actor, operation: str) -> int:
    """The actor's role may do ``operation`` and the (active) user really holds that role.

    Returns the trial database's scales mark read with the account (:data:`TRIAL_SCALES_MARK`),
    or :data:`MARK_NOT_READ` for an actor without an account (nothing was read).
    """
    require(actor, operation)
    if actor.role == SYSTEM_ROLE:
        return MARK_NOT_READ
    if actor.role == PARTICIPANT_ROLE:
        # a participant has no account: the ePRO link's token, checked by the service in this
        # very transaction, is the authority (require() kept them to their two operations)
        if actor.user_id is not None:
            raise PermissionDeniedError(
                f"actor {actor.username} (participant) cannot hold a user account",
                expected="the participant actor of remit.services.epro",
            )
        return MARK_NOT_READ
    if actor.user_id is None:
        raise PermissionDeniedError(
            f"actor {actor.username} ({actor.role}) has no user id",
            expected="an actor made from a stored user (remit.store.actor_for)",
        )
    # one query: the account and, if it holds it, the role (columns only: through the
    # DB-API cursor, see hot_rows)
    rows = hot_rows(
        session,
        _ACCOUNT_AND_ROLE[actor.site_id is None],
        {"user_id": actor.user_id, "role": actor.role, "site_id": actor.site_id},
    )
    username, active, role_id, scales_mark = rows[0] if rows else (None, False, None, 0)
    if not rows or username != actor.username or not active:
        raise PermissionDeniedError(
            f"user {actor.username!r} (id {actor.user_id}) is unknown or inactive",
            hint="log in again, or ask an admin",
        )
    if role_id is None:
        where = "study-wide" if actor.site_id is None else f"at site {actor.site_id}"
        raise PermissionDeniedError(
            f"user {actor.username!r} does not hold the role {actor.role} {where}",
            hint="ask an admin to grant the role",
        )
    return int(scales_mark)


# --- the protocol in force -------------------------------------------------------------------


#: Protocols parsed in this process, by the SHA-256 their ``protocol_version`` row stores
#: (a few: a process sees the versions of its database's amendments).
_PARSED: OrderedDict[str, Protocol] = OrderedDict()
_PARSED_KEPT = 16
_PARSED_LOCK = threading.Lock()


_NEWEST_PROTOCOL = (
    select(ProtocolVersion.id, ProtocolVersion.sha256).order_by(ProtocolVersion.id.desc()).limit(1)
)


def protocol_in_force(session: Session) -> tuple[Protocol, int]:
    """The newest stored protocol (parsed) and its ``protocol_version`` id.

    Each call reads which version is the newest (id and SHA-256, one small query), so an
    amendment stored by any process is in force for the next transaction of every process;
    the text is read and parsed only for a version this process has not parsed yet.
    """
    return _parsed(session, session.execute(_NEWEST_PROTOCOL).first())


#: An open lock of the study, or of the participant ``participant_id`` (a bound parameter).
_OPEN_LOCK_OF_STUDY_OR_PARTICIPANT = and_(
    Lock.unlocked_at.is_(None),
    or_(
        Lock.level == LockLevel.STUDY,
        and_(
            Lock.level == LockLevel.PARTICIPANT,
            Lock.participant_id == bindparam("participant_id"),
        ),
    ),
)

#: The newest protocol version and whether an open lock covers the study or the participant
#: ``participant_id`` (none: the study only): the write preamble's two checks in one query.
_NEWEST_PROTOCOL_AND_LOCKED = (
    select(
        ProtocolVersion.id,
        ProtocolVersion.sha256,
        exists().where(_OPEN_LOCK_OF_STUDY_OR_PARTICIPANT).label("locked"),
    )
    .order_by(ProtocolVersion.id.desc())
    .limit(1)
)


def _preamble_statement(first_visit: bool, key: bool) -> Any:  # a Select
    statement = _NEWEST_PROTOCOL_AND_LOCKED
    if first_visit:  # the earliest actual and target dates of the participant's visits
        statement = statement.add_columns(
            select(func.min(Visit.actual_date))
            .where(Visit.participant_id == bindparam("participant_id"))
            .scalar_subquery(),
            select(func.min(Visit.target_date))
            .where(Visit.participant_id == bindparam("participant_id"))
            .scalar_subquery(),
        )
    if key:  # the idempotency key in scope, if stored (one row at most: unique per scope)
        statement = statement.add_columns(
            IdempotencyKey.request_sha256, IdempotencyKey.record_table, IdempotencyKey.record_id
        ).outerjoin(
            IdempotencyKey,
            and_(
                IdempotencyKey.scope == bindparam("scope"),
                IdempotencyKey.key == bindparam("key"),
            ),
        )
    return statement


#: The write preamble's query, with the first visit's dates and/or the idempotency key
#: (built once each).
_PREAMBLE_STATEMENTS = {
    (first_visit, key): _preamble_statement(first_visit, key)
    for first_visit in (False, True)
    for key in (False, True)
}


@dataclass(frozen=True)
class InForce:
    """What the write preamble's one query found (:func:`protocol_in_force_and_locked`)."""

    protocol_and_id: tuple[Protocol, int]
    locked: bool
    first_visit: tuple[date | None, date | None] | None
    replayed_id: int | None


def protocol_in_force_and_locked(
    session: Session,
    participant_id: int | None,
    *,
    first_visit: bool = False,
    key: tuple[str, str, str, str] | None = None,
) -> InForce:
    """:func:`protocol_in_force` and whether an open lock of the study or of the participant
    ``participant_id`` exists (then :func:`check_unlocked` says which), in one query; with
    ``first_visit`` also the earliest actual and target dates of the participant's visits;
    with ``key`` (idempotency key, its scope from :func:`key_in_scope`, request digest,
    record table) the id of the record a previous request with that key made, as
    :func:`replayed` (a :class:`ConflictError` for the key used for another request)."""
    statement = _PREAMBLE_STATEMENTS[(first_visit, key is not None)]
    params: dict[str, Any] = {"participant_id": participant_id}
    if key is not None:
        params["key"], params["scope"] = key[0], key[1]
    found = hot_rows(session, statement, params)  # columns only: through the DB-API cursor
    row = found[0] if found else None
    in_force = _parsed(session, None if row is None else (row[0], row[1]))
    assert row is not None  # _parsed refused a database without a protocol
    replayed_id = None
    if key is not None:
        stored = row[-3:]
        if stored[0] is not None:
            replayed_id = _replay_of(key[0], key[2], key[3], stored[0], stored[1], stored[2])
    return InForce(in_force, bool(row[2]), (row[3], row[4]) if first_visit else None, replayed_id)


def _parsed(session: Session, newest: Any) -> tuple[Protocol, int]:
    if newest is None:
        raise NotFoundError(
            "no protocol is stored in this database", hint="initialise it with `remit init`"
        )
    version_id, sha256 = newest
    with _PARSED_LOCK:  # the web app's threads share it
        protocol = _PARSED.get(sha256)
    if protocol is None:
        stored = session.scalar(
            select(ProtocolVersion.text).where(ProtocolVersion.id == version_id)
        )
        protocol = protocol_from_text(stored or "", f"stored protocol {sha256[:12]}")
        with _PARSED_LOCK:
            _PARSED[sha256] = protocol
            while len(_PARSED) > _PARSED_KEPT:
                _PARSED.popitem(last=False)
    return protocol, version_id


# --- idempotency -----------------------------------------------------------------------------


def request_sha256(operation: str, body: Mapping[str, Any]) -> str:
    """Hash of a request: the operation and its canonical JSON body."""
    return content_sha256({"operation": operation, "body": dict(body)})


#: First key of the PostgreSQL advisory locks the services take ("REMI"); the audit trail's
#: lock uses the one-number form, which is a separate key space.
SERVICES_LOCK_KEY = 0x52454D49


def serialise(session: Session, name: str) -> None:
    """On PostgreSQL, hold a transaction lock named ``name`` so that two requests racing for the
    same thing (an idempotency key, the next participant number) run one after the other. On
    SQLite, ``BEGIN IMMEDIATE`` already serialises every write transaction."""
    if session.get_bind().dialect.name == "postgresql":  # (through the DB-API cursor)
        hot_rows(session, _NAMED_LOCK, {"space": SERVICES_LOCK_KEY, "name": name})


_NAMED_LOCK = text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))")


#: The participant's lock (:func:`serialise_participant`), by the participant's database id or
#: study ID: both name the lock ``participant:<id>``; an unknown study ID locks nobody's.
_PARTICIPANT_LOCK = {
    True: text(
        "SELECT pg_advisory_xact_lock(:space, hashtext('participant:' || CAST(:ref AS integer)))"
    ),
    False: text(
        "SELECT pg_advisory_xact_lock(:space, hashtext('participant:' || coalesce("
        "(SELECT id FROM participant WHERE study_id = :ref), -1)))"
    ),
}


#: The participant's lock, then a named lock (an idempotency key's), in one statement: the
#: inner query's row, which takes the participant's lock, is made before the outer one's,
#: which takes the named lock (the order every write takes them in).
_PARTICIPANT_THEN_NAMED_LOCK = {
    by_id: text(
        "SELECT pg_advisory_xact_lock(:space, hashtext(:name)) "
        f"FROM ({lock} OFFSET 0) AS participant_lock"
    )
    for by_id, lock in _PARTICIPANT_LOCK.items()
}


def serialise_participant(
    session: Session, participant: int | str, *, then: str | None = None
) -> bool:
    """On PostgreSQL, hold the transaction lock of one participant (by database id or study
    ID), so that two writes about the same participant run one after the other: each reads
    the participant, their consents, visits and forms only once the other has committed (the
    one-form-per-visit rule, a status changed meanwhile, the alerts raised). Writes about other
    participants are not held up. On SQLite ``BEGIN IMMEDIATE`` already serialises every write
    transaction. Returns whether a lock was taken.

    ``then``: the name of a lock (:func:`serialise`) to take right after the participant's,
    in the same statement (a request's idempotency key: :func:`key_lock_name`); a statement
    fewer for every form saved."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    by_id = isinstance(participant, int)
    params: dict[str, Any] = {"space": SERVICES_LOCK_KEY, "ref": participant}
    if then is not None:
        params["name"] = then
    hot_rows(  # through the DB-API cursor
        session,
        (_PARTICIPANT_LOCK if then is None else _PARTICIPANT_THEN_NAMED_LOCK)[by_id],
        params,
    )
    return True


def key_scope(actor: Actor) -> str:
    """Whose idempotency keys ``actor`` uses: its user's (``user:<id>``), or for work Remit
    does itself ``system:<username>``. Keys are unique per scope: another user's key is never
    replayed (nor even seen) by someone else."""
    if actor.user_id is None:
        return f"system:{actor.username}"
    return f"user:{actor.user_id}"


_KEY_IN_SCOPE = select(IdempotencyKey).where(
    IdempotencyKey.scope == bindparam("scope"), IdempotencyKey.key == bindparam("key")
)


def usable_key(key: object) -> bool:
    """Whether ``key`` may be an idempotency key (1 to 200 characters, not all blank)."""
    return isinstance(key, str) and bool(key.strip()) and len(key) <= 200


def key_lock_name(key: str, actor: Actor) -> str:
    """The name of the lock (:func:`serialise`) of ``actor``'s idempotency ``key``."""
    return f"idempotency:{key_scope(actor)}:{key}"


def key_in_scope(
    session: Session, key: str | None, actor: Actor, *, locked: bool = False
) -> str | None:
    """The scope of ``actor``'s idempotency ``key`` (:func:`key_scope`; ``None`` without a
    key), once the key is checked usable and, on PostgreSQL, a concurrent request with the
    same key waits for this one (advisory lock; ``locked``: this transaction holds it already,
    :func:`serialise_participant`)."""
    if key is None:
        return None
    if not usable_key(key):
        raise InputError(f"idempotency key {key!r} is not usable", expected="1 to 200 characters")
    if not locked:
        serialise(session, key_lock_name(key, actor))
    return key_scope(actor)


def _replay_of(
    key: str, digest: str, table: str, stored_sha256: str, stored_table: str, record_id: int
) -> int:
    if stored_sha256 != digest or stored_table != table:
        raise ConflictError(
            f"idempotency key {key!r} was already used for a different request "
            f"({stored_table} {record_id})",
            expected="the same key only for a retry of the very same submission",
            hint="use a new key for a new submission",
        )
    return record_id


def replayed(
    session: Session,
    key: str | None,
    digest: str,
    table: str,
    actor: Actor,
    *,
    locked: bool = False,
) -> int | None:
    """The record id a previous request of ``actor``'s user with ``key`` made, or ``None`` for
    a new key (a key another user used is a new key here).

    The same key with another body (or for another kind of record) is a :class:`ConflictError`.
    A concurrent request with the same key waits for this one (PostgreSQL advisory lock;
    ``locked``: this transaction holds it already).
    """
    scope = key_in_scope(session, key, actor, locked=locked)
    if key is None or scope is None:
        return None
    row = session.scalar(_KEY_IN_SCOPE, {"scope": scope, "key": key})
    if row is None:
        return None
    return _replay_of(key, digest, table, row.request_sha256, row.record_table, row.record_id)


def remember(
    uow: UnitOfWork,
    key: str | None,
    digest: str,
    table: str,
    record_id: int,
    *,
    at_once: bool = False,
) -> None:
    """Store the key of a request that created ``table`` row ``record_id`` (same transaction):
    at the next flush, or with ``at_once`` now (:meth:`~remit.store.UnitOfWork.insert`)."""
    if key is None:
        return
    values = {
        "key": key,
        "request_sha256": digest,
        "record_table": table,
        "record_id": record_id,
        "user_id": uow.actor.user_id,
        "scope": key_scope(uow.actor),
    }
    if at_once:
        uow.insert(IdempotencyKey, values)
    else:
        uow.add(IdempotencyKey(**values))


# --- locks -----------------------------------------------------------------------------------


_STUDY_LOCKS = select(Lock).where(Lock.unlocked_at.is_(None), Lock.level == LockLevel.STUDY)
_STUDY_OR_PARTICIPANT_LOCKS = select(Lock).where(_OPEN_LOCK_OF_STUDY_OR_PARTICIPANT)


def open_locks(
    session: Session,
    participant_id: int | None,
    table: str | None = None,
    record_id: int | None = None,
) -> list[Lock]:
    """Open locks covering the study, the participant or the record."""
    if table is None or record_id is None:  # the preamble's check: a statement built once
        return list(
            session.scalars(
                _STUDY_LOCKS if participant_id is None else _STUDY_OR_PARTICIPANT_LOCKS,
                {"participant_id": participant_id},
            )
        )
    conditions = [Lock.level == LockLevel.STUDY]
    if participant_id is not None:
        conditions.append(
            (Lock.level == LockLevel.PARTICIPANT) & (Lock.participant_id == participant_id)
        )
    if table is not None and record_id is not None:
        conditions.append(
            (Lock.level == LockLevel.FORM)
            & (Lock.record_table == table)
            & (Lock.record_id == record_id)
        )
    return list(session.scalars(select(Lock).where(Lock.unlocked_at.is_(None), or_(*conditions))))


def check_unlocked(
    session: Session,
    participant_id: int | None,
    table: str | None = None,
    record_id: int | None = None,
) -> None:
    """Refuse a write under an open lock (:class:`LockedError`)."""
    locks = open_locks(session, participant_id, table, record_id)
    if locks:
        lock = locks[0]
        covered: dict[str, str] = {
            LockLevel.STUDY: "the study",
            LockLevel.PARTICIPANT: "this participant's data",
        }
        what = covered.get(lock.level, f"{lock.record_table} {lock.record_id}")
        raise LockedError(
            f"{what} is locked (lock {lock.id}, {lock.locked_at:%Y-%m-%d})",
            hint="ask a data manager to unlock it, with a reason",
        )


# --- alerts ----------------------------------------------------------------------------------


def alert_status(alert: Alert) -> str:
    """open, acknowledged or closed (an :class:`AlertStatus` value)."""
    if alert.closed_at is not None:
        return AlertStatus.CLOSED.value
    if alert.acknowledged_at is not None:
        return AlertStatus.ACKNOWLEDGED.value
    return AlertStatus.OPEN.value


def alert_record(alert: Alert, study_id: str) -> AlertRecord:
    """An alert row as a record."""
    return AlertRecord.from_row(alert, participant_id=study_id, status=alert_status(alert))


def store_alerts(
    uow: UnitOfWork,
    participant: Participant,
    alerts: Iterable[SafetyAlert],
    source_table: str,
    source_id: int,
    *,
    once: bool = False,
    new_record: bool = False,
) -> list[Alert]:
    """Store the alerts a rule raised, in this transaction, and return the rows added (an open
    one for the same rule and record is not raised twice; with ``once``, not even a closed
    one).

    ``new_record``: ``source_id`` was made in this very transaction, so no stored alert can
    name it and none is looked for (one per rule is still stored); the alerts are inserted at
    once (:meth:`~remit.store.UnitOfWork.insert`) and the rows returned are not in the
    session."""
    session = uow.session
    added: list[Alert] = []
    for alert in alerts:
        values = {
            "participant_id": participant.id,
            "rule_id": alert.rule_id,
            "level": alert.level,
            "message": alert.message,
            "source_table": source_table,
            "source_id": source_id,
            "due_at": alert.due_at,
        }
        if new_record:
            if any(a.rule_id == alert.rule_id for a in added):
                continue
            # stored at once by a Core INSERT, audited as a flush would (UnitOfWork.insert)
            added.append(Alert(**uow.insert(Alert, values)))
            continue
        query = select(Alert.id).where(
            Alert.participant_id == participant.id,
            Alert.rule_id == alert.rule_id,
            Alert.source_table == source_table,
            Alert.source_id == source_id,
        )
        if not once:
            query = query.where(Alert.closed_at.is_(None))
        if session.scalar(query) is not None:
            continue
        row = Alert(**values)
        uow.add(row)
        added.append(row)
    session.flush()
    return added


def alerts_of(
    session: Session, participant: Participant, table: str, record_id: int
) -> tuple[AlertRecord, ...]:
    """Alerts raised by one record, oldest first."""
    rows = session.scalars(
        select(Alert)
        .where(Alert.source_table == table, Alert.source_id == record_id)
        .order_by(Alert.id)
    )
    return tuple(alert_record(a, participant.study_id) for a in rows)


def alerts_by_record(
    session: Session, participant: Participant, table: str
) -> dict[int, tuple[AlertRecord, ...]]:
    """The alerts raised by each of the participant's ``table`` records, oldest first, in one
    query (a list of records reads them at once, not one query per record)."""
    found: dict[int, list[AlertRecord]] = {}
    for a in session.scalars(
        select(Alert)
        .where(Alert.participant_id == participant.id, Alert.source_table == table)
        .order_by(Alert.id)
    ):
        if a.source_id is not None:
            found.setdefault(a.source_id, []).append(alert_record(a, participant.study_id))
    return {record_id: tuple(alerts) for record_id, alerts in found.items()}


# --- ORM → records ---------------------------------------------------------------------------


def site_code(session: Session, site_id: int) -> str:
    """The code of a site."""
    site = session.get(Site, site_id)
    return site.code if site is not None else str(site_id)


_ENROLLER = aliased(UserAccount)
_CONFIRMER = aliased(UserAccount)
#: What a participant's record names besides the row: the site's code, who enrolled and who
#: confirmed the enrolment, the kit; one statement. Built once.
_PARTICIPANT_NAMES = (
    select(Site.code, _ENROLLER.username, _CONFIRMER.username, Allocation.kit)
    .select_from(Participant)
    .join(Site, Site.id == Participant.site_id)
    .outerjoin(_ENROLLER, _ENROLLER.id == Participant.enrolled_by)
    .outerjoin(_CONFIRMER, _CONFIRMER.id == Participant.enrolment_confirmed_by)
    .outerjoin(Allocation, Allocation.participant_id == Participant.id)
    .where(Participant.id == bindparam("participant_id"))
    .limit(1)
)


def participant_record(session: Session, p: Participant) -> ParticipantRecord:
    """A participant row as a record."""
    site, enrolled_by, confirmed_by, kit = session.execute(
        _PARTICIPANT_NAMES, {"participant_id": p.id}
    ).one()
    return ParticipantRecord.from_row(
        p,
        participant_id=p.study_id,
        site=site,
        enrolled_by=enrolled_by,
        enrolment_confirmed_by=confirmed_by,
        kit=kit,
    )


def username_of(session: Session, user_id: int | None) -> str | None:
    """The username of a user key (``None`` for none, or a user no longer stored)."""
    if user_id is None:
        return None
    user = session.get(UserAccount, user_id)
    return None if user is None else user.username


def study_id_of(session: Session, participant_id: int | None) -> str | None:
    """The study ID of a participant key (``None`` for a record of no participant)."""
    if participant_id is None:
        return None
    return session.get_one(Participant, participant_id).study_id


def visit_record(protocol: Protocol, p: Participant, v: Visit) -> VisitRecord:
    """A visit row as a record."""
    label = v.visit_code
    if v.visit_code in protocol.visit_codes:
        label = protocol.visit(v.visit_code).label
    return VisitRecord.from_row(v, participant_id=p.study_id, label=label)


_VISIT_BY_CODE = select(Visit).where(
    Visit.participant_id == bindparam("participant_id"),
    Visit.visit_code == bindparam("visit_code"),
)


def find_visit(session: Session, p: Participant, visit_code: str) -> Visit | None:
    """The participant's visit ``visit_code``, or ``None`` when it is not in their schedule."""
    return session.scalar(_VISIT_BY_CODE, {"participant_id": p.id, "visit_code": visit_code})


def visit_at(session: Session, p: Participant, visit_code: str) -> Visit:
    """The participant's visit ``visit_code`` (:class:`NotFoundError` when not scheduled)."""
    visit = find_visit(session, p, visit_code)
    if visit is None:
        raise NotFoundError(
            f"visit {visit_code} is not in the schedule of {p.study_id}",
            hint="list the schedule with `remit visit list`",
        )
    return visit


def visit_codes(session: Session, participant: Participant) -> dict[int, str]:
    """The participant's visit codes by visit id, in one query."""
    return dict(
        session.execute(
            select(Visit.id, Visit.visit_code).where(Visit.participant_id == participant.id)
        ).all()
    )


def visit_code_of(session: Session, visit_id: int | None) -> str | None:
    """The visit code of a visit id."""
    if visit_id is None:
        return None
    visit = session.get(Visit, visit_id)
    return None if visit is None else visit.visit_code


def assessment_record(
    session: Session,
    p: Participant,
    a: Assessment,
    *,
    not_evaluated: tuple[tuple[str, str], ...] = (),
    alerts: tuple[AlertRecord, ...] | None = None,
    visit: Visit | None = None,
) -> AssessmentRecord:
    """An assessment row (with the alerts it raised: ``alerts`` when the caller knows them,
    else read) as a record. ``visit``: the form's visit (``a.visit_id``'s) when the caller
    holds it, else read."""
    if visit is not None and visit.id != a.visit_id:  # a service bug, not a user error
        raise InputError(f"visit {visit.id} is not the visit of assessment {a.id}")
    visit_code = visit.visit_code if visit is not None else visit_code_of(session, a.visit_id)
    if visit_code is None and a.dosing_session_id is not None:
        from remit.store.dosing import DosingSession

        ds = session.get(DosingSession, a.dosing_session_id)
        visit_code = visit_code_of(session, ds.visit_id) if ds is not None else None
    if alerts is None:
        alerts = alerts_of(session, p, "assessment", a.id)
    return _assessment_record(p, a, visit_code, alerts, not_evaluated)


def assessment_records(
    session: Session, p: Participant, rows: Iterable[Assessment]
) -> list[AssessmentRecord]:
    """The records of several of ``p``'s forms, with a fixed number of queries (their visits,
    the dosing sessions of forms rated during one, and their alerts read at once)."""
    forms = list(rows)
    if not forms:
        return []
    codes = visit_codes(session, p)
    by_session: dict[int, int] = {}
    if any(a.visit_id is None and a.dosing_session_id is not None for a in forms):
        from remit.store.dosing import DosingSession

        by_session = {
            session_id: visit_id
            for session_id, visit_id in session.execute(
                select(DosingSession.id, DosingSession.visit_id).where(
                    DosingSession.participant_id == p.id
                )
            )
            if visit_id is not None
        }
    alerts = alerts_by_record(session, p, "assessment")
    records = []
    for a in forms:
        visit_id = a.visit_id
        if visit_id is None and a.dosing_session_id is not None:
            visit_id = by_session.get(a.dosing_session_id)
        code = None if visit_id is None else codes.get(visit_id)
        records.append(_assessment_record(p, a, code, alerts.get(a.id, ()), ()))
    return records


def _assessment_record(
    p: Participant,
    a: Assessment,
    visit_code: str | None,
    alerts: tuple[AlertRecord, ...],
    not_evaluated: tuple[tuple[str, str], ...],
) -> AssessmentRecord:
    score = dict(a.score or {})
    return AssessmentRecord.from_row(
        a,
        participant_id=p.study_id,
        visit_code=visit_code,
        band=score.get("band"),
        score=score,
        answers=dict(a.answers or {}),
        alerts=alerts,
        not_evaluated=not_evaluated,
        complete=bool(score.get("complete", True)),
        missing_required=tuple(str(ref) for ref in score.get("missing_required", ())),
    )
