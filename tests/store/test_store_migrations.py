"""Migrations create every table on both engines, and agree with the table classes."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from remit.errors import StoreError
from remit.store import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    require_current,
    upgrade,
    verify_audit_chain,
)
from remit.store.tables import Base


def test_empty_database_migrates_to_head_and_matches_the_models(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert current_revision(engine) is None
        with pytest.raises(StoreError, match="remit db upgrade"):
            require_current(engine)
        assert upgrade(engine) == head_revision()
        assert upgrade(engine) == head_revision()  # a second run changes nothing
        require_current(engine)
        names = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= names
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}),
                Base.metadata,
            )
        assert differences == []
    finally:
        engine.dispose()


def test_append_only_triggers_exist(engine: Engine, db_backend: str) -> None:
    with engine.connect() as connection:
        if db_backend == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        names = set(connection.exec_driver_sql(query).scalars())
    from remit.store.roles import APPEND_ONLY_TABLES

    assert "alert_delivery" in APPEND_ONLY_TABLES
    for table in APPEND_ONLY_TABLES:
        assert any(name.startswith(table) for name in names), (table, names)


def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot read"):
        current_revision("postgresql://nobody@127.0.0.1:1/none")


def test_downgrade_to_base_removes_everything_and_upgrade_rebuilds(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine)
        assert downgrade(engine, "base") is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert upgrade(engine) == head_revision()
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_an_empty_audit_trail_verifies(engine: Engine) -> None:
    result = verify_audit_chain(engine)
    assert (result.ok, result.rows_checked, result.head_id, result.head_hash) == (
        True,
        0,
        None,
        None,
    )
    assert result.to_frame().shape == (1, 13)
    assert "0 rows checked" in result.summary()
