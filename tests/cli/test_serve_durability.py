"""Issue 13 part 6: ``remit serve`` refuses a database that can lose acknowledged saves
(PostgreSQL ``synchronous_commit=off`` or ``fsync=off``, SQLite ``synchronous=OFF``) with one
clear line and exit code 2, unless ``--allow-unsafe-durability`` is given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from sqlalchemy import Engine, event
from tests.support.db import PostgresServer, migrated_sqlite
from typer.testing import CliRunner

import remit.cli.serve_cmd as serve_cmd
from remit import services as sv
from remit.cli.app import app
from remit.store import upgrade


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``remit serve`` without serving: records the database uvicorn would have served."""
    started: list[str] = []

    class _Done:
        def join(self, timeout: float | None = None) -> None:
            pass

    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append("uvicorn"))
    monkeypatch.setattr(serve_cmd, "_start_delivery", lambda *a, **k: _Done())
    return started


def _serve(db: str, *extra: str) -> Any:
    return CliRunner().invoke(app, ["serve", "--db", db, *extra])


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    path = tmp_path / "trial.db"
    with migrated_sqlite(path):
        pass
    return str(path)


def _sqlite_sync_off(monkeypatch: pytest.MonkeyPatch, level: str = "OFF") -> None:
    """Databases opened from now on run with ``PRAGMA synchronous = <level>`` (as a careless
    deployment or a future change of the engine factory could)."""
    opened = sv.open_database

    def open_off(db: str, **kw: Any) -> Engine:
        engine = opened(db, **kw)

        @event.listens_for(engine, "connect")
        def _off(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"PRAGMA synchronous = {level}")

        engine.dispose()  # connections opened before the listener are not reused
        return engine

    monkeypatch.setattr(sv, "open_database", open_off)


def test_sqlite_synchronous_off_is_refused(
    sqlite_db: str, served: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _serve(sqlite_db).exit_code == 0  # the default (synchronous=FULL) is served
    assert served == ["uvicorn"]
    served.clear()
    _sqlite_sync_off(monkeypatch)
    refused = _serve(sqlite_db)
    assert refused.exit_code == 2, refused.output
    assert "synchronous=OFF" in refused.output
    assert "--allow-unsafe-durability" in refused.output
    assert served == []
    allowed = _serve(sqlite_db, "--allow-unsafe-durability")
    assert allowed.exit_code == 0, allowed.output
    assert served == ["uvicorn"]


def test_sqlite_synchronous_normal_is_refused_too(
    sqlite_db: str, served: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # WAL + NORMAL is faster (no fsync per commit) but can lose acknowledged saves on a power cut
    _sqlite_sync_off(monkeypatch, "NORMAL")
    refused = _serve(sqlite_db)
    assert refused.exit_code == 2, refused.output
    assert "synchronous=NORMAL" in refused.output
    assert served == []


@pytest.fixture
def pg_db(postgres_server: PostgresServer) -> Iterator[tuple[PostgresServer, str]]:
    name = postgres_server.create()
    upgrade(postgres_server.url_of(name))
    yield postgres_server, name
    postgres_server.drop(name)


@pytest.mark.postgres
def test_postgresql_synchronous_commit_off_is_refused(
    pg_db: tuple[PostgresServer, str], served: list[str]
) -> None:
    server, name = pg_db
    url = server.url_of(name)
    assert _serve(url).exit_code == 0
    assert served == ["uvicorn"]
    served.clear()
    # set for this (throw-away) database only: new connections get it
    server._execute(
        sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(name))
    )
    refused = _serve(url)
    assert refused.exit_code == 2, refused.output
    assert "synchronous_commit=off" in refused.output
    assert served == []
    allowed = _serve(url, "--allow-unsafe-durability")
    assert allowed.exit_code == 0, allowed.output
    assert served == ["uvicorn"]
    assert "unsafe durability allowed" in allowed.output
