"""Shared fixtures: a migrated database on SQLite and on PostgreSQL.

Use ``engine`` (or ``db_url``) in a test and it runs twice, once per engine. Each test starts
from an empty migrated database: on SQLite a copy of a file migrated at the start of the
session; on PostgreSQL one database per test session (per xdist worker), migrated once and
emptied before each test. PostgreSQL tests need a server at
127.0.0.1:5432 (user ``postgres``, or ``REMIT_TEST_POSTGRES_URL``); they are skipped when it is
unreachable, except when ``CI=true``, where that is a failure.

``browser`` is Debian's headless Chromium driven by Playwright (for the report and web browser
tests): skipped with the reason when Chromium or Playwright is missing, a failure when
``CI=true``. It never downloads a browser.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from remit.store import make_engine, upgrade

POSTGRES_URL = os.environ.get(
    "REMIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


class PostgresServer:
    """Creates and drops throw-away databases named ``remit_test_<random>_<n>``."""

    def __init__(self, admin_url: str) -> None:
        url = make_url(admin_url)
        self.url = url.set(drivername="postgresql+psycopg")
        self.conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.prefix = f"remit_test_{uuid.uuid4().hex[:10]}"
        self.count = 0
        self.created: list[str] = []

    def _execute(self, statement: sql.Composable) -> None:
        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as connection:
            connection.execute(statement)

    def create(self, template: str | None = None) -> str:
        """Create a database (a copy of ``template`` if given); return its name."""
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        self._execute(statement)
        self.created.append(name)
        return name

    def empty(self, name: str) -> None:
        """Remove every row (the audit trail too) from database ``name``; keep the schema.

        Other sessions on it are ended first. ``session_replication_role = replica`` (superuser)
        skips the append-only triggers, which also refuse TRUNCATE.
        """
        self._execute(
            sql.SQL(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = {} AND pid <> pg_backend_pid()"
            ).format(sql.Literal(name))
        )
        conninfo = make_url(self.url_of(name)).set(drivername="postgresql")
        with psycopg.connect(conninfo.render_as_string(hide_password=False)) as connection:
            tables = connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'"
            ).fetchall()
            sequences = connection.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
            ).fetchall()
            # DELETE on tiny tables is much cheaper than TRUNCATE (no new files to sync); in
            # replica mode neither the foreign keys nor the append-only triggers fire.
            connection.execute("SET session_replication_role = replica")
            for (table,) in tables:
                connection.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            for (sequence,) in sequences:
                connection.execute(
                    sql.SQL("SELECT setval({}, 1, false)").format(sql.Literal(sequence))
                )

    def drop(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected."""
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if name in self.created:
            self.created.remove(name)

    def url_of(self, name: str) -> str:
        """SQLAlchemy URL of database ``name``."""
        return self.url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server, or a skip (a failure when ``CI=true``) if it is unreachable."""
    server = PostgresServer(POSTGRES_URL)
    try:
        with psycopg.connect(server.conninfo, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {error}".strip()
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    yield server
    for name in list(server.created):
        server.drop(name)


@pytest.fixture(scope="session")
def _postgres_database(postgres_server: PostgresServer) -> str:
    name = postgres_server.create()
    upgrade(postgres_server.url_of(name))
    return name


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "remit.db"
    engine = make_engine(path)
    upgrade(engine)
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``: tests using it run on both."""
    backend: str = request.param
    return backend


@pytest.fixture
def db_url(request: pytest.FixtureRequest, db_backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database migrated to head (SQLite file or PostgreSQL database)."""
    if db_backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "remit.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name: str = request.getfixturevalue("_postgres_database")
    server.empty(name)
    yield server.url_of(name)


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, db_backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database (no tables: for migration tests)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create()
    yield server.url_of(name)
    server.drop(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh migrated database; disposed after the test."""
    created = make_engine(db_url)
    yield created
    created.dispose()


@pytest.fixture
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2id parameters, for tests that create many users (never in production)."""
    from argon2 import PasswordHasher

    import remit.store.users

    monkeypatch.setattr(
        remit.store.users, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (Debian: apt install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install 'remit[dev]')"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium (a Playwright ``Browser``); never a downloaded browser.

    Skipped with the reason when Chromium or Playwright is missing; a failure when ``CI=true``.
    """
    reason = _browser_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: browser tests must run)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
