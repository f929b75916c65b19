"""The database lock in Debian's Chromium against a live server: the data manager follows the
navigation to the lock page, reads the confirmation (what the lock means, what is still open),
locks the study; the rater's form is then refused with the lock's message; the data manager
opens the lock again with a reason (refused without one). Screenshots go to
``test-artifacts/web/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.trial import ROLE_USER
from tests.support.web import LiveServer
from tests.web.test_browser import Person
from tests.web.test_pages import MADRS

from remit.web.forms import form_fields

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_data_manager_locks_the_study_in_a_browser(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    dm = Person(browser, live_server, artifacts, ROLE_USER["data_manager"])
    page = dm.page
    page.get_by_role("link", name="Database lock").click()
    page.wait_for_url(f"{live_server.url}/locks")
    assert "The study is not locked" in page.content()
    page.get_by_role("link", name="Lock the study…").click()
    page.wait_for_url(f"{live_server.url}/locks/study")
    means = page.locator("#lock-means").inner_text()
    assert "No more data entry or edits" in means
    assert "unblinded statistician" in means
    assert page.get_by_role("heading", name="What is still open").count() == 1
    dm.shot("60-study-lock-confirmation")
    confirm = page.get_by_role("form", name="Confirm the study lock")
    confirm.get_by_label("Reason").fill("database lock: data final")
    confirm.get_by_role("button", name="Confirm: lock the study").click()
    page.wait_for_url("**/locks?locked=*")
    assert "The study is locked" in page.locator("#study-lock-state").inner_text()
    row = page.locator("#locks-in-force tbody tr").first
    assert "database lock: data final" in row.inner_text()
    dm.shot("61-study-locked")

    lock_id = page.url.split("locked=", 1)[1].split("#", 1)[0]

    rita = Person(browser, live_server, artifacts, ROLE_USER["independent_rater"], js=False)
    rita.go(MADRS)
    for number, field in enumerate(form_fields("madrs"), start=1):
        rita.page.get_by_label(f"{number}. {field.label}", exact=True).fill("2")
    rita.page.get_by_role("button", name="Save form").click()
    refusal = rita.page.get_by_role("alert")
    assert "the study is locked" in refusal.inner_text()
    assert "ask a data manager to unlock it" in refusal.inner_text()
    rita.shot("62-form-refused-under-the-lock")
    rita.context.close()

    opening = page.get_by_role("form", name=f"Open lock {lock_id}")
    opening.get_by_role("button").click()  # no reason given
    refused = page.locator("#lock-refused")
    assert "reason to unlock is empty" in refused.inner_text()
    assert "The study is locked" in page.locator("#study-lock-state").inner_text()
    opening = page.get_by_role("form", name=f"Open lock {lock_id}")
    opening.get_by_label("Why it is opened again").fill("late query on V3")
    opening.get_by_role("button").click()
    page.wait_for_url("**/locks?opened=*")
    assert "The study is not locked" in page.locator("#study-lock-state").inner_text()
    assert "late query on V3" in page.locator("#locks-history").inner_text()
    dm.shot("63-lock-opened-again")
    dm.context.close()
