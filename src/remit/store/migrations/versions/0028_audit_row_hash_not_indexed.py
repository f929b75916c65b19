"""The audit trail's ``row_hash`` is no longer kept in a unique index.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 07:30:00.000000

Every audit row carried a unique constraint on ``row_hash``, and with it an index of the
hashes. Nothing reads a row by its hash (the chain is walked by ``id``, the anchors name the
head by ``id``), and the constraint protects nothing the chain does not: ``row_hash`` is the
keyed hash (HMAC-SHA256) of the row's content with its own ``id`` (the primary key, unique)
and the previous row's hash, so two rows with one hash would be a collision of HMAC-SHA256.
The index cost a form's capture the most of any: its keys are random, so each of a form's
~26 audit rows lands on a page of its own, which SQLite writes whole into its write-ahead log
at every commit (issue 16: one server's forms per second rose by about a third without it).
``remit audit verify`` checks the chain as before: a row whose hash or link was altered, or a
row inserted or removed, is found by the walk, not by the index.

No row changes. On SQLite the table is rebuilt (its constraint cannot be dropped otherwise),
with its two indexes, and its append-only triggers are dropped for the copy and created again.
Downgrade puts the constraint back.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "audit_event"
CONSTRAINT = "uq_audit_event_row_hash"


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def _drop_sqlite_triggers() -> None:
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}")


def _create_sqlite_triggers() -> None:
    # The same triggers as revision 0001 creates. (On PostgreSQL the constraint is dropped in
    # place: its triggers stay as they are, ENABLE ALWAYS since revision 0017.)
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {verb} refused'); END"
        )


def upgrade() -> None:
    if not _sqlite():
        op.drop_constraint(CONSTRAINT, TABLE, type_="unique")
        return
    _drop_sqlite_triggers()
    with op.batch_alter_table(TABLE, schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint(CONSTRAINT, type_="unique")
    _create_sqlite_triggers()


def downgrade() -> None:
    if not _sqlite():
        op.create_unique_constraint(CONSTRAINT, TABLE, ["row_hash"])
        return
    _drop_sqlite_triggers()
    with op.batch_alter_table(TABLE, schema=None, recreate="always") as batch_op:
        batch_op.create_unique_constraint(CONSTRAINT, ["row_hash"])
    _create_sqlite_triggers()
