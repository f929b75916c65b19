"""A save the database stopped because it collided with another (a PostgreSQL deadlock it
broke) is not a stale version: ``PUT /api/v1/assessments/{id}`` answers 409 with
``Retry-After`` and says to send it again as it is (nothing stored, the version still holds),
and the page's form edit shows the same form again with that message; a version saved by
someone else between the read and the write stays 412 (API) and the conflict page (pages).

The collision is forced as in ``tests/store/test_audit_lock_pg.py``: another transaction
holds the form's row, the save waits for it holding the participant's lock, then the other
transaction asks for that lock; PostgreSQL stops the save (it waited first, and the other
transaction's deadlock check is set to wait longer)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.support.forms import madrs
from tests.support.pg_locks import WAIT_S, in_thread, wait_for_a_blocked_backend
from tests.support.trial import PASSWORD, build_trial, enrolled
from tests.support.web import csrf_of, page_login

from remit import services as sv
from remit.services._common import SERVICES_LOCK_KEY
from remit.web import WebSettings, create_app

#: The form's row, held by another transaction until it is told to ask for the participant's
#: lock (the lock a save takes first, before it reads the participant).
_HOLD_ROW = "SELECT id FROM assessment WHERE id = :id FOR UPDATE"
_PARTICIPANT_LOCK = (
    "SELECT pg_advisory_xact_lock(:space, hashtext('participant:' || CAST(:ref AS integer)))"
)


def _collide(engine: Engine, form_id: int, participant_id: int, save: Callable[[], Any]) -> Any:
    """Run ``save`` (a request that updates form ``form_id``) into a deadlock with another
    transaction, which PostgreSQL breaks by stopping the save; the save's answer."""
    holding, save_waits = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def other() -> str:
        with engine.connect() as connection:
            # this side's deadlock check comes later than the save's (1 s): the save is stopped
            connection.execute(text("SET LOCAL deadlock_timeout = '60s'"))
            connection.execute(text(_HOLD_ROW), {"id": form_id})
            holding.set()
            assert save_waits.wait(WAIT_S), "the save did not wait for the form's row"
            connection.execute(
                text(_PARTICIPANT_LOCK), {"space": SERVICES_LOCK_KEY, "ref": participant_id}
            )
            connection.rollback()
        return "other"

    other_thread = in_thread(other, results, "other")
    assert holding.wait(WAIT_S), "the other transaction did not take the form's row"
    save_thread = in_thread(save, results, "save")
    wait_for_a_blocked_backend(engine)  # the save waits for the form's row
    save_waits.set()
    save_thread.join(WAIT_S * 2)
    other_thread.join(WAIT_S * 2)
    assert results["other"] == "other", results["other"]
    return results["save"]


@pytest.fixture
def pg_form(
    db_backend: str, engine: Engine, tmp_path: Path
) -> tuple[FastAPI, Engine, str, int, int]:
    """A trial on PostgreSQL with a MADRS at OSL's first participant's V3 (version 1): the
    app, its engine, the rater's username, the form's id and the participant's database id."""
    assert db_backend == "postgresql"
    oslo = build_trial(engine)
    pid = enrolled(oslo, "V3")
    form = sv.record_assessment(engine, oslo.rater, pid, "V3", "madrs", madrs(3, 1))
    with engine.connect() as connection:
        participant_id = connection.execute(
            text("SELECT id FROM participant WHERE study_id = :pid"), {"pid": pid}
        ).scalar_one()
    app = create_app(
        engine, secret_key="test-secret", settings=WebSettings(work_dir=tmp_path / "work")
    )
    return app, engine, oslo.rater.username, form.id, participant_id


POSTGRES = pytest.mark.parametrize(
    "db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)


@POSTGRES
def test_a_collision_is_409_to_send_again_not_412(
    pg_form: tuple[FastAPI, Engine, str, int, int],
) -> None:
    app, engine, rater_name, form_id, participant_id = pg_form
    rater = TestClient(app)
    login = rater.post("/api/v1/auth/login", json={"username": rater_name, "password": PASSWORD})
    rater.headers["Authorization"] = f"Bearer {login.json()['token']}"
    url = f"/api/v1/assessments/{form_id}"
    change = {"answers": madrs(4, 1), "reason": "rater re-scored the items"}

    answer = _collide(
        engine,
        form_id,
        participant_id,
        lambda: rater.put(url, json=change, headers={"If-Match": '"1"'}),
    )
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert body["error"] == "TransactionCollisionError"
    assert "collided with another one" in body["message"]
    assert "nothing of it was stored" in body["message"]
    assert "send it again" in body["hint"]
    assert answer.headers["Retry-After"] == "1"
    # nothing stored: still version 1, and the same request sent again is saved
    assert rater.get(url).headers["etag"] == '"1"'
    again = rater.put(url, json=change, headers={"If-Match": '"1"'})
    assert again.status_code == 200, again.text
    assert again.headers["etag"] == '"2"'
    documented = rater.get("/openapi.json").json()["paths"]["/api/v1/assessments/{assessment_id}"]
    assert "TransactionCollisionError" in documented["put"]["responses"]["409"]["description"]


@POSTGRES
def test_a_collision_on_the_form_page_shows_the_same_form_to_save_again(
    pg_form: tuple[FastAPI, Engine, str, int, int],
) -> None:
    app, engine, rater_name, form_id, participant_id = pg_form
    rater = TestClient(app, follow_redirects=True)
    assert page_login(rater, rater_name).status_code == 200
    shown = rater.get(f"/assessments/{form_id}")
    assert shown.status_code == 200, shown.text
    version = re.search(r'name="expected_version" value="(\d+)"', shown.text)
    assert version
    edit = {str(i): "4" for i in range(1, 10)} | {"10": "1"}
    data = {
        "csrf_token": csrf_of(shown.text),
        "expected_version": version[1],
        "reason": "rater re-scored the items",
        **edit,
    }
    answer = _collide(
        engine,
        form_id,
        participant_id,
        lambda: rater.post(f"/assessments/{form_id}/edit", data=data),
    )
    assert answer.status_code == 409, answer.text
    assert "collided with another one" in answer.text
    assert "Someone else saved this form first" not in answer.text
    assert f'action="/assessments/{form_id}/edit"' in answer.text  # the form again, to resend
    assert sv.get_assessment(engine, sv.actor_for(engine, rater_name), form_id).version == 1
    again = rater.post(f"/assessments/{form_id}/edit", data=data)
    assert again.status_code == 200, again.text
    assert sv.get_assessment(engine, sv.actor_for(engine, rater_name), form_id).version == 2


def test_a_version_saved_between_the_read_and_the_write_stays_412(
    api_as: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route compares If-Match with the version it reads; a save by someone else that
    lands after that comparison is caught by the service (a ConflictError that is no
    collision): 412, the other save kept."""
    rater = api_as("independent_rater")
    made = rater.post(
        "/api/v1/assessments",
        json={
            "participant_id": "OSL-001",
            "visit_code": "V3",
            "scale": "madrs",
            "answers": madrs(2, 2),
        },
    )
    assert made.status_code == 201, made.text
    form_id = made.json()["id"]
    saving = sv.update_assessment

    def someone_saves_first(engine: sv.Engine, actor: sv.Actor, *args: Any, **kw: Any) -> Any:
        saving(engine, actor, form_id, madrs(1, 1), expected_version=1, reason="the other edit")
        return saving(engine, actor, *args, **kw)

    monkeypatch.setattr(sv, "update_assessment", someone_saves_first)
    url = f"/api/v1/assessments/{form_id}"
    stale = rater.put(
        url, json={"answers": madrs(4, 1), "reason": "mine"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412, stale.text
    assert "not 1: changed since you read it" in stale.json()["message"]
    assert "Retry-After" not in stale.headers
    monkeypatch.undo()
    assert rater.get(url).json()["total"] == sum(madrs(1, 1).values())
