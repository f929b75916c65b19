"""Locking a participant or a form, and opening a lock again, take two steps in the web app, as
the study lock does: the first POST shows a confirmation page (what will be locked or opened,
the participant's forms and what is still open: data queries, unsigned forms, forms not
complete, safety alerts; the reason given; a confirm button) and stores nothing; only the
confirmed POST locks or opens, and a refusal of the service is shown on that page with nothing
stored. The unblinded statistician reads the locks page (whether the study is locked) and may
lock or open nothing; the blinded roles that do not lock are still refused it. On SQLite (the
web tests' seeded trial)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.forms import madrs
from tests.support.trial import ROLE_USER
from tests.support.web import csrf_of
from tests.web.test_pages import CSSRS, cssrs_form

from remit import services as sv
from remit.services.access import ACCESS
from remit.web.core import WEB_ACCESS

Login = Callable[[str], TestClient]


def _engine_and(app: FastAPI, role: str) -> tuple[sv.Engine, sv.Actor]:
    engine = app.state.remit.engine
    return engine, sv.actor_for(engine, ROLE_USER[role])


def _locks(app: FastAPI) -> list[sv.LockRecord]:
    return sv.list_locks(*_engine_and(app, "data_manager"))


def _saved_cssrs(login_as: Login) -> int:
    """A complete C-SSRS of OSL-001 at V3 entered by the investigator through the page and
    signed by nobody: its id."""
    investigator = login_as("investigator")
    saved = investigator.post(CSSRS, data=cssrs_form(csrf_of(investigator.get(CSSRS).text)))
    assert saved.status_code == 200, saved.text
    found = re.search(r'action="/assessments/(\d+)/edit"', saved.text)
    assert found
    return int(found[1])


def test_a_participant_lock_shows_what_it_covers_and_locks_only_when_confirmed(
    app: FastAPI, login_as: Login
) -> None:
    engine, rater = _engine_and(app, "independent_rater")
    # a complete MADRS, item 10 at 4: it raises a safety alert; signed by nobody
    form_id = sv.record_assessment(engine, rater, "OSL-001", "V3", "madrs", madrs(3, 4)).id
    _, monitor = _engine_and(app, "monitor")
    query = sv.open_query(
        engine, monitor, "assessment", form_id, field=None, text="Check the onset date"
    )
    _, dm_actor = _engine_and(app, "data_manager")
    alerts = sv.list_alerts(engine, dm_actor, participant="OSL-001", status="unclosed")
    assert alerts, "the MADRS should have raised an alert"

    dm = login_as("data_manager")
    page = dm.get("/locks")
    shown = dm.post(
        "/locks/participant",
        data={"csrf_token": csrf_of(page.text), "participant": "OSL-001", "reason": "final"},
    )
    assert shown.status_code == 200, shown.text
    text = shown.text
    assert "Lock participant OSL-001's data" in text
    assert "No more data entry or edits for OSL-001" in text
    # their forms, and what is still open, each linked
    forms = text.split('id="review-forms"', 1)[1].split("</table>", 1)[0]
    assert f'href="/assessments/{form_id}"' in forms
    assert "MADRS" in forms
    assert f'href="/assessments/{form_id}"' in text.split('id="review-unsigned"', 1)[1]
    assert f"Query {query.id}" in text.split('id="review-queries"', 1)[1]
    assert "Check the onset date" in text
    listed = text.split('id="review-alerts"', 1)[1].split("</ul>", 1)[0]
    assert {a.id for a in alerts} == {int(n) for n in re.findall(r"alert (\d+)</a>", listed)}
    # the reason given, carried to the confirm button's form; nothing locked yet
    confirm = text.split('id="lock-confirm"', 1)[1].split("</form>", 1)[0]
    assert 'name="confirm" value="yes"' in confirm
    assert 'name="participant" value="OSL-001"' in confirm
    assert 'value="final"' in confirm
    assert _locks(app) == []

    done = dm.post(
        "/locks/participant",
        data={
            "csrf_token": csrf_of(text),
            "participant": "OSL-001",
            "reason": "final",
            "confirm": "yes",
        },
    )
    assert done.status_code == 200
    assert done.url.path == "/locks"
    (lock,) = _locks(app)
    assert (lock.level, lock.participant_id, lock.reason) == ("participant", "OSL-001", "final")
    assert f"Lock {lock.id} is in force" in done.text

    # asked again: already locked, no button
    again = dm.post(
        "/locks/participant", data={"csrf_token": csrf_of(done.text), "participant": "OSL-001"}
    )
    assert 'id="already-locked"' in again.text
    assert 'id="lock-confirm"' not in again.text


def test_an_unknown_participant_is_refused_with_nothing_stored(
    app: FastAPI, login_as: Login
) -> None:
    dm = login_as("data_manager")
    token = csrf_of(dm.get("/locks").text)
    for confirm in ({}, {"confirm": "yes"}):
        refused = dm.post(
            "/locks/participant", data={"csrf_token": token, "participant": "OSL-999"} | confirm
        )
        assert refused.status_code == 404, refused.text
        assert "OSL-999" in refused.text
    assert _locks(app) == []


def test_a_form_lock_is_confirmed_and_a_refused_one_stores_nothing(
    app: FastAPI, login_as: Login
) -> None:
    engine, rater = _engine_and(app, "independent_rater")
    draft = sv.record_assessment(
        engine, rater, "OSL-001", "V3", "madrs", {"1": 2, "2": 2}, status="draft"
    )
    dm = login_as("data_manager")
    token = csrf_of(dm.get("/locks").text)

    # the confirmation page refuses a draft at once: no button
    shown = dm.post("/locks/form", data={"csrf_token": token, "record_id": str(draft.id)})
    assert shown.status_code == 422, shown.text
    assert 'id="lock-refused"' in shown.text
    assert "a form must be complete to be locked" in shown.text
    assert 'id="lock-confirm"' not in shown.text
    # a confirmed POST anyway (the form changed meanwhile, or a crafted one): the service's
    # refusal, on the same page; nothing stored
    refused = dm.post(
        "/locks/form",
        data={"csrf_token": token, "record_id": str(draft.id), "confirm": "yes", "reason": "r"},
    )
    assert refused.status_code == 422, refused.text
    assert f"assessment {draft.id} is draft" in refused.text
    assert "Nothing was stored" in refused.text
    assert _locks(app) == []
    assert sv.get_assessment(engine, rater, draft.id).status == "draft"

    # a complete form: what it is, that nobody signed it, then locked on the confirmation
    form_id = _saved_cssrs(login_as)
    shown = dm.post("/locks/form", data={"csrf_token": token, "record_id": str(form_id)})
    assert shown.status_code == 200, shown.text
    assert f"Lock form {form_id}: CSSRS of OSL-001 at V3" in shown.text
    assert "nobody has signed this form" in shown.text
    assert "The participant's other forms and data stay open" in shown.text
    assert f'name="record_id" value="{form_id}"' in shown.text
    assert _locks(app) == []
    done = dm.post(
        "/locks/form",
        data={
            "csrf_token": csrf_of(shown.text),
            "record_id": str(form_id),
            "reason": "clean",
            "confirm": "yes",
        },
    )
    assert done.status_code == 200
    (lock,) = _locks(app)
    assert (lock.level, lock.record_table, lock.record_id) == ("form", "assessment", form_id)
    assert sv.get_assessment(engine, rater, form_id).status == "locked"


def test_opening_a_lock_again_asks_for_confirmation_and_a_reason(
    app: FastAPI, login_as: Login
) -> None:
    engine, dm_actor = _engine_and(app, "data_manager")
    lock = sv.lock(engine, dm_actor, "participant", participant="OSL-001", reason="final")
    dm = login_as("data_manager")
    token = csrf_of(dm.get("/locks").text)
    shown = dm.post(f"/locks/{lock.id}/open", data={"csrf_token": token, "reason": "late query"})
    assert shown.status_code == 200, shown.text
    assert f"Open lock {lock.id} again" in shown.text
    assert "OSL-001's data can be entered, changed and signed again" in shown.text
    assert "“final”" in shown.text  # why it was locked
    assert 'value="late query"' in shown.text
    assert _locks(app)[0].unlocked_at is None  # the first step opened nothing

    empty = dm.post(
        f"/locks/{lock.id}/open", data={"csrf_token": token, "reason": " ", "confirm": "yes"}
    )
    assert empty.status_code == 422
    assert "reason to unlock is empty" in empty.text
    assert 'id="open-confirm"' in empty.text
    assert _locks(app)[0].unlocked_at is None

    opened = dm.post(
        f"/locks/{lock.id}/open",
        data={"csrf_token": token, "reason": "late query", "confirm": "yes"},
    )
    assert opened.status_code == 200
    (after,) = _locks(app)
    assert after.unlocked_at is not None
    assert after.unlock_reason == "late query"
    assert 'id="already-open"' in dm.post(f"/locks/{lock.id}/open", data={"csrf_token": token}).text
    assert dm.post("/locks/999/open", data={"csrf_token": token}).status_code == 404


def test_the_unblinded_statistician_reads_whether_the_study_is_locked(
    app: FastAPI, login_as: Login
) -> None:
    una = login_as("unblinded_statistician")
    assert 'href="/locks"' in una.get("/").text  # the navigation links the page
    page = una.get("/locks")
    assert page.status_code == 200, page.text
    assert "The study is not locked" in page.text
    assert "The analysis by arm waits for the data manager's study lock" in page.text
    assert 'id="read-only"' in page.text
    for form in ('id="lock-participant"', 'id="lock-form"', 'id="lock-study-link"'):
        assert form not in page.text

    engine, dm_actor = _engine_and(app, "data_manager")
    study = sv.lock(engine, dm_actor, "study", reason="database lock")
    page = una.get("/locks")
    assert "The study is locked" in page.text
    assert f"lock {study.id}" in page.text
    assert "The analysis by arm may run now" in page.text
    assert f'id="open-{study.id}"' not in page.text  # read only

    token = csrf_of(page.text)
    assert una.get("/locks/study").status_code == 403
    posts: tuple[tuple[str, dict[str, Any]], ...] = (
        ("/locks/participant", {"participant": "OSL-001", "confirm": "yes"}),
        ("/locks/form", {"record_id": "1", "confirm": "yes"}),
        (f"/locks/{study.id}/open", {"reason": "mine", "confirm": "yes"}),
    )
    for path, data in posts:
        assert una.post(path, data={"csrf_token": token} | data).status_code == 403, path
    assert [(lock.id, lock.unlocked_at) for lock in _locks(app)] == [(study.id, None)]


def test_the_locks_page_is_for_those_who_lock_and_the_unblinded_statistician() -> None:
    assert ACCESS["lock"] <= WEB_ACCESS["view_locks"]
    assert WEB_ACCESS["view_locks"] - ACCESS["lock"] == {"unblinded_statistician"}
