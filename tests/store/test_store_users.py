"""Users: argon2id hashes, password rules, roles per site, authentication."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

import remit.store.users
from remit.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from remit.store import (
    Actor,
    actor_for,
    add_user,
    authenticate,
    check_password_rules,
    grant_role,
    hash_password,
    roles_of,
    unit_of_work,
    verify_password,
)
from remit.store.tables import AuditEvent, UserAccount

PASSWORD = "correct horse battery staple"


def test_passwords_are_hashed_with_argon2id_and_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remit.store.users, "_HASHER", PasswordHasher())  # the real parameters
    hashed = hash_password(PASSWORD, "kari")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in hashed
    assert hash_password(PASSWORD) != hashed  # salted
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "!")
    assert not verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "has 7 characters"),
        ("aaaaaaaaaaaaaaaa", "only 1 different"),
        ("my-name-is-kari-ok", "contains the username"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_weak_passwords_are_refused_with_the_rule(password: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as refused:
        check_password_rules(password, "Kari")
    assert "at least 12" in str(refused.value) or "1024" in str(refused.value)


def test_users_roles_and_authentication(trial: Any) -> None:
    with unit_of_work(trial.engine, trial.admin) as uow:
        user = add_user(
            uow,
            "tove",
            PASSWORD,
            [("therapist", trial.site_id), ("therapist", "BGO"), ("monitor", None)],
            full_name="Tove T.",
        )
        with pytest.raises(ConflictError, match="already exists"):
            add_user(uow, "tove", PASSWORD)
        with pytest.raises(InputError, match="not a Remit role"):
            add_user(uow, "ulf", PASSWORD, [("surgeon", None)])
        with pytest.raises(NotFoundError, match="site 'XYZ'"):
            add_user(uow, "ulf", PASSWORD, [("therapist", "XYZ")])
        with pytest.raises(InputError, match="username"):
            add_user(uow, "two words", PASSWORD)
        grant_role(uow, user, "statistician")
        grant_role(uow, user, "statistician")  # already held: nothing added
    with Session(trial.engine) as session:
        stored = session.scalar(select(UserAccount).where(UserAccount.username == "tove"))
        assert stored is not None
        assert roles_of(session, stored) == [
            ("therapist", trial.site_id),
            ("therapist", trial.other_site_id),
            ("monitor", None),
            ("statistician", None),
        ]
        assert authenticate(session, "tove", PASSWORD).id == stored.id
        for name, password in [("tove", "wrong password!!"), ("nobody", PASSWORD)]:
            with pytest.raises(PermissionDeniedError, match="unknown username, wrong password"):
                authenticate(session, name, password)
        assert actor_for(session, "tove", "therapist", "BGO") == Actor(
            stored.id, "tove", "therapist", trial.other_site_id
        )
        assert actor_for(session, "tove", "monitor").site_id is None
        with pytest.raises(PermissionDeniedError, match="several matching roles"):
            actor_for(session, "tove", "therapist")
        with pytest.raises(PermissionDeniedError, match="no matching roles"):
            actor_for(session, "tove", "admin")
        hashes = [
            row.new_value
            for row in session.scalars(
                select(AuditEvent).where(AuditEvent.field == "password_hash")
            )
        ]
    assert hashes
    assert set(hashes) == {'"[redacted]"'}


def test_inactive_users_cannot_log_in(trial: Any) -> None:
    with unit_of_work(trial.engine, trial.admin, reason="left the study") as uow:
        user = uow.session.scalar(select(UserAccount).where(UserAccount.username == "rita"))
        assert user is not None
        user.active = False
    with Session(trial.engine) as session:
        with pytest.raises(PermissionDeniedError):
            authenticate(session, "rita", PASSWORD)
        with pytest.raises(PermissionDeniedError, match="inactive"):
            actor_for(session, "rita")
