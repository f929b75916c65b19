"""Shared fixtures: a migrated database on SQLite and on PostgreSQL.

Use ``engine`` (or ``db_url``) in a test and it runs twice, once per engine. Each test starts
from an empty migrated database: on SQLite a copy of a file migrated at the start of the
session; on PostgreSQL one database per test session (per xdist worker), migrated once and
emptied before each test. PostgreSQL tests need a server at
127.0.0.1:5432 (user ``postgres``, or ``REMIT_TEST_POSTGRES_URL``); they are skipped when it is
unreachable, except when ``CI=true``, where that is a failure.

Files that many tests start from (the migrated SQLite template, a small simulated trial) are
built once per test run and shared by the xdist workers (:mod:`tests.support.shared`).

``browser`` is Debian's headless Chromium driven by Playwright (for the report and web browser
tests): skipped with the reason when Chromium or Playwright is missing, a failure when
``CI=true``. It never downloads a browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, browser_missing
from tests.support.cli_login import auto_cli_login
from tests.support.db import PostgresServer, cheap_password_hashing, copy_database, migrated_sqlite
from tests.support.shared import build_once
from tests.support.simulated import simulate_missing_v13

from remit.store import make_engine, upgrade

POSTGRES_URL = os.environ.get(
    "REMIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Property tests have no per-example wall-clock deadline (Hypothesis' default is 200 ms) and
# do not fail their "too slow" health check: a loaded machine is slow, not wrong. A test's own
# @settings still choose its number of examples.
settings.register_profile(
    "remit-tests", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("remit-tests")

__all__ = ["auto_cli_login"]  # an autouse fixture: CLI commands log their users in


@pytest.fixture(autouse=True)
def environment_restored() -> Iterator[None]:
    """The process environment as it was before the test: a command run in-process (``remit
    serve`` hands its database, keys and settings to its workers through the environment)
    must not leak them into the next test of the same worker."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(autouse=True)
def trial_scales_forgotten() -> Iterator[None]:
    """The scales of a trial database a test opened (installed process-wide by the services,
    :func:`remit.scales.use_trial_scales`) are forgotten after it: the next test starts with
    the shipped scales and REMIT_SCALES_PATH only."""
    yield
    from remit.scales import use_trial_scales

    use_trial_scales({})


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


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


def _migrate(path: Path) -> None:
    with migrated_sqlite(path):
        pass


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_once(tmp_path_factory, "migrated.db", _migrate)


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
        copy_database(template, path)
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
def fast_password_hashing() -> Iterator[None]:
    """Cheap argon2id parameters, for tests that create many users (never in production)."""
    with cheap_password_hashing():
        yield


@pytest.fixture(scope="module")
def fast_hashing() -> Iterator[None]:
    """Cheap argon2id parameters for a whole module (for module-scoped fixtures)."""
    with cheap_password_hashing():
        yield


@pytest.fixture(scope="session")
def simulated_missing_v13(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated trial (:func:`tests.support.simulated.simulate_missing_v13`) in which
    one participant misses V13: a SQLite file built once per test run. Do not write to it:
    copy it."""
    return build_once(tmp_path_factory, "simulated-missing-v13.db", simulate_missing_v13)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium (a Playwright ``Browser``); never a downloaded browser.

    Skipped with the reason when Chromium or Playwright is missing; a failure when ``CI=true``.
    """
    reason = browser_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: browser tests must run)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
