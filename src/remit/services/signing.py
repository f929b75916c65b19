"""Electronic signatures, locks and data queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, Row, or_, select
from sqlalchemy.orm import Session, object_session

from remit.errors import InputError, LockedError, NotFoundError, PermissionDeniedError
from remit.json_values import to_json_value
from remit.protocol.roles import SIGNATURE_MEANINGS, Role, SignatureMeaning
from remit.protocol.status import UNFINISHED_STATUSES, AssessmentStatus
from remit.scales import load_scale
from remit.services._common import check_unlocked, choice, now_utc, study_id_of, text_given
from remit.services.blinding import (
    PriorScores,
    SafetyBlind,
    check_dosing_query,
    rater_queries,
)
from remit.services.records import (
    LockRecord,
    QueryRecord,
    SignatureRecord,
    SignedItem,
    SigningPreviewRecord,
    UnsignedFormRecord,
)
from remit.services.unit import ParticipantRef, owner_of, reading, writing
from remit.store import Actor, UnitOfWork, content_sha256, get_participant, verify_password
from remit.store.dosing import DosingSession
from remit.store.tables import (
    Assessment,
    AuditEvent,
    Base,
    DataQuery,
    DataQueryMessage,
    Lock,
    Participant,
    Signature,
    UserAccount,
    Visit,
    audited_tables,
)
from remit.store.vitals import VitalSignReading, reading_values
from remit.store.vocab import AuditAction, LockLevel, QueryStatus

#: Columns a signature does not cover: signing and locking change them.
UNSIGNED_COLUMNS = frozenset({"status", "version"})

#: The table of the forms (assessments), as a form's lock (``record_table``) names it.
FORM_TABLE: str = Assessment.__tablename__

#: Tables whose records may be signed, queried or locked one by one.
RECORD_TABLES = frozenset(
    {
        "assessment",
        "adverse_event",
        "concomitant_medication",
        "dose",
        "dosing_session",
        "eligibility_check",
        "participant",
        "participant_event",
        "protocol_deviation",
        "visit",
        "vital_sign",
    }
)


def _table(name: str) -> type[Base]:
    if name not in RECORD_TABLES:
        raise InputError(
            f"table {name!r} cannot be signed, queried or locked record by record",
            expected="one of " + ", ".join(sorted(RECORD_TABLES)),
        )
    return audited_tables()[name]


def _record(session: Session, table: str, record_id: int) -> Base:
    found = session.get(_table(table), record_id)
    if found is None:
        raise NotFoundError(f"{table} {record_id} does not exist")
    return found


def _participant_of(session: Session, record: Base) -> Participant | None:
    if isinstance(record, Participant):
        return record
    pid = getattr(record, "participant_id", None)
    if pid is None and getattr(record, "dosing_session_id", None) is not None:
        pid = session.get_one(DosingSession, record.dosing_session_id).participant_id  # type: ignore[attr-defined]
    return None if pid is None else session.get(Participant, pid)


def _owner_of_record(table: str, record_id: int) -> ParticipantRef:
    """The participant of ``table`` row ``record_id`` (checked to be signable)."""
    return lambda session: _participant_of(session, _record(session, table, record_id))


def record_content(record: Base) -> dict[str, Any]:
    """What a signature covers: the table, and every column but status and version (for a
    vital-sign reading also its values, which are rows of their own)."""
    values = {
        prop.key: getattr(record, prop.key)
        for prop in record.__mapper__.column_attrs
        if prop.key not in UNSIGNED_COLUMNS
    }
    session = object_session(record)
    if isinstance(record, VitalSignReading) and session is not None:
        values["signs"] = reading_values(session, [record.id]).get(record.id, {})
    return {"table": record.__tablename__, "values": values}


def _signature_record(s: Signature) -> SignatureRecord:
    return SignatureRecord.from_row(s)


def void_signatures(uow: UnitOfWork, table: str, record_id: int, reason: str) -> int:
    """Void the standing signatures of a record whose content no longer matches (after an
    edit); returns how many were voided."""
    session = uow.session
    record = session.get(audited_tables()[table], record_id)
    if record is None:
        return 0
    digest = content_sha256(record_content(record))
    voided = 0
    for s in session.scalars(
        select(Signature).where(
            Signature.record_table == table,
            Signature.record_id == record_id,
            Signature.voided_at.is_(None),
        )
    ):
        if s.content_sha256 != digest:
            s.voided_at = now_utc()
            s.void_reason = f"record changed after signing: {reason}"
            voided += 1
    session.flush()
    return voided


# --- what is signed, and with which meaning --------------------------------------------------


def _author_id(session: Session, record: Base) -> int | None:
    """Who entered ``record``: its rater (a form), the user who recorded it, else the user of
    its first audit entry (``None`` when Remit itself made it)."""
    for column in ("rater_user_id", "recorded_by"):
        found = getattr(record, column, None)
        if found is not None:
            return int(found)
    table, record_id = str(record.__tablename__), int(record.id)  # type: ignore[attr-defined]
    first: int | None = session.scalar(
        select(AuditEvent.user_id)
        .where(
            AuditEvent.table_name == table,
            AuditEvent.record_id == record_id,
            AuditEvent.action == AuditAction.INSERT.value,
        )
        .order_by(AuditEvent.id)
        .limit(1)
    )
    return first


def role_meanings(role: str) -> tuple[str, ...]:
    """The signature meanings ``role`` may sign with (:data:`SIGNATURE_MEANINGS`).

    >>> role_meanings("independent_rater"), role_meanings("statistician")
    (('author',), ())
    """
    try:
        return tuple(m.value for m in SIGNATURE_MEANINGS.get(Role(role), ()))
    except ValueError:
        return ()


def _meanings_for(actor: Actor, author_id: int | None) -> tuple[str, ...]:
    """The meanings ``actor`` may sign a record entered by ``author_id`` with: ``author`` only
    for the person who entered it."""
    return tuple(
        m
        for m in role_meanings(actor.role)
        if m != SignatureMeaning.AUTHOR or (author_id is not None and author_id == actor.user_id)
    )


def _check_meaning(
    session: Session, actor: Actor, meaning: str, record: Base, record_table: str, record_id: int
) -> None:
    """Refuse a meaning that is unknown, not one of the actor's role, or ``author`` of a record
    the actor did not enter."""
    known = [m.value for m in SignatureMeaning]
    held = role_meanings(actor.role)
    if meaning not in known:
        raise InputError(
            f"signature meaning {meaning!r} is unknown",
            expected="one of " + ", ".join(held or known),
        )
    if meaning not in held:
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role}) may not sign with the meaning {meaning!r}",
            expected="one of " + (", ".join(held) or "none: this role signs nothing"),
            hint="choose a meaning that fits your role",
        )
    author_id = _author_id(session, record)
    if meaning == SignatureMeaning.AUTHOR and author_id != actor.user_id:
        author = session.get(UserAccount, author_id) if author_id is not None else None
        who = f"{author.username} did" if author is not None else "Remit made it"
        others = [m for m in held if m != SignatureMeaning.AUTHOR]
        raise PermissionDeniedError(
            f"{actor.username} did not enter {record_table} {record_id} ({who}): "
            "only its author may sign it as 'author'",
            expected="one of " + (", ".join(others) or "none for this record"),
            hint="the person who entered or rated the record signs it as author",
        )


#: Columns kept for Remit's own bookkeeping: in the signed content (shown whole below the
#: table), not among the values listed for a person to read.
_BOOKKEEPING = frozenset({"id", "idempotency_key", "recorded_by"})


def _items(record: Base, content: dict[str, Any]) -> tuple[str, tuple[SignedItem, ...]]:
    """The title and the labelled values shown before signing: a form's answers with their
    item labels (in the scale's order), else the record's columns."""
    values = content["values"]
    if isinstance(record, Assessment):
        definition = load_scale(record.scale)
        answers = dict(values.get("answers") or {})
        items = []
        for item in definition.items_for(record.scale_version):
            key = item.code if item.code in answers else item.ref
            if key in answers:
                items.append(SignedItem(item.ref or item.code, item.label, answers.pop(key)))
        items += [SignedItem(k, k, v) for k, v in answers.items()]  # not in this version
        name = definition.short_name or definition.code.upper()
        title = f"{name} ({definition.name}), version {record.scale_version}"
        return title, tuple(items)
    shown = tuple(
        SignedItem(k, k.replace("_", " "), v)
        for k, v in values.items()
        if k not in _BOOKKEEPING and not k.endswith("_id")
    )
    return str(record.__tablename__).replace("_", " "), shown


def signing_preview(
    engine: Engine, actor: Actor, record_table: str, record_id: int
) -> SigningPreviewRecord:
    """What signing ``record_table`` row ``record_id`` now would sign (participant, visit,
    form and version, every answer with its label, the score, the record's version, who
    entered it, the exact content hashed and its SHA-256) and the meanings ``actor`` may sign
    it with. A read: nothing is signed.

    Example (a MADRS that rater ``rita`` entered at V3, read by investigator ``kari``)::

        preview = signing_preview(engine, kari, "assessment", 3)
        preview.participant_id, preview.visit_code, preview.meanings
        # ('OSL-001', 'V3', ('approved',))
        preview.items[0]  # SignedItem(key='1', label='Apparent sadness', value=3)
    """
    with reading(
        engine,
        actor,
        "sign",
        "signing_preview",
        participant=_owner_of_record(record_table, record_id),
    ) as r:
        session = r.session
        record = _record(session, record_table, record_id)
        SafetyBlind.in_force(session, actor).signable(r.uow, record_table, record_id, r.participant)
        participant = _participant_of(session, record)
        content = to_json_value(record_content(record))
        author_id = _author_id(session, record)
        author = session.get(UserAccount, author_id) if author_id is not None else None
        visit_id = getattr(record, "visit_id", None)
        visit = session.get(Visit, visit_id) if visit_id is not None else None
        title, items = _items(record, content)
        is_form = isinstance(record, Assessment)
        preview = SigningPreviewRecord(
            record_table=record_table,
            record_id=record_id,
            participant_id=participant.study_id if participant is not None else None,
            visit_code=visit.visit_code if visit is not None else None,
            title=title,
            scale=record.scale if is_form else None,  # type: ignore[attr-defined]
            scale_version=record.scale_version if is_form else None,  # type: ignore[attr-defined]
            items=items,
            score=dict(getattr(record, "score", None) or {}) if is_form else {},
            total=getattr(record, "total", None) if is_form else None,
            band=(getattr(record, "score", None) or {}).get("band") if is_form else None,
            status=getattr(record, "status", None),
            version=getattr(record, "version", None),
            author=author.username if author is not None else None,
            content=content,
            content_sha256=content_sha256(record_content(record)),
            meanings=_meanings_for(actor, author_id),
        )
        if isinstance(record, Assessment):
            preview = PriorScores.in_force(session, actor).preview(record, preview)
        return r.one(preview)


def sign(
    engine: Engine,
    actor: Actor,
    record_table: str,
    record_id: int,
    *,
    password: str,
    meaning: str,
) -> SignatureRecord:
    """Sign a record: re-enter the password; the signature is bound to the SHA-256 of the
    record's content, and a later edit voids it. A signed form's status becomes ``signed``.

    ``meaning`` must fit the signer's role (:data:`remit.protocol.roles.SIGNATURE_MEANINGS`):
    ``author`` only for the person who entered the record, ``approved`` for an
    investigator, ``reviewed`` for a monitor; :func:`signing_preview` lists the ones offered.
    """
    meaning = text_given(meaning, "meaning of the signature")
    with writing(engine, actor, "sign", participant=_owner_of_record(record_table, record_id)) as w:
        uow, session, participant = w.uow, w.session, w.participant
        user = session.get_one(UserAccount, actor.user_id)
        if not verify_password(user.password_hash, password):
            raise PermissionDeniedError(
                "the password does not match: the record was not signed",
                hint="re-enter your own password",
            )
        record = _record(session, record_table, record_id)
        SafetyBlind.in_force(session, actor).signable(uow, record_table, record_id, participant)
        _check_meaning(session, actor, meaning, record, record_table, record_id)
        check_unlocked(session, participant.id if participant else None, record_table, record_id)
        if isinstance(record, Assessment):
            if record.status in UNFINISHED_STATUSES:
                raise InputError(
                    f"assessment {record_id} is {record.status}",
                    expected="a complete form to sign",
                    hint="fill in the required items and save the form as complete first",
                )
            if record.status == AssessmentStatus.LOCKED.value:
                raise LockedError(f"assessment {record_id} is locked")
        digest = content_sha256(record_content(record))
        same = session.scalar(
            select(Signature).where(
                Signature.record_table == record_table,
                Signature.record_id == record_id,
                Signature.user_id == user.id,
                Signature.meaning == meaning,
                Signature.content_sha256 == digest,
                Signature.voided_at.is_(None),
            )
        )
        if same is not None:
            return _signature_record(same)
        signature = Signature(
            participant_id=participant.id if participant else None,
            user_id=user.id,
            meaning=meaning,
            record_table=record_table,
            record_id=record_id,
            content_sha256=digest,
        )
        uow.add(signature)
        if isinstance(record, Assessment) and record.status == AssessmentStatus.COMPLETE.value:
            record.status = AssessmentStatus.SIGNED.value
        session.flush()
        return _signature_record(signature)


def signatures_of(
    engine: Engine, actor: Actor, record_table: str, record_id: int
) -> list[tuple[SignatureRecord, bool]]:
    """A record's signatures, each with whether the record still matches what was signed."""
    with reading(
        engine,
        actor,
        "view_participants",
        "signatures_of",
        participant=_owner_of_record(record_table, record_id),
    ) as r:
        record = _record(r.session, record_table, record_id)
        digest = content_sha256(record_content(record))
        rows = r.session.scalars(
            select(Signature)
            .where(Signature.record_table == record_table, Signature.record_id == record_id)
            .order_by(Signature.id)
        )
        return r.returning([(_signature_record(s), s.content_sha256 == digest) for s in rows])


# --- locks -----------------------------------------------------------------------------------


def _lock_records(session: Session, rows: Sequence[Lock]) -> list[LockRecord]:
    """The records of ``rows`` with who locked and opened each (usernames) and why it was
    opened again (the reason of its unlock on the audit trail): at most three queries for any
    number of locks."""
    people = {row.participant_id for row in rows if row.participant_id is not None}
    study_ids: dict[int, str] = {}
    if people:
        found = select(Participant.id, Participant.study_id).where(Participant.id.in_(people))
        study_ids = dict(session.execute(found).all())
    users = {u for row in rows for u in (row.locked_by, row.unlocked_by) if u is not None}
    names: dict[int, str] = {}
    if users:
        named = select(UserAccount.id, UserAccount.username).where(UserAccount.id.in_(users))
        names = dict(session.execute(named).all())
    opened = [row.id for row in rows if row.unlocked_at is not None]
    reasons: dict[int, str | None] = {}
    if opened:
        unlocks = select(AuditEvent.record_id, AuditEvent.reason).where(
            AuditEvent.table_name == Lock.__tablename__,
            AuditEvent.record_id.in_(opened),
            AuditEvent.field == "unlocked_at",
        )
        reasons = dict(session.execute(unlocks).all())
    return [
        LockRecord.from_row(
            row,
            participant_id=study_ids.get(row.participant_id) if row.participant_id else None,
            locked_by=names.get(row.locked_by) if row.locked_by is not None else None,
            unlocked_by=names.get(row.unlocked_by) if row.unlocked_by is not None else None,
            unlock_reason=reasons.get(row.id),
        )
        for row in rows
    ]


def _lock_record(session: Session, lock: Lock) -> LockRecord:
    (found,) = _lock_records(session, [lock])
    return found


def lock(
    engine: Engine,
    actor: Actor,
    level: str,
    *,
    participant: int | str | None = None,
    record_table: str | None = None,
    record_id: int | None = None,
    reason: str | None = None,
) -> LockRecord:
    """Lock a form (``record_table``/``record_id``), a participant's data or the whole study.

    Nothing under an open lock can be changed. Locking a form sets its status ``locked``
    (a draft must be completed first). Locking again what is locked returns the open lock.
    """
    try:
        level = LockLevel(level).value
    except ValueError:
        raise InputError(
            f"lock level {level!r} is unknown", expected="form, participant or study"
        ) from None
    if level == LockLevel.FORM and (record_table is None or record_id is None):
        raise InputError("a form lock needs record_table and record_id")
    if level == LockLevel.PARTICIPANT and participant is None:
        raise InputError("a participant lock needs the participant")

    def locked_participant(session: Session) -> Participant | None:
        if level == LockLevel.FORM and record_table is not None and record_id is not None:
            return _participant_of(session, _record(session, record_table, record_id))
        if level == LockLevel.PARTICIPANT and participant is not None:
            return get_participant(session, participant)
        return None

    operation = "lock_study" if level == LockLevel.STUDY else "lock"
    with writing(
        engine, actor, operation, participant=locked_participant, reason=reason, locks=False
    ) as w:
        uow, session, found = w.uow, w.session, w.participant
        record: Base | None = None
        query = select(Lock).where(Lock.level == level, Lock.unlocked_at.is_(None))
        if level == LockLevel.FORM and record_table is not None and record_id is not None:
            record = _record(session, record_table, record_id)
            query = query.where(Lock.record_table == record_table, Lock.record_id == record_id)
        elif found is not None:
            query = query.where(Lock.participant_id == found.id)
        held = session.scalar(query)
        if held is not None:
            return _lock_record(session, held)
        if isinstance(record, Assessment):
            if record.status in UNFINISHED_STATUSES:
                raise InputError(
                    f"assessment {record_id} is {record.status}",
                    expected="a complete form to lock",
                    hint="fill in the required items and save the form as complete first",
                )
            record.status = AssessmentStatus.LOCKED.value
        row = Lock(
            level=level,
            participant_id=found.id if found else None,
            record_table=record_table if level == LockLevel.FORM else None,
            record_id=record_id if level == LockLevel.FORM else None,
            locked_by=actor.user_id,
            reason=reason,
        )
        uow.add(row)
        session.flush()
        return _lock_record(session, row)


def unlock(engine: Engine, actor: Actor, lock_id: int, *, reason: str) -> LockRecord:
    """Open a lock again (data manager, with a reason). A form goes back to ``signed`` if a
    signature still stands, else ``complete``."""
    text_given(reason, "reason to unlock")
    with writing(engine, actor, "unlock", reason=reason, locks=False) as w:
        session = w.session
        row = session.get(Lock, lock_id)
        if row is None:
            raise NotFoundError(f"lock {lock_id} does not exist")
        if row.unlocked_at is not None:
            return _lock_record(session, row)
        row.unlocked_at = now_utc()
        row.unlocked_by = actor.user_id
        if row.level == LockLevel.FORM and row.record_table == FORM_TABLE and row.record_id:
            form = session.get_one(Assessment, row.record_id)
            standing = session.scalar(
                select(Signature.id).where(
                    Signature.record_table == FORM_TABLE,
                    Signature.record_id == form.id,
                    Signature.voided_at.is_(None),
                )
            )
            form.status = (
                AssessmentStatus.SIGNED.value if standing else AssessmentStatus.COMPLETE.value
            )
        session.flush()
        return _lock_record(session, row)


def list_locks(
    engine: Engine, actor: Actor, *, participant: int | str | None = None, open_only: bool = False
) -> list[LockRecord]:
    """The locks, newest first: the study's, and those on participants and forms (a site-bound
    user sees its site's). ``participant`` keeps that participant's and the study's;
    ``open_only`` leaves out the locks opened again.

    Examples
    --------
    With a trial database (``tests/cli/test_lock_cli.py`` runs this)::

        list_locks(engine, data_manager, open_only=True)
        # [LockRecord(id=1, level='study', participant_id=None, ...)]
    """
    with reading(engine, actor, "view_participants", "list_locks", participant=participant) as r:
        session, found = r.session, r.participant
        query = (
            select(Lock)
            .outerjoin(Participant, Participant.id == Lock.participant_id)
            .order_by(Lock.id.desc())
        )
        if found is not None:
            query = query.where(or_(Lock.participant_id == found.id, Lock.level == LockLevel.STUDY))
        if actor.site_id is not None:
            query = query.where(
                or_(Lock.level == LockLevel.STUDY, Participant.site_id == actor.site_id)
            )
        if open_only:
            query = query.where(Lock.unlocked_at.is_(None))
        return r.returning(_lock_records(session, list(session.scalars(query))))


def unsigned_forms(
    engine: Engine, actor: Actor, *, participant: int | str | None = None
) -> list[UnsignedFormRecord]:
    """The complete forms nobody has signed yet (status still ``complete``) of the actor's
    sites, oldest first: what a data manager reviews before the database lock. Only where
    each form is, never its answers or score. ``participant`` (id or study ID) keeps that
    participant's: one of another site is refused
    (:class:`~remit.errors.PermissionDeniedError`), an unknown one is a
    :class:`~remit.errors.NotFoundError`.

    Example::

        [(f.participant_id, f.visit_code, f.scale) for f in unsigned_forms(engine, dora)]
        # [('OSL-001', 'V3', 'madrs')]
        unsigned_forms(engine, dora, participant="OSL-002")  # []
    """
    with reading(
        engine, actor, "view_participants", "unsigned_forms", participant=participant
    ) as r:
        query = (
            select(Assessment, Participant.study_id, Visit.visit_code)
            .join(Participant, Participant.id == Assessment.participant_id)
            .outerjoin(Visit, Visit.id == Assessment.visit_id)
            .where(Assessment.status == AssessmentStatus.COMPLETE.value)
            .order_by(Assessment.entered_at, Assessment.id)
        )
        if r.participant is not None:
            query = query.where(Assessment.participant_id == r.participant.id)
        if actor.site_id is not None:
            query = query.where(Participant.site_id == actor.site_id)
        return r.returning(
            [
                UnsignedFormRecord.from_row(form, participant_id=study_id, visit_code=visit_code)
                for form, study_id, visit_code in r.session.execute(query)
            ]
        )


# --- data queries ----------------------------------------------------------------------------


def _query_record(session: Session, q: DataQuery) -> QueryRecord:
    messages = session.execute(
        select(DataQueryMessage.user_id, DataQueryMessage.message)
        .where(DataQueryMessage.data_query_id == q.id)
        .order_by(DataQueryMessage.id)
    )
    return QueryRecord.from_row(
        q,
        participant_id=study_id_of(session, q.participant_id),
        messages=tuple((u, m) for u, m in messages),
    )


def open_query(
    engine: Engine,
    actor: Actor,
    record_table: str,
    record_id: int,
    *,
    field: str | None,
    text: str,
) -> QueryRecord:
    """Raise a question about one field of a record (``answers.<item>`` for a form's item)."""
    text = text_given(text, "query text")
    with writing(
        engine,
        actor,
        "open_query",
        participant=_owner_of_record(record_table, record_id),
        locks=False,
    ) as w:
        uow, session, participant = w.uow, w.session, w.participant
        record = _record(session, record_table, record_id)
        if field is not None:
            columns = {prop.key for prop in record.__mapper__.column_attrs}
            base = field.split(".", 1)[0]
            item_ok = "." not in field or (
                isinstance(record, Assessment) and field.split(".", 1)[1] in record.answers
            )
            if base not in columns or not item_ok:
                raise InputError(
                    f"{record_table} {record_id} has no field {field!r}",
                    expected="one of " + ", ".join(sorted(columns)),
                )
        q = DataQuery(
            participant_id=participant.id if participant else None,
            record_table=record_table,
            record_id=record_id,
            field=field,
            text=text,
            raised_by=actor.user_id,
        )
        uow.add(q)
        session.flush()
        return _query_record(session, q)


def _owner_of_query(query_id: int) -> ParticipantRef:
    return owner_of(DataQuery, query_id, "data query")


def answer_query(engine: Engine, actor: Actor, query_id: int, message: str) -> QueryRecord:
    """Answer an open query (the site's staff)."""
    message = text_given(message, "answer")
    with writing(
        engine,
        actor,
        "answer_query",
        participant=_owner_of_query(query_id),
        locks=False,
    ) as w:
        uow, session = w.uow, w.session
        q = session.get_one(DataQuery, query_id)
        # a rater blind to the safety data answers no query on a record hidden from them
        SafetyBlind.in_force(session, actor).check_in(
            uow, q.record_table, q.record_id, w.participant
        )
        # nor, when blind to dosing, one on a dosing session, a dose or a pre-dose checklist
        check_dosing_query(uow, actor, q.record_table, q.record_id, w.participant)
        if q.status == QueryStatus.CLOSED.value:
            raise InputError(f"data query {query_id} is closed", hint="open a new query")
        uow.add(DataQueryMessage(data_query_id=q.id, user_id=actor.user_id, message=message))
        q.status = QueryStatus.ANSWERED.value
        session.flush()
        (shown,) = rater_queries(session, actor, [_query_record(session, q)])
        return shown


def close_query(
    engine: Engine, actor: Actor, query_id: int, message: str | None = None
) -> QueryRecord:
    """Close a query (monitor or data manager), optionally with a last message."""
    with writing(
        engine,
        actor,
        "close_query",
        participant=_owner_of_query(query_id),
        locks=False,
    ) as w:
        uow, session = w.uow, w.session
        q = session.get_one(DataQuery, query_id)
        if q.status == QueryStatus.CLOSED.value:
            return _query_record(session, q)
        if message:
            uow.add(DataQueryMessage(data_query_id=q.id, user_id=actor.user_id, message=message))
        q.status = QueryStatus.CLOSED.value
        q.closed_by = actor.user_id
        q.closed_at = now_utc()
        session.flush()
        return _query_record(session, q)


def _query_threads(rows: Iterable[Row[Any]]) -> list[QueryRecord]:
    """The queries of ``rows`` (each a query's columns, its participant's study ID and one
    message of its thread, or no message: ordered by query, then message) with their
    threads."""
    found: dict[int, tuple[Row[Any], list[tuple[int | None, str]]]] = {}
    for row in rows:
        _, thread = found.setdefault(row.id, (row, []))
        if row.message is not None:  # the outer join's row of a query without messages
            thread.append((row.user_id, row.message))
    return [
        QueryRecord.from_row(row, participant_id=row.study_id, messages=tuple(thread))
        for row, thread in found.values()
    ]


def list_queries(
    engine: Engine,
    actor: Actor,
    *,
    status: str | None = None,
    participant: int | str | None = None,
) -> list[QueryRecord]:
    """Data queries the actor may see (optionally by status: open, answered, closed), oldest
    first, each with its thread of messages.

    A site-bound actor sees the queries on their own site's participants (and those on records
    of no participant, which every site may answer); a study-wide actor sees all.
    ``participant`` (id or study ID) keeps the queries on that participant's records: one of
    another site is refused (:class:`~remit.errors.PermissionDeniedError`), an unknown one is
    a :class:`~remit.errors.NotFoundError`. The queries and their threads are read in one
    statement, whatever their number; the independent rater's blind then applies
    (:func:`remit.services.blinding.rater_queries`).

    Example::

        found = list_queries(engine, dora, participant="OSL-001")
        [(q.id, q.participant_id, q.status, len(q.messages)) for q in found]
        # [(1, 'OSL-001', 'answered', 1)]
    """
    if status is not None:
        choice(status, QueryStatus, "data query status")
    with reading(engine, actor, "view_participants", "list_queries", participant=participant) as r:
        session = r.session
        # one statement (one snapshot: a thread and its query's status agree): a query
        # without messages is one row, a query with n messages n rows
        query = (
            select(
                DataQuery.id,
                DataQuery.record_table,
                DataQuery.record_id,
                DataQuery.field,
                DataQuery.text,
                DataQuery.status,
                Participant.study_id,
                DataQueryMessage.user_id,
                DataQueryMessage.message,
            )
            .outerjoin(Participant, Participant.id == DataQuery.participant_id)
            .outerjoin(DataQueryMessage, DataQueryMessage.data_query_id == DataQuery.id)
            .order_by(DataQuery.id, DataQueryMessage.id)
        )
        if status is not None:
            query = query.where(DataQuery.status == status)
        if r.participant is not None:
            query = query.where(DataQuery.participant_id == r.participant.id)
        if actor.site_id is not None:
            query = query.where(
                or_(DataQuery.participant_id.is_(None), Participant.site_id == actor.site_id)
            )
        found = _query_threads(session.execute(query))
        return r.returning(rater_queries(session, actor, found))
