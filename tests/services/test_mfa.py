"""TOTP MFA (issue 13): set-up with recovery codes, login with a code, wrong and replayed
codes refused and logged and throttled, a recovery code works once, a required role without
set-up is told to set it up, an admin's reset (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from tests.support.trial import PASSWORD

from remit import services as sv
from remit.errors import MfaRequiredError, PermissionDeniedError, TooManyAttemptsError
from remit.services import mfa, security
from remit.services.accounts import LoginPolicy
from remit.store import Actor, add_user, unit_of_work
from remit.store.security import SecurityEvent

POLICY = LoginPolicy(max_failures=5, window_s=900, mfa_roles=frozenset({"admin"}))
NOW = 1_800_000_000.0  # a fixed moment: codes come from pyotp.TOTP(secret).at(time)


def _add(engine: Engine, name: str, role: str) -> Actor:
    with unit_of_work(engine, Actor.system()) as uow:
        user = add_user(uow, name, PASSWORD, [(role, None)])
        return Actor(user.id, name, role, None)


def _events(engine: Engine, event: str, username: str) -> int:
    query = (
        select(func.count())
        .select_from(SecurityEvent)
        .where(SecurityEvent.event == event, SecurityEvent.username == username)
    )
    with Session(engine) as session:
        return int(session.scalar(query) or 0)


def _enrol(engine: Engine, actor: Actor, at: float = NOW) -> tuple[str, list[str]]:
    setup = mfa.start_mfa_setup(engine, actor)
    assert setup.uri.startswith("otpauth://totp/")
    assert setup.secret in setup.uri
    codes = mfa.confirm_mfa_setup(
        engine, actor, pyotp.TOTP(setup.secret).at(at), policy=POLICY, now=at
    )
    return setup.secret, codes


def test_set_up_then_login_needs_the_code(engine: Engine) -> None:
    kari = _add(engine, "kari", "investigator")
    secret, codes = _enrol(engine, kari)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    with pytest.raises(MfaRequiredError) as missing:
        sv.login(engine, "kari", PASSWORD, policy=POLICY)
    assert not missing.value.setup
    step = sv.login_password_step(engine, "kari", PASSWORD, policy=POLICY)
    assert step.mfa == "code"
    code = pyotp.TOTP(secret).at(NOW + 30)
    assert mfa.verify_mfa_code(engine, kari.user_id or 0, "kari", code, policy=POLICY, now=NOW)
    for event in ("mfa_setup", "mfa_confirmed", "mfa_code_ok"):
        assert _events(engine, event, "kari") == 1
    # the secret is not stored in clear
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT secret_enc FROM user_mfa")).scalar_one()
    assert secret not in stored


def test_wrong_and_replayed_codes_are_refused_logged_and_throttled(engine: Engine) -> None:
    kari = _add(engine, "kari", "investigator")
    secret, _ = _enrol(engine, kari)
    uid = kari.user_id or 0
    # the set-up's own code cannot be used again
    replay = pyotp.TOTP(secret).at(NOW)
    assert not mfa.verify_mfa_code(engine, uid, "kari", replay, policy=POLICY, now=NOW)
    fresh = pyotp.TOTP(secret).at(NOW + 30)
    assert mfa.verify_mfa_code(engine, uid, "kari", fresh, policy=POLICY, now=NOW + 30)
    assert not mfa.verify_mfa_code(engine, uid, "kari", fresh, policy=POLICY, now=NOW + 30)
    far = pyotp.TOTP(secret).at(NOW + 600)  # outside the ±1 step window
    assert not mfa.verify_mfa_code(engine, uid, "kari", far, policy=POLICY, now=NOW + 30)
    assert _events(engine, "mfa_code_failed", "kari") == 3
    for _ in range(3):  # the right code cleared the count: 2 failures since, 3 more make 5
        assert not mfa.verify_mfa_code(engine, uid, "kari", "000000", policy=POLICY, now=NOW)
    with pytest.raises(TooManyAttemptsError):  # five wrong codes: the account's throttle
        mfa.verify_mfa_code(engine, uid, "kari", "000000", policy=POLICY, now=NOW)
    with pytest.raises(TooManyAttemptsError):  # and the password is not checked either
        sv.login(engine, "kari", PASSWORD, policy=POLICY, totp_code="123456")
    assert _events(engine, "lockout", "kari") >= 1


def test_recovery_code_works_once(engine: Engine) -> None:
    kari = _add(engine, "kari", "investigator")
    _, codes = _enrol(engine, kari)
    actor = sv.login(engine, "kari", PASSWORD, policy=POLICY, totp_code=codes[3])
    assert actor.username == "kari"
    assert _events(engine, "mfa_recovery_used", "kari") == 1
    with pytest.raises(PermissionDeniedError):
        sv.login(engine, "kari", PASSWORD, policy=POLICY, totp_code=codes[3])
    status = mfa.mfa_status(engine, kari, POLICY)
    assert status.enrolled
    assert status.recovery_codes_left == 9


def test_required_role_without_set_up_is_told_to_set_it_up(engine: Engine) -> None:
    _add(engine, "ada", "admin")
    step = sv.login_password_step(engine, "ada", PASSWORD, policy=POLICY)
    assert step.mfa == "setup"
    with pytest.raises(MfaRequiredError) as needed:
        sv.login(engine, "ada", PASSWORD, policy=POLICY)
    assert needed.value.setup
    with pytest.raises(MfaRequiredError):  # the CLI's login too
        security.cli_login(engine, "ada", PASSWORD, policy=POLICY)
    assert _events(engine, "mfa_setup_required", "ada") == 3
    # a site that requires no role's MFA lets the admin in with the password alone
    open_policy = LoginPolicy(mfa_roles=frozenset())
    assert sv.login_password_step(engine, "ada", PASSWORD, policy=open_policy).mfa == "none"


def test_admin_reset_makes_the_user_set_up_again(engine: Engine) -> None:
    ada = _add(engine, "ada", "admin")
    kari = _add(engine, "kari", "investigator")
    _enrol(engine, kari)
    with pytest.raises(PermissionDeniedError):  # only an admin resets
        mfa.reset_mfa(engine, kari, "kari", reason="lost phone")
    assert mfa.reset_mfa(engine, ada, "kari", reason="lost phone")
    assert _events(engine, "mfa_reset", "kari") == 1
    assert sv.login_password_step(engine, "kari", PASSWORD, policy=POLICY).mfa == "none"
    strict = LoginPolicy(mfa_roles=frozenset({"investigator"}))
    assert sv.login_password_step(engine, "kari", PASSWORD, policy=strict).mfa == "setup"


def test_signature_reauthentication_asks_for_the_code(engine: Engine) -> None:
    kari = _add(engine, "kari", "investigator")
    secret, _ = _enrol(engine, kari, at=time.time() - 90)  # the page uses the real clock
    with pytest.raises(MfaRequiredError):
        sv.check_password(engine, kari, PASSWORD, policy=POLICY)
    assert not sv.check_password(engine, kari, PASSWORD, policy=POLICY, totp_code="000000")
    code = pyotp.TOTP(secret).now()
    assert sv.check_password(engine, kari, PASSWORD, policy=POLICY, totp_code=code)
    assert not sv.check_password(engine, kari, PASSWORD, policy=POLICY, totp_code=code)
