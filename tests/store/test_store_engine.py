"""The engine factory: URL handling, SQLite settings, write transactions, UTC timestamps."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import StatementError

from remit.errors import InputError
from remit.store import Actor, database_url, make_engine, unit_of_work
from remit.store.tables import Study


def test_paths_become_sqlite_and_postgres_gets_psycopg(tmp_path: Path) -> None:
    assert database_url(tmp_path / "t.db").render_as_string() == f"sqlite:///{tmp_path / 't.db'}"
    assert database_url("sqlite:///x.db").database == "x.db"
    for given in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert database_url(given).drivername == "postgresql+psycopg"
    with pytest.raises(InputError, match="mysql"):
        database_url("mysql://u@h/db")
    with pytest.raises(InputError, match="no database given"):
        database_url("  ")


def test_missing_sqlite_file_is_refused_when_it_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no SQLite database"):
        make_engine(tmp_path / "nothing.db", must_exist=True)
    assert not (tmp_path / "nothing.db").exists()


def test_sqlite_runs_in_wal_with_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "t.db")
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 30_000,
    }


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_unit_of_work_holds_the_sqlite_write_lock_from_its_start(engine: Engine) -> None:
    path = engine.url.database
    assert path is not None
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        with unit_of_work(engine, _system()) as uow:
            uow.session.execute(text("SELECT 1"))  # only a read, yet the write lock is held
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at commit
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_timestamps_come_back_as_utc_and_naive_ones_are_refused(trial: Any) -> None:
    oslo = timezone(timedelta(hours=2))
    moment = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=oslo)
    with unit_of_work(trial.engine, _system()) as uow:
        study = uow.session.get(Study, trial.study_id)
        assert study is not None
        study.created_at = moment
    with unit_of_work(trial.engine, _system()) as uow:
        stored = uow.session.get(Study, trial.study_id)
        assert stored is not None
        assert stored.created_at == moment
        assert stored.created_at.tzinfo == UTC
        assert stored.created_at.hour == 12
    with (  # noqa: PT012
        pytest.raises(StatementError, match="naive datetime"),
        unit_of_work(trial.engine, _system()) as uow,
    ):
        study = uow.session.get(Study, trial.study_id)
        assert study is not None
        study.created_at = datetime(2026, 6, 1, 12, 0)
        uow.flush()


def _system() -> Actor:
    return Actor.system()
