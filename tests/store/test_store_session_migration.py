"""Migration 0020: the web session, login-address and server-observation tables appear on
upgrade and go on downgrade (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import inspect

from remit.store import downgrade, make_engine, upgrade

TABLES = {"web_session", "login_address", "server_observation"}


def test_session_tables_upgrade_and_downgrade(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0019")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(engine, "0020")
        assert set(inspect(engine).get_table_names()) >= TABLES
        downgrade(engine, "0019")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(engine, "0020")
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
