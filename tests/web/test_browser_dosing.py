"""The dosing-day hard stop in Debian's Chromium against a live server (issue 11, part 4).

On the dosing day the therapist records the pre-dose screens on the results page and completes
the pre-dose checklist before the initial dose; then a reading of 200/125 raises an immediate
alert: the page shows the banner, the supplemental window turns "blocked" with the reasons and
the dose status is not pre-selected; the therapist is told an investigator must override; the
investigator overrides with a reason, the supplement is recorded and the deviation listed. Each
step is one function so that the steps read as the issue's story. The alert e-mail reaches the
participant's site investigator at a local SMTP server (aiosmtpd on 127.0.0.1) and,
unacknowledged, escalates to the therapists and the monitor exactly when the protocol's 15
minutes have passed.
Screenshots go to ``test-artifacts/web/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.support.forms import fill
from tests.support.smtp import LocalSmtp, local_smtp
from tests.support.trial import ROLE_USER
from tests.support.web import LiveServer
from tests.web.test_browser import Person

from remit import services as sv

#: OSL-001's dosing day V5 is today: the pages judge the checklist and the windows now.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.dosing_day(datetime.now(UTC).date()),
]

DOSING = "/participants/OSL-001/dosing/V5"
#: The staff's e-mail addresses (the protocol's [safety.notify] names roles, not people).
ADDRESS = {
    "investigator": "kari@ost.example.no",
    "therapist": "tor@ost.example.no",
    "monitor": "mona@sponsor.example.no",
}


@pytest.fixture
def smtp() -> Iterator[LocalSmtp]:
    """A local SMTP server collecting what it receives."""
    with local_smtp() as server:
        yield server


def staff_have_e_mail_addresses(trial_db: Path) -> None:
    engine = sv.open_database(str(trial_db))
    try:
        admin = sv.actor_for(engine, ROLE_USER["admin"])
        for role, address in ADDRESS.items():
            sv.set_user_email(engine, admin, ROLE_USER[role], address)
    finally:
        sv.close_database(engine)


def _local(when: datetime) -> str:
    """``when`` as the site's clocks show it: the pages read times in Europe/Oslo."""
    return when.astimezone(ZoneInfo("Europe/Oslo")).strftime("%Y-%m-%dT%H:%M")


def _record_vitals(person: Person, when: datetime, values: dict[str, str]) -> None:
    person.page.get_by_label("Measured (Europe/Oslo)").fill(_local(when))
    for label, value in values.items():
        person.page.get_by_label(label).fill(value)
    person.page.get_by_role("button", name="Record vital signs").click()


def investigator_rates_the_pre_dose_cssrs(trial_db: Path) -> None:
    """The C-SSRS of the dosing visit, entered by the investigator (its rater)."""
    engine = sv.open_database(str(trial_db))
    try:
        investigator = sv.actor_for(engine, ROLE_USER["investigator"])
        sv.record_assessment(
            engine, investigator, "OSL-001", "V5", "cssrs", fill("cssrs", "since_last_visit"),
            version="since_last_visit",
        )  # fmt: skip
    finally:
        sv.close_database(engine)


def therapist_completes_the_pre_dose_checklist(person: Person, now: datetime) -> None:
    """The screens on the results page, then the checklist's boxes ticked on the dosing page."""
    person.go("/participants/OSL-001/results")
    for test in ("urine_drug_screen", "pregnancy_test"):
        person.page.get_by_label("Test").select_option(test)
        person.page.get_by_label("Visit").fill("V5")
        person.page.get_by_label("Result", exact=False).fill("negative")
        person.page.get_by_label("Collected at (Europe/Oslo)").fill(
            _local(now - timedelta(minutes=132))
        )
        person.page.get_by_role("button", name="Record result").click()
    assert person.page.locator("#results tbody tr").count() == 2
    person.go(DOSING)
    person.page.get_by_label("fasting since midnight", exact=False).check()
    person.page.get_by_label("an escort home", exact=False).check()
    person.page.get_by_label("Completed at (Europe/Oslo)").fill(
        _local(now - timedelta(minutes=125))
    )
    person.shot("19-pre-dose-checklist")
    person.page.get_by_role("button", name="Complete checklist").click()
    done = person.page.locator("#checklist").inner_text()
    assert "completed" in done
    assert "FAIL" not in done


def therapist_records_a_reading_of_200_over_125(person: Person, now: datetime) -> None:
    """Session started two hours ago, initial dose given, a normal reading ten minutes ago,
    then 200/125 five minutes ago."""
    person.go(DOSING)
    person.page.get_by_label("Start time (Europe/Oslo)").fill(_local(now - timedelta(minutes=135)))
    person.page.get_by_role("button", name="Start session").click()
    normal = {
        "Systolic BP (mmHg)": "124",
        "Diastolic BP (mmHg)": "80",
        "Heart rate (/min)": "72",
        "Temperature (°C)": "36.8",
    }
    _record_vitals(person, now - timedelta(minutes=130), normal)
    # the initial dose is refused until the pre-dose checklist is complete
    checklist = person.page.locator("#checklist").inner_text()
    assert "Pre-dose checklist" in checklist
    assert "not yet" in checklist
    therapist_completes_the_pre_dose_checklist(person, now)
    person.page.get_by_label("Dose time (Europe/Oslo)").fill(_local(now - timedelta(minutes=120)))
    status = person.page.get_by_label("Status", exact=True)
    assert status.input_value() == ""  # never pre-filled "given": the person chooses
    status.select_option("given")
    person.page.get_by_role("button", name="Record dose").click()
    # no reading in the last 30 minutes: the supplement is blocked until one is taken
    assert "blocked" in person.page.locator("#offer-window").inner_text().lower()
    _record_vitals(person, now - timedelta(minutes=10), normal)
    assert "open" in person.page.locator("#offer-window").inner_text()
    assert person.page.locator("#dose-stops").count() == 0
    _record_vitals(
        person,
        now - timedelta(minutes=5),
        {"Systolic BP (mmHg)": "200", "Diastolic BP (mmHg)": "125", "Heart rate (/min)": "96"},
    )


def the_page_shows_the_banner_and_the_blocked_window(person: Person) -> None:
    banner = person.page.get_by_role("alert").first
    assert "immediate" in banner.inner_text().lower()
    assert banner.get_by_role("link").get_attribute("href", timeout=1000).startswith("/alerts#")
    window = person.page.locator("#offer-window")
    assert "blocked" in window.get_attribute("class", timeout=1000).split()
    assert window.locator(".countdown").inner_text().lower() == "blocked"
    stops = person.page.locator("#dose-stops").inner_text()
    assert "is not closed" in stops
    assert "systolic BP 200 mmHg above the limit of 180" in stops
    assert "An investigator must override" in stops
    assert person.page.locator("#override_reason").count() == 0
    assert person.page.get_by_label("Status", exact=True).input_value() == ""


def investigator_overrides_with_a_reason(person: Person, now: datetime) -> None:
    person.go(DOSING)
    assert person.page.get_by_role("alert").count() >= 1
    person.page.get_by_label("Kind").select_option("supplemental")
    person.page.get_by_label("Dose (mg)").fill("40")
    person.page.get_by_label("Status", exact=True).select_option("given")
    person.page.get_by_label("Dose time (Europe/Oslo)").fill(_local(now))
    person.page.get_by_label("Override reason", exact=False).fill(
        "repeat BP 150/95 at the bedside, participant settled"
    )
    person.page.get_by_role("button", name="Record dose").click()
    doses = person.page.locator("#doses").inner_text()
    assert "supplemental" in doses
    assert "40 mg" in doses
    deviations = person.page.locator("#deviations").inner_text()
    assert "dose_stop_override (major)" in deviations
    assert "repeat BP 150/95" in deviations
    assert person.page.locator("#dose-stops").count() == 0


def the_alert_e_mail_arrives_and_escalates_on_time(trial_db: Path, smtp: LocalSmtp) -> None:
    """What `remit serve --smtp-url` (or `remit alerts deliver`) does on each pass, run here at
    chosen times: the site investigator is told at once; nobody acknowledges, so at 15 minutes
    (not a second before) the therapist and the monitor are told."""
    engine = sv.open_database(str(trial_db))
    try:
        sender = sv.sender_from_url(smtp.url, sender_address="remit@ost.example.no")
        investigator = sv.actor_for(engine, ROLE_USER["investigator"])
        (alert,) = (
            a
            for a in sv.list_alerts(engine, investigator, participant="OSL-001", status="open")
            if a.level == "immediate"
        )
        assert alert.rule_id == "vitals:systolic_bp:high:immediate"

        def mails(to: str) -> list[str]:
            return [
                m.body for m in smtp.messages if to in m.to and f"(alert {alert.id})" in m.subject
            ]

        sv.deliver_due(engine, sender, now=alert.raised_at + timedelta(seconds=1))
        (first,) = mails(ADDRESS["investigator"])
        assert "Participant: OSL-001" in first
        assert "Level: immediate" in first
        assert "systolic_bp 200 mmHg" in first
        assert mails(ADDRESS["therapist"]) == []
        sv.deliver_due(engine, sender, now=alert.raised_at + timedelta(minutes=14, seconds=59))
        assert mails(ADDRESS["therapist"]) == []
        assert mails(ADDRESS["monitor"]) == []
        sv.deliver_due(engine, sender, now=alert.raised_at + timedelta(minutes=15))
        for role in ("therapist", "monitor"):
            (escalated,) = mails(ADDRESS[role])
            assert "Escalation step 2 of 3: nobody has acknowledged the alert yet." in escalated
        assert len(mails(ADDRESS["investigator"])) == 1  # each step reaches each person once
    finally:
        sv.close_database(engine)


def test_dose_stop_in_a_browser(
    browser: Any, live_server: LiveServer, artifacts: Path, trial_db: Path, smtp: LocalSmtp
) -> None:
    staff_have_e_mail_addresses(trial_db)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    investigator_rates_the_pre_dose_cssrs(trial_db)
    therapist = Person(browser, live_server, artifacts, "tor")
    therapist_records_a_reading_of_200_over_125(therapist, now)
    the_page_shows_the_banner_and_the_blocked_window(therapist)
    therapist.shot("20-dose-stop-blocked")
    therapist.context.close()
    the_alert_e_mail_arrives_and_escalates_on_time(trial_db, smtp)

    investigator = Person(browser, live_server, artifacts, "kari")
    investigator_overrides_with_a_reason(investigator, now)
    investigator.shot("21-dose-stop-override")
    investigator.context.close()
