"""The worklist in Debian's Chromium: the independent rater logs in, finds the MADRS due today
at the top of the dashboard as a link, and follows it to the form. Screenshot in
``test-artifacts/web/``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tests.support.trial import PASSWORD
from tests.support.waiting import CEILING_S
from tests.support.web import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_raters_madrs_is_a_link_on_the_dashboard(
    browser: Any, worklist_day: date, live_server: LiveServer, artifacts: Path
) -> None:
    # the seeded trial's V3 is due on worklist_day, and the server's worklist is kept on it
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(CEILING_S * 1000)  # a busy machine is slow, not broken
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    today = page.locator("#work-today + table")
    link = today.get_by_role("link", name="MADRS (independent rater)")
    assert link.get_attribute("href") == "/participants/OSL-001/visits/V3/forms/madrs"
    assert "OSL-001" in today.inner_text()
    page.screenshot(path=str(artifacts / "worklist-rater-dashboard.png"), full_page=True)
    link.click()
    page.wait_for_url("**/participants/OSL-001/visits/V3/forms/madrs")
    assert "Montgomery" in page.locator("h1").inner_text()
    context.close()
