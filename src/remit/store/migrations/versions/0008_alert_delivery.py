"""Alerts are delivered: users have an e-mail address, and every attempt is logged.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 23:00:00.000000

``user_account`` gets an optional ``email`` (the address alerts are sent to; existing users
have none until an admin sets one). ``alert_delivery`` is the delivery log of
:mod:`remit.store.delivery`: one row per event of an attempt to tell one person of one step of
an alert (``sending`` before, ``sent`` or ``failed`` after; ``undeliverable`` when a step reached
nobody). Its unique key ``(alert_id, step, recipient, attempt, outcome)`` is how two workers
agree that only one of them sends. Like the audit trail it is append-only: triggers refuse
UPDATE and DELETE (and TRUNCATE on PostgreSQL, with the function ``remit_refuse_change`` that
revision 0001 created).

Downgrade drops the log (its rows are lost: the alerts themselves stay) and the column.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "alert_delivery"
OUTCOMES = ("sending", "sent", "failed", "undeliverable")


def _create_triggers() -> None:
    if op.get_context().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {verb} refused'); END"
            )
        return
    op.execute(
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION remit_refuse_change()"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION remit_refuse_change()"
    )


def _drop_triggers() -> None:
    if op.get_context().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=100), nullable=False),
        sa.Column("recipient_user_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                *OUTCOMES,
                name="delivery_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_alert_delivery_alert_id_alert"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_user_id"],
            ["user_account.id"],
            name=op.f("fk_alert_delivery_recipient_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery")),
        sa.UniqueConstraint(
            "alert_id",
            "step",
            "recipient",
            "attempt",
            "outcome",
            name=op.f("uq_alert_delivery_alert_id_step_recipient_attempt_outcome"),
        ),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_delivery_alert_id"), ["alert_id"], unique=False)
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_delivery_alert_id"))
    op.drop_table(TABLE)
    # A plain DROP COLUMN (SQLite 3.35+ has it): a batch rebuild would drop and re-create
    # user_account, which the foreign keys of every table that names a user refuse.
    op.drop_column("user_account", "email")
