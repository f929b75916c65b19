"""TOTP multi-factor authentication: each user's encrypted secret and recovery codes.

Revision ID: 0019
Revises: 0013
Create Date: 2026-12-04 11:30:00.000000

``user_mfa`` holds one row per user who set up TOTP (the secret encrypted with a key derived
from the audit key ring, when the set-up was confirmed, the last time step a code was accepted
for); ``mfa_recovery_code`` the argon2id hashes of single-use recovery codes
(:mod:`remit.store.mfa`). Neither is in the audit trail: MFA events go to ``security_event``.

Downgrade drops both tables (every user's MFA set-up is lost: they set it up again after an
upgrade).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_mfa",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_mfa_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_mfa")),
    )
    op.create_table(
        "mfa_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_mfa_recovery_code_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_recovery_code")),
    )
    op.create_index(
        op.f("ix_mfa_recovery_code_user_id"), "mfa_recovery_code", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_mfa_recovery_code_user_id"), table_name="mfa_recovery_code")
    op.drop_table("mfa_recovery_code")
    op.drop_table("user_mfa")
