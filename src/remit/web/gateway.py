"""The few things the web app needs that the services layer does not offer yet.

This is the ONLY module of :mod:`remit.web` that imports :mod:`remit.store`: opening the
database, checking a password, choosing the role a user acts in, and reading the audit trail.
Routes never import it for SQL; they call these functions like any other service. When
``remit.services`` gains ``authenticate``/``audit_history``, this module shrinks to imports.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from remit.errors import InputError, PermissionDeniedError
from remit.services import DoseRecord, VitalsRecord, get_participant
from remit.services.access import allowed
from remit.store import Actor, AuditEntry, audit_log, make_engine, require_current
from remit.store import authenticate as store_authenticate
from remit.store import roles_of as store_roles_of
from remit.store.tables import Site

__all__ = [
    "AUDIT_HIDDEN_TABLES",
    "Actor",
    "AuditEntry",
    "DosingDay",
    "RoleChoice",
    "audit_history",
    "check_password",
    "dosing_day",
    "login",
    "open_engine",
]

#: Tables whose audit rows are never shown on a page (identifying data, accounts).
AUDIT_HIDDEN_TABLES = frozenset(
    {"participant_identity", "identity_access_log", "user_account", "user_role"}
)


@dataclass(frozen=True)
class RoleChoice:
    """One role a user holds: ``role`` at site ``site`` (code; ``None`` study-wide)."""

    role: str
    site: str | None
    site_id: int | None

    @property
    def key(self) -> str:
        """``role@SITE`` or ``role`` (what a login form sends back)."""
        return f"{self.role}@{self.site}" if self.site else self.role


def open_engine(db_url: str) -> Engine:
    """An engine for ``db_url`` (a path or a URL) whose schema is at the newest migration."""
    engine = make_engine(db_url, must_exist=True)
    require_current(engine)
    return engine


def _choices(session: Session, user_id: object) -> list[RoleChoice]:
    from remit.store.tables import UserAccount

    user = session.get(UserAccount, user_id)
    if user is None:  # pragma: no cover - the caller just found it
        return []
    out = []
    for role, site_id in store_roles_of(session, user):
        site = session.get(Site, site_id) if site_id is not None else None
        out.append(RoleChoice(role, site.code if site else None, site_id))
    return out


def login(engine: Engine, username: str, password: str, role: str | None = None) -> Actor:
    """Check ``username``/``password`` (argon2id) and return the actor in the chosen role.

    ``role`` is ``"role"`` or ``"role@SITE"`` and needed only when the user holds several.
    Raises :class:`PermissionDeniedError` for wrong credentials (without saying which part was
    wrong) and :class:`InputError` listing the roles when the choice is missing or not held.
    """
    with Session(engine) as session:
        user = store_authenticate(session, username, password)
        choices = _choices(session, user.id)
        if role:
            choices = [c for c in choices if role in (c.key, c.role)]
        if len(choices) != 1:
            held = ", ".join(c.key for c in _choices(session, user.id)) or "none"
            raise InputError(
                f"choose the role to act in (given {role or 'none'})",
                expected=f"one of the roles held: {held}",
            )
        chosen = choices[0]
        return Actor(user.id, user.username, chosen.role, chosen.site_id)


def check_password(engine: Engine, actor: Actor, password: str) -> bool:
    """Whether ``password`` is the acting user's own (re-entry before a sensitive step)."""
    try:
        with Session(engine) as session:
            user = store_authenticate(session, actor.username, password)
            return bool(user.id == actor.user_id)
    except PermissionDeniedError:
        return False


def audit_history(engine: Engine, actor: Actor, table: str, record_id: int) -> list[AuditEntry]:
    """The audit rows of one record, oldest first, for someone who may view participants.

    A site-bound user sees only records of their site's participants; identity and account
    tables are never shown here.
    """
    if not allowed("view_participants", actor.role):
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role}) may not view audit histories",
            expected="a role that may view participants",
        )
    if table in AUDIT_HIDDEN_TABLES:
        raise PermissionDeniedError(
            f"the audit history of {table} is not shown in the web app",
            hint="use `remit audit` on the server",
        )
    entries = audit_log(engine, table=table, record_id=record_id)
    for participant_id in {e.participant_id for e in entries if e.participant_id is not None}:
        get_participant(engine, actor, participant_id)  # raises for another site's participant
    if actor.site_id is not None and any(e.participant_id is None for e in entries):
        entries = [e for e in entries if e.participant_id is not None]
    return entries


@dataclass(frozen=True)
class DosingDay:
    """What was recorded on one dosing day (doses and vital signs, oldest first)."""

    doses: tuple[DoseRecord, ...]
    vitals: tuple[VitalsRecord, ...]


def dosing_day(engine: Engine, actor: Actor, participant: str, visit_code: str) -> DosingDay:
    """The doses and vital signs of ``participant``'s dosing day at ``visit_code``.

    The services list dosing sessions but not their doses and readings; this read uses the
    services' own record builders and the same access check (viewing participants, own site).
    """
    from sqlalchemy import select

    from remit.services._common import protocol_in_force
    from remit.services.dosing import _dose_record, _vitals_record
    from remit.store.tables import Dose, DosingSession, Participant, Visit, VitalSign

    record = get_participant(engine, actor, participant)  # access and site check
    with Session(engine) as session:
        p = session.get_one(Participant, record.id)
        protocol, _ = protocol_in_force(session)
        visit = session.scalar(
            select(Visit).where(Visit.participant_id == p.id, Visit.visit_code == visit_code)
        )
        if visit is None:
            return DosingDay((), ())
        ds = session.scalar(select(DosingSession).where(DosingSession.visit_id == visit.id))
        doses: list[DoseRecord] = []
        if ds is not None:
            doses = [
                _dose_record(session, protocol, p, ds, d)
                for d in session.scalars(
                    select(Dose).where(Dose.dosing_session_id == ds.id).order_by(Dose.id)
                )
            ]
        readings = [
            _vitals_record(session, p, v)
            for v in session.scalars(
                select(VitalSign)
                .where(VitalSign.participant_id == p.id, VitalSign.visit_id == visit.id)
                .order_by(VitalSign.measured_at, VitalSign.id)
            )
        ]
        return DosingDay(tuple(doses), tuple(readings))
