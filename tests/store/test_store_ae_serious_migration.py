"""Migration 0027 gives ``adverse_event`` ``became_serious_at``: rows recorded before keep every
value with the column empty; downgrade refuses while an event carries the time (its SAE clock
would move back silently) and drops the column otherwise; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, inspect
from tests.support.db import participant_at

from remit.errors import StoreError
from remit.store import downgrade, make_engine, upgrade, verify_audit_chain


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("adverse_event")}


def test_upgrade_keeps_rows_and_downgrade_refuses_while_an_event_was_upgraded(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    try:
        participant_id, version_id = participant_at(engine, "0026")
        ae = sa.Table("adverse_event", sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            ae_id = connection.execute(
                sa.insert(ae)
                .values(
                    participant_id=participant_id,
                    term="syncope",
                    onset_date=date(2024, 3, 1),
                    severity="severe",
                    serious=True,
                    seriousness_criteria=["hospitalisation"],
                    relatedness="possible",
                    outcome="unknown",
                    awareness_at=datetime(2024, 3, 1, 12, tzinfo=UTC),
                    protocol_version_id=version_id,
                )
                .returning(ae.c.id)
            ).scalar_one()
        before = _columns(engine)
        upgrade(engine, "0027")
        assert _columns(engine) == before | {"became_serious_at"}
        now = sa.Table("adverse_event", sa.MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            row = connection.execute(sa.select(now).where(now.c.id == ae_id)).one()
        assert (row.term, row.serious, row.became_serious_at) == ("syncope", True, None)
        when = datetime(2024, 3, 3, 9, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(sa.update(now).values(became_serious_at=when))
        with pytest.raises(StoreError, match="upgraded to serious after they were recorded"):
            downgrade(engine, "0026")
        assert "became_serious_at" in _columns(engine)
        with engine.begin() as connection:
            connection.execute(sa.update(now).values(became_serious_at=None))
        downgrade(engine, "0026")
        assert _columns(engine) == before
        assert verify_audit_chain(engine).ok
    finally:
        engine.dispose()
