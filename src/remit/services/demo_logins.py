"""The demo's logins: public passwords whose argon2id hashes ship with Remit.

``remit demo`` prints a login per role so that anyone can look around ``remit serve``. Hashing
those eight published passwords on every demo cost 64 MiB each (argon2id's RFC 9106
low-memory profile, the production setting) and most of a second in all; their hashes, made
once with the production parameters, are shipped in ``data/demo_logins.json`` instead and
stored as they are. Nothing else stores a given hash: the functions here take no hash, only
the name of a shipped demo login, and the store refuses a hash weaker than the production one.
Real users' passwords are always hashed when they are set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sqlalchemy import Engine

from remit.errors import InputError
from remit.protocol import Protocol
from remit.services.records import TrialRecord, UserRecord
from remit.services.trial import _create_trial, user_record
from remit.services.unit import writing
from remit.store import Actor
from remit.store.users import add_user_with_hash


@dataclass(frozen=True)
class DemoLogin:
    """One demo login: its username, study-wide role, published password and shipped hash."""

    username: str
    role: str
    password: str
    password_hash: str


@cache
def demo_logins() -> Mapping[str, DemoLogin]:
    """The shipped demo logins by username (the demo admin first)."""
    text = resources.files("remit.services").joinpath("data/demo_logins.json").read_text("utf-8")
    return {
        row["username"]: DemoLogin(row["username"], row["role"], row["password"], row["argon2id"])
        for row in json.loads(text)
    }


def _login(username: str) -> DemoLogin:
    found = demo_logins().get(username)
    if found is None:
        raise InputError(
            f"{username!r} is not a demo login",
            expected="one of " + ", ".join(demo_logins()),
            hint="real users are added with add_user and a password",
        )
    return found


def create_demo_trial(
    engine: Engine, protocol: Protocol, *, admin_username: str, sites: Sequence[str] | None = None
) -> TrialRecord:
    """:func:`remit.services.create_trial` with the demo login ``admin_username`` as the first
    admin (its shipped hash, not a new one)."""
    login = _login(admin_username)
    if login.role != "admin":
        raise InputError(
            f"demo login {admin_username!r} is a {login.role}", expected="the demo admin"
        )
    return _create_trial(
        engine,
        protocol,
        sites=sites,
        admin=lambda uow: add_user_with_hash(
            uow, login.username, login.password_hash, [("admin", None)]
        ),
        study_code=None,
        actor=None,
    )


def add_demo_user(
    engine: Engine, actor: Actor, username: str, *, full_name: str | None = None
) -> UserRecord:
    """Add the demo login ``username`` with its study-wide role and shipped hash (admin only,
    audited like :func:`remit.services.add_user`); not forced to change the published
    password, so that the printed login works as it is."""
    login = _login(username)
    with writing(engine, actor, "add_user", protocol=False, locks=False) as w:
        user = add_user_with_hash(
            w.uow,
            login.username,
            login.password_hash,
            [(login.role, None)],
            full_name=full_name,
            must_change_password=False,
        )
        return user_record(w.session, user)
