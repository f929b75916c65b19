"""Informed consent in Debian's Chromium: an investigator registers a person, sees that no
study procedure may be recorded yet, records consent on the consent page (obtained by them),
then records its full withdrawal. Screenshots go to ``test-artifacts/web/``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.support.trial import PASSWORD
from tests.support.waiting import CEILING_S
from tests.support.web import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_consent_in_a_browser(browser: Any, live_server: LiveServer, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(CEILING_S * 1000)  # a busy machine is slow, not broken
    page = context.new_page()
    page.goto(f"{live_server.url}/participants")  # redirected to the login page
    page.get_by_label("Username").fill("kari")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/participants")

    def shot(name: str) -> None:
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Birth year").fill("1980")
    page.get_by_label("Name").fill("Ola Nordmann")
    page.get_by_role("button", name="Register").click()
    assert "Nothing has been created yet" in page.locator("main").inner_text()
    page.get_by_role("button", name="Confirm: create the study ID").click()
    page.wait_for_url("**/participants/OSL-003")
    page.get_by_role("link", name="Consent").click()
    page.wait_for_url("**/participants/OSL-003/consent")
    verdict = page.locator("#consent-verdict")
    assert "OSL-003 has no informed consent recorded" in verdict.inner_text()
    shot("consent-1-none")

    oslo = ZoneInfo("Europe/Oslo")  # the site's zone: the page reads times in it
    signed = (datetime.now(UTC) - timedelta(minutes=30)).astimezone(oslo).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Signed at (Europe/Oslo)").fill(signed)
    assert page.get_by_label("main (required)").is_checked()
    page.get_by_role("button", name="Record consent").click()
    page.wait_for_url("**/participants/OSL-003/consent")
    assert "Study procedures may be recorded (agreed: main)" in verdict.inner_text()
    assert "kari" in page.locator("#consent-history").inner_text()
    shot("consent-2-recorded")

    withdrawn = (datetime.now(UTC) - timedelta(minutes=10)).astimezone(oslo)
    page.get_by_label("Withdrawn at (Europe/Oslo)").fill(withdrawn.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Reason").fill("changed her mind")
    page.get_by_role("button", name="Withdraw consent").click()
    page.wait_for_url("**/participants/OSL-003/consent")
    assert "OSL-003 withdrew consent on" in verdict.inner_text()
    assert "changed her mind" in page.locator("#consent-history").inner_text()
    shot("consent-3-withdrawn")
    context.close()
