"""TOTP MFA in the web app and the API (issue 13): an admin whose role requires MFA is
confined to the set-up page after the password; set-up shows the secret and recovery codes;
a login then needs the code (wrong and replayed codes refused and logged); the API login needs
``totp_code`` (401 ``mfa_required``); an admin's reset makes the user set it up again."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.support.forms import madrs
from tests.support.trial import PASSWORD
from tests.support.web import csrf_of, page_login

from remit import services as sv
from remit.store.security import SecurityEvent
from remit.web import WebSettings, create_app

STEP = 30


def _events(db: Path, event: str, username: str) -> int:
    engine = sv.open_database(db)
    try:
        query = select(func.count()).select_from(SecurityEvent)
        query = query.where(SecurityEvent.event == event, SecurityEvent.username == username)
        with Session(engine) as session:
            return int(session.scalar(query) or 0)
    finally:
        sv.close_database(engine)


def _app(trial_db: Path, tmp_path: Path) -> FastAPI:
    settings = WebSettings(work_dir=tmp_path / "w", mfa_roles=frozenset({"admin"}))
    return create_app(str(trial_db), secret_key="test-secret", settings=settings)


def _code(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + steps * STEP)


def _enrol(client: TestClient) -> tuple[str, list[str]]:
    """Set MFA up on /account/mfa (the client is logged in, possibly confined there)."""
    page = client.get("/account/mfa")
    assert page.status_code == 200
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', page.text)
    assert secret is not None
    assert "otpauth://totp/" in page.text
    done = client.post(
        "/account/mfa",
        data={"csrf_token": csrf_of(page.text), "code": _code(secret.group(1), -1)},
    )
    assert done.status_code == 200, done.text
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.text)
    assert len(codes) == 10
    return secret.group(1), codes


def _code_step(client: TestClient, code: str) -> int:
    page = client.get("/login/mfa")
    assert page.status_code == 200
    answer = client.post(
        "/login/mfa", data={"csrf_token": csrf_of(page.text), "code": code, "next": "/"}
    )
    return answer.status_code


def test_required_role_is_confined_to_set_up_then_logs_in_with_codes(
    trial_db: Path, tmp_path: Path, fast_password_hashing: None
) -> None:
    client = TestClient(_app(trial_db, tmp_path), follow_redirects=False)
    first = page_login(client, "ada")
    assert first.status_code == 303
    assert first.headers["location"] == "/account/mfa"
    for path in ("/", "/admin/users", "/admin/security", "/participants"):
        refused = client.get(path)
        assert refused.status_code == 303, path
        assert refused.headers["location"] == "/account/mfa"
    assert _events(trial_db, "mfa_setup_required", "ada") == 1
    secret, codes = _enrol(client)
    assert client.get("/admin/users").status_code == 200  # the set-up done: open
    assert _events(trial_db, "mfa_confirmed", "ada") == 1

    client = TestClient(client.app, follow_redirects=False)  # a new browser
    second = page_login(client, "ada")
    assert second.headers["location"].startswith("/login/mfa")
    assert client.get("/admin/users").headers["location"] == "/login/mfa"
    assert _code_step(client, "000000") == 401
    assert _events(trial_db, "mfa_code_failed", "ada") == 1
    used = _code(secret)
    assert _code_step(client, used) == 303
    assert client.get("/admin/users").status_code == 200

    client = TestClient(client.app, follow_redirects=False)
    page_login(client, "ada")
    assert _code_step(client, used) == 401  # the same code again: replay
    assert _code_step(client, codes[0]) == 303  # a recovery code
    client = TestClient(client.app, follow_redirects=False)
    page_login(client, "ada")
    assert _code_step(client, codes[0]) == 401  # used up
    assert _events(trial_db, "mfa_recovery_used", "ada") == 1
    assert _events(trial_db, "mfa_code_failed", "ada") == 3


def test_api_login_needs_the_code(
    trial_db: Path, tmp_path: Path, fast_password_hashing: None
) -> None:
    app = _app(trial_db, tmp_path)
    api = TestClient(app)
    body = {"username": "ada", "password": PASSWORD}
    setup_first = api.post("/api/v1/auth/login", json=body)
    assert setup_first.status_code == 403
    assert setup_first.json()["error"] == "mfa_setup_required"
    browser = TestClient(app, follow_redirects=False)
    page_login(browser, "ada")
    secret, _ = _enrol(browser)
    missing = api.post("/api/v1/auth/login", json=body)
    assert missing.status_code == 401
    assert missing.json()["error"] == "mfa_required"
    wrong = api.post("/api/v1/auth/login", json=body | {"totp_code": "000000"})
    assert wrong.status_code == 401
    ok = api.post("/api/v1/auth/login", json=body | {"totp_code": _code(secret, 1)})
    assert ok.status_code == 200, ok.text
    assert ok.json()["token"]
    # a role MFA does not require logs in with the password alone
    assert (
        api.post("/api/v1/auth/login", json={"username": "kari", "password": PASSWORD}).status_code
        == 200
    )


def test_admin_resets_a_users_mfa(
    trial_db: Path, tmp_path: Path, fast_password_hashing: None
) -> None:
    app = _app(trial_db, tmp_path)
    kari = TestClient(app, follow_redirects=False)
    assert page_login(kari, "kari").headers["location"] == "/"  # investigator: not required
    _enrol(kari)  # kari chooses MFA anyway
    ada = TestClient(app, follow_redirects=False)
    page_login(ada, "ada")
    _enrol(ada)
    users = ada.get("/admin/users")
    assert "Reset MFA of kari" in users.text
    reset = ada.post(
        "/admin/users/kari/mfa", data={"csrf_token": csrf_of(users.text), "reason": "lost phone"}
    )
    assert reset.status_code == 303
    assert _events(trial_db, "mfa_reset", "kari") == 1
    again = TestClient(app, follow_redirects=False)
    assert page_login(again, "kari").headers["location"] == "/"  # no code asked any more
    refused = kari.post(  # kari may not reset anyone's MFA
        "/admin/users/ada/mfa", data={"csrf_token": csrf_of(kari.get("/").text), "reason": "x"}
    )
    assert refused.status_code == 403


def test_the_signature_page_asks_for_the_code(
    trial_db: Path, tmp_path: Path, fast_password_hashing: None
) -> None:
    engine = sv.open_database(trial_db)
    try:
        form = sv.record_assessment(
            engine, sv.actor_for(engine, "rita"), "OSL-001", "V3", "madrs", madrs(2, 1)
        )
    finally:
        sv.close_database(engine)
    rita = TestClient(_app(trial_db, tmp_path), follow_redirects=False)
    page_login(rita, "rita")
    secret, _ = _enrol(rita)
    page = rita.get(f"/sign/assessment/{form.id}")
    assert 'name="totp_code"' in page.text
    data = {"csrf_token": csrf_of(page.text), "password": PASSWORD, "meaning": "author"}
    no_code = rita.post(f"/sign/assessment/{form.id}", data=data)
    assert no_code.status_code == 401
    assert "nothing was signed" in no_code.text
    wrong = rita.post(f"/sign/assessment/{form.id}", data=data | {"totp_code": "000000"})
    assert wrong.status_code == 401
    signed = rita.post(f"/sign/assessment/{form.id}", data=data | {"totp_code": _code(secret)})
    assert signed.status_code == 303, signed.text
    assert _events(trial_db, "mfa_code_ok", "rita") == 1
    assert _events(trial_db, "mfa_code_failed", "rita") == 1
