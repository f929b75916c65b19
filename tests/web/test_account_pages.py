"""User administration and signing in the web app: the forced password change (pages and
API), deactivation ending open sessions and tokens, an admin's reset shown once, and the
signing page showing what is signed with only the meanings that fit the signer."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.forms import madrs
from tests.support.trial import PASSWORD
from tests.support.web import csrf_of, page_login

from remit import services as sv

NEW = "kari tar bussen hjem"


def _add_user(admin: TestClient, username: str) -> None:
    page = admin.get("/admin/users")
    added = admin.post(
        "/admin/users",
        data={"csrf_token": csrf_of(page.text), "username": username, "password": PASSWORD,
              "role": "therapist", "site": "OST"},
    )  # fmt: skip
    assert added.status_code == 200, added.text
    assert "to be changed at next login" in added.text


def test_a_new_user_is_forced_to_change_the_password_first(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    _add_user(login_as("admin"), "liv")
    liv = TestClient(app, follow_redirects=False)
    assert page_login(liv, "liv").headers["location"] == "/"
    elsewhere = TestClient(app, follow_redirects=False)  # the same user in another browser
    page_login(elsewhere, "liv")
    for path in ("/", "/participants", "/queries"):
        answer = liv.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/account/password"
    page = liv.get("/account/password")
    assert "set by an administrator" in page.text
    token = csrf_of(page.text)
    differ = liv.post(
        "/account/password",
        data={"csrf_token": token, "current_password": PASSWORD, "new_password": NEW,
              "repeat_password": NEW + "!"},
    )  # fmt: skip
    assert differ.status_code == 422
    common = liv.post(
        "/account/password",
        data={"csrf_token": token, "current_password": PASSWORD,
              "new_password": "Password2024!", "repeat_password": "Password2024!"},
    )  # fmt: skip
    assert common.status_code == 422
    assert "very common" in common.text
    wrong = liv.post(
        "/account/password",
        data={"csrf_token": token, "current_password": "not the password", "new_password": NEW,
              "repeat_password": NEW},
    )  # fmt: skip
    assert wrong.status_code == 401
    assert liv.get("/").status_code == 303  # still forced
    done = liv.post(
        "/account/password",
        data={"csrf_token": token, "current_password": PASSWORD, "new_password": NEW,
              "repeat_password": NEW},
    )  # fmt: skip
    assert done.status_code == 303
    assert liv.get("/").status_code == 200
    assert elsewhere.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert "set by an administrator" not in liv.get("/account/password").text


def test_the_api_refuses_a_user_who_must_change_the_password(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    _add_user(login_as("admin"), "liv")
    api = TestClient(app)
    login = api.post("/api/v1/auth/login", json={"username": "liv", "password": PASSWORD})
    assert login.status_code == 200
    api.headers["Authorization"] = f"Bearer {login.json()['token']}"
    refused = api.get("/api/v1/participants")
    assert refused.status_code == 403
    assert "change your password first" in refused.json()["message"]
    assert "/api/v1/auth/password" in refused.json()["message"]
    bad = api.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "liv is my name 12"},
    )
    assert bad.status_code == 422
    changed = api.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["must_change_password"] is False
    assert api.get("/api/v1/participants").status_code == 200


def test_deactivating_ends_open_sessions_and_tokens(
    app: FastAPI,
    login_as: Callable[[str], TestClient],
    api_as: Callable[[str], TestClient],
) -> None:
    therapist = login_as("therapist")
    therapist_api = api_as("therapist")
    assert therapist.get("/participants").status_code == 200
    admin = login_as("admin")
    page = admin.get("/admin/users")
    assert "Deactivate ada" not in page.text  # not oneself
    assert "Reset password of ada" not in page.text
    off = admin.post(
        "/admin/users/tor/active", data={"csrf_token": csrf_of(page.text), "active": "no"}
    )
    assert off.status_code == 200
    assert re.search(r'id="user-tor">.*?no: cannot log in', off.text, re.S)
    ended = therapist.get("/participants", follow_redirects=False)
    assert ended.status_code == 303
    assert ended.headers["location"].startswith("/login")
    assert therapist_api.get("/api/v1/participants").status_code == 401
    assert page_login(TestClient(app), "tor").status_code == 401
    on = admin.post(
        "/admin/users/tor/active", data={"csrf_token": csrf_of(off.text), "active": "yes"}
    )
    assert "Deactivate tor" in on.text
    assert page_login(TestClient(app), "tor").status_code == 200


def test_a_reset_password_is_shown_once_and_forces_a_change(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    admin = login_as("admin")
    page = admin.get("/admin/users")
    reset = admin.post("/admin/users/rita/password", data={"csrf_token": csrf_of(page.text)})
    assert reset.status_code == 200
    temporary = re.search(r'<code id="temporary-password">([^<]+)</code>', reset.text)[1]
    assert temporary not in admin.get("/admin/users").text  # shown once
    rita = TestClient(app, follow_redirects=False)
    assert page_login(rita, "rita").status_code == 401  # the old password is gone
    assert page_login(rita, "rita", temporary).status_code == 303
    assert rita.get("/").headers["location"] == "/account/password"


def test_the_signing_page_shows_what_is_signed_and_fitting_meanings(
    trial_db: Path, login_as: Callable[[str], TestClient]
) -> None:
    engine = sv.open_database(trial_db)
    try:
        rita = sv.actor_for(engine, "rita")
        form = sv.record_assessment(engine, rita, "OSL-001", "V3", "madrs", madrs(2, 1))
        preview = sv.signing_preview(engine, rita, "assessment", form.id)
    finally:
        sv.close_database(engine)
    investigator = login_as("investigator")
    page = investigator.get(f"/sign/assessment/{form.id}")
    assert page.status_code == 200
    text = page.text
    assert 'id="signed-participant">OSL-001<' in text
    assert 'id="signed-visit">V3<' in text
    assert "MADRS (Montgomery–Åsberg Depression Rating Scale), version" in text
    assert 'id="signed-author">rita<' in text
    assert "<td>Apparent sadness</td><td>2</td>" in text
    assert "<td>Suicidal thoughts</td><td>1</td>" in text
    assert f'id="signed-total">{form.total:g}<' in text
    assert f'id="signed-version">{form.version}<' in text
    assert preview.content_sha256 in text
    assert re.findall(r"<option>([^<]+)</option>", text) == ["approved"]
    forged = investigator.post(
        f"/sign/assessment/{form.id}",
        data={"csrf_token": csrf_of(text), "password": PASSWORD, "meaning": "author"},
    )
    assert forged.status_code == 403
    assert "kari did not enter assessment" in forged.text
    rater = login_as("independent_rater")
    own = rater.get(f"/sign/assessment/{form.id}")
    assert re.findall(r"<option>([^<]+)</option>", own.text) == ["author"]
    signed = rater.post(
        f"/sign/assessment/{form.id}",
        data={"csrf_token": csrf_of(own.text), "password": PASSWORD, "meaning": "author"},
    )
    assert signed.status_code == 200
    assert "<strong>signed</strong>" in signed.text


def test_the_api_previews_what_a_signature_would_sign(
    trial_db: Path, api_as: Callable[[str], TestClient]
) -> None:
    engine = sv.open_database(trial_db)
    try:
        rita = sv.actor_for(engine, "rita")
        form = sv.record_assessment(engine, rita, "OSL-001", "V3", "madrs", madrs(2, 1))
        expected = sv.signing_preview(engine, sv.actor_for(engine, "kari"), "assessment", form.id)
    finally:
        sv.close_database(engine)
    investigator = api_as("investigator")
    before = investigator.get(f"/api/v1/signatures/assessment/{form.id}/preview")
    assert before.status_code == 200, before.text
    assert before.json() == expected.to_dict()
    assert before.json()["meanings"] == ["approved"]
    assert before.json()["items"][0] == {"key": "1", "label": "Apparent sadness", "value": 2}
    assert (
        api_as("statistician").get(f"/api/v1/signatures/assessment/{form.id}/preview").status_code
        == 403
    )
