"""Fixtures of the web tests: the seeded trial, an app over a fresh copy, logged-in clients,
and a live uvicorn server with Debian's Chromium for the browser walk.

``browser`` (Debian's Chromium via Playwright) is the shared fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.trial import PASSWORD, ROLE_USER, build_trial

from remit.web import WebSettings, create_app

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"


@pytest.fixture(scope="session")
def trial_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded trial database (built once; never changed: tests use copies)."""
    path = tmp_path_factory.mktemp("web-trial") / "trial.db"
    build_trial(path)
    return path


@pytest.fixture
def trial_db(trial_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the seeded trial for one test."""
    path = tmp_path / "trial.db"
    shutil.copyfile(trial_template, path)
    return path


@pytest.fixture
def app(trial_db: Path, tmp_path: Path) -> FastAPI:
    return create_app(
        str(trial_db), secret_key="test-secret", settings=WebSettings(work_dir=tmp_path / "work")
    )


def page_login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    """Log in through the login page (with its CSRF token) and return the final response."""
    page = client.get("/login")
    token = _hidden(page.text, "login_token")
    return client.post(
        "/login",
        data={"username": username, "password": password, "login_token": token, "next": "/"},
    )


def _hidden(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def csrf_of(html: str) -> str:
    """The CSRF token of a rendered page."""
    return _hidden(html, "csrf_token")


@pytest.fixture
def login_as(app: FastAPI) -> Callable[[str], TestClient]:
    """``login_as(role)``: a page client logged in as that role's user."""

    def make(role: str) -> TestClient:
        client = TestClient(app, follow_redirects=True)
        response = page_login(client, ROLE_USER[role])
        assert response.status_code == 200, response.text
        return client

    return make


@pytest.fixture
def api_as(app: FastAPI) -> Callable[[str], TestClient]:
    """``api_as(role)``: an API client sending that role's bearer token."""

    def make(role: str) -> TestClient:
        client = TestClient(app)
        response = client.post(
            "/api/v1/auth/login", json={"username": ROLE_USER[role], "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        return client

    return make


# --- live server and browser -----------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread."""

    def __init__(self, app: FastAPI) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The app served by uvicorn on a random free port of 127.0.0.1."""
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
