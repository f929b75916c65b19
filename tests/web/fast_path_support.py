"""What the tests of the form submission's fast path (:mod:`remit.web.fast_capture`) share:
the form they send, an app with the fast path beside one without it, a bearer token, and the
requests that went through a FastAPI route."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.db import copy_database
from tests.support.trial import PASSWORD, ROLE_USER

from remit.web import WebSettings, create_app
from remit.web.fast_capture import FastCapture

URL = "/api/v1/assessments"
MADRS = {str(i): 2 for i in range(1, 11)}
FORM = {"participant_id": "OSL-001", "visit_code": "V3", "scale": "madrs", "answers": MADRS}

#: A UTC time with microseconds, as the API writes every time.
TIME = re.compile(rb'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"')


def paired_apps(trial_db: Path, tmp_path: Path) -> tuple[FastAPI, FastAPI]:
    """An app with the fast path and one without (the FastAPI route alone, as before), over
    two copies of the same trial."""
    plain_db = copy_database(trial_db, tmp_path / "plain.db")
    fast = create_app(str(trial_db), secret_key="s", settings=WebSettings(work_dir=tmp_path / "f"))
    plain = create_app(str(plain_db), secret_key="s", settings=WebSettings(work_dir=tmp_path / "p"))
    assert [m.cls for m in fast.user_middleware][-1] is FastCapture
    plain.user_middleware[:] = [m for m in plain.user_middleware if m.cls is not FastCapture]
    return fast, plain


def bearer_token(client: TestClient, role: str, prefix: str = "") -> str:
    """A bearer token of the trial's user of ``role`` (the app under ``prefix``)."""
    login = {"username": ROLE_USER[role], "password": PASSWORD}
    answer = client.post(f"{prefix}/api/v1/auth/login", json=login)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def fastapi_routes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests a FastAPI route handles from now on (a list that grows)."""
    handled: list[str] = []
    handle = fastapi.routing.APIRoute.handle

    async def counted(route: Any, scope: Any, receive: Any, send: Any) -> None:
        handled.append(scope["path"])
        await handle(route, scope, receive, send)

    monkeypatch.setattr(fastapi.routing.APIRoute, "handle", counted)
    return handled
