"""The casebook's status form (issue 12's walk ends there): an investigator moves a
participant along the lifecycle; a change the lifecycle does not allow is refused with
nothing written, and a role that may not change a status is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.support.store_trial import count_rows
from tests.support.trial import ROLE_USER, stage, trial_file
from tests.support.web import csrf_of, page_login

from remit import services as sv
from remit.store.tables import AuditEvent
from remit.web import WebSettings, create_app


@pytest.fixture
def trial_path(tmp_path: Path) -> Path:
    path = tmp_path / "status.db"
    trial_file(path, participants=[stage("enrolled")])  # OSL-001, enrolled, visits to V4
    return path


def _client(trial_path: Path, tmp_path: Path, role: str) -> TestClient:
    app = create_app(
        str(trial_path), secret_key="test-secret", settings=WebSettings(work_dir=tmp_path / "w")
    )
    client = TestClient(app, follow_redirects=False)
    assert page_login(client, ROLE_USER[role]).status_code in (200, 303)
    return client


def _state(trial_path: Path) -> tuple[str, int]:
    engine = sv.open_database(str(trial_path))
    try:
        inv = sv.actor_for(engine, ROLE_USER["investigator"])
        return sv.get_participant(engine, inv, "OSL-001").status, count_rows(engine, AuditEvent)
    finally:
        sv.close_database(engine)


def test_investigator_changes_status_on_the_casebook(trial_path: Path, tmp_path: Path) -> None:
    client = _client(trial_path, tmp_path, "investigator")
    page = client.get("/participants/OSL-001")
    assert 'id="status-form"' in page.text
    token = csrf_of(page.text)
    before, audit = _state(trial_path)
    assert before == "enrolled"
    refused = client.post(
        "/participants/OSL-001/status", data={"csrf_token": token, "status": "completed"}
    )
    assert refused.status_code == 422, refused.text
    assert "cannot become completed" in refused.text
    assert _state(trial_path) == (before, audit)  # nothing written
    done = client.post(
        "/participants/OSL-001/status", data={"csrf_token": token, "status": "on_study"}
    )
    assert done.status_code == 303
    status, after = _state(trial_path)
    assert status == "on_study"
    assert after > audit


def test_therapist_may_not_change_status(trial_path: Path, tmp_path: Path) -> None:
    client = _client(trial_path, tmp_path, "therapist")
    page = client.get("/participants/OSL-001")
    assert 'id="status-form"' not in page.text
    before = _state(trial_path)
    refused = client.post(
        "/participants/OSL-001/status",
        data={"csrf_token": csrf_of(page.text), "status": "on_study"},
    )
    assert refused.status_code == 403
    assert _state(trial_path) == before
