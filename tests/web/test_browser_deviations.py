"""The deviation log in Debian's Chromium against a live server (issue 12, part 8): the
investigator logs a deviation with the page's form, finds it with the filters, and a monitor
reads the log without the form. Screenshots go to ``test-artifacts/web/``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tests.support.web import LiveServer
from tests.web.test_browser import Person

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_deviation_log_in_a_browser(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    kari = Person(browser, live_server, artifacts, "kari")
    page = kari.page
    page.get_by_role("link", name="Deviations").click()
    page.wait_for_url(f"{live_server.url}/deviations")
    form = page.get_by_role("form", name="Log a deviation")
    form.get_by_label("Participant").select_option("OSL-001")
    form.get_by_label("Visit").fill("V3")
    form.get_by_label("Date it happened").fill(date.today().isoformat())
    form.get_by_label("Category").select_option(label="Informed consent")
    form.get_by_label("Severity").select_option("major")
    form.get_by_label("What happened").fill("consent signed on the wrong version (1.1)")
    kari.shot("40-deviation-form")
    form.get_by_role("button", name="Log deviation").click()
    row = page.locator("table.deviations tbody tr").first
    row.wait_for()
    assert "consent signed on the wrong version (1.1)" in row.inner_text()
    assert "major" in row.inner_text()

    filters = page.get_by_role("form", name="Filter deviations")
    filters.get_by_label("Source").select_option("automatic")
    filters.get_by_role("button", name="Filter").click()
    page.wait_for_url("**source=automatic**")
    assert "No deviations match these filters" in page.content()
    kari.shot("41-deviation-filtered")
    kari.context.close()

    mona = Person(browser, live_server, artifacts, "mona")
    mona.go("/deviations?severity=major")
    assert "consent signed on the wrong version (1.1)" in mona.page.content()
    assert mona.page.get_by_role("form", name="Log a deviation").count() == 0
    mona.shot("42-deviation-log-monitor")
    mona.context.close()
