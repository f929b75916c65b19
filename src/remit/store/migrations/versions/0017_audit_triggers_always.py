"""The append-only triggers fire always, in replica mode too (PostgreSQL).

Revision ID: 0017
Revises: 0011
Create Date: 2026-12-04 03:00:00.000000

A PostgreSQL trigger that is merely enabled does not fire in a session with
``session_replication_role = replica``, which any superuser may set: with it the audit trail
(and the other append-only tables) could be edited in place without disabling anything.
``ENABLE ALWAYS`` makes the triggers fire in every session; only ``ALTER TABLE … DISABLE
TRIGGER`` (by the table owner or a superuser) turns them off, and the keyed hash chain and its
anchors detect what is changed then (docs/security.md). SQLite has no replication role: nothing
to do there.

The audit chain itself needs no schema change: rows written from now on are keyed
(HMAC-SHA256, :mod:`remit.store.audit_keys`) and rows written before stay verifiable as legacy
unkeyed rows at the start of the chain (anchor the trail right after upgrading).

Downgrade puts the triggers back to plain ``ENABLE``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The append-only tables and their triggers (revisions 0001, 0004 and 0008).
TRIGGERS = {
    "audit_event": ("audit_event_append_only", "audit_event_no_truncate"),
    "identity_access_log": ("identity_access_log_append_only", "identity_access_log_no_truncate"),
    "alert_delivery": ("alert_delivery_append_only", "alert_delivery_no_truncate"),
}


def _set(mode: str) -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table, triggers in TRIGGERS.items():
        for trigger in triggers:
            op.execute(f"ALTER TABLE {table} {mode} TRIGGER {trigger}")


def upgrade() -> None:
    _set("ENABLE ALWAYS")


def downgrade() -> None:
    _set("ENABLE")
