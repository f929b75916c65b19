"""Web test helpers: logging in through the login page, CSRF tokens, free ports, a live
uvicorn server (started and awaited without a fixed deadline)."""

from __future__ import annotations

import socket
import threading
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.trial import PASSWORD
from tests.support.waiting import CEILING_S, wait_until


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
        wait_until(
            lambda: self.server.started,
            f"uvicorn to start on {self.url}",
            alive=lambda: None if self.thread.is_alive() else "the server thread ended",
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=CEILING_S)  # a daemon thread: a hang does not block exit
