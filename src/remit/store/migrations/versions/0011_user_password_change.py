"""Users may be made to change their password at their next login.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 00:00:00.000000

``user_account`` gets ``must_change_password`` (set for a user an admin adds or whose password
an admin resets: the temporary password is known to the admin, so the user must choose their
own before doing anything else) and ``password_changed_at`` (when the password was last set,
``NULL`` for users older than this revision). Existing users are not forced: their flag is
false.

Downgrade drops both columns (who still had to change their password is lost).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both engines: a batch rebuild of user_account on SQLite would drop
    # and re-create the table, which the foreign keys of every table that names a user refuse.
    op.add_column(
        "user_account",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "user_account", sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of user_account would drop and
    # re-create the table, which the foreign keys of every table that names a user refuse.
    op.drop_column("user_account", "password_changed_at")
    op.drop_column("user_account", "must_change_password")
