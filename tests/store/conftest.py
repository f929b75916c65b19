"""Fixtures of the store tests: a small trial (study, protocol, sites, users) written with the
store only (:mod:`tests.support.store_trial`), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from tests.support.store_trial import Trial, count_rows, store_trial

from remit.store.tables import AuditEvent, Base


@pytest.fixture(autouse=True)
def _fast_hashing(fast_password_hashing: None) -> None:
    """Store tests create many users: cheap argon2 parameters (test_users checks the real ones)."""


@pytest.fixture
def trial(engine: Engine) -> Trial:
    return store_trial(engine)


@pytest.fixture
def rows(engine: Engine) -> Callable[[type[Base]], int]:
    """``rows(Table)``: how many rows the table holds now."""
    return lambda table: count_rows(engine, table)


@pytest.fixture
def audit_rows(engine: Engine) -> Callable[[], int]:
    """``audit_rows()``: how many rows the audit trail holds now."""
    return lambda: count_rows(engine, AuditEvent)
