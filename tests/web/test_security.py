"""Accounts and the protections around them: sessions, cookies, CSRF, throttling, headers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.trial import PASSWORD
from tests.support.web import csrf_of, page_login

from remit.services import Actor, Engine
from remit.web import WebSettings, create_app
from remit.web.sessions import AddressSlowdown, SessionStore


def test_pages_redirect_to_login_and_api_answers_401(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/participants/OSL-001")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fparticipants%2FOSL-001"
    api = client.get("/api/v1/participants")
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"
    assert (
        client.get("/api/v1/alerts", headers={"Authorization": "Bearer nonsense"}).status_code
        == 401
    )


def test_login_sets_a_strict_cookie_rotates_it_and_logout_ends_it(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    first = page_login(client, "kari")
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    assert "remit_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on the test server
    old = client.cookies["remit_session"]
    second = page_login(client, "kari")
    new = client.cookies["remit_session"]
    assert second.status_code == 303
    assert new != old
    # the old token died with the rotation
    stale = TestClient(app, follow_redirects=False, cookies={"remit_session": old})
    assert stale.get("/").status_code == 303
    page = client.get("/")
    assert page.status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    again = TestClient(app, follow_redirects=False, cookies={"remit_session": new})
    assert again.get("/").status_code == 303


def test_secure_cookie_behind_https(trial_db: Path, tmp_path: Path) -> None:
    app = create_app(str(trial_db), settings=WebSettings(https=True, work_dir=tmp_path))
    client = TestClient(app, follow_redirects=False)
    response = page_login(client, "kari")
    assert "Secure" in response.headers["set-cookie"]
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_wrong_password_and_throttling(trial_db: Path, tmp_path: Path) -> None:
    app = create_app(str(trial_db), settings=WebSettings(max_failed_logins=3, work_dir=tmp_path))
    client = TestClient(app, follow_redirects=False)
    for _ in range(3):
        bad = page_login(client, "kari", "not the password at all")
        assert bad.status_code == 401
        assert "Unknown username or wrong password" in bad.text
    blocked = page_login(client, "kari", PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    api = client.post("/api/v1/auth/login", json={"username": "kari", "password": PASSWORD})
    assert api.status_code == 429
    assert int(api.headers["retry-after"]) > 0
    assert page_login(client, "tor").status_code == 303  # another user is not blocked


def test_login_form_needs_its_token(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    response = client.post(
        "/login", data={"username": "kari", "password": PASSWORD, "login_token": "forged"}
    )
    assert response.status_code == 400
    assert "remit_session" not in client.cookies


def test_every_form_post_needs_the_csrf_token(
    login_as: Callable[[str], TestClient],
) -> None:
    client = login_as("investigator")
    page = client.get("/alerts")
    token = csrf_of(page.text)
    refused = client.post("/logout", data={"csrf_token": "x" + token})
    assert refused.status_code == 403
    assert "security token" in refused.text
    assert client.get("/").status_code == 200  # still logged in
    missing = client.post("/participants", data={"site": "OST"})
    assert missing.status_code == 403


def test_open_redirect_is_refused(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login?next=//evil.example/")
    token = page.text.split('name="login_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={
            "username": "kari",
            "password": PASSWORD,
            "login_token": token,
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/"


def test_security_headers(login_as: Callable[[str], TestClient]) -> None:
    client = login_as("investigator")
    response = client.get("/participants")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text  # no inline script anywhere
    login = TestClient(client.app).get("/login")
    assert login.headers["content-security-policy"] == csp


def _clock(now: list[float]) -> Callable[[], datetime]:
    """A settable clock: ``now[0]`` seconds after an arbitrary start."""
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return lambda: start + timedelta(seconds=now[0])


def _users(trial_db: Path) -> tuple[Engine, Actor, Actor]:
    from remit import services as sv

    engine = sv.open_database(str(trial_db))
    return engine, sv.actor_for(engine, "kari"), sv.actor_for(engine, "tor")


def test_sessions_time_out_when_idle_and_absolutely(trial_db: Path) -> None:
    engine, kari, _ = _users(trial_db)
    now = [0.0]
    store = SessionStore(engine, idle_timeout_s=60, absolute_timeout_s=300, clock=_clock(now))
    token = store.create(kari)
    now[0] = 59
    assert store.get(token) is not None
    now[0] = 118  # 59 s after the last use: still alive
    assert store.get(token) is not None
    now[0] = 179  # 61 s idle
    assert store.get(token) is None
    busy = store.create(kari)
    for t in range(180, 480, 50):
        now[0] = t
        assert store.get(busy) is not None
    now[0] = 481  # more than 300 s after login, however busy
    assert store.get(busy) is None
    bearer = store.create(kari, kind="bearer")
    assert store.get(bearer, kind="cookie") is None  # an API token is not a page session
    assert store.get(bearer, kind="bearer") is not None
    engine.dispose()


def test_sessions_are_rows_under_the_tokens_digest_and_expired_ones_are_purged(
    trial_db: Path,
) -> None:
    engine, kari, tor = _users(trial_db)
    now = [0.0]
    store = SessionStore(engine, idle_timeout_s=60, absolute_timeout_s=300, clock=_clock(now))
    token = store.create(kari)
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT token_sha256, user_id FROM web_session").all()
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(), kari.user_id)]
    assert token not in repr(stored)
    # a second store over the same database (another worker) sees the session at once
    other = SessionStore(engine, idle_timeout_s=60, absolute_timeout_s=300, clock=_clock(now))
    seen = other.get(token)
    assert seen is not None
    assert seen.actor == kari
    assert seen.csrf_token == store.get(token).csrf_token  # type: ignore[union-attr]
    other.end(token)
    assert store.get(token) is None  # revoked through the other one: gone here too
    store.create(kari)
    store.create(tor)
    now[0] = 100  # both expired (idle); a new login deletes them
    store.create(tor)
    assert len(store) == 1
    engine.dispose()


def test_a_tablet_hand_over_is_shared_by_workers_and_its_link_is_stored_sealed(
    trial_db: Path,
) -> None:
    engine, kari, _ = _users(trial_db)
    now = [0.0]
    store = SessionStore(engine, idle_timeout_s=60, absolute_timeout_s=300, clock=_clock(now))
    token = store.create(kari)
    link = "epro-link-token-of-the-participant"
    store.set_handover(token, link)
    with engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT handover FROM web_session").scalar_one()
    assert raw
    assert link not in raw  # sealed with a key from the session token
    other = SessionStore(engine, idle_timeout_s=60, absolute_timeout_s=300, clock=_clock(now))
    assert other.get(token).handover == link  # type: ignore[union-attr]
    other.set_handover(token, "")  # ended through another worker
    assert store.get(token).handover == ""  # type: ignore[union-attr]
    engine.dispose()


def test_a_password_change_ends_the_users_other_sessions(trial_db: Path) -> None:
    engine, kari, tor = _users(trial_db)
    store = SessionStore(engine, idle_timeout_s=60, absolute_timeout_s=300)
    here, there, api = store.create(kari), store.create(kari), store.create(kari, kind="bearer")
    other = store.create(tor)
    assert store.end_user(kari.user_id, keep=here) == 2
    assert store.get(here) is not None
    assert store.get(there) is None
    assert store.get(api, kind="bearer") is None
    assert store.get(other) is not None
    engine.dispose()


def test_address_slowdown_slows_and_forgets(trial_db: Path) -> None:
    engine, _, _ = _users(trial_db)
    now = [0.0]
    slowdown = AddressSlowdown(engine, after=2, window_s=100, clock=_clock(now))
    assert slowdown.delay_for("1.2.3.4") == 0
    slowdown.failed("1.2.3.4")
    assert slowdown.delay_for("1.2.3.4") == 0
    slowdown.failed("1.2.3.4")
    assert slowdown.delay_for("1.2.3.4") > 0
    assert slowdown.delay_for("9.9.9.9") == 0
    # another worker over the same database counts the same failures
    assert AddressSlowdown(engine, after=2, window_s=100, clock=_clock(now)).delay_for(
        "1.2.3.4"
    ) == slowdown.delay_for("1.2.3.4")
    for _ in range(100):
        slowdown.failed("1.2.3.4")
    assert slowdown.delay_for("1.2.3.4") == slowdown.max_delay_s  # capped: slowed, never refused
    now[0] = 101
    assert slowdown.delay_for("1.2.3.4") == 0
    engine.dispose()


def test_a_user_with_several_roles_chooses_one(app: FastAPI, trial_db: Path) -> None:
    from remit import services as sv
    from remit.store import Actor, make_engine

    engine = make_engine(trial_db)
    sv.add_user(
        engine,
        Actor(1, "ada", "admin", None),
        "vera",
        PASSWORD,
        [("investigator", "OST"), ("monitor", None)],
        must_change_password=False,
    )
    engine.dispose()
    client = TestClient(app, follow_redirects=False)
    unchosen = page_login(client, "vera")
    assert unchosen.status_code == 422
    assert "investigator@OST" in unchosen.text
    assert "monitor" in unchosen.text
    page = client.get("/login")
    token = page.text.split('name="login_token" value="')[1].split('"')[0]
    chosen = client.post(
        "/login",
        data={"username": "vera", "password": PASSWORD, "role": "monitor", "login_token": token},
    )
    assert chosen.status_code == 303
    assert "vera · monitor" in client.get("/").text
    api = client.post(
        "/api/v1/auth/login",
        json={"username": "vera", "password": PASSWORD, "role": "investigator@OST"},
    )
    assert api.json()["role"] == "investigator"
    assert api.json()["site_id"] == 1


def test_address_slowdown_forgets_old_failures_of_many_addresses(trial_db: Path) -> None:
    engine, _, _ = _users(trial_db)
    now = [0.0]
    slowdown = AddressSlowdown(engine, after=5, window_s=10, clock=_clock(now))
    for i in range(300):
        slowdown.failed(f"10.0.{i // 256}.{i % 256}")
    assert slowdown.addresses() == 300
    now[0] = 11
    slowdown.failed("10.9.9.9")
    assert slowdown.addresses() == 1  # only the new address's count is kept
    engine.dispose()


def test_two_apps_on_one_database_share_sessions_and_a_new_app_keeps_them(
    trial_db: Path, tmp_path: Path
) -> None:
    """Two apps over one SQLite file stand for two workers (and a new app for a restart):
    a login through one is served by the other, a logout through one ends it on both."""

    def make() -> FastAPI:
        return create_app(
            str(trial_db), secret_key="shared", settings=WebSettings(work_dir=tmp_path)
        )

    first, second = make(), make()
    one = TestClient(first, follow_redirects=False)
    assert page_login(one, "kari").status_code == 303
    cookie = one.cookies["remit_session"]
    other = TestClient(second, follow_redirects=False, cookies={"remit_session": cookie})
    page = other.get("/")
    assert page.status_code == 200
    restarted = TestClient(make(), follow_redirects=False, cookies={"remit_session": cookie})
    assert restarted.get("/").status_code == 200
    token = one.post("/api/v1/auth/login", json={"username": "tor", "password": PASSWORD}).json()[
        "token"
    ]
    bearer = {"Authorization": f"Bearer {token}"}
    assert other.get("/api/v1/me", headers=bearer).json()["username"] == "tor"
    assert other.post("/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 303
    assert one.get("/").status_code == 303  # logged out through the other app
    assert one.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    assert other.get("/api/v1/me", headers=bearer).status_code == 401
