"""Issue 13 in the web app: no address-wide lockout, the signature page's password re-entry
throttled and logged, refused identity reads logged, the security log for admins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.support.forms import madrs
from tests.support.trial import PASSWORD
from tests.support.web import csrf_of, page_login

from remit import services as sv
from remit.store.security import SecurityEvent
from remit.store.tables import IdentityAccessLog
from remit.web import WebSettings, create_app


def _events(db: Path, event: str, username: str | None = None) -> int:
    engine = sv.open_database(db)
    try:
        query = select(func.count()).select_from(SecurityEvent).where(SecurityEvent.event == event)
        if username is not None:
            query = query.where(SecurityEvent.username == username)
        with Session(engine) as session:
            return int(session.scalar(query) or 0)
    finally:
        sv.close_database(engine)


def test_failures_from_one_address_never_lock_out_another_account(
    trial_db: Path, tmp_path: Path, fast_password_hashing: None
) -> None:
    app = create_app(str(trial_db), settings=WebSettings(max_failed_logins=3, work_dir=tmp_path))
    client = TestClient(app, follow_redirects=False)  # every request from the same address
    for n in range(20):
        assert page_login(client, f"made-up-{n}", "wrong password here").status_code == 401
    for _ in range(3):
        assert page_login(client, "kari", "wrong password here").status_code == 401
    assert page_login(client, "kari", PASSWORD).status_code == 429  # kari's account waits
    api = client.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
    assert api.status_code == 200  # the admin, behind the same address, is not locked out
    assert page_login(client, "ada").status_code == 303
    assert _events(trial_db, "login_failed") == 23
    assert _events(trial_db, "lockout", "kari") == 1
    assert _events(trial_db, "login_ok", "ada") == 2


def test_the_signature_password_is_throttled_and_logged(
    trial_db: Path, tmp_path: Path, fast_password_hashing: None
) -> None:
    engine = sv.open_database(trial_db)
    try:
        form = sv.record_assessment(
            engine, sv.actor_for(engine, "rita"), "OSL-001", "V3", "madrs", madrs(2, 1)
        )
    finally:
        sv.close_database(engine)
    app = create_app(str(trial_db), settings=WebSettings(max_failed_logins=5, work_dir=tmp_path))
    rita = TestClient(app)
    assert page_login(rita, "rita").status_code == 200
    page = rita.get(f"/sign/assessment/{form.id}")
    token = csrf_of(page.text)
    for n in range(5):
        wrong = rita.post(
            f"/sign/assessment/{form.id}",
            data={"csrf_token": token, "password": f"guess number {n}", "meaning": "author"},
        )
        assert wrong.status_code == 401
    locked = rita.post(
        f"/sign/assessment/{form.id}",
        data={"csrf_token": token, "password": PASSWORD, "meaning": "author"},
    )
    assert locked.status_code == 429
    assert "nothing was signed" in locked.text
    assert _events(trial_db, "reauth_failed", "rita") == 5
    assert _events(trial_db, "lockout", "rita") == 1
    engine = sv.open_database(trial_db)
    try:
        assert sv.signatures_of(engine, sv.actor_for(engine, "rita"), "assessment", form.id) == []
    finally:
        sv.close_database(engine)


def test_refused_identity_reads_in_the_web_are_logged(
    trial_db: Path, login_as: Callable[[str], TestClient]
) -> None:
    def refused() -> int:
        engine = sv.open_database(trial_db)
        try:
            with Session(engine) as session:
                return int(
                    session.scalar(
                        select(func.count())
                        .select_from(IdentityAccessLog)
                        .where(IdentityAccessLog.granted.is_(False))
                    )
                    or 0
                )
        finally:
            sv.close_database(engine)

    before = refused()
    rater = login_as("independent_rater")
    token = csrf_of(rater.get("/participants/OSL-001").text)
    for _ in range(6):
        shown = rater.post(
            "/participants/OSL-001/identity", data={"csrf_token": token, "purpose": "curious"}
        )
        assert shown.status_code == 403
        assert rater.get("/participants/OSL-001/identity").status_code == 403
    assert refused() == before + 12
    investigator = login_as("investigator")
    page = investigator.get("/participants/OSL-001/identity")
    assert page.status_code == 200


def test_admins_see_the_security_log(
    trial_db: Path, login_as: Callable[[str], TestClient], app: object
) -> None:
    client = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    assert page_login(client, "kari", "wrong password here").status_code == 401
    admin = login_as("admin")
    page = admin.get("/admin/security")
    assert page.status_code == 200
    assert "login_failed" in page.text
    assert "Security log" in page.text
    filtered = admin.get("/admin/security", params={"event": "login_ok"})
    assert "<td>login_failed</td>" not in filtered.text
    assert "<td>login_ok</td>" in filtered.text
    assert login_as("monitor").get("/admin/security").status_code == 403
    out = admin.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 200
    assert _events(trial_db, "logout", "ada") == 1
