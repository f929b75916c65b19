"""Scale definitions kept in the trial database (issue 15, REDCap scales).

Revision ID: 0026
Revises: 0023
Create Date: 2026-12-04 16:40:00.000000

``trial_scale`` of :mod:`remit.store.scales`: one row per revision of a scale definition (code,
revision, TOML text, its SHA-256, source, who added it and when); audited. Existing databases
get an empty table: their scales stay those shipped and those of ``REMIT_SCALES_PATH``.

Downgrade refuses while a definition is kept (forms may use it); otherwise it drops the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from remit.errors import StoreError

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "trial_scale"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_trial_scale_revision_positive")),
        sa.ForeignKeyConstraint(
            ["added_by"],
            ["user_account.id"],
            name=op.f("fk_trial_scale_added_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_scale")),
        sa.UniqueConstraint("code", "revision", name=op.f("uq_trial_scale_code_revision")),
    )


def downgrade() -> None:
    kept = op.get_bind().execute(sa.text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
    if kept:
        raise StoreError(
            f"cannot downgrade below 0026: {kept} scale definition(s) are kept in the database",
            hint="export them (remit scales list --db … --json) before downgrading",
        )
    op.drop_table(TABLE)
