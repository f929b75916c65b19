"""The real flow in Debian's Chromium against a live uvicorn server on 127.0.0.1.

A rater enters a MADRS at V3 (with JavaScript off: the pages work without it) and sees its
score; a therapist records a dosing day and a blood pressure above threshold raises an alert
the investigator sees and acknowledges; the investigator edits a form with a reason and the
audit history shows the old and new values; a statistician downloads an export; a rater is
refused the identity page and the report. Screenshots of each page go to
``test-artifacts/web/``.
"""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.support.predose import ready_for_dose
from tests.support.trial import PASSWORD, trial_of, visit_date
from tests.support.waiting import CEILING_S
from tests.support.web import LiveServer

from remit import services as sv
from remit.web.forms import form_fields

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.dosing_day(confirmed=False)]


class Person:
    """One person's browser context, logged in."""

    def __init__(
        self, browser: Any, server: LiveServer, shots: Path, name: str, *, js: bool = True
    ) -> None:
        self.context = browser.new_context(
            java_script_enabled=js, accept_downloads=True, viewport={"width": 1200, "height": 900}
        )
        self.context.set_default_timeout(CEILING_S * 1000)  # a busy machine is slow, not broken
        self.page = self.context.new_page()
        self.server = server
        self.shots = shots
        self.page.goto(f"{server.url}/")  # redirected to the login page
        assert "/login" in self.page.url
        self.page.get_by_label("Username").fill(name)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(f"{server.url}/")

    def go(self, path: str) -> Any:
        return self.page.goto(f"{self.server.url}{path}")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


def pre_dose_checks_done(trial_db: Path) -> None:
    """The pre-dose checklist of V5 completed at 08:55 in Oslo (its screens, C-SSRS and normal
    pre-dose reading recorded before), through the services: the dosing pages have their own
    browser test (``test_browser_dosing``)."""
    engine = sv.open_database(str(trial_db))
    try:
        trial = trial_of(engine)
        done = ready_for_dose(
            engine, trial.protocol, trial.investigator, trial.therapist, "OSL-001", "V5",
            datetime(2026, 3, 2, 7, 55, tzinfo=UTC),
        )  # fmt: skip
        assert done.completed_at is not None, done
    finally:
        sv.close_database(engine)


def v4_day(trial_db: Path) -> date:
    """The day OSL-001's V4 took place (where its enrolment is confirmed)."""
    engine = sv.open_database(str(trial_db))
    try:
        trial = trial_of(engine)
        return visit_date(trial, "OSL-001", "V4")
    finally:
        sv.close_database(engine)


def test_the_trial_team_in_a_browser(
    browser: Any, live_server: LiveServer, artifacts: Path, trial_db: Path
) -> None:
    # --- login page, keyboard first -----------------------------------------------------
    context = browser.new_context()
    context.set_default_timeout(CEILING_S * 1000)
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.screenshot(path=str(artifacts / "01-login.png"))
    # the username field has the focus; Tab walks the form in reading order
    order = [page.evaluate("document.activeElement.id")]
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.type"))
    assert order == ["username", "password", "role", "submit"]
    context.close()

    # --- a rater enters the MADRS at V3, JavaScript off --------------------------------
    rater = Person(browser, live_server, artifacts, "rita", js=False)
    rater.shot("02-dashboard-rater")
    rater.page.get_by_role("link", name="Participants").click()
    rater.shot("03-participants")
    rater.page.get_by_role("link", name="OSL-001").click()
    rater.shot("04-casebook")
    rater.page.locator("#visit-V3").get_by_role("link", name="MADRS").click()
    fields = form_fields("madrs")
    for number, field in enumerate(fields, start=1):
        rater.page.get_by_label(f"{number}. {field.label}", exact=True).fill("3")
    rater.page.get_by_label(f"1. {fields[0].label}", exact=True).fill("9")
    rater.page.get_by_role("button", name="Save form").click()
    error = rater.page.locator("#f-apparent_sadness-error")
    assert "not allowed" in error.inner_text()
    rater.shot("05-form-error")
    rater.page.get_by_label(f"1. {fields[0].label}", exact=True).fill("4")
    rater.page.get_by_role("button", name="Save form").click()
    assert rater.page.locator("#score-total").inner_text().startswith("31")
    rater.shot("06-madrs-saved")

    # --- the rater is refused the identity page and the report ---------------------------
    refused = rater.go("/participants/OSL-001/identity")
    assert refused.status == 403
    assert "may not read the identity of OSL-001" in rater.page.inner_text("main")
    rater.shot("07-identity-refused")
    refused = rater.go("/report")
    assert refused.status == 403
    assert "may not view report" in rater.page.inner_text("main")
    rater.shot("08-report-refused")
    rater.context.close()

    # --- with the baseline MADRS of 31 the investigator confirms the enrolment at V4 ------
    investigator = Person(browser, live_server, artifacts, "kari")
    investigator.go("/participants/OSL-001/screening")
    investigator.page.get_by_label("Confirmed at (Europe/Oslo)").fill(f"{v4_day(trial_db)}T11:00")
    investigator.page.get_by_role("button", name="Confirm enrolment").click()
    assert "not confirmed" not in investigator.page.inner_text("main")
    investigator.shot("08b-enrolment-confirmed")
    investigator.context.close()

    # --- a therapist records a dosing day; a high blood pressure -----------------------
    therapist = Person(browser, live_server, artifacts, "tor")
    therapist.go("/participants/OSL-001/dosing/V5")
    therapist.page.get_by_label("Start time (Europe/Oslo)").fill("2026-03-02T08:00")
    therapist.page.get_by_role("button", name="Start session").click()
    pre_dose_checks_done(trial_db)
    therapist.go("/participants/OSL-001/dosing/V5")
    therapist.page.get_by_label("Dose time (Europe/Oslo)").fill("2026-03-02T09:00")
    therapist.page.get_by_label("Status", exact=True).select_option("given")  # never pre-set
    therapist.page.get_by_role("button", name="Record dose").click()
    assert "80 mg" in therapist.page.locator("#doses").inner_text()
    assert therapist.page.locator("#offer-window").is_visible()
    therapist.page.get_by_label("Measured (Europe/Oslo)").fill("2026-03-02T09:30")
    therapist.page.get_by_label("Systolic BP (mmHg)").fill("172")
    therapist.page.get_by_label("Diastolic BP (mmHg)").fill("94")
    therapist.page.get_by_label("Heart rate (/min)").fill("84")
    therapist.page.get_by_role("button", name="Record vital signs").click()
    flagged = therapist.page.locator("#vitals td.beyond")
    assert flagged.count() == 1
    assert "172" in flagged.inner_text()
    therapist.shot("09-dosing-day")
    therapist.context.close()

    # --- the investigator sees the alert and acknowledges it ---------------------------
    investigator = Person(browser, live_server, artifacts, "kari")
    investigator.shot("10-dashboard-investigator")
    investigator.page.get_by_role("link", name="Alerts").click()
    alert = investigator.page.locator("li.alert").first
    assert "systolic" in alert.inner_text().lower()
    investigator.shot("11-alerts")
    alert.get_by_label("What is being done").fill("physician at the bedside")
    alert.get_by_role("button", name="Acknowledge").click()
    assert "acknowledged" in investigator.page.locator("li.alert").first.inner_text()
    investigator.shot("12-alert-acknowledged")

    # --- the investigator enters and then edits a form with a reason --------------------
    investigator.go("/participants/OSL-001/visits/V3/forms/cssrs")
    for field in form_fields("cssrs", "since_last_visit"):
        if field.kind == "boolean":
            group = investigator.page.get_by_role("group", name=f"{field.ref}. {field.label}")
            group.get_by_label("No", exact=True).check()
    investigator.page.get_by_role("button", name="Save form").click()
    first = form_fields("cssrs", "since_last_visit")[0]
    group = investigator.page.get_by_role("group", name=f"{first.ref}. {first.label}")
    group.get_by_label("Yes", exact=True).check()
    investigator.page.get_by_label("Reason for the change").fill("participant corrected it")
    investigator.shot("13-form-edit")
    investigator.page.get_by_role("button", name="Save changes").click()
    investigator.page.get_by_role("link", name="Audit history").click()
    row = investigator.page.locator("tr", has_text=f"answers.{first.name}")
    assert row.locator("td.old").inner_text() == "false"
    assert row.locator("td.new").inner_text() == "true"
    assert "participant corrected it" in row.inner_text()
    investigator.shot("14-audit-history")
    investigator.context.close()

    # --- a statistician downloads an export ---------------------------------------------
    statistician = Person(browser, live_server, artifacts, "siri")
    statistician.page.get_by_role("link", name="Exports").click()
    statistician.page.get_by_role("button", name="Export").click()
    with statistician.page.expect_download() as download_info:
        statistician.page.locator("a[download]").first.click()
    download = download_info.value
    target = artifacts / "export.zip"
    download.save_as(str(target))
    with zipfile.ZipFile(target) as archive:
        assert any(name.endswith(".csv") for name in archive.namelist())
    statistician.shot("15-exports")
    statistician.context.close()
