"""When the team learnt that an adverse event recorded as non-serious had become serious.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 19:20:00.000000

``adverse_event`` gets ``became_serious_at``: set when an event recorded as non-serious is
upgraded to serious by an update (the patient was hospitalised, or died, after the event was
recorded). The SAE reporting clock of such an event starts there, not at ``awareness_at`` (when
the team learnt of the event itself, which stays as recorded). Existing rows keep every value
with the column empty (an event recorded serious has its clock from ``awareness_at``), so no
row changes and the audit chain needs no rows. Downgrade refuses while an event carries the
time (its SAE clock would silently move back to the event's awareness time); otherwise it
drops the column.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from remit.errors import StoreError

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE, COLUMN = "adverse_event", "became_serious_at"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column(COLUMN, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    upgraded = op.get_bind().scalar(
        sa.text(f"SELECT count(*) FROM {TABLE} WHERE {COLUMN} IS NOT NULL")
    )
    if upgraded:
        raise StoreError(
            f"cannot downgrade below 0027: {upgraded} adverse event(s) were upgraded to serious "
            "after they were recorded",
            expected="no adverse event with became_serious_at",
            hint="keep revision 0027: dropping the column would move their SAE reporting "
            "clocks back to when the events themselves became known",
        )
    op.drop_column(TABLE, COLUMN)
