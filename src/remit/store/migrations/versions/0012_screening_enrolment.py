"""Screening and the two-step enrolment are recorded on the participant.

Revision ID: 0012
Revises: 0018
Create Date: 2026-12-04 03:00:00.000000

``participant`` gets the referral source, the phone-screen outcome (``pass``/``fail``) with
who and when, the coded screen-failure reason, who enrolled the participant (``enrolled_at``
exists), and who confirmed the enrolment and when. Existing participants keep ``NULL``s: an
enrolled participant without a confirmation is shown as not confirmed.

Downgrade drops the columns (what they held is lost; the audit trail keeps it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("referral_source", sa.String(64)),
    ("phone_screen_outcome", sa.String(16)),
    ("phone_screened_at", sa.DateTime(timezone=True)),
    ("phone_screened_by", sa.Integer()),
    ("screen_failure_code", sa.String(64)),
    ("enrolled_by", sa.Integer()),
    ("enrolment_confirmed_at", sa.DateTime(timezone=True)),
    ("enrolment_confirmed_by", sa.Integer()),
)


def upgrade() -> None:
    # Plain ADD COLUMN on both engines: a batch rebuild of participant on SQLite would drop and
    # re-create the table, which the foreign keys of every table that names it refuse.
    for name, kind in _COLUMNS:
        op.add_column("participant", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(_COLUMNS):
        op.drop_column("participant", name)
