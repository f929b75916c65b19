"""A username with a NUL byte is a failed login, not a server error (the fuzz battery's
finding: PostgreSQL refuses NUL in text, so ``POST /api/v1/auth/login`` answered 500)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from tests.support.trial import PASSWORD

from remit import services as sv
from remit.errors import PermissionDeniedError
from remit.store import Actor, add_user, unit_of_work
from remit.store.security import SecurityEvent


@pytest.mark.usefixtures("fast_password_hashing")
def test_a_nul_in_the_username_is_an_unknown_user_and_logged(engine: Engine) -> None:
    with unit_of_work(engine, Actor.system()) as uow:
        add_user(uow, "ada", PASSWORD, [("admin", None)])
    with pytest.raises(PermissionDeniedError):
        sv.login(engine, "ad\x00a", PASSWORD)
    with Session(engine) as session:
        logged = session.scalar(
            select(func.count())
            .select_from(SecurityEvent)
            .where(SecurityEvent.event == "login_failed", SecurityEvent.username == "ad\ufffda")
        )
    assert logged == 1
    assert sv.login(engine, "ada", PASSWORD).username == "ada"  # the real user is not locked
