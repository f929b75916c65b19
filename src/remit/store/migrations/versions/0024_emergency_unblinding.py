"""Emergency unblinding of one participant (issue 14, blinding).

Revision ID: 0024
Revises: 0021
Create Date: 2026-12-04 14:30:00.000000

``emergency_unblinding`` of :mod:`remit.store.allocation`: who broke the blind of which
participant's allocation, when and why (the arm stays sealed in the slot). Append-only: triggers
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL, with ``remit_refuse_change`` of revision
0001, firing ALWAYS).

Downgrade refuses while an unblinding is recorded (it would be lost); otherwise it drops the
table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from remit.errors import StoreError

revision: str = "0024"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "emergency_unblinding"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("unblinded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unblinded_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_emergency_unblinding_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocation.id"],
            name=op.f("fk_emergency_unblinding_allocation_id_allocation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unblinded_by"],
            ["user_account.id"],
            name=op.f("fk_emergency_unblinding_unblinded_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_unblinding")),
    )
    op.create_index(
        op.f("ix_emergency_unblinding_participant_id"), TABLE, ["participant_id"], unique=False
    )
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
    for trigger in (f"{TABLE}_append_only", f"{TABLE}_no_truncate"):
        op.execute(f"ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER {trigger}")


def downgrade() -> None:
    if op.get_bind().scalar(sa.text(f"SELECT count(*) FROM {TABLE}")):
        raise StoreError(
            "an emergency unblinding is recorded; revision 0021 has no place for it",
            hint="keep the database at 0024 (downgrading would lose the record)",
        )
    if op.get_context().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
    op.drop_index(op.f("ix_emergency_unblinding_participant_id"), table_name=TABLE)
    op.drop_table(TABLE)
