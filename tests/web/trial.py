"""A small Oslo trial for the web tests: one user per role, two participants.

``OSL-001`` is enrolled (its V3 and dosing day V5 ready to be entered); ``OSL-002`` is in
screening. Built once per test session into a SQLite file; each test gets a copy.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import text
from tests.services.conftest import ELIGIBLE

from remit import services as sv
from remit.protocol import load_protocol
from remit.store import Actor, make_engine, upgrade

PASSWORD = "correct horse battery staple"

#: username → (role, site code or None for study-wide)
USERS: dict[str, tuple[str, str | None]] = {
    "ada": ("admin", None),
    "kari": ("investigator", "OST"),
    "tor": ("therapist", "OST"),
    "rita": ("independent_rater", "OST"),
    "mona": ("monitor", None),
    "dag": ("data_manager", None),
    "siri": ("statistician", None),
}
ROLE_USER = {role: name for name, (role, _) in USERS.items()}


def build_trial(path: Path) -> dict[str, Actor]:
    """Create the trial database at ``path``; return one actor per role.

    Passwords are hashed with cheap argon2id parameters (the hash records them, so logins
    verify cheaply too): a test database only.
    """
    import remit.store.users as users

    kept = users._HASHER
    users._HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        return _build(path)
    finally:
        users._HASHER = kept


def _build(path: Path) -> dict[str, Actor]:
    engine = make_engine(path)
    upgrade(engine)
    protocol = load_protocol("oslo-mdma-mdd")
    trial = sv.create_trial(
        engine, protocol, sites=["OST"], admin_username="ada", admin_password=PASSWORD
    )
    actors = {"admin": Actor(trial.admin.id, "ada", "admin", None)}
    for name, (role, site) in USERS.items():
        if name == "ada":
            continue
        user = sv.add_user(engine, actors["admin"], name, PASSWORD, [(role, site)])
        actors[role] = Actor(user.id, name, role, 1 if site else None)
    inv = actors["investigator"]
    first = sv.screen_participant(
        engine,
        inv,
        sex="female",
        birth_year=1983,
        identity={"name": "Kari Nordmann", "national_id": "01018312345"},
        screened_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
    )
    today = datetime.now(UTC).date()
    sv.set_anchor_date(engine, inv, first.participant_id, "referral", date(today.year - 1, 1, 2))
    sv.check_eligibility(engine, inv, first.participant_id, ELIGIBLE)
    sv.enrol(engine, inv, first.participant_id)
    sv.screen_participant(engine, inv, sex="male", birth_year=1990)
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return actors
