"""Dosing sessions record the investigator's discharge sign-off and the next-day follow-up call.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 23:00:00.000000

A dosing session may now end only when the protocol's discharge criteria are met, one of them
an investigator's sign-off, and ending it schedules a follow-up call for the next day (the
protocol's ``[dosing.follow_up_call]``). This migration adds to ``dosing_session`` who signed
the discharge off and when, with a note (``discharge_signed_off_by``, ``_at``,
``discharge_note``), and the follow-up call: its due date, its status (a CHECK constraint
allowing ``scheduled``, ``done``, ``not_reached``), when it was made, who recorded it and a
note. Existing sessions get no sign-off and no call (the columns are empty); no row changes, so
the audit chain needs no rows. Downgrade drops the columns (the sign-offs and calls recorded
are lost; their audit rows stay).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "dosing_session"
# The call's statuses as this migration knows them (a later word needs its own migration).
CALL_STATUSES = ("scheduled", "done", "not_reached")


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("discharge_signed_off_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("discharge_signed_off_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("discharge_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("follow_up_due_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "follow_up_status",
                sa.Enum(
                    *CALL_STATUSES,
                    name="follow_up_call_status",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("follow_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("follow_up_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("follow_up_note", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_dosing_session_discharge_signed_off_by_user_account"),
            "user_account",
            ["discharge_signed_off_by"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_dosing_session_follow_up_by_user_account"),
            "user_account",
            ["follow_up_by"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_dosing_session_follow_up_by_user_account"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_dosing_session_discharge_signed_off_by_user_account"),
            type_="foreignkey",
        )
        batch_op.drop_constraint(
            batch_op.f("ck_dosing_session_follow_up_call_status"), type_="check"
        )
        for column in (
            "follow_up_note",
            "follow_up_by",
            "follow_up_at",
            "follow_up_status",
            "follow_up_due_date",
            "discharge_note",
            "discharge_signed_off_at",
            "discharge_signed_off_by",
        ):
            batch_op.drop_column(column)
