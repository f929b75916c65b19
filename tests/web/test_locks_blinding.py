"""The lock confirmation pages are answers to POSTs, which the blinding leak walk
(``tests/web/test_blinding_leak.py``, GET routes) does not request: on its RCT trial (both
arms randomised and dosed, one participant unblinded in an emergency) the blinded roles that
lock (investigator, data manager) open the confirmation of a participant's lock, of a form's
lock and of opening a lock, and the locks page with those locks in force; its scanner finds no
allocation in any of them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.trial import ROLE_USER, OsloTrial
from tests.support.web import csrf_of, page_login
from tests.web.test_blinding_leak import leak_app, rct, scan_response

from remit import services as sv

__all__ = ["leak_app", "rct"]  # the leak test's module fixtures, used here


def _lock_pages(app: FastAPI, trial: OsloTrial, role: str) -> tuple[list[str], int]:
    """The lock pages as ``role``, over a randomised and dosed participant: (hits, pages)."""
    una = trial.actors["unblinded_statistician"]
    pid = sv.list_allocations(trial.engine, una)[0].participant_id
    dm = trial.actors["data_manager"]
    forms = sv.list_assessments(trial.engine, dm, pid)
    done = [f for f in forms if f.status in ("complete", "signed")]
    assert done, f"{pid} has no complete form"
    client = TestClient(app, follow_redirects=True, raise_server_exceptions=False)
    assert page_login(client, ROLE_USER[role]).status_code == 200
    token = csrf_of(client.get("/locks").text)
    held = sv.lock(trial.engine, dm, "participant", participant=pid, reason="blinding walk")
    answers = {
        "participant": client.post(
            "/locks/participant", data={"csrf_token": token, "participant": pid}
        ),
        "form": client.post("/locks/form", data={"csrf_token": token, "record_id": done[0].id}),
        "locks": client.get("/locks"),
    }
    if role == "data_manager":
        answers["open"] = client.post(
            f"/locks/{held.id}/open", data={"csrf_token": token, "reason": "walk"}
        )
    sv.unlock(trial.engine, dm, held.id, reason="blinding walk done")
    hits: list[str] = []
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.text[:400])
        hits.extend(scan_response(response, f"{role} {name}"))
    return hits, len(answers)


@pytest.mark.parametrize("role", ["investigator", "data_manager"])
def test_the_lock_confirmations_show_a_blinded_role_no_allocation(
    leak_app: FastAPI, rct: Any, role: str
) -> None:
    trial: OsloTrial = rct[0]
    hits, pages = _lock_pages(leak_app, trial, role)
    assert pages >= 3
    assert hits == [], f"{role} sees allocations:\n" + "\n".join(hits[:40])
    # the participant's confirmation lists their forms, so the walk saw their data
    client = TestClient(leak_app, follow_redirects=True)
    page_login(client, ROLE_USER[role])
    una = trial.actors["unblinded_statistician"]
    pid = sv.list_allocations(trial.engine, una)[0].participant_id
    shown = client.post(
        "/locks/participant",
        data={"csrf_token": csrf_of(client.get("/locks").text), "participant": pid},
    )
    assert 'id="review-forms"' in shown.text
