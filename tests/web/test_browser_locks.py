"""The database lock in Debian's Chromium against a live server: the data manager follows the
navigation to the lock page, reads the confirmation (what the lock means, what is still open),
locks the study; the rater's form is then refused with the lock's message; the data manager
opens the lock again with a reason, after its confirmation page (refused without one). A form
locked from the casebook and a participant from the locks page go through their confirmation
pages too. Screenshots go to ``test-artifacts/web/``."""

from __future__ import annotations

import re
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
    opening.get_by_role("button").click()  # no reason given: the confirmation page
    page.wait_for_url(f"**/locks/{lock_id}/open")
    assert "Every participant's data can be entered" in page.locator("#open-means").inner_text()
    confirm = page.get_by_role("form", name="Confirm the opening")
    confirm.get_by_role("button", name=f"Confirm: open lock {lock_id}").click()
    refused = page.locator("#lock-refused")
    assert "reason to unlock is empty" in refused.inner_text()
    dm.shot("63a-opening-refused-without-a-reason")
    dm.go("/locks")
    assert "The study is locked" in page.locator("#study-lock-state").inner_text()
    opening = page.get_by_role("form", name=f"Open lock {lock_id}")
    opening.get_by_label("Why it is opened again").fill("late query on V3")
    opening.get_by_role("button").click()
    page.wait_for_url(f"**/locks/{lock_id}/open")
    confirm = page.get_by_role("form", name="Confirm the opening")
    assert confirm.get_by_label("Why it is opened again").input_value() == "late query on V3"
    confirm.get_by_role("button", name=f"Confirm: open lock {lock_id}").click()
    page.wait_for_url("**/locks?opened=*")
    assert "The study is not locked" in page.locator("#study-lock-state").inner_text()
    assert "late query on V3" in page.locator("#locks-history").inner_text()
    dm.shot("63-lock-opened-again")
    dm.context.close()


def test_a_form_and_a_participant_are_locked_after_their_confirmation_pages(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    dm = Person(browser, live_server, artifacts, ROLE_USER["data_manager"])
    page = dm.page
    # a form, from the casebook's Lock button
    dm.go("/participants/OSL-001")
    button = page.locator("form[id^='lock-form-'] button").first
    label = button.inner_text()
    button.click()
    page.wait_for_url("**/locks/form")
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading.startswith("Lock form "), heading
    assert "of OSL-001" in heading, heading
    assert label.removeprefix("Lock ") in heading
    assert "can no longer be edited or signed" in page.locator("#lock-means").inner_text()
    dm.shot("64-form-lock-confirmation")
    confirm = page.get_by_role("form", name="Confirm the lock")
    confirm.get_by_label("Reason").fill("form clean")
    confirm.get_by_role("button", name=re.compile(r"^Confirm: lock form \d+$")).click()
    page.wait_for_url("**/locks?locked=*")
    assert "form clean" in page.locator("#locks-in-force").inner_text()
    form_lock = page.url.split("locked=", 1)[1].split("#", 1)[0]

    # the participant, from the locks page: nothing is locked before the confirmation
    lock = page.get_by_role("form", name="Lock a participant")
    lock.get_by_label("Participant").select_option("OSL-001")
    lock.get_by_label("Reason").fill("data final")
    lock.get_by_role("button", name="Lock the participant's data…").click()
    page.wait_for_url("**/locks/participant")
    assert page.get_by_role("heading", name="Lock participant OSL-001's data").count() == 1
    forms = page.locator("#review-forms").inner_text()
    assert "locked" in forms  # the form just locked, with its status
    covering = page.locator("#locks-covering").inner_text()  # already in force on their data
    assert f"lock {form_lock} (form " in covering, covering
    dm.shot("65-participant-lock-confirmation")
    confirm = page.get_by_role("form", name="Confirm the lock")
    assert confirm.get_by_label("Reason").input_value() == "data final"
    confirm.get_by_role("button", name="Confirm: lock OSL-001's data").click()
    page.wait_for_url("**/locks?locked=*")
    done = page.locator("#lock-done").inner_text()
    assert "participant OSL-001 can no longer be entered or changed" in done
    dm.shot("66-participant-locked")
    dm.context.close()
