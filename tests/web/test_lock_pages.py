"""The database lock pages and API: the data manager sees what is still open, confirms and locks
the study, after which a form can no longer be entered or edited through the pages (a readable
423 page, nothing stored); a lock is opened again only with a reason (audited), after a
confirmation; a form is locked from the casebook and a participant from the locks page, each
after a confirmation; other roles are refused (403) and every POST needs the CSRF token.
On SQLite (the web tests' seeded trial). The confirmation pages of participants, forms and
openings in detail: ``tests/web/test_locks_confirm.py``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.support.trial import ROLE_USER
from tests.support.web import csrf_of
from tests.web.test_pages import CSSRS, MADRS, cssrs_form, madrs_form

from remit import services as sv
from remit.store.vocab import LockLevel, QueryStatus
from remit.web import pages_locks

Login = Callable[[str], TestClient]


def _lock_study(dm: TestClient, reason: str = "database lock") -> TestClient:
    """Through the confirmation page, as the data manager does it; the page after."""
    page = dm.get("/locks/study")
    assert page.status_code == 200, page.text
    done = dm.post(
        "/locks/study", data={"csrf_token": csrf_of(page.text), "confirm": "yes", "reason": reason}
    )
    assert done.status_code == 200, done.text
    return done


def _open_form(dm: TestClient, lock_id: int, reason: str) -> Any:
    """Open a lock as the page does it: the locks page's "Open lock N…", then the confirmation
    page's button (the answer of the second step)."""
    page = dm.get("/locks")
    shown = dm.post(
        f"/locks/{lock_id}/open", data={"csrf_token": csrf_of(page.text), "reason": reason}
    )
    assert shown.status_code == 200, shown.text
    assert 'id="open-confirm"' in shown.text
    assert f'id="open-{lock_id}"' in dm.get("/locks").text  # the first step opened nothing
    return dm.post(
        f"/locks/{lock_id}/open",
        data={"csrf_token": csrf_of(shown.text), "reason": reason, "confirm": "yes"},
    )


def test_the_vocabulary_the_pages_spell_is_the_stores() -> None:
    assert LockLevel.STUDY.value == pages_locks.STUDY
    assert QueryStatus.CLOSED.value == pages_locks.CLOSED


def test_the_study_lock_asks_for_confirmation_then_refuses_entry_through_the_page(
    login_as: Login,
) -> None:
    rater = login_as("independent_rater")
    investigator = login_as("investigator")
    saved = investigator.post(CSSRS, data=cssrs_form(csrf_of(investigator.get(CSSRS).text)))
    assert saved.status_code == 200
    edit = re.search(r'action="(/assessments/(\d+)/edit)"', saved.text)
    assert edit

    dm = login_as("data_manager")
    assert 'href="/locks"' in dm.get("/").text  # the navigation links the page
    confirm = dm.get("/locks/study")
    assert "No more data entry or edits" in confirm.text
    assert "unblinded statistician" in confirm.text
    # what is still open, from the services, linked: the C-SSRS just saved is not signed
    assert 'id="review-unsigned"' in confirm.text
    assert f'href="/assessments/{edit[2]}"' in confirm.text
    # a POST without the confirmation only shows the confirmation page: nothing is locked
    shown = dm.post("/locks/study", data={"csrf_token": csrf_of(confirm.text), "reason": "x"})
    assert shown.status_code == 200
    assert 'id="study-lock-confirm"' in shown.text
    assert "The study is not locked" in dm.get("/locks").text

    assert 'id="form-locked-' not in rater.get(MADRS).text
    after = _lock_study(dm)
    assert 'id="lock-done"' in after.text
    assert "The study is locked" in after.text
    assert f"by {ROLE_USER['data_manager']}" in after.text
    lock_id = int(re.search(r"Lock (\d+) is in force", after.text)[1])

    # the empty form says so before anyone fills it in
    warned = rater.get(MADRS).text
    assert f'id="form-locked-{lock_id}"' in warned
    assert "the study is locked" in warned
    assert "A save will be refused" in warned
    # a new form through the page: refused with the lock's message, not a 500; nothing stored
    refused = rater.post(MADRS, data=madrs_form(csrf_of(rater.get(MADRS).text)))
    assert refused.status_code == 423, refused.text
    assert "the study is locked" in refused.text
    assert "ask a data manager to unlock it" in refused.text
    assert "/assessments/" not in rater.get(MADRS).url.path  # no MADRS was stored

    # an edit of the stored form: refused the same way
    form = cssrs_form(csrf_of(saved.text), wish="yes")
    form["expected_version"] = re.search(r'name="expected_version" value="(\d+)"', saved.text)[1]
    form["reason"] = "participant corrected the answer"
    edited = investigator.post(edit[1], data=form)
    assert edited.status_code == 423, edited.text
    assert "the study is locked" in edited.text

    # locking again shows the lock in force
    assert "already locked" in dm.get("/locks/study").text

    # opened again only with a reason; then entry works again
    no_reason = _open_form(dm, lock_id, "  ")
    assert no_reason.status_code == 422
    assert 'id="lock-refused"' in no_reason.text
    assert "reason to unlock is empty" in no_reason.text
    assert 'id="open-confirm"' in no_reason.text  # asked again, on the confirmation page
    assert "The study is locked" in dm.get("/locks").text
    opened = _open_form(dm, lock_id, "late query on V3")
    assert opened.status_code == 200
    listing = dm.get("/locks")
    history = listing.text.split('id="locks-history"', 1)[1]
    assert "late query on V3" in history
    assert "The study is not locked" in listing.text
    audit = dm.get(f"/audit/lock/{lock_id}")  # the opening is on the audit trail
    assert audit.status_code == 200
    assert "late query on V3" in audit.text
    assert 'id="form-locked-' not in rater.get(MADRS).text
    entered = rater.post(MADRS, data=madrs_form(csrf_of(rater.get(MADRS).text)))
    assert entered.status_code == 200
    assert "/assessments/" in entered.url.path


def test_a_form_is_locked_from_the_casebook_and_its_edit_refused(login_as: Login) -> None:
    investigator = login_as("investigator")
    saved = investigator.post(CSSRS, data=cssrs_form(csrf_of(investigator.get(CSSRS).text)))
    edit = re.search(r'action="(/assessments/(\d+)/edit)"', saved.text)
    assert edit
    dm = login_as("data_manager")
    casebook = dm.get("/participants/OSL-001")
    button = re.search(r'id="lock-form-V3-cssrs">.*?name="record_id" value="(\d+)"', casebook.text)
    assert button
    assert button[1] == edit[2]
    shown = dm.post(
        "/locks/form", data={"csrf_token": csrf_of(casebook.text), "record_id": edit[2]}
    )
    assert shown.status_code == 200
    assert 'id="lock-confirm"' in shown.text  # the casebook's button asks first
    assert "No lock is in force" in dm.get("/locks").text
    locked = dm.post(
        "/locks/form",
        data={
            "csrf_token": csrf_of(shown.text),
            "record_id": edit[2],
            "reason": "clean",
            "confirm": "yes",
        },
    )
    assert locked.status_code == 200
    in_force = locked.text.split('id="locks-in-force"', 1)[1].split("</table>", 1)[0]
    assert f'href="/assessments/{edit[2]}"' in in_force
    assert "clean" in in_force
    form = cssrs_form(csrf_of(saved.text), wish="yes")
    form["expected_version"] = re.search(r'name="expected_version" value="(\d+)"', saved.text)[1]
    form["reason"] = "participant corrected the answer"
    refused = investigator.post(edit[1], data=form)
    assert refused.status_code == 423, refused.text
    assert f"assessment {edit[2]} (cssrs of OSL-001) is locked" in refused.text
    assert "ask a data manager" in refused.text
    assert "cannot be edited" in investigator.get(f"/assessments/{edit[2]}").text
    assert "Locked: this form is locked" in investigator.get(f"/assessments/{edit[2]}").text
    # a lock on one form is not announced on another form of the participant
    assert 'id="form-locked-' not in login_as("independent_rater").get(MADRS).text


def test_a_participant_is_locked_and_other_participants_stay_open(login_as: Login) -> None:
    dm = login_as("data_manager")
    page = dm.get("/locks")
    done = dm.post(
        "/locks/participant",
        data={
            "csrf_token": csrf_of(page.text),
            "participant": "OSL-001",
            "reason": "final",
            "confirm": "yes",
        },
    )
    assert done.status_code == 200
    assert "participant <a" in done.text
    assert "The study is not locked" in done.text
    rater = login_as("independent_rater")
    refused = rater.post(MADRS, data=madrs_form(csrf_of(rater.get(MADRS).text)))
    assert refused.status_code == 423
    assert "this participant&#39;s data is locked" in refused.text
    assert "Locked: this participant's data is locked" in rater.get(MADRS).text


def test_other_roles_are_refused(login_as: Login) -> None:
    for role in ("monitor", "statistician", "independent_rater", "therapist", "admin"):
        client = login_as(role)
        response = client.get("/locks")
        assert response.status_code == 403, role
        assert "may not view locks" in response.text
        assert 'href="/locks"' not in client.get("/").text
    investigator = login_as("investigator")
    assert investigator.get("/locks").status_code == 200  # participants and forms only
    token = csrf_of(investigator.get("/locks").text)
    assert investigator.get("/locks/study").status_code == 403
    refused = investigator.post("/locks/study", data={"csrf_token": token, "confirm": "yes"})
    assert refused.status_code == 403
    assert investigator.post("/locks/1/open", data={"csrf_token": token}).status_code == 403
    dm = login_as("data_manager")
    assert "The study is not locked" in dm.get("/locks").text


def test_every_post_needs_the_csrf_token(login_as: Login) -> None:
    dm = login_as("data_manager")
    for path, data in (
        ("/locks/study", {"confirm": "yes"}),
        ("/locks/participant", {"participant": "OSL-001"}),
        ("/locks/form", {"record_id": "1"}),
        ("/locks/1/open", {"reason": "because"}),
    ):
        response = dm.post(path, data=data | {"csrf_token": "forged"})
        assert response.status_code == 403, path
        assert "security token" in response.text
    assert "No lock is in force" in dm.get("/locks").text


def test_the_api_lists_locks_and_opens_one_only_with_a_reason(
    api_as: Callable[[str], TestClient],
) -> None:
    dm = api_as("data_manager")
    assert dm.get("/api/v1/locks").json() == []
    review = dm.get("/api/v1/locks/study/review")
    assert review.status_code == 200
    assert set(review.json()) >= {"open_queries", "open_alerts", "unsigned_forms"}
    mixed = dm.post("/api/v1/locks", json={"level": "study", "participant_id": "OSL-001"})
    assert mixed.status_code == 422
    assert "takes no participant_id" in mixed.text
    made = dm.post("/api/v1/locks", json={"level": "study", "reason": "database lock"})
    assert made.status_code == 201, made.text
    lock = made.json()
    assert (lock["level"], lock["locked_by"], lock["unlocked_at"]) == (
        "study",
        ROLE_USER["data_manager"],
        None,
    )

    investigator = api_as("investigator")
    refused = investigator.post("/api/v1/locks", json={"level": "study"})
    assert refused.status_code == 403
    opened_by_other = investigator.post(f"/api/v1/locks/{lock['id']}/open", json={"reason": "x"})
    assert opened_by_other.status_code == 403

    empty = dm.post(f"/api/v1/locks/{lock['id']}/open", json={"reason": " "})
    assert empty.status_code == 422
    assert "reason to unlock is empty" in empty.json()["message"]
    assert dm.get("/api/v1/locks", params={"open": "true"}).json()[0]["id"] == lock["id"]
    opened = dm.post(f"/api/v1/locks/{lock['id']}/open", json={"reason": "late query"})
    assert opened.status_code == 200
    assert (opened.json()["unlocked_by"], opened.json()["unlock_reason"]) == (
        ROLE_USER["data_manager"],
        "late query",
    )
    assert dm.get("/api/v1/locks", params={"open": "true"}).json() == []
    spec = dm.get("/openapi.json").json()["paths"]
    assert {"/api/v1/locks", "/api/v1/locks/{lock_id}/open", "/api/v1/locks/study/review"} <= set(
        spec
    )


def test_the_list_of_locks_reads_a_fixed_number_of_statements(app: FastAPI) -> None:
    """Who locked and opened each lock, why, and whose it is: read for all the locks at once,
    not one lock at a time (the statements of the listing do not grow with the locks)."""
    engine = app.state.remit.engine
    dm = sv.actor_for(engine, ROLE_USER["data_manager"])

    def statements() -> int:
        seen: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(" ".join(statement.split())[:150])

        event.listen(engine, "before_cursor_execute", count)
        try:
            sv.list_locks(engine, dm)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    first = sv.lock(engine, dm, "participant", participant="OSL-001", reason="final")
    sv.unlock(engine, dm, first.id, reason="late query")
    one = statements()
    for pid in ("OSL-001", "OSL-002"):
        done = sv.lock(engine, dm, "participant", participant=pid, reason="final")
    sv.unlock(engine, dm, done.id, reason="one more answer")
    listed = sv.list_locks(engine, dm)
    assert [(x.participant_id, x.locked_by, x.unlock_reason) for x in listed] == [
        ("OSL-002", ROLE_USER["data_manager"], "one more answer"),
        ("OSL-001", ROLE_USER["data_manager"], None),
        ("OSL-001", ROLE_USER["data_manager"], "late query"),
    ]
    assert statements() == one
