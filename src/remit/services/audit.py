"""Reading the audit trail: the whole history, one record's history, the hash-chain check.

:func:`audit_history` is for a person acting through the app (access-checked, own site only).
:func:`audit_log` (the history, oldest first, optionally of one participant, table or
record) and :func:`verify_audit_chain` (walk the hash chain; the result names the first row that
does not fit) are the store's own, re-exported: they read the database as its owner does, with
no acting user, for ``remit audit`` on the server and for exports that choose their rows
themselves.
"""

from __future__ import annotations

from sqlalchemy import Engine

from remit.errors import PermissionDeniedError
from remit.services.access import allowed, require_site
from remit.services.unit import reading
from remit.store import (
    Actor,
    AuditEntry,
    AuditVerifyResult,
    audit_log,
    get_participant,
    verify_audit_chain,
)

__all__ = [
    "AUDIT_HIDDEN_TABLES",
    "AuditEntry",
    "AuditVerifyResult",
    "audit_history",
    "audit_log",
    "verify_audit_chain",
]

#: Tables whose audit rows :func:`audit_history` never shows (identifying data, accounts).
AUDIT_HIDDEN_TABLES = frozenset(
    {"participant_identity", "identity_access_log", "user_account", "user_role"}
)


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
    with reading(engine, actor, "view_participants", "audit_history") as r:
        entries = audit_log(engine, table=table, record_id=record_id)
        for participant_id in {e.participant_id for e in entries if e.participant_id is not None}:
            found = get_participant(r.session, participant_id)
            require_site(actor, found.site_id, found.study_id)  # another site's participant
        if actor.site_id is not None and any(e.participant_id is None for e in entries):
            entries = [e for e in entries if e.participant_id is not None]
        return r.returning(entries)
