"""Issue 16 part 1: sessions live in the database, so web processes share nothing else.

Real processes: two ``remit serve`` on one PostgreSQL database (the "several hosts behind a
load balancer" case, deterministic: each request goes to the server chosen), a restart of one,
and ``remit serve --workers 2``. A login through one server is served by the other, a logout
through one is effective on the other at once, and a session outlives a restart. ``--workers``
above 1 is refused on SQLite with a clear message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.db import PostgresServer
from tests.support.trial import PASSWORD, build_trial
from tests.support.waiting import CEILING_S, wait_until
from tests.support.web import csrf_of, free_port
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app as cli_app
from remit.store import upgrade

REMIT = str(Path(sys.executable).parent / "remit")


@pytest.fixture
def pg_trial(postgres_server: PostgresServer) -> Iterator[str]:
    """A PostgreSQL trial database with the test staff (password :data:`PASSWORD`)."""
    name = postgres_server.create()
    url = postgres_server.url_of(name)
    upgrade(url)
    engine = sv.open_database(url)
    try:
        build_trial(engine)
    finally:
        sv.close_database(engine)
    yield url
    postgres_server.drop(name)


class Served:
    """One ``remit serve`` process and a way to reach it."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def client(self, **cookies: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, follow_redirects=False, cookies=cookies, timeout=CEILING_S
        )


@contextmanager
def serving(db: str, tmp_path: Path, name: str, *extra: str, port: int = 0) -> Iterator[Served]:
    """``remit serve --db db`` on a free port (or ``port``), awaited until it answers."""
    port = port or free_port()
    log = tmp_path / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMIT_")}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [REMIT, "serve", "--db", db, "--port", str(port), "--secret-key", "shared-secret",
             "--deliver-every", "60", *extra],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    served = Served(process, f"http://127.0.0.1:{port}", log)

    def stopped() -> str | None:
        if process.poll() is None:
            return None
        return f"remit serve exited with {process.returncode}:\n{log.read_text()}"

    def answers() -> bool:
        try:
            return httpx.get(served.url + "/login", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, f"remit serve ({name}) to answer on {served.url}", alive=stopped)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=CEILING_S)


def page_login(server: Served, username: str) -> str:
    """Log in through ``server``'s login page; the session cookie's token."""
    with server.client() as client:
        page = client.get("/login")
        token = page.text.split('name="login_token" value="')[1].split('"')[0]
        done = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "login_token": token, "next": "/"},
        )
        assert done.status_code == 303, done.text
        return str(client.cookies["remit_session"])


def api_login(server: Served, username: str) -> str:
    with server.client() as client:
        answer = client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["token"])


def dashboard(server: Served, cookie: str) -> Any:
    with server.client(remit_session=cookie) as client:
        return client.get("/")


def me(server: Served, token: str) -> Any:
    with server.client() as client:
        return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.postgres
def test_two_servers_on_one_database_share_sessions_and_logouts(
    pg_trial: str, tmp_path: Path
) -> None:
    with serving(pg_trial, tmp_path, "a") as a, serving(pg_trial, tmp_path, "b") as b:
        cookie = page_login(a, "kari")
        page = dashboard(b, cookie)  # logged in through A, served by B
        assert page.status_code == 200
        assert "kari" in page.text
        token = api_login(b, "tor")
        assert me(a, token).json()["username"] == "tor"
        # a page form shown by B carries the session's CSRF token, which A accepts
        with a.client(remit_session=cookie) as client:
            out = client.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert out.status_code == 303
        gone = dashboard(b, cookie)  # logged out on A: refused by B at once
        assert gone.status_code == 303
        assert gone.headers["location"].startswith("/login")
        with a.client() as client:
            ended = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert ended.status_code == 204
        assert me(b, token).status_code == 401


@pytest.mark.postgres
def test_a_session_survives_a_restart(pg_trial: str, tmp_path: Path) -> None:
    with serving(pg_trial, tmp_path, "first") as first:
        cookie = page_login(first, "kari")
        token = api_login(first, "tor")
        assert dashboard(first, cookie).status_code == 200
        port = int(first.url.rsplit(":", 1)[1])
    with serving(pg_trial, tmp_path, "second", port=port) as second:  # the same address
        assert second.process.pid != first.process.pid
        page = dashboard(second, cookie)
        assert page.status_code == 200
        assert "kari" in page.text
        assert me(second, token).json()["username"] == "tor"


@pytest.mark.postgres
def test_serve_with_two_workers_on_postgresql(pg_trial: str, tmp_path: Path) -> None:
    with serving(pg_trial, tmp_path, "workers", "--workers", "2") as served:
        assert "2 worker processes" in served.log.read_text()
        cookie = page_login(served, "kari")
        token = api_login(served, "tor")
        # whichever worker takes each request, the session is known to it
        for _ in range(20):
            assert dashboard(served, cookie).status_code == 200
            assert me(served, token).status_code == 200
        with served.client() as client:
            client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
        for _ in range(10):
            assert me(served, token).status_code == 401


def test_several_workers_are_refused_on_sqlite(
    trial_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append("uvicorn"))
    refused = CliRunner().invoke(cli_app, ["serve", "--db", str(trial_db), "--workers", "2"])
    assert refused.exit_code == 2, refused.output
    assert "--workers 2 needs PostgreSQL" in refused.output
    assert "SQLite" in refused.output
    assert started == []
