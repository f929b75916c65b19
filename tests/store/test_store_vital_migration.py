"""Migration 0003 moves vital-sign columns (0002) into one ``vital_sign_value`` row per sign, on
the audit chain, and moves them back on downgrade."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, inspect
from tests.support.db import assert_trail_agrees, participant_at

from remit.errors import StoreError
from remit.store import (
    Actor,
    audit_log,
    downgrade,
    make_engine,
    unit_of_work,
    upgrade,
    verify_audit_chain,
)
from remit.store.audit import AuditRecord, append_audit_records
from remit.store.canonical import canonical_json
from remit.store.tables import Participant
from remit.store.vitals import VitalSignValue

MIGRATION = importlib.import_module("remit.store.migrations.versions.0003_vital_sign_value")
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

#: Two readings as 0002 kept them: one complete, one without temperature.
OLD_READINGS = [
    {"systolic": 124, "diastolic": 80, "heart_rate": 72, "temperature": 36.8, "minutes": 30},
    {"systolic": 161, "diastolic": 92, "heart_rate": 101, "temperature": None, "minutes": 60},
]


def _old_database(engine: Engine) -> list[int]:
    """A database at 0002 holding vital signs the way 0002's services kept them (audited)."""
    participant_id, version_id = participant_at(engine, "0002")
    table = MIGRATION._OLD_READING
    ids = []
    with engine.begin() as connection:  # what 0002's unit of work wrote, hooks included
        records: list[AuditRecord] = []
        for r in OLD_READINGS:
            row: dict[str, Any] = {
                "participant_id": participant_id,
                "dosing_session_id": None,
                "visit_id": None,
                "measured_at": T0.replace(minute=r["minutes"] % 60, hour=9 + r["minutes"] // 60),
                "minutes_after_dose": r["minutes"],
                "systolic": r["systolic"],
                "diastolic": r["diastolic"],
                "heart_rate": r["heart_rate"],
                "temperature": r["temperature"],
                "recorded_by": None,
                "idempotency_key": f"v-{r['minutes']}",
                "protocol_version_id": version_id,
            }
            new_id = connection.execute(sa.insert(table).values(**row).returning(table.c.id))
            ids.append(int(new_id.scalar_one()))
            records += [
                AuditRecord("insert", "vital_sign", ids[-1], participant_id, key, None,
                            canonical_json(value), None)
                for key, value in row.items()
            ]  # fmt: skip
        append_audit_records(connection, Actor(None, "tor", "therapist"), uuid.uuid4().hex, records)
    return ids


def _values(engine: Engine) -> set[tuple[int, str, float]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(MIGRATION._VALUE))
        return {(r.vital_sign_id, r.sign, r.value) for r in rows}


def _columns(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        table = MIGRATION._OLD_READING
        rows = connection.execute(sa.select(table).order_by(table.c.id)).mappings()
        return [{k: row[k] for k in MIGRATION.COLUMNS} for row in rows]


def test_upgrade_moves_columns_into_rows_on_the_chain_and_downgrade_moves_them_back(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    try:
        first, second = _old_database(engine)
        before = _columns(engine)
        upgrade(engine)

        assert _values(engine) == {
            (first, "systolic_bp", 124.0),
            (first, "diastolic_bp", 80.0),
            (first, "heart_rate", 72.0),
            (first, "temperature", 36.8),
            (second, "systolic_bp", 161.0),
            (second, "diastolic_bp", 92.0),
            (second, "heart_rate", 101.0),
        }
        reading_columns = {c["name"] for c in inspect(engine).get_columns("vital_sign")}
        assert not reading_columns & set(MIGRATION.COLUMNS)
        assert_trail_agrees(engine)
        moved = [e for e in audit_log(engine) if e.username == "remit-migration"]
        assert {e.reason for e in moved} == {MIGRATION.REASON}
        assert len({e.transaction_id for e in moved}) == 1
        assert {(e.action, e.table_name) for e in moved} == {
            ("delete", "vital_sign"),
            ("insert", "vital_sign"),
            ("insert", "vital_sign_value"),
        }
        # the value rows belong to the participant of their reading
        assert {e.participant_id for e in moved} == {_participant(engine)}
        # the CHECK constraint takes the vocabulary's codes only
        with (
            engine.connect() as connection,
            pytest.raises(sa.exc.IntegrityError, match=r"(?i)check"),
        ):
            connection.execute(
                sa.insert(MIGRATION._VALUE).values(vital_sign_id=first, sign="bp", value=1)
            )

        downgrade(engine, "0002")
        assert "vital_sign_value" not in inspect(engine).get_table_names()
        assert _columns(engine) == before
        assert verify_audit_chain(engine).ok

        upgrade(engine)
        assert len(_values(engine)) == 7
        assert_trail_agrees(engine)
    finally:
        engine.dispose()


def _participant(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(Participant.id)).scalar_one())


def test_downgrade_refuses_while_a_reading_holds_a_sign_0002_cannot_store(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    try:
        first, _ = _old_database(engine)
        upgrade(engine)
        with unit_of_work(engine, Actor.system()) as uow:
            uow.add(VitalSignValue(vital_sign_id=first, sign="oxygen_saturation", value=97.0))
        with pytest.raises(StoreError, match=r"1 reading.*oxygen_saturation"):
            downgrade(engine, "0002")
        assert "vital_sign_value" in inspect(engine).get_table_names()
        assert len(_values(engine)) == 8
        assert_trail_agrees(engine)
    finally:
        engine.dispose()
