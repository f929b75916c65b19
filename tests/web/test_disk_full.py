"""Issue 13 part 6: a full disk is answered 507 with a clear message (web and API), not 500,
and nothing of the refused request is stored."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from tests.support.web import csrf_of

from remit.store.tables import Assessment, AuditEvent

MADRS = {str(i): 2 for i in range(1, 11)}
NEW_MADRS = {"participant_id": "OSL-001", "visit_code": "V3", "scale": "madrs", "answers": MADRS}


@pytest.fixture
def full_disk(app: FastAPI) -> Callable[[], dict[str, int]]:
    """A counter of the rows a save writes (assessments and audit rows)."""
    engine = app.state.remit.engine

    def counts() -> dict[str, int]:
        with Session(engine) as session:
            return {
                t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
                for t in (Assessment, AuditEvent)
            }

    return counts


_LISTENING: list[Any] = []


def _refuse_inserts(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
    if statement.lstrip().upper().startswith("INSERT"):
        raise sqlite3.OperationalError("database or disk is full")


def _fill(app: FastAPI) -> None:
    """From now on every INSERT fails as SQLite's do on a full disk."""
    engine = app.state.remit.engine
    event.listen(engine, "before_cursor_execute", _refuse_inserts)
    _LISTENING.append(engine)


def _empty() -> None:
    for engine in _LISTENING:
        event.remove(engine, "before_cursor_execute", _refuse_inserts)
    _LISTENING.clear()


def test_a_full_disk_is_507_on_the_api_and_nothing_is_stored(
    app: FastAPI, api_as: Callable[[str], TestClient], full_disk: Callable[[], dict[str, int]]
) -> None:
    rater = api_as("independent_rater")
    before = full_disk()
    _fill(app)
    try:
        refused = rater.post("/api/v1/assessments", json=NEW_MADRS)
    finally:
        _empty()
    assert refused.status_code == 507, refused.text
    body = refused.json()
    assert body["error"] == "StorageFullError"
    assert "full" in body["message"]
    assert "nothing was stored" in body["message"]
    assert "free disk space" in body["hint"]
    assert full_disk() == before
    assert rater.post("/api/v1/assessments", json=NEW_MADRS).status_code == 201  # space again


def test_a_full_disk_is_507_on_a_page(
    app: FastAPI, login_as: Callable[[str], TestClient], full_disk: Callable[[], dict[str, int]]
) -> None:
    rater = login_as("independent_rater")
    url = "/participants/OSL-001/visits/V3/forms/madrs"
    form = {"csrf_token": csrf_of(rater.get(url).text)} | {f.name: "2" for f in _fields(app)}
    before = full_disk()
    _fill(app)
    try:
        refused = rater.post(url, data=form)
    finally:
        _empty()
    assert refused.status_code == 507, refused.text[:500]
    assert "disk" in refused.text
    assert "nothing was stored" in refused.text
    assert full_disk() == before


def test_a_report_that_cannot_be_written_is_507(
    login_as: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("remit.web.pages_data.render_report", no_space)
    monkeypatch.setattr("remit.web.pages_data.sv.build_trial_data", lambda *a, **k: None)
    monkeypatch.setattr("remit.analysis.run_analysis_plan", lambda *a, **k: None)
    statistician = login_as("statistician")
    page = statistician.get("/report")
    refused = statistician.post("/report", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 507
    assert "disk is full" in refused.text


def _fields(app: FastAPI) -> list[Any]:
    from remit.web.forms import form_fields

    return list(form_fields("madrs", None))
