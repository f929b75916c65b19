"""Fixtures of the service tests: an initialised Oslo trial (protocol, site OST, one user per
role) on SQLite and PostgreSQL, made by the trial factory of :mod:`tests.support.trial`.

On SQLite the trial is built once per test run and each test gets a copy of the file; on
PostgreSQL it is built in each test's emptied database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.support.db import copy_database, count_all
from tests.support.shared import build_once
from tests.support.trial import OsloTrial, build_trial, trial_file, trial_of


@pytest.fixture(scope="session")
def _staffed_sqlite_trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_once(tmp_path_factory, "staffed-trial.db", trial_file)


@pytest.fixture
def oslo(
    request: pytest.FixtureRequest, engine: Engine, db_backend: str, fast_password_hashing: None
) -> OsloTrial:
    """The trial with its staff and no participant yet (tests add their own)."""
    if db_backend != "sqlite":
        return build_trial(engine)
    template: Path = request.getfixturevalue("_staffed_sqlite_trial")
    database = engine.url.database
    assert database is not None
    engine.dispose()  # nothing has connected yet: the copy replaces the empty database
    copy_database(template, database)
    return trial_of(engine)


@pytest.fixture
def rows(engine: Engine) -> Callable[[], dict[str, int]]:
    """``rows()``: rows per table now."""
    return lambda: count_all(engine)
