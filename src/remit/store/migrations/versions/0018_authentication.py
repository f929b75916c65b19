"""Authentication everywhere: the security log, per-account login throttling, CLI tokens and
idempotency keys scoped per user.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 03:00:00.000000

``security_event`` is the append-only security log (:mod:`remit.store.security`): triggers
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL, with the function ``remit_refuse_change``
that revision 0001 created). ``login_throttle`` counts failed logins per username (the web
process's in-memory counters could be bypassed by parallel requests and locked out everyone
behind one address). ``cli_token`` keeps the SHA-256 of each token ``remit login`` hands out.

``idempotency_key`` gets ``scope`` (``user:<id>``, or ``system:<username>`` for work Remit
does itself) and its key is unique per scope instead of globally: another user's key is never
replayed to someone else. Existing keys get the scope of the user who made them. On SQLite the
table is rebuilt (nothing refers to it).

Downgrade drops the three tables and the scope (keys used by two users would break the old
global uniqueness: downgrade then fails rather than lose one).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOG = "security_event"


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        LOG,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_event")),
    )
    op.create_index(op.f("ix_security_event_occurred_at"), LOG, ["occurred_at"])
    op.create_index(op.f("ix_security_event_event"), LOG, ["event"])
    if _sqlite():
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {LOG}_no_{verb.lower()} BEFORE {verb} ON {LOG} "
                f"BEGIN SELECT RAISE(ABORT, '{LOG} is append-only: {verb} refused'); END"
            )
    else:
        op.execute(
            f"CREATE TRIGGER {LOG}_append_only BEFORE UPDATE OR DELETE ON {LOG} "
            "FOR EACH ROW EXECUTE FUNCTION remit_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {LOG}_no_truncate BEFORE TRUNCATE ON {LOG} "
            "FOR EACH STATEMENT EXECUTE FUNCTION remit_refuse_change()"
        )
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "cli_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cli_token")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_cli_token_token_sha256")),
    )
    op.create_index(op.f("ix_cli_token_user_id"), "cli_token", ["user_id"])
    with op.batch_alter_table("idempotency_key") as batch:
        batch.add_column(
            sa.Column("scope", sa.String(length=120), nullable=False, server_default="")
        )
    op.execute(
        "UPDATE idempotency_key SET scope = CASE WHEN user_id IS NULL THEN 'system:' "
        "ELSE 'user:' || CAST(user_id AS VARCHAR(20)) END"
    )
    with op.batch_alter_table("idempotency_key") as batch:
        batch.drop_constraint(op.f("uq_idempotency_key_key"), type_="unique")
        batch.create_unique_constraint(op.f("uq_idempotency_key_scope_key"), ["scope", "key"])


def downgrade() -> None:
    with op.batch_alter_table("idempotency_key") as batch:
        batch.drop_constraint(op.f("uq_idempotency_key_scope_key"), type_="unique")
        batch.create_unique_constraint(op.f("uq_idempotency_key_key"), ["key"])
    with op.batch_alter_table("idempotency_key") as batch:
        batch.drop_column("scope")
    op.drop_index(op.f("ix_cli_token_user_id"), table_name="cli_token")
    op.drop_table("cli_token")
    op.drop_table("login_throttle")
    if _sqlite():
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {LOG}_no_{verb}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {LOG}_append_only ON {LOG}")
        op.execute(f"DROP TRIGGER IF EXISTS {LOG}_no_truncate ON {LOG}")
    op.drop_index(op.f("ix_security_event_event"), table_name=LOG)
    op.drop_index(op.f("ix_security_event_occurred_at"), table_name=LOG)
    op.drop_table(LOG)
