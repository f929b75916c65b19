"""Identifying data: written like any record, read only by privileged roles, every read logged;
and the access log every read of trial data writes to (:func:`log_read`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from remit.errors import NotFoundError, PermissionDeniedError
from remit.protocol.roles import IDENTITY_ROLES
from remit.store.audit import UnitOfWork
from remit.store.queries import get_participant
from remit.store.tables import (
    IDENTITY_RESOURCE,
    IdentityAccessLog,
    Participant,
    ParticipantIdentity,
)
from remit.store.vocab import AuditAction


@dataclass(frozen=True)
class IdentityRecord:
    """A participant's identity as read by a permitted user."""

    participant_id: int
    study_id: str
    name: str
    national_id: str | None
    contact: str | None

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dictionary."""
        return asdict(self)


def may_read_identity(role: str, actor_site_id: int | None, participant_site_id: int) -> bool:
    """Investigators and admins may; a site-bound role only for participants of its site."""
    return role in IDENTITY_ROLES and actor_site_id in (None, participant_site_id)


def _log(uow: UnitOfWork, participant: Participant, granted: bool, purpose: str | None) -> None:
    entry = log_read(
        uow,
        IDENTITY_RESOURCE,
        participant_id=participant.id,
        n_records=1 if granted else 0,
        purpose=purpose,
        granted=granted,
    )
    uow.record_event(
        AuditAction.READ if granted else AuditAction.READ_REFUSED,
        "identity_access_log",
        entry.id,
        participant_id=participant.id,
        field="participant_identity",
        reason=purpose,
    )


def log_read(
    uow: UnitOfWork,
    resource: str,
    *,
    participant_id: int | None = None,
    n_records: int | None = None,
    purpose: str | None = None,
    granted: bool = True,
) -> IdentityAccessLog:
    """Write the access-log row of one read of trial data, in this unit of work.

    ``resource`` names what was read (the read service, e.g. ``build_trial_data``);
    ``participant_id`` the one participant whose data were read, if so; ``n_records`` how many
    records were returned; ``granted=False`` for a refused read (identity reads log those).
    The reader and their site scope come from the unit of work's actor.
    """
    actor = uow.actor
    entry = IdentityAccessLog(
        participant_id=participant_id,
        resource=resource,
        user_id=actor.user_id,
        username=actor.username,
        role=actor.role,
        site_id=actor.site_id,
        n_records=n_records,
        granted=granted,
        purpose=purpose,
    )
    uow.session.add(entry)
    uow.session.flush()
    return entry


def set_identity(
    uow: UnitOfWork,
    participant: int | str,
    *,
    name: str,
    national_id: str | None = None,
    contact: str | None = None,
) -> ParticipantIdentity:
    """Create or replace a participant's identity (the audit trail records that, not the values)."""
    found = get_participant(uow.session, participant)
    row = uow.session.scalar(
        select(ParticipantIdentity).where(ParticipantIdentity.participant_id == found.id)
    )
    if row is None:
        row = ParticipantIdentity(participant_id=found.id, name=name)
        uow.session.add(row)
    row.name, row.national_id, row.contact = name, national_id, contact
    uow.session.flush()
    return row


def read_identity(
    uow: UnitOfWork, participant: int | str, *, purpose: str | None = None
) -> IdentityRecord:
    """Read a participant's identity; allowed for investigators and admins only.

    Every attempt is written to ``identity_access_log`` and the audit trail — a refusal too,
    even though the refusal (:class:`~remit.errors.PermissionDeniedError`) rolls back the rest
    of the unit of work.
    """
    found = get_participant(uow.session, participant)
    found_id = found.id  # the object expires if the unit of work rolls back
    actor = uow.actor
    if not may_read_identity(actor.role, actor.site_id, found.site_id):
        uow.always(
            lambda again: _log(again, get_participant(again.session, found_id), False, purpose)
        )
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role}) may not read the identity of {found.study_id}",
            expected="an investigator or admin (of the participant's site)",
            hint="ask an investigator; the attempt has been logged",
        )
    row = uow.session.scalar(
        select(ParticipantIdentity).where(ParticipantIdentity.participant_id == found.id)
    )
    if row is None:
        uow.always(
            lambda again: _log(again, get_participant(again.session, found_id), True, purpose)
        )
        raise NotFoundError(f"no identity is recorded for {found.study_id}")
    _log(uow, found, True, purpose)
    return IdentityRecord(found.id, found.study_id, row.name, row.national_id, row.contact)
