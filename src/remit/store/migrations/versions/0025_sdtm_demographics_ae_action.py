"""Race and ethnicity of participants, action taken with the study treatment for adverse events.

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-04 16:40:00.000000

``participant`` gets ``race`` and ``ethnicity`` (CDISC RACE/ETHNIC submission values, collected
only when the protocol's ``[demographics]`` says so) and ``adverse_event`` gets
``action_taken`` (Remit's words of the CDISC ACN codelist). Each column is checked against its
vocabulary (a CHECK constraint on both engines). Existing rows keep every value and get the
new columns empty (not recorded), so no row changes and the audit chain needs no rows.
Downgrade drops the three columns (values recorded are lost; their audit rows stay).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from remit.protocol.adverse_event import ActionTaken
from remit.protocol.demographics import Ethnicity, Race

revision: str = "0025"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, column, CHECK constraint name, length, words)
COLUMNS = (
    ("participant", "race", "participant_race", 64, tuple(r.value for r in Race)),
    ("participant", "ethnicity", "participant_ethnicity", 32, tuple(e.value for e in Ethnicity)),
    ("adverse_event", "action_taken", "ae_action", 32, tuple(a.value for a in ActionTaken)),
)


def _check(column: str, words: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{w}'" for w in words) + ")"


def upgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    for table, column, name, length, words in COLUMNS:
        constraint = op.f(f"ck_{table}_{name}")
        if sqlite:
            # a column-level CHECK needs no table copy (the copy would trip the foreign keys
            # that point at ``participant``)
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR({length}) "
                f"CONSTRAINT {constraint} CHECK ({_check(column, words)})"
            )
        else:
            op.add_column(table, sa.Column(column, sa.String(length=length), nullable=True))
            op.create_check_constraint(constraint, table, _check(column, words))


def downgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    for table, column, name, _, _ in reversed(COLUMNS):
        if not sqlite:
            op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
        op.drop_column(table, column)
