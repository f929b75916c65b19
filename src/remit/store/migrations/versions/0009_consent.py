"""Informed consent is recorded: the ``consent`` table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 00:00:00.000000

One row per consent a participant gave to a version of the protocol's consent form
(``[[consent.versions]]``): the version, the components agreed to (a JSON list), the clinical
time of consent (``consented_at``), who obtained it, when it was entered, and its withdrawal
if any (``withdrawn_at``, ``withdrawal_scope`` with a CHECK constraint allowing ``full`` and
``partial``, the components withdrawn, the reason and who recorded it). Existing participants
get no consent row: under a protocol that declares consent versions, their next study
procedure is refused until consent is recorded. No row changes, so the audit chain needs no
rows. Downgrade drops the table (the consents recorded are lost; their audit rows stay).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "consent"
# The withdrawal scopes as this migration knows them (a later word needs its own migration).
SCOPES = ("full", "partial")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("obtained_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "withdrawal_scope",
            sa.Enum(
                *SCOPES,
                name="withdrawal_scope",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("withdrawn_components", sa.JSON(), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.Column("withdrawal_recorded_by", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_consent_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["obtained_by"],
            ["user_account.id"],
            name=op.f("fk_consent_obtained_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["withdrawal_recorded_by"],
            ["user_account.id"],
            name=op.f("fk_consent_withdrawal_recorded_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_consent_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_consent_idempotency_key")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_participant_consented", ["participant_id", "consented_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index("ix_consent_participant_consented")
    op.drop_table(TABLE)
