"""Fixtures of the service tests: an initialised Oslo trial (protocol, site OST, one user per
role) on SQLite and PostgreSQL, made by the trial factory of :mod:`tests.support.trial`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from tests.support.db import count_all
from tests.support.trial import OsloTrial, build_trial


@pytest.fixture
def oslo(engine: Engine, fast_password_hashing: None) -> OsloTrial:
    """The trial with its staff and no participant yet (tests add their own)."""
    return build_trial(engine)


@pytest.fixture
def rows(engine: Engine) -> Callable[[], dict[str, int]]:
    """``rows()``: rows per table now."""
    return lambda: count_all(engine)
