"""Migration 0007 adds the discharge sign-off and the next-day call to ``dosing_session``: a
session of an older database keeps its row with the new columns empty, the call's status is
CHECKed against ``FollowUpCallStatus``, and downgrade removes the columns again."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, inspect
from tests.support.db import participant_at

from remit.protocol.status import FollowUpCallStatus, values
from remit.store import (
    downgrade,
    make_engine,
    upgrade,
    verify_audit_chain,
)

MIGRATION = importlib.import_module("remit.store.migrations.versions.0007_dosing_discharge")
NEW = {
    "discharge_signed_off_by",
    "discharge_signed_off_at",
    "discharge_note",
    "follow_up_due_date",
    "follow_up_status",
    "follow_up_at",
    "follow_up_by",
    "follow_up_note",
}
SESSION = sa.table(
    "dosing_session",
    sa.column("id", sa.Integer()),
    sa.column("participant_id", sa.Integer()),
    sa.column("session_number", sa.Integer()),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("status", sa.String()),
    sa.column("protocol_version_id", sa.Integer()),
)


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("dosing_session")}


def _session_at_0004(engine: Engine) -> int:
    participant_id, version_id = participant_at(engine, "0004")
    with engine.begin() as connection:
        row = connection.execute(
            sa.insert(SESSION)
            .values(
                participant_id=participant_id,
                session_number=1,
                started_at=datetime(2024, 3, 1, 8, tzinfo=UTC),
                status="completed",
                protocol_version_id=version_id,
            )
            .returning(SESSION.c.id)
        )
        return int(row.scalar_one())


def test_upgrade_keeps_sessions_and_downgrade_drops_the_columns(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        session_id = _session_at_0004(engine)
        before = _columns(engine)
        assert not before & NEW
        upgrade(engine, "0007")
        assert _columns(engine) == before | NEW
        assert values(FollowUpCallStatus) == MIGRATION.CALL_STATUSES
        table = sa.Table("dosing_session", sa.MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            row = connection.execute(sa.select(table).where(table.c.id == session_id)).one()
        assert row.status == "completed"
        assert all(getattr(row, column) is None for column in NEW)
        with engine.begin() as connection:
            connection.execute(
                sa.update(table).where(table.c.id == session_id).values(follow_up_status="done")
            )
        with (
            engine.connect() as connection,
            pytest.raises(sa.exc.IntegrityError, match=r"(?i)check"),
        ):
            connection.execute(
                sa.update(table).where(table.c.id == session_id).values(follow_up_status="maybe")
            )
        downgrade(engine, "0004")
        assert _columns(engine) == before
        with engine.connect() as connection:
            assert connection.execute(sa.select(SESSION.c.id)).scalars().all() == [session_id]
        assert verify_audit_chain(engine).ok
        upgrade(engine, "0007")
        assert _columns(engine) == before | NEW
    finally:
        engine.dispose()
