"""Concomitant medications carry an ATC code, a route and a taper plan with dates.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 00:00:00.000000

``concomitant_medication`` gets ``atc_code`` (the substance's WHO ATC code, e.g. ``N06AB06``;
its class is the first five characters, which the protocol's ``[[medications.prohibited]]``
rows and the dose's washout check read), ``route`` (oral, …) and ``taper_steps`` (JSON: a list
of ``{"date": "YYYY-MM-DD", "dose": "…"}`` rows in date order, the dated taper plan). The old
free-text ``taper_plan`` column stays and stays readable; existing rows keep it and get no ATC
code, route or steps (the columns are empty), so no row changes and the audit chain needs no
rows. Downgrade drops the three columns (codes, routes and dated plans recorded are lost; their
audit rows stay).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "concomitant_medication"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("atc_code", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("route", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("taper_steps", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_column("taper_steps")
        batch_op.drop_column("route")
        batch_op.drop_column("atc_code")
