"""Migration 0010 gives ``concomitant_medication`` an ATC code, a route and a dated taper plan:
a medication recorded before keeps its row (its free-text taper plan readable) with the new
columns empty, and downgrade removes the columns again; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy import Engine, inspect
from tests.support.db import participant_at

from remit.store import (
    downgrade,
    make_engine,
    upgrade,
    verify_audit_chain,
)

NEW = {"atc_code", "route", "taper_steps"}
MED = sa.table(
    "concomitant_medication",
    sa.column("id", sa.Integer()),
    sa.column("participant_id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("stop_date", sa.Date()),
    sa.column("taper_plan", sa.Text()),
    sa.column("protocol_version_id", sa.Integer()),
)


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("concomitant_medication")}


def _medication_at_0008(engine: Engine) -> int:
    participant_id, version_id = participant_at(engine, "0008")
    with engine.begin() as connection:
        row = connection.execute(
            sa.insert(MED)
            .values(
                participant_id=participant_id,
                name="sertraline",
                stop_date=date(2024, 2, 1),
                taper_plan="50 mg for 2 weeks, then stop",
                protocol_version_id=version_id,
            )
            .returning(MED.c.id)
        )
        return int(row.scalar_one())


def test_upgrade_keeps_medications_and_downgrade_drops_the_columns(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        med_id = _medication_at_0008(engine)
        before = _columns(engine)
        assert not before & NEW
        upgrade(engine, "0010")
        assert _columns(engine) == before | NEW
        table = sa.Table("concomitant_medication", sa.MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            row = connection.execute(sa.select(table).where(table.c.id == med_id)).one()
        assert (row.name, row.taper_plan) == ("sertraline", "50 mg for 2 weeks, then stop")
        assert all(getattr(row, column) is None for column in NEW)
        steps = [{"date": "2024-01-15", "dose": "50 mg"}]
        with engine.begin() as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.id == med_id)
                .values(atc_code="N06AB06", taper_steps=steps)
            )
        with engine.connect() as connection:
            row = connection.execute(sa.select(table).where(table.c.id == med_id)).one()
        assert (row.atc_code, row.taper_steps) == ("N06AB06", steps)
        downgrade(engine, "0008")
        assert _columns(engine) == before
        with engine.connect() as connection:
            assert connection.execute(sa.select(MED.c.taper_plan)).scalars().all() == [
                "50 mg for 2 weeks, then stop"
            ]
        assert verify_audit_chain(engine).ok
        upgrade(engine, "0010")
        assert _columns(engine) == before | NEW
    finally:
        engine.dispose()
