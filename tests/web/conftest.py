"""Fixtures of the web tests: the seeded trial (:func:`tests.support.presets.web_trial`: one
user per role, ``OSL-001`` enrolled with V3 due today, ``OSL-002`` in screening; a test marked
``dosing_day`` gets :func:`tests.support.presets.web_dosing_trial` instead, where ``OSL-001``
is through V4 and its dosing day V5 falls on 2026-03-02), an app over a fresh copy, logged-in
clients, and a live uvicorn server with Debian's Chromium for the browser walk.

``browser`` (Debian's Chromium via Playwright) is the shared fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.db import copy_database
from tests.support.paths import ARTIFACTS
from tests.support.presets import DOSING_DAY, web_dosing_trial, web_trial
from tests.support.shared import build_once
from tests.support.trial import PASSWORD, ROLE_USER, trial_file
from tests.support.web import LiveServer, page_login
from tests.web.worklist_setup import enrol_at_v0, pin_worklist_day, v3_due_today

from remit.web import WebSettings, create_app


@pytest.fixture(scope="session")
def trial_day() -> date:
    """The day (UTC) the seeded trial is built for, read once per run: a test that needs
    "today" of the trial uses it, not the clock, so a run crossing midnight UTC agrees."""
    return datetime.now(UTC).date()


@pytest.fixture(scope="session")
def trial_template(tmp_path_factory: pytest.TempPathFactory, trial_day: date) -> Path:
    """The seeded trial database (built once per run; never changed: tests use copies)."""
    today = trial_day

    def build(path: Path) -> None:
        trial_file(path, participants=web_trial(today))
        enrol_at_v0(path, today)  # OSL-001 screened and enrolled as a site does, on WALKED's days
        v3_due_today(path, today)  # OSL-001's visits to V2: V3 is reached, its forms may be entered

    return build_once(tmp_path_factory, f"web-trial-{today.isoformat()}.db", build)


@pytest.fixture
def worklist_day(trial_day: date, monkeypatch: pytest.MonkeyPatch) -> date:
    """The seeded trial's day, on which OSL-001's V3 is due; the worklist service's clock is
    kept on it for the test (:func:`tests.web.worklist_setup.pin_worklist_day`)."""
    pin_worklist_day(monkeypatch, trial_day)
    return trial_day


def dosing_template(
    tmp_path_factory: pytest.TempPathFactory, day: date, *, confirmed: bool = True
) -> Path:
    """The seeded trial a dosing day on (:func:`tests.support.presets.web_dosing_trial`:
    ``OSL-001`` through V4, confirmed there unless not ``confirmed``, its first dosing day V5
    on ``day``); built once per day and confirmation asked for and never changed."""
    name = f"web-dosing-trial-{day.isoformat()}{'' if confirmed else '-unconfirmed'}.db"
    return build_once(
        tmp_path_factory,
        name,
        lambda path: trial_file(path, participants=web_dosing_trial(day, confirmed=confirmed)),
    )


@pytest.fixture
def trial_db(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A fresh copy of the seeded trial for one test: for a test marked ``dosing_day`` (with
    the day of V5 as its argument, default 2026-03-02, and ``confirmed=False`` for OSL-001's
    enrolment not yet confirmed at V4) the dosing-day trial, else the trial
    whose V3 is due today."""
    marker = request.node.get_closest_marker("dosing_day")
    if marker is None:
        template: Path = request.getfixturevalue("trial_template")
    else:
        day = marker.args[0] if marker.args else DOSING_DAY
        confirmed = marker.kwargs.get("confirmed", True)
        template = dosing_template(
            request.getfixturevalue("tmp_path_factory"), day, confirmed=confirmed
        )
    path = tmp_path / "trial.db"
    copy_database(template, path)
    return path


@pytest.fixture
def app(trial_db: Path, tmp_path: Path) -> FastAPI:
    return create_app(
        str(trial_db), secret_key="test-secret", settings=WebSettings(work_dir=tmp_path / "work")
    )


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


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The app served by uvicorn on a random free port of 127.0.0.1."""
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    folder = ARTIFACTS / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
