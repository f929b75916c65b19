"""Vital signs: one row per sign and reading (``vital_sign_value``), not columns of ``vital_sign``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 18:00:00.000000

Databases made by 0002 kept each reading's values in four columns of ``vital_sign``
(``systolic``, ``diastolic``, ``heart_rate``, ``temperature``), so the two signs a protocol may
also set limits on (``respiratory_rate``, ``oxygen_saturation``) could not be stored. This
migration creates ``vital_sign_value`` (one row per sign measured in a reading, the sign named
by its protocol code, a CHECK constraint allowing the six known codes), moves every non-empty
column value there and drops the four columns. ``vital_sign`` keeps the reading: when, at which
visit and session, by whom; its ids do not change, so alerts still point at their reading.

As in 0002 the move is written onto the audit chain by the migration itself (actor
``remit-migration``, role ``system``, reason :data:`REASON`, one transaction id): for each
reading a ``delete`` of the row in its old shape (every field, old value), an ``insert`` of the
row in its new shape (same id) and an ``insert`` of each value row. So ``remit audit verify``
passes and ``replay_audit`` equals ``snapshot_tables``.

Downgrade moves the values back into the columns the same way (audited), then drops the table.
It refuses while a reading holds a sign that 0002 has no column for (respiratory rate, oxygen
saturation): downgrading would lose those values.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from remit.errors import StoreError
from remit.store.audit import Actor, AuditRecord, append_audit_records
from remit.store.migrations.audit_rows import field_records
from remit.store.types import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The reason on the audit rows this migration writes.
REASON = "migration 0003: vital-sign values moved from vital_sign columns to vital_sign_value"
DOWNGRADE_REASON = "migration 0003 undone: vital-sign values moved back into vital_sign columns"

_ACTOR = Actor(user_id=None, username="remit-migration", role="system")

# The signs as this migration knows them (a later vocabulary needs its own migration).
SIGNS = (
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "temperature",
    "respiratory_rate",
    "oxygen_saturation",
)
#: Column of 0002's ``vital_sign`` → sign code, and whether the column held whole numbers.
COLUMNS = {
    "systolic": ("systolic_bp", True),
    "diastolic": ("diastolic_bp", True),
    "heart_rate": ("heart_rate", True),
    "temperature": ("temperature", False),
}
_READING_COLUMNS = (
    "participant_id",
    "dosing_session_id",
    "visit_id",
    "measured_at",
    "minutes_after_dose",
    "recorded_by",
    "idempotency_key",
    "protocol_version_id",
)
_OLD_READING = sa.table(
    "vital_sign",
    sa.column("id", sa.Integer()),
    sa.column("participant_id", sa.Integer()),
    sa.column("dosing_session_id", sa.Integer()),
    sa.column("visit_id", sa.Integer()),
    sa.column("measured_at", UTCDateTime()),
    sa.column("minutes_after_dose", sa.Integer()),
    sa.column("systolic", sa.Integer()),
    sa.column("diastolic", sa.Integer()),
    sa.column("heart_rate", sa.Integer()),
    sa.column("temperature", sa.Float()),
    sa.column("recorded_by", sa.Integer()),
    sa.column("idempotency_key", sa.String()),
    sa.column("protocol_version_id", sa.Integer()),
)
_VALUE = sa.table(
    "vital_sign_value",
    sa.column("id", sa.Integer()),
    sa.column("vital_sign_id", sa.Integer()),
    sa.column("sign", sa.String()),
    sa.column("value", sa.Float()),
)


def upgrade() -> None:
    connection = op.get_bind()
    readings = [
        dict(r)
        for r in connection.execute(sa.select(_OLD_READING).order_by(_OLD_READING.c.id)).mappings()
    ]
    with op.batch_alter_table("vital_sign", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.drop_column(name)
    op.create_table(
        "vital_sign_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vital_sign_id", sa.Integer(), nullable=False),
        sa.Column(
            "sign",
            sa.Enum(
                *SIGNS,
                name="vital_sign_code",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vital_sign_id"],
            ["vital_sign.id"],
            name=op.f("fk_vital_sign_value_vital_sign_id_vital_sign"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_sign_value")),
        sa.UniqueConstraint(
            "vital_sign_id", "sign", name=op.f("uq_vital_sign_value_vital_sign_id_sign")
        ),
    )
    _move_into_rows(connection, readings)


def downgrade() -> None:
    connection = op.get_bind()
    values = [
        dict(r) for r in connection.execute(sa.select(_VALUE).order_by(_VALUE.c.id)).mappings()
    ]
    known = {sign for sign, _ in COLUMNS.values()}
    kept = sorted({v["sign"] for v in values} - known)
    if kept:
        readings = {v["vital_sign_id"] for v in values if v["sign"] in kept}
        raise StoreError(
            f"cannot undo migration 0003: {len(readings)} reading(s) hold {', '.join(kept)}, "
            "which revision 0002 has no column for",
            hint="keep the database at 0003 or later (export the data first if you must)",
        )
    with op.batch_alter_table("vital_sign", schema=None) as batch_op:
        for name, (_, whole) in COLUMNS.items():
            batch_op.add_column(sa.Column(name, sa.Integer() if whole else sa.Float()))
    _move_back_into_columns(connection, values)
    op.drop_table("vital_sign_value")


# --- moving the values -----------------------------------------------------------------------


def _move_into_rows(connection: sa.Connection, readings: list[dict[str, Any]]) -> None:
    records: list[AuditRecord] = []
    for old in readings:
        participant = int(old["participant_id"])
        new = {"id": old["id"], **{k: old[k] for k in _READING_COLUMNS}}
        records += field_records("delete", "vital_sign", old["id"], participant, old, REASON)
        records += field_records("insert", "vital_sign", old["id"], participant, new, REASON)
        for column, (sign, _) in COLUMNS.items():
            if old[column] is None:
                continue
            row = {"vital_sign_id": old["id"], "sign": sign, "value": float(old[column])}
            insert = sa.insert(_VALUE).values(**row).returning(_VALUE.c.id)
            value_id = int(connection.execute(insert).scalar_one())
            records += field_records(
                "insert", "vital_sign_value", value_id, participant, row, REASON
            )
    append_audit_records(connection, _ACTOR, uuid.uuid4().hex, records)


def _move_back_into_columns(connection: sa.Connection, values: list[dict[str, Any]]) -> None:
    column_of = {sign: (column, whole) for column, (sign, whole) in COLUMNS.items()}
    by_reading: dict[int, list[dict[str, Any]]] = {}
    for v in values:
        by_reading.setdefault(int(v["vital_sign_id"]), []).append(v)
    readings = connection.execute(sa.select(_OLD_READING).order_by(_OLD_READING.c.id)).mappings()
    records: list[AuditRecord] = []
    for row in list(readings):
        reading = dict(row)
        participant = int(reading["participant_id"])
        before = {"id": reading["id"], **{k: reading[k] for k in _READING_COLUMNS}}
        after = dict(reading)
        for v in by_reading.get(reading["id"], []):
            column, whole = column_of[v["sign"]]
            after[column] = int(v["value"]) if whole else float(v["value"])
            records += field_records(
                "delete", "vital_sign_value", v["id"], participant, v, DOWNGRADE_REASON
            )
        changed = {c: after[c] for c in COLUMNS}
        connection.execute(
            sa.update(_OLD_READING).where(_OLD_READING.c.id == reading["id"]).values(**changed)
        )
        records += field_records(
            "delete", "vital_sign", reading["id"], participant, before, DOWNGRADE_REASON
        )
        records += field_records(
            "insert", "vital_sign", reading["id"], participant, after, DOWNGRADE_REASON
        )
    connection.execute(sa.delete(_VALUE))
    append_audit_records(connection, _ACTOR, uuid.uuid4().hex, records)
