"""Migrations create every table on both engines, and agree with the table classes."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from remit.errors import StoreError
from remit.store import current_revision, head_revision, make_engine, require_current, upgrade
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
    for table in ("audit_event", "identity_access_log"):
        assert any(name.startswith(table) for name in names), (table, names)


def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot read"):
        current_revision("postgresql://nobody@127.0.0.1:1/none")
