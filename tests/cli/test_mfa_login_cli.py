"""``remit login`` and ``remit --password-stdin`` ask for the TOTP code of a user with MFA,
and refuse a user whose role requires MFA until they set it up (issue 13)."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
import pytest
from tests.support.trial import PASSWORD, trial_file
from typer.testing import CliRunner

from remit import services as sv
from remit.cli import common
from remit.cli.app import app
from remit.services import mfa, security
from remit.services.accounts import LoginPolicy

pytestmark = pytest.mark.no_auto_login
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, fast_password_hashing: None) -> Path:
    path = tmp_path / "trial.db"
    trial_file(path)
    return path


def _run(db: Path, *args: str, stdin: str | None = None, roles: str = ""):  # type: ignore[no-untyped-def]
    env = {"REMIT_DATABASE_URL": str(db), "REMIT_USER": "kari", "REMIT_MFA_ROLES": roles}
    return runner.invoke(app, [*args], input=stdin, env=env)


def _enrol(db: Path) -> str:
    engine = sv.open_database(str(db))
    try:
        kari = sv.actor_for(engine, "kari")
        setup = mfa.start_mfa_setup(engine, kari)
        at = time.time() - 30
        code = pyotp.TOTP(setup.secret).at(at)
        mfa.confirm_mfa_setup(engine, kari, code, policy=LoginPolicy(), now=at)
        return setup.secret
    finally:
        sv.close_database(engine)


def test_cli_login_needs_the_code(db: Path) -> None:
    secret = _enrol(db)
    missing = _run(db, "login", "--password-stdin", stdin=PASSWORD + "\n")
    assert missing.exit_code == 2
    assert "TOTP code is needed" in missing.stderr
    wrong = _run(db, "login", "--password-stdin", "--totp-code", "000000", stdin=PASSWORD + "\n")
    assert wrong.exit_code == 2
    code = pyotp.TOTP(secret).now()
    good = _run(db, "login", "--password-stdin", "--totp-code", code, stdin=PASSWORD + "\n")
    assert good.exit_code == 0, good.output
    # one command with the password on stdin: the code as a root option
    no_code = _run(db, "--password-stdin", "participant", "list", stdin=PASSWORD + "\n")
    assert no_code.exit_code == 2
    later = pyotp.TOTP(secret).at(time.time() + 30)
    listed = _run(
        db, "--password-stdin", "--totp-code", later, "participant", "list", stdin=PASSWORD + "\n"
    )
    assert listed.exit_code == 0, listed.output


def test_a_required_role_without_set_up_is_refused(db: Path) -> None:
    refused = _run(db, "login", "--password-stdin", stdin=PASSWORD + "\n", roles="investigator")
    assert refused.exit_code == 2
    assert "must set up MFA" in refused.stderr
    assert _run(db, "login", "--password-stdin", stdin=PASSWORD + "\n", roles="none").exit_code == 0


def test_admin_resets_mfa_from_the_cli(db: Path) -> None:
    _enrol(db)
    engine = sv.open_database(str(db))
    try:
        ada = sv.actor_for(engine, "ada")
        token = security.cli_login(engine, "ada", PASSWORD)
    finally:
        sv.close_database(engine)
    common.save_token("ada", token)
    env = {"REMIT_DATABASE_URL": str(db), "REMIT_USER": ada.username}
    done = runner.invoke(app, ["user", "reset-mfa", "kari", "--reason", "phone lost"], env=env)
    assert done.exit_code == 0, done.output
    assert "MFA of kari reset" in done.output
    assert _run(db, "login", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
