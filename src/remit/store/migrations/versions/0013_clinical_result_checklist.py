"""Structured clinical results and pre-dose checklist completions: the ``clinical_result`` and
``dosing_checklist`` tables.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 00:00:00.000000

``clinical_result``: one row per laboratory, ECG or screening-test result of a test the
protocol declares (``[[results.tests]]``): participant, visit, test code and kind, the value (a
number or an answer), unit, normal range or expected answer copied from the protocol, the
interpretation (CHECK: normal, low, high, abnormal, positive, negative), the clinical time it
was collected, who recorded it, when it was entered, a comment and an idempotency key.
``dosing_checklist``: one row per completed pre-dose checklist of a dosing session: the items
with their evaluated status (JSON), the clinical time of completion, who completed it, when it
was entered and an override reason. No existing row changes, so the audit chain needs no rows.
Downgrade drops both tables (the results and completions recorded are lost; their audit rows
stay).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The interpretations as this migration knows them (a later word needs its own migration).
INTERPRETATIONS = ("normal", "low", "high", "abnormal", "positive", "negative")


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.create_table(
        "clinical_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("test_code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value_number", sa.Float(), nullable=True),
        sa.Column("value_text", sa.String(length=64), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("normal_low", sa.Float(), nullable=True),
        sa.Column("normal_high", sa.Float(), nullable=True),
        sa.Column("expected", sa.String(length=64), nullable=True),
        sa.Column(
            "interpretation",
            sa.Enum(
                *INTERPRETATIONS,
                name="result_interpretation",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        _fk("participant_id", "clinical_result", "participant"),
        _fk("visit_id", "clinical_result", "visit"),
        _fk("recorded_by", "clinical_result", "user_account"),
        _fk("protocol_version_id", "clinical_result", "protocol_version"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_result")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_clinical_result_idempotency_key")),
    )
    with op.batch_alter_table("clinical_result", schema=None) as batch_op:
        batch_op.create_index(
            "ix_clinical_result_participant_test",
            ["participant_id", "test_code", "collected_at"],
            unique=False,
        )
        batch_op.create_index(op.f("ix_clinical_result_visit_id"), ["visit_id"], unique=False)
    op.create_table(
        "dosing_checklist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("dosing_session_id", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_by", sa.Integer(), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        _fk("participant_id", "dosing_checklist", "participant"),
        _fk("dosing_session_id", "dosing_checklist", "dosing_session"),
        _fk("completed_by", "dosing_checklist", "user_account"),
        _fk("protocol_version_id", "dosing_checklist", "protocol_version"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dosing_checklist")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_dosing_checklist_idempotency_key")),
    )
    with op.batch_alter_table("dosing_checklist", schema=None) as batch_op:
        batch_op.create_index(
            op.f("ix_dosing_checklist_dosing_session_id"), ["dosing_session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dosing_checklist", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_dosing_checklist_dosing_session_id"))
    op.drop_table("dosing_checklist")
    with op.batch_alter_table("clinical_result", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_clinical_result_visit_id"))
        batch_op.drop_index("ix_clinical_result_participant_test")
    op.drop_table("clinical_result")
