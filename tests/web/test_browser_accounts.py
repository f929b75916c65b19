"""User administration and signing in Debian's Chromium: an admin adds a user and resets a
password (shown once), the new user is taken to the password page before anything else, and
an investigator's signing page shows what is signed with only the meanings that fit.
Screenshots go to ``test-artifacts/web/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.forms import madrs
from tests.support.trial import PASSWORD
from tests.support.waiting import CEILING_S
from tests.support.web import LiveServer

from remit import services as sv

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW = "tar trikken hjem i kveld"


def _login(browser: Any, server: LiveServer, name: str, password: str = PASSWORD) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(CEILING_S * 1000)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    return page


def test_accounts_and_signing_in_a_browser(
    browser: Any, live_server: LiveServer, artifacts: Path, trial_db: Path
) -> None:
    admin = _login(browser, live_server, "ada")
    admin.goto(f"{live_server.url}/admin/users")
    admin.get_by_label("Username").fill("liv")
    admin.get_by_label("Password", exact=True).fill(PASSWORD)
    admin.get_by_label("Role").select_option("therapist")
    admin.get_by_label("Site").select_option("OST")
    admin.get_by_role("button", name="Add user").click()
    admin.wait_for_load_state()
    assert "to be changed at next login" in admin.locator("#user-liv").inner_text()
    admin.get_by_role("button", name="Reset password of rita").click()
    admin.wait_for_load_state()
    assert len(admin.locator("#temporary-password").inner_text()) >= 12
    admin.screenshot(path=str(artifacts / "accounts-01-users-reset.png"), full_page=True)

    liv = _login(browser, live_server, "liv")
    assert liv.url.endswith("/account/password")
    assert liv.locator("#forced-note").is_visible()
    liv.screenshot(path=str(artifacts / "accounts-02-forced-change.png"), full_page=True)
    liv.goto(f"{live_server.url}/participants")
    assert liv.url.endswith("/account/password")  # nothing else first
    liv.get_by_label("Current password").fill(PASSWORD)
    liv.get_by_label("New password", exact=True).fill(NEW)
    liv.get_by_label("New password again").fill(NEW)
    liv.get_by_role("button", name="Change password").click()
    liv.wait_for_url(f"{live_server.url}/?password_changed=1")
    liv.goto(f"{live_server.url}/participants")
    assert liv.url.endswith("/participants")

    engine = sv.open_database(trial_db)
    try:
        rita = sv.actor_for(engine, "rita")
        form = sv.record_assessment(engine, rita, "OSL-001", "V3", "madrs", madrs(2, 1))
    finally:
        sv.close_database(engine)
    kari = _login(browser, live_server, "kari")
    kari.goto(f"{live_server.url}/sign/assessment/{form.id}")
    assert kari.locator("#signed-participant").inner_text() == "OSL-001"
    assert kari.locator("#signed-visit").inner_text() == "V3"
    assert "Apparent sadness" in kari.locator("#signed-items").inner_text()
    assert kari.locator("#meaning option").all_inner_texts() == ["approved"]
    kari.screenshot(path=str(artifacts / "accounts-03-signing-page.png"), full_page=True)
    kari.get_by_label("Your password (again)").fill(PASSWORD)
    kari.get_by_role("button", name="Sign").click()
    kari.wait_for_url(f"{live_server.url}/assessments/{form.id}?saved=1")
