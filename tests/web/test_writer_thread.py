"""Forms are written by one thread on SQLite, on the connection written last; the server
process's long-lived objects are frozen out of full garbage collections (issue 16)."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.support.forms import madrs
from tests.support.trial import PASSWORD, build_trial, enrolled

from remit import services as sv
from remit.store import make_engine
from remit.web import WebSettings, create_app
from remit.web import app as web_app
from remit.web.workers import WORKER_THREAD_NAME, WRITER_THREAD_NAME

FORM = {"participant_id": "OSL-001", "visit_code": "V3", "scale": "madrs", "answers": madrs(3, 1)}


def _threads_of(monkeypatch: pytest.MonkeyPatch, *names: str) -> list[tuple[str, str]]:
    """The (service, thread name) of every call of the services ``names`` from now on."""
    seen: list[tuple[str, str]] = []
    for name in names:
        real = getattr(sv, name)

        def recorded(*args: Any, _real: Callable[..., Any] = real, _name: str = name,
                     **kwargs: Any) -> Any:  # fmt: skip
            seen.append((_name, threading.current_thread().name))
            return _real(*args, **kwargs)

        monkeypatch.setattr(sv, name, recorded)
    return seen


def test_on_sqlite_forms_are_written_by_the_writer_thread_and_read_by_the_others(
    api_as: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    rater = api_as("independent_rater")
    seen = _threads_of(monkeypatch, "record_assessment", "get_assessment", "update_assessment")
    created = rater.post("/api/v1/assessments", json=FORM)  # the fast path
    assert created.status_code == 201, created.text
    form = created.json()["id"]
    declined = rater.post(  # a content type the fast path declines: FastAPI's route
        "/api/v1/assessments",
        content=json.dumps({**FORM, "scale": "gad7", "answers": madrs(3, 1)}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert declined.status_code == 422, declined.text  # (refused by the service: not GAD-7)
    before_read = len(seen)
    read = rater.get(f"/api/v1/assessments/{form}")
    reads = seen[before_read:]
    saved = rater.put(
        f"/api/v1/assessments/{form}",
        json={"answers": madrs(4, 1), "reason": "rater re-scored the items"},
        headers={"If-Match": read.headers["ETag"]},
    )
    assert saved.status_code == 200, saved.text
    writer = f"{WRITER_THREAD_NAME}_0"
    writes = [thread for name, thread in seen if name != "get_assessment"]
    assert [name for name, _ in seen if name != "get_assessment"] == [
        "record_assessment",
        "record_assessment",
        "update_assessment",
    ]
    assert writes == [writer] * 3
    assert [name for name, _ in reads] == ["get_assessment"]
    assert reads[0][1].startswith(f"{WORKER_THREAD_NAME}_"), reads


@pytest.mark.parametrize("db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_on_postgresql_forms_are_written_by_any_worker_thread(
    db_backend: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    oslo = build_trial(engine)
    pid = enrolled(oslo, "V3")
    app = create_app(engine, secret_key="test-secret", settings=WebSettings(work_dir=tmp_path))
    rater = TestClient(app)
    login = rater.post(
        "/api/v1/auth/login", json={"username": oslo.rater.username, "password": PASSWORD}
    )
    rater.headers["Authorization"] = f"Bearer {login.json()['token']}"
    seen = _threads_of(monkeypatch, "record_assessment")
    answer = rater.post("/api/v1/assessments", json={**FORM, "participant_id": pid})
    assert answer.status_code == 201, answer.text
    assert len(seen) == 1
    assert seen[0][1].startswith(f"{WORKER_THREAD_NAME}_"), seen


def test_a_sqlite_pool_hands_out_the_connection_checked_in_last(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "lifo.db")
    try:
        first, second = engine.connect(), engine.connect()
        ids = [id(c.connection.dbapi_connection) for c in (first, second)]
        first.close()
        second.close()  # checked in last
        with engine.connect() as again:
            assert id(again.connection.dbapi_connection) == ids[1]
    finally:
        engine.dispose()


def test_the_server_process_freezes_what_it_holds_after_a_collection(
    trial_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append("collect") or 0)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setenv(web_app.ENV_DB, str(trial_db))
    made = web_app.app_from_environment()
    assert isinstance(made, FastAPI)
    assert calls == ["collect", "freeze"]


def test_an_app_made_in_process_freezes_nothing(
    trial_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the server's factory freezes: a test or a script making apps keeps collecting."""
    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    create_app(str(trial_db), secret_key="x", settings=WebSettings(work_dir=tmp_path))
    assert calls == []
