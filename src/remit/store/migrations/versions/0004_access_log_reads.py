"""The access log records every read, not only reads of identity data.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 18:00:00.000000

``identity_access_log`` logged reads of a participant's identity only, so it had a participant
on every row. The read services (participant lists, forms, ``build_trial_data`` behind
``remit analyse`` and ``remit report`` …) now write one row per read too, most of them about
no single participant. This migration makes ``participant_id`` optional and adds what was
read (``resource``; existing rows are identity reads), the reader's site scope (``site_id``)
and how many records the read returned (``n_records``).

The table is append-only: the triggers that refuse UPDATE and DELETE are dropped for the
change and created again (on SQLite the table is rebuilt, which drops its triggers).
Downgrade removes the rows of reads other than identity reads (they cannot be kept without a
participant) and the new columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "identity_access_log"
IDENTITY = "participant_identity"


def _drop_triggers() -> None:
    if op.get_context().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")


def _create_triggers() -> None:
    # The same triggers as revision 0001 creates (remit_refuse_change exists on PostgreSQL).
    if op.get_context().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {verb} refused'); END"
            )
    else:
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION remit_refuse_change()"
        )


def upgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resource", sa.String(length=64), server_default=IDENTITY, nullable=False)
        )
        batch_op.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("n_records", sa.Integer(), nullable=True))
        batch_op.alter_column("participant_id", existing_type=sa.Integer(), nullable=True)
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    op.execute(f"DELETE FROM {TABLE} WHERE resource <> '{IDENTITY}' OR participant_id IS NULL")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column("participant_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("n_records")
        batch_op.drop_column("site_id")
        batch_op.drop_column("resource")
    _create_triggers()
