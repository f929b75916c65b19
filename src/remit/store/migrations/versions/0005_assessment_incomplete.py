"""A form can be ``incomplete``: the assessment status CHECK constraint takes the new word.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 23:00:00.000000

A form saved as complete while a required item is blank (a safety item such as MADRS item 10,
or C-SSRS questions the official form asks) is now stored as ``incomplete``, a draft-like state,
never ``complete`` (:class:`remit.protocol.status.AssessmentStatus`). The ``assessment.status``
column keeps its values in a CHECK constraint (``ck_assessment_assessment_status``); this
migration rebuilds that constraint with the new word. On SQLite the table is rebuilt by a batch
operation (its indexes and the other constraints come back with it); on PostgreSQL the
constraint is dropped and created again. No row changes.

Downgrade refuses while a form is ``incomplete`` (the old constraint cannot hold it; turning it
into ``complete`` would call a form complete that is not, and ``draft`` would lose what the
person asked for): complete or delete those forms first. Otherwise it restores the old CHECK.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from remit.errors import StoreError

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "assessment"
CONSTRAINT = "ck_assessment_assessment_status"
#: The words as 0001 created them, and as they are from this revision on (written out: a
#: migration must not change when the vocabulary changes later).
OLD_WORDS = ("draft", "complete", "signed", "locked")
NEW_WORDS = ("draft", "incomplete", "complete", "signed", "locked")


def _status_type(words: Sequence[str]) -> sa.Enum:
    return sa.Enum(
        *words,
        name="assessment_status",
        native_enum=False,
        create_constraint=True,
        length=32,
    )


def _check(words: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{w}'" for w in words) + ")"


def _swap(old: Sequence[str], new: Sequence[str]) -> None:
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table(TABLE, schema=None, recreate="always") as batch_op:
            batch_op.alter_column(
                "status",
                existing_type=_status_type(old),
                type_=_status_type(new),
                existing_nullable=False,
            )
    else:
        op.drop_constraint(op.f(CONSTRAINT), TABLE, type_="check")
        op.create_check_constraint(op.f(CONSTRAINT), TABLE, _check(new))


def upgrade() -> None:
    _swap(OLD_WORDS, NEW_WORDS)


def downgrade() -> None:
    found = op.get_bind().scalar(
        sa.text(f"SELECT count(*) FROM {TABLE} WHERE status = 'incomplete'")
    )
    if found:
        raise StoreError(
            f"{found} form(s) are incomplete; revision 0004 has no such status",
            hint="complete (or delete) the incomplete forms before downgrading below 0005",
        )
    _swap(NEW_WORDS, OLD_WORDS)
