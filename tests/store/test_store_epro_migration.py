"""Migration 0022: the ePRO tables appear on upgrade and go on downgrade (SQLite and
PostgreSQL); the token is stored as its SHA-256 only (a unique 64-character column)."""

from __future__ import annotations

from sqlalchemy import inspect

from remit.store import downgrade, make_engine, upgrade


def test_epro_tables_upgrade_and_downgrade(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0020")
        assert "epro_link" not in inspect(engine).get_table_names()
        upgrade(engine, "0022")
        names = set(inspect(engine).get_table_names())
        assert {"epro_link", "participant_epro"} <= names
        columns = {c["name"]: c for c in inspect(engine).get_columns("epro_link")}
        assert "token" not in columns
        assert columns["token_sha256"]["type"].length == 64
        downgrade(engine, "0020")
        assert not set(inspect(engine).get_table_names()) & {"epro_link", "participant_epro"}
        upgrade(engine, "0022")
        assert "participant_epro" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
