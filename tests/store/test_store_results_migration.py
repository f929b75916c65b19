"""Migration 0013 adds the ``clinical_result`` and ``dosing_checklist`` tables (the
interpretation constrained to its words); downgrade drops them (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

from remit.store import downgrade, make_engine, upgrade


def test_upgrade_adds_the_tables_and_downgrade_drops_them(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0011")
        assert "clinical_result" not in inspect(engine).get_table_names()
        upgrade(engine, "0013")
        tables = set(inspect(engine).get_table_names())
        assert {"clinical_result", "dosing_checklist"} <= tables
        columns = {c["name"] for c in inspect(engine).get_columns("clinical_result")}
        assert {"value_number", "value_text", "normal_low", "normal_high", "interpretation",
                "collected_at", "recorded_by", "entered_at"} <= columns  # fmt: skip
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO study (code, title, created_at) "
                                       "VALUES ('S', 'S', CURRENT_TIMESTAMP)"))  # fmt: skip
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO clinical_result (participant_id, test_code, kind, "
                    "interpretation, collected_at, entered_at, protocol_version_id) VALUES "
                    "(1, 'uds', 'screen', 'weird', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                )
            )
        downgrade(engine, "0011")
        tables = set(inspect(engine).get_table_names())
        assert not {"clinical_result", "dosing_checklist"} & tables
    finally:
        engine.dispose()
