"""Migration 0019: the TOTP tables appear on upgrade and go on downgrade (SQLite and
PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import inspect

from remit.store import downgrade, make_engine, upgrade


def test_mfa_tables_upgrade_and_downgrade(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0013")
        assert "user_mfa" not in inspect(engine).get_table_names()
        upgrade(engine, "0019")
        assert {"user_mfa", "mfa_recovery_code"} <= set(inspect(engine).get_table_names())
        downgrade(engine, "0013")
        names = set(inspect(engine).get_table_names())
        assert not names & {"user_mfa", "mfa_recovery_code"}
        upgrade(engine, "0019")
        assert "user_mfa" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
