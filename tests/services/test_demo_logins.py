"""The demo logins' shipped password hashes: production-strength, matching the published
passwords, stored only through the demo path (no command, page or public service takes a hash),
and the demo computes none (SQLite and PostgreSQL for the service path)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from tests.support.db import count_all
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app
from remit.errors import InputError, PermissionDeniedError
from remit.protocol import load_protocol
from remit.simulate import DEMO_USERS, UNBLINDED_DEMO_USER, create_demo_database
from remit.simulate.demo import close_demo_database
from remit.store import unit_of_work
from remit.store import users as store_users

OSLO = load_protocol("oslo-mdma-mdd")
RCT = load_protocol("mdma-mdd-rct-example")
PUBLISHED = {**DEMO_USERS, UNBLINDED_DEMO_USER[0]: UNBLINDED_DEMO_USER[1:]}


def test_each_shipped_hash_is_production_strength_and_matches_the_published_password() -> None:
    logins = sv.demo_logins()
    assert {u: (login.role, login.password) for u, login in logins.items()} == PUBLISHED
    production = PasswordHasher()  # argon2-cffi's defaults, as store.users hashes real users
    for login in logins.values():
        assert store_users.is_production_hash(login.password_hash), login.username
        assert not production.check_needs_rehash(login.password_hash), login.username
        assert production.verify(login.password_hash, login.password)
    assert len({login.password_hash for login in logins.values()}) == len(logins)  # salted


def test_the_demo_computes_no_hash_and_every_printed_login_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> str:
        raise AssertionError("the demo hashed a password")

    monkeypatch.setattr(store_users, "hash_password", refuse)
    demo = create_demo_database(tmp_path / "trial.db", RCT)
    try:
        assert {u for u, _, _ in demo.logins} == set(PUBLISHED)
        monkeypatch.undo()
        for username, role, password in demo.logins:
            actor = sv.login(demo.engine, username, password)
            assert (actor.username, actor.role) == (username, role)
            # the printed login works as it is: no forced change of the published password
            assert sv.account_standing(demo.engine, actor) == sv.AccountStanding(True, False)
        with pytest.raises(PermissionDeniedError):
            sv.login(demo.engine, "ingrid", "remit-demo-admin")
    finally:
        close_demo_database(demo)


def test_the_demo_service_path_stores_the_shipped_hash(engine: Engine) -> None:
    trial = sv.create_demo_trial(engine, OSLO, admin_username="ada")
    admin = sv.login(engine, "ada", "remit-demo-admin")
    assert admin.user_id == trial.admin.id
    added = sv.add_demo_user(engine, admin, "rune", full_name="Demo rater")
    assert added.roles == (("independent_rater", None),)
    assert sv.login(engine, "rune", "remit-demo-rater").role == "independent_rater"


def test_only_shipped_demo_logins_can_be_added_that_way(engine: Engine) -> None:
    with pytest.raises(InputError, match="'kari' is not a demo login"):
        sv.create_demo_trial(engine, OSLO, admin_username="kari")
    with pytest.raises(InputError, match="'rune' is a independent_rater"):
        sv.create_demo_trial(engine, OSLO, admin_username="rune")
    sv.create_demo_trial(engine, OSLO, admin_username="ada")
    admin = sv.login(engine, "ada", "remit-demo-admin")
    before = count_all(engine)
    with pytest.raises(InputError, match="'mallory' is not a demo login"):
        sv.add_demo_user(engine, admin, "mallory")
    assert count_all(engine) == before
    rater = sv.add_demo_user(engine, admin, "rune")
    with pytest.raises(PermissionDeniedError):  # adding users is still the admin's
        sv.add_demo_user(engine, sv.login(engine, "rune", "remit-demo-rater"), "mona")
    assert rater.username == "rune"


@pytest.mark.parametrize(
    "weak",
    [
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("remit-demo-admin"),
        "$argon2i$v=19$m=65536,t=3,p=4$gm49RI7aLuKyRormKgAGTA$Tamu2SiN88cJ88zw6fpmvHSfNCgFrF/Hx",
        "$2b$12$KIXQJ1r0tZ5bQ7hJvM2aUeW0m9y1xTqf7VqjzCkq5Y6pH3n1Z8s2e",  # bcrypt
        "remit-demo-admin",  # a password where a hash belongs
    ],
    ids=["argon2id-cheap", "argon2i", "bcrypt", "password"],
)
def test_the_store_refuses_a_precomputed_hash_weaker_than_production(
    engine: Engine, weak: str
) -> None:
    sv.create_demo_trial(engine, OSLO, admin_username="ada")
    before = count_all(engine)
    with (
        pytest.raises(InputError, match="precomputed password hash of user 'eve'"),
        unit_of_work(engine, sv.Actor.system("test")) as uow,
    ):
        store_users.add_user_with_hash(uow, "eve", weak, [("admin", None)])
    assert count_all(engine) == before


def test_no_public_service_and_no_command_takes_a_password_hash() -> None:
    for name in sv.__all__:
        target = getattr(sv, name)
        if inspect.isfunction(target):
            parameters = inspect.signature(target).parameters
            assert not [p for p in parameters if "hash" in p.lower()], name
    helps = [
        CliRunner().invoke(app, [*command, "--help"]).output
        for command in (["user", "add"], ["user", "reset-password"], ["init"])
    ]
    assert all("Usage" in text for text in helps[:1])
    assert not [text for text in helps if "hash" in text.lower()]
