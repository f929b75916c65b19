"""A migrated SQLite database holding the small trial of :mod:`tests.interop.trial`, built once
per session and copied for each test that writes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.interop.trial import drive
from tests.services.conftest import OsloTrial, oslo  # noqa: F401 - fixture re-export

from remit.store import make_engine, upgrade

STANDARDS = Path(__file__).parent / "standards"


@pytest.fixture(scope="session")
def trial_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a SQLite file with the small trial (do not write to it: copy it)."""
    from argon2 import PasswordHasher

    import remit.store.users
    from remit.protocol import load_protocol
    from remit.services import add_user, create_trial
    from remit.store import Actor

    saved = remit.store.users._HASHER
    remit.store.users._HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        path = tmp_path_factory.mktemp("interop") / "trial.db"
        engine = make_engine(path)
        upgrade(engine)
        protocol = load_protocol("oslo-mdma-mdd")
        trial = create_trial(
            engine, protocol, sites=["OST"], admin_username="ada", admin_password="pw-123456789"
        )
        admin = Actor(trial.admin.id, "ada", "admin", None)
        actors = {}
        for name, role, site in [
            ("kari", "investigator", "OST"),
            ("tor", "therapist", "OST"),
            ("rita", "independent_rater", "OST"),
            ("mona", "monitor", None),
            ("dag", "data_manager", None),
            ("siri", "statistician", None),
        ]:
            user = add_user(engine, admin, name, "pw-123456789", [(role, site)])
            actors[role] = Actor(user.id, name, role, 1 if site else None)
        drive(
            OsloTrial(
                engine=engine,
                protocol=protocol,
                admin=admin,
                investigator=actors["investigator"],
                therapist=actors["therapist"],
                rater=actors["independent_rater"],
                monitor=actors["monitor"],
                data_manager=actors["data_manager"],
                statistician=actors["statistician"],
            )
        )
        engine.dispose()
    finally:
        remit.store.users._HASHER = saved
    return path


@pytest.fixture(autouse=True)
def _cheap_passwords(fast_password_hashing: None) -> None:
    """Every interop test hashes passwords with cheap argon2 parameters (never in production)."""


@pytest.fixture
def trial_engine(trial_db: Path, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a private copy of the small trial."""
    copy = tmp_path / "trial.db"
    shutil.copyfile(trial_db, copy)
    engine = make_engine(copy)
    yield engine
    engine.dispose()
