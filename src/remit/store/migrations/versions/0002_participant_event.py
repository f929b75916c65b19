"""Participant events: event dates (referral, consent …) get their own table, out of ``visit``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 14:50:00.000000

Databases made by 0001 kept a participant's event dates (the protocol's ``[[events]]``, the
dates visits are anchored to) as ``visit`` rows under the event code, status ``completed``,
because there was no table for them. This migration creates ``participant_event`` and moves
those rows there.

The move is data created before the table existed, so no unit of work (and none of its session
hooks) writes its audit rows. The migration writes them itself, onto the same hash chain, as
the hooks would have: a ``delete`` of each moved visit row (every field, old value) and an
``insert`` of its event row (every field, new value), by the actor ``remit-migration`` (role
``system``) with the reason :data:`REASON`, all under one transaction id. So ``remit audit
verify`` still passes and ``replay_audit`` still equals ``snapshot_tables``. ``recorded_at`` of
a moved date is when its ``actual_date`` was last written, read from the audit trail.

Which rows move: ``visit`` rows with a date whose code is an event code of some stored protocol
version and a visit code of none. A row that another record refers to — an assessment, dosing
session, vital sign or protocol deviation by ``visit_id``, or a signature, lock or data query
by record id — is copied but stays in ``visit``, since deleting it would break that reference
(the services never made such references on purpose; ``docs/store.md`` says so).

Downgrade moves the event dates back into ``visit`` the same way (audited), then drops the table.
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from remit.store.audit import Actor, AuditRecord, append_audit_records
from remit.store.canonical import canonical_json
from remit.store.migrations.audit_rows import field_records
from remit.store.types import UTCDateTime, utc_now

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The reason on the audit rows this migration writes.
REASON = "migration 0002: event dates moved from the visit table to participant_event"
DOWNGRADE_REASON = "migration 0002 undone: event dates moved back into the visit table"

_ACTOR = Actor(user_id=None, username="remit-migration", role="system")

# The tables as this migration knows them (not the current models, which may change later).
_VISIT = sa.table(
    "visit",
    sa.column("id", sa.Integer()),
    sa.column("participant_id", sa.Integer()),
    sa.column("visit_code", sa.String()),
    sa.column("target_date", sa.Date()),
    sa.column("window_start_date", sa.Date()),
    sa.column("window_end_date", sa.Date()),
    sa.column("actual_date", sa.Date()),
    sa.column("status", sa.String()),
    sa.column("window_status", sa.String()),
    sa.column("deviation", sa.Text()),
    sa.column("protocol_version_id", sa.Integer()),
)
_EVENT = sa.table(
    "participant_event",
    sa.column("id", sa.Integer()),
    sa.column("participant_id", sa.Integer()),
    sa.column("event_code", sa.String()),
    sa.column("event_date", sa.Date()),
    sa.column("recorded_at", UTCDateTime()),
    sa.column("protocol_version_id", sa.Integer()),
)
_PROTOCOL = sa.table(
    "protocol_version", sa.column("id", sa.Integer()), sa.column("text", sa.Text())
)
_AUDIT = sa.table(
    "audit_event",
    sa.column("id", sa.Integer()),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("action", sa.String()),
    sa.column("table_name", sa.String()),
    sa.column("record_id", sa.Integer()),
    sa.column("field", sa.String()),
)
#: Tables that refer to a visit row by ``visit_id``, and tables that name a record by id.
_VISIT_ID_TABLES = ("assessment", "dosing_session", "vital_sign", "protocol_deviation")
_RECORD_TABLES = ("signature", "lock", "data_query")


def upgrade() -> None:
    op.create_table(
        "participant_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("event_code", sa.String(length=32), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_participant_event_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_participant_event_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_event")),
        sa.UniqueConstraint(
            "participant_id",
            "event_code",
            name=op.f("uq_participant_event_participant_id_event_code"),
        ),
    )
    with op.batch_alter_table("participant_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participant_event_participant_id"), ["participant_id"], unique=False
        )
    _move_events_out_of_visit(op.get_bind())


def downgrade() -> None:
    _move_events_back_into_visit(op.get_bind())
    with op.batch_alter_table("participant_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participant_event_participant_id"))
    op.drop_table("participant_event")


# --- moving the rows -------------------------------------------------------------------------


def _codes(text: str, section: str) -> set[str]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return set()  # not a protocol file Remit could have used: it names nothing
    entries = data.get(section)
    if not isinstance(entries, list):
        return set()
    return {str(e["code"]) for e in entries if isinstance(e, dict) and "code" in e}


def _event_codes(connection: sa.Connection) -> set[str]:
    """Codes that are events in some stored protocol version and visits in none."""
    events: set[str] = set()
    visits: set[str] = set()
    for (text,) in connection.execute(sa.select(_PROTOCOL.c.text)):
        events |= _codes(text, "events")
        visits |= _codes(text, "visits")
    return events - visits


def _referenced(connection: sa.Connection, visit_id: int) -> bool:
    for name in _VISIT_ID_TABLES:
        table = sa.table(name, sa.column("visit_id", sa.Integer()))
        query = sa.select(sa.literal(1)).select_from(table).where(table.c.visit_id == visit_id)
        if connection.execute(query.limit(1)).first() is not None:
            return True
    for name in _RECORD_TABLES:
        table = sa.table(name, sa.column("record_table", sa.String()), sa.column("record_id"))
        query = (
            sa.select(sa.literal(1))
            .select_from(table)
            .where(table.c.record_table == "visit", table.c.record_id == visit_id)
        )
        if connection.execute(query.limit(1)).first() is not None:
            return True
    return False


def _date_written_at(connection: sa.Connection, visit_id: int) -> datetime:
    """When the visit row's ``actual_date`` was last written (now if the trail does not say)."""
    found = connection.execute(
        sa.select(_AUDIT.c.occurred_at)
        .where(
            _AUDIT.c.table_name == "visit",
            _AUDIT.c.record_id == visit_id,
            _AUDIT.c.field == "actual_date",
            _AUDIT.c.action.in_(("insert", "update")),
        )
        .order_by(_AUDIT.c.id.desc())
        .limit(1)
    ).scalar()
    return found if isinstance(found, datetime) else utc_now()


def _move_events_out_of_visit(connection: sa.Connection) -> None:
    codes = _event_codes(connection)
    if not codes:
        return
    rows = connection.execute(
        sa.select(_VISIT)
        .where(_VISIT.c.visit_code.in_(sorted(codes)), _VISIT.c.actual_date.is_not(None))
        .order_by(_VISIT.c.id)
    ).mappings()
    inserts: list[AuditRecord] = []
    deletes: list[AuditRecord] = []
    for row in list(rows):
        visit = dict(row)
        event: dict[str, Any] = {
            "participant_id": visit["participant_id"],
            "event_code": visit["visit_code"],
            "event_date": visit["actual_date"],
            "recorded_at": _date_written_at(connection, visit["id"]),
            "protocol_version_id": visit["protocol_version_id"],
        }
        insert = sa.insert(_EVENT).values(**event).returning(_EVENT.c.id)
        event_id = int(connection.execute(insert).scalar_one())
        participant = int(visit["participant_id"])
        inserts += field_records(
            "insert", "participant_event", event_id, participant, event, REASON
        )
        if _referenced(connection, visit["id"]):
            continue
        connection.execute(sa.delete(_VISIT).where(_VISIT.c.id == visit["id"]))
        deletes += field_records("delete", "visit", visit["id"], participant, visit, REASON)
    append_audit_records(connection, _ACTOR, uuid.uuid4().hex, inserts + deletes)


def _move_events_back_into_visit(connection: sa.Connection) -> None:
    records: list[AuditRecord] = []
    events = connection.execute(sa.select(_EVENT).order_by(_EVENT.c.id)).mappings()
    for row in list(events):
        event = dict(row)
        participant = int(event["participant_id"])
        day: date = event["event_date"]
        found = connection.execute(
            sa.select(_VISIT.c.id, _VISIT.c.actual_date).where(
                _VISIT.c.participant_id == participant,
                _VISIT.c.visit_code == event["event_code"],
            )
        ).first()
        if found is None:
            visit: dict[str, Any] = {
                "participant_id": participant,
                "visit_code": event["event_code"],
                "target_date": None,
                "window_start_date": None,
                "window_end_date": None,
                "actual_date": day,
                "status": "completed",
                "window_status": None,
                "deviation": None,
                "protocol_version_id": event["protocol_version_id"],
            }
            insert = sa.insert(_VISIT).values(**visit).returning(_VISIT.c.id)
            visit_id = int(connection.execute(insert).scalar_one())
            records += field_records(
                "insert", "visit", visit_id, participant, visit, DOWNGRADE_REASON
            )
        elif found.actual_date != day:  # a row kept on upgrade, whose event date changed since
            connection.execute(
                sa.update(_VISIT).where(_VISIT.c.id == found.id).values(actual_date=day)
            )
            records.append(
                AuditRecord(
                    "update",
                    "visit",
                    found.id,
                    participant,
                    "actual_date",
                    canonical_json(found.actual_date),
                    canonical_json(day),
                    DOWNGRADE_REASON,
                )
            )
        connection.execute(sa.delete(_EVENT).where(_EVENT.c.id == event["id"]))
        records += field_records(
            "delete", "participant_event", event["id"], participant, event, DOWNGRADE_REASON
        )
    append_audit_records(connection, _ACTOR, uuid.uuid4().hex, records)
