"""A migrated SQLite database holding the small trial of :mod:`tests.support.presets`, built
once per test run by the trial factory and copied for each test that writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.support.db import copy_database
from tests.support.presets import SMALL_TRIAL
from tests.support.shared import build_once
from tests.support.trial import trial_file

from remit.store import make_engine


@pytest.fixture(scope="session")
def trial_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a SQLite file with the small trial (do not write to it: copy it).

    Built once per test run; each xdist worker reads its own copy.
    """
    shared = build_once(tmp_path_factory, "interop-small-trial.db", _build)
    path = tmp_path_factory.mktemp("interop") / "trial.db"
    copy_database(shared, path)
    return path


def _build(path: Path) -> None:
    trial = trial_file(path, participants=SMALL_TRIAL)
    assert trial.participants == ("OSL-001", "OSL-002", "OSL-003")


@pytest.fixture(autouse=True)
def _cheap_passwords(fast_password_hashing: None) -> None:
    """Every interop test hashes passwords with cheap argon2 parameters (never in production)."""


@pytest.fixture
def trial_engine(trial_db: Path, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a private copy of the small trial."""
    copy = tmp_path / "trial.db"
    copy_database(trial_db, copy)
    engine = make_engine(copy)
    yield engine
    engine.dispose()
