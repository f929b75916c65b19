"""The one preamble of every service: :func:`writing` for writes, :func:`reading` for reads.

Every write service opens its transaction with ``with writing(...) as w:`` and every read
service with ``with reading(...) as r:``; neither authorises, looks up the participant, checks
an idempotency key or a lock in any other way. The order is fixed (``docs/services.md``):

writes
    1. one unit of work (:func:`remit.store.unit_of_work`, with the change's ``reason``);
    2. authorise: the actor's role may do the operation and the (active) user holds it;
    3. the participant written about (by key, or found from the record written) is at the
       actor's site; on PostgreSQL the write holds that participant's lock from here to its
       commit (``_common.serialise_participant``, taken before the participant is read), so
       writes about one participant run one after the other, as every write does on SQLite;
       the same statement takes the lock of the request's idempotency key, if usable;
    4. idempotency: a key already used for this very request sets ``w.replayed_id`` (the
       service returns the stored record and checks and writes nothing else); the key with a
       different request is a :class:`~remit.errors.ConflictError`;
    5. the protocol in force (``w.protocol``);
    6. locks: an open lock of the study or of the participant refuses the write
       (:class:`~remit.errors.LockedError`). A lock of one record is checked by the service
       once it has found the record;
    7. consent: an operation of :data:`~remit.services.access.CONSENT_NEEDED` is refused
       unless the participant's informed consent allows it at the procedure's clinical time
       ``at`` (:func:`~remit.services.consent_rules.require_consent`).

    Steps 4 to 6 read what they need in one query (the protocol version, whether a lock is
    open, the key, the first visit's dates: ``_common.protocol_in_force_and_locked``) and
    step 7's consents come with the participant (step 3); the refusals keep this order.

reads
    1. one unit of work; 2. authorise; 3. the participant is at the actor's site; then the
    service reads (a site-bound actor's queries keep to its site), and 4. one access-log row
    says who read what (:func:`remit.store.log_read`), in the same transaction.

A refusal at any step rolls everything back: nothing is written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from remit.errors import InputError, NotFoundError
from remit.protocol import Protocol
from remit.scales import trial_scales_key, use_trial_scales
from remit.services._common import (
    BEFORE_SCREENING,
    MARK_NOT_READ,
    TRIAL_SCALES_MARK,
    authorise,
    aware,
    check_unlocked,
    key_in_scope,
    key_lock_name,
    now_utc,
    plausible_time,
    protocol_in_force,
    protocol_in_force_and_locked,
    remember,
    replayed,
    request_sha256,
    serialise_participant,
    usable_key,
)
from remit.services.access import CONSENT_NEEDED, require_site
from remit.services.consent_rules import require_consent
from remit.store import (
    Actor,
    UnitOfWork,
    get_participant,
    get_participant_with_consents,
    log_read,
    unit_of_work,
)
from remit.store.consent import Consent
from remit.store.scales import TrialScale
from remit.store.tables import Participant, Visit

#: Who a service acts on: a participant key (id or study ID), a function finding the
#: participant from the record acted on (``None``: the record belongs to no participant), or
#: ``None`` (no participant: the study, a user …).
ParticipantRef = int | str | Callable[[Session], Participant | None] | None

T = TypeVar("T")


def owner_of(
    model: type[Any], record_id: int, what: str, *, hint: str | None = None
) -> Callable[[Session], Participant | None]:
    """A :data:`ParticipantRef` finding the participant of ``model`` row ``record_id`` (its
    ``participant_id``); a missing row is a :class:`~remit.errors.NotFoundError` naming
    ``what`` (``"adverse event"``, ``"alert"`` …)."""

    def find(session: Session) -> Participant | None:
        row = session.get(model, record_id)
        if row is None:
            raise NotFoundError(f"{what} {record_id} does not exist", hint=hint)
        pid = getattr(row, "participant_id", None)
        return None if pid is None else session.get_one(Participant, pid)

    return find


def _participant(
    session: Session, actor: Actor, ref: ParticipantRef, consents: list[Consent] | None = None
) -> Participant | None:
    """The participant of ``ref``, at the actor's site. ``consents``: a list to fill with
    their consents, read with them (a participant given by key), for the consent check."""
    if ref is None:
        return None
    if callable(ref):
        found = ref(session)
    elif consents is not None:
        found, read = get_participant_with_consents(session, ref)
        consents.extend(read)
    else:
        found = get_participant(session, ref)
    if found is not None:
        require_site(actor, found.site_id, found.study_id)
    return found


@dataclass
class Write:
    """What the write preamble established: the unit of work, the participant, the protocol in
    force and, for a retry, the id of the record the first request made."""

    uow: UnitOfWork
    participant: Participant | None
    protocol_and_id: tuple[Protocol, int] | None
    replayed_id: int | None
    key: str | None
    digest: str
    record_table: str | None

    @property
    def session(self) -> Session:
        """The transaction's session."""
        return self.uow.session

    @property
    def p(self) -> Participant:
        """The participant (for services that always act on one)."""
        if self.participant is None:  # a service bug, not a user error
            raise InputError("this operation needs a participant")
        return self.participant

    @property
    def protocol(self) -> Protocol:
        """The protocol in force."""
        if self.protocol_and_id is None:
            raise InputError("this operation was opened without the protocol in force")
        return self.protocol_and_id[0]

    def remember(self, record_id: int, *, at_once: bool = False) -> None:
        """Store the idempotency key with the id of the record this request made (``at_once``:
        now, by a Core INSERT, see :func:`~remit.services._common.remember`)."""
        if self.record_table is not None:
            remember(self.uow, self.key, self.digest, self.record_table, record_id, at_once=at_once)

    def stored(self, model: type[T]) -> T | None:
        """For a retry, the ``model`` row the first request made; ``None`` for a new request."""
        return None if self.replayed_id is None else self.session.get_one(model, self.replayed_id)

    def create(self, row: Any) -> None:
        """Add the record this request makes, flush it (it gets its id) and remember the
        idempotency key with that id."""
        self.uow.add(row)
        self.uow.flush()
        self.remember(row.id)


@contextmanager
def writing(
    engine: Engine,
    actor: Actor,
    operation: str,
    *,
    participant: ParticipantRef = None,
    reason: str | None = None,
    request: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    record_table: str | None = None,
    protocol: bool = True,
    locks: bool = True,
    at: datetime | None = None,
    detail: str | None = None,
) -> Iterator[Write]:
    """The write preamble (see the module's docstring for the order), then the service's body.

    ``operation`` is the row of the access table; ``request`` the body hashed for the
    idempotency key (services that take ``idempotency_key``) and ``record_table`` the table of
    the record the request makes. ``protocol=False`` for writes that need no protocol (creating
    the trial, adding a user); ``locks=False`` for writes that locks do not stop (alerts,
    signatures and locks check what they need themselves). ``at`` is the clinical time of the
    procedure (UTC; default now) and ``detail`` what it is about (the scale of a form), for the
    consent check of the operations that need consent.
    """
    digest = request_sha256(operation, request if request is not None else {})
    with unit_of_work(engine, actor, reason=reason) as uow:
        session = uow.session
        install_trial_scales(session, authorise(session, actor, operation))
        # a write that needs consent reads the participant's consents with them
        consents: list[Consent] | None = [] if operation in CONSENT_NEEDED else None
        # PostgreSQL: the participant's lock before reading them, and with it the lock of a
        # usable idempotency key (an unusable one is refused below, after the site check)
        key_lock = (
            key_lock_name(idempotency_key, actor)
            if record_table is not None
            and idempotency_key is not None
            and usable_key(idempotency_key)
            and participant is not None
            and not callable(participant)
            else None
        )
        key_locked = key_lock is not None
        if participant is not None and not callable(participant):
            serialise_participant(session, participant, then=key_lock)
        found = _participant(session, actor, participant, consents)
        if found is not None and callable(participant) and serialise_participant(session, found.id):
            session.expire_all()  # found from a record: nothing read before the lock is trusted
        # the clinical time is checked against the participant's start (plausible_time);
        # their start is no later than their screening's entry, so a time that the
        # screening's entry alone allows needs no look at their visits
        screened = None if found is None else aware(found.screened_at, "screened_at")
        start_read = (
            at is not None
            and found is not None
            and (screened is None or at < screened - BEFORE_SCREENING)
        )
        locked: bool | None = None  # not known yet: check_unlocked reads the locks
        first_visit: tuple[date | None, date | None] | None = None
        in_force: tuple[Protocol, int] | None
        if protocol and locks:
            # one query: the protocol in force, whether a lock is open, the first visit's
            # dates when needed and the idempotency key when given
            key = None
            if record_table is not None and idempotency_key is not None:
                scope = key_in_scope(session, idempotency_key, actor, locked=key_locked)
                key = None if scope is None else (idempotency_key, scope, digest, record_table)
            found_now = protocol_in_force_and_locked(
                session, None if found is None else found.id, first_visit=start_read, key=key
            )
            in_force, locked = found_now.protocol_and_id, found_now.locked
            first_visit, done = found_now.first_visit, found_now.replayed_id
        else:
            done = (
                replayed(session, idempotency_key, digest, record_table, actor, locked=key_locked)
                if record_table is not None
                else None
            )
            in_force = protocol_in_force(session) if protocol else None
        if in_force is not None and uow.protocol_version_id is None:
            uow.protocol_version_id = in_force[1]  # new records: the version checked against
        if done is None and at is not None and found is not None:
            if not start_read:
                plausible_time(at, "the time given", screened_at=screened)
            else:
                start = participant_start(session, found, first_visit)
                plausible_time(at, "the time given", screened_at=start)
        if done is None and locks and locked is not False:
            check_unlocked(session, None if found is None else found.id)
        if done is None and found is not None and in_force and operation in CONSENT_NEEDED:
            read = None if callable(participant) else consents
            require_consent(
                session, in_force[0], found, operation, at or now_utc(), detail, consents=read
            )
        yield Write(uow, found, in_force, done, idempotency_key, digest, record_table)


_FIRST_VISIT_DATES = select(func.min(Visit.actual_date), func.min(Visit.target_date)).where(
    Visit.participant_id == bindparam("participant_id")
)


def participant_start(
    session: Session,
    participant: Participant,
    first_visit: tuple[date | None, date | None] | None = None,
) -> datetime | None:
    """When the participant started in the study: the earlier of their screening's entry and
    their first visit's date (a trial entered after the fact has visits before the entry).
    ``first_visit``: the earliest actual and target dates of their visits when already read."""
    first = (
        session.execute(_FIRST_VISIT_DATES, {"participant_id": participant.id}).one()
        if first_visit is None
        else first_visit
    )
    starts = [d for d in (participant.screened_at,) if d is not None]
    starts += [datetime.combine(d, time(), UTC) for d in first if d is not None]
    return min(starts, default=None)


@dataclass
class Read:
    """What the read preamble established; ``n_records`` goes into the access log."""

    uow: UnitOfWork
    participant: Participant | None
    n_records: int | None = None

    @property
    def session(self) -> Session:
        """The transaction's session."""
        return self.uow.session

    @property
    def p(self) -> Participant:
        """The participant (for reads of one participant's data)."""
        if self.participant is None:
            raise InputError("this read needs a participant")
        return self.participant

    def returning(self, records: Sequence[T]) -> list[T]:
        """``records`` as a list, counted for the access log."""
        self.n_records = len(records)
        return list(records)

    def one(self, record: T) -> T:
        """One record, counted for the access log."""
        self.n_records = 1
        return record


@contextmanager
def reading(
    engine: Engine,
    actor: Actor,
    operation: str,
    resource: str,
    *,
    participant: ParticipantRef = None,
) -> Iterator[Read]:
    """The read preamble (see the module's docstring), the read, and its access-log row.

    ``operation`` is the row of the access table (``view_participants`` …); ``resource`` what
    the access log says was read (the read service's name).
    """
    with unit_of_work(engine, actor) as uow:
        install_trial_scales(uow.session, authorise(uow.session, actor, operation))
        found = _participant(uow.session, actor, participant)
        read = Read(uow, found)
        yield read
        log_read(
            uow,
            resource,
            participant_id=None if found is None else found.id,
            n_records=read.n_records,
        )


def latest_trial_scales(session: Session) -> list[TrialScale]:
    """The newest revision of each scale kept in the trial database, by code."""
    newest = (
        select(TrialScale.code, func.max(TrialScale.revision).label("revision"))
        .group_by(TrialScale.code)
        .subquery()
    )
    return list(
        session.scalars(
            select(TrialScale)
            .join(
                newest,
                (TrialScale.code == newest.c.code) & (TrialScale.revision == newest.c.revision),
            )
            .order_by(TrialScale.code)
        )
    )


_INSTALLING = threading.Lock()


def install_trial_scales(
    session: Session, mark: int = MARK_NOT_READ, *, uncommitted: bool = False
) -> None:
    """Install the newest revision of each scale kept in the database into
    :mod:`remit.scales` (see :func:`remit.scales.use_trial_scales`); called by the services'
    preambles each time they open the database.

    ``mark`` is the database's newest ``trial_scale`` id as :func:`authorise` read it with the
    account (:data:`~remit.services._common.TRIAL_SCALES_MARK`; read here when not given).
    The scales are read again only when the database or its mark differ from those installed
    last, so a scale added by any process is used at that process's next transaction, and a
    transaction that finds nothing new spends no query on them. ``uncommitted``: the
    transaction has just added a scale (it may yet roll back): the next transaction reads them
    again whatever its mark.
    """
    if mark == MARK_NOT_READ:
        mark = int(session.scalar(select(TRIAL_SCALES_MARK)) or 0)
    engine = session.get_bind().engine
    # the pool names the database (each transaction's engine may be a copy with options)
    key = None if uncommitted else ("trial database", id(engine.pool), str(engine.url), mark)
    if key is not None and trial_scales_key() == key:
        return
    with _INSTALLING:  # the web app's threads share the installed scales
        if key is not None and trial_scales_key() == key:
            return
        use_trial_scales(
            {
                row.code: (row.definition, f"trial database (revision {row.revision})")
                for row in latest_trial_scales(session)
            },
            key=key,
        )
