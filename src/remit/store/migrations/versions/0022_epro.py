"""Participant self-report (ePRO): single-use links and the participant's ePRO preferences.

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-04 13:45:00.000000

``epro_link`` holds one row per link issued (the SHA-256 of its token, never the token);
``participant_epro`` the participant's interface language and, when the site sends e-mail
reminders, their address (:mod:`remit.store.epro`). Both are audited.

Downgrade drops both tables (every link stops working; the forms submitted through them stay).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "epro_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("scales", sa.JSON(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("window_reason", sa.Text(), nullable=True),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        _when("issued_at", nullable=False),
        _when("expires_at", nullable=False),
        _when("used_at"),
        _when("reminded_at"),
        _when("revoked_at"),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("mode IN ('link', 'handover')", name=op.f("ck_epro_link_mode_known")),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_epro_link_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_epro_link_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"],
            ["user_account.id"],
            name=op.f("fk_epro_link_issued_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_epro_link_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epro_link")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_epro_link_token_sha256")),
    )
    op.create_index(
        "ix_epro_link_participant_visit", "epro_link", ["participant_id", "visit_id"], unique=False
    )
    op.create_table(
        "participant_epro",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_participant_epro_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_epro")),
        sa.UniqueConstraint("participant_id", name=op.f("uq_participant_epro_participant_id")),
    )


def downgrade() -> None:
    op.drop_table("participant_epro")
    op.drop_index("ix_epro_link_participant_visit", table_name="epro_link")
    op.drop_table("epro_link")
