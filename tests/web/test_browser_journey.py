"""Issue 12's Done-when: two participants walked entirely through the web app, in Debian's
Chromium against a live server on a fresh Oslo trial (staff only, nobody registered yet).

The first is referred about nine months ago and walked as the site team would: the
investigator registers (with the confirmation step), records the referral, the consent, the
phone screen, the screening visit with its C-SSRS, decides eligibility from the form and the
checklist and enrols at V0; the sertraline the person takes is recorded with a taper plan and
stopped so that its washout ends before V5; every visit is dated and every scale entered at its
visit by the role that rates it (MADRS by the independent rater, self-reports by the therapist,
C-SSRS by the investigator) with clinical times in Europe/Oslo; enrolment is confirmed at V4;
both dosing days are run (results, pre-dose checklist, initial dose, readings, supplemental
dose, discharge); the walk goes on to FU7, where the investigator signs a form on the
e-signature page. The second fails screening on the C-SSRS (ideation type 5): eligibility says
ineligible, enrolment is not offered, and the screen failure is recorded with a coded reason.
Every visit is dated on its target day, so no date falls outside a window.

A screenshot of each step goes to ``test-artifacts/web/journey-*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from tests.support.forms import fill
from tests.support.trial import ROLE_USER, trial_file
from tests.support.web import LiveServer
from tests.web.test_browser import Person

from remit import services as sv
from remit.protocol import compute_schedule, load_protocol
from remit.web import WebSettings, create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OSLO = ZoneInfo("Europe/Oslo")
#: Days from the referral back to today: FU7 (262 days after the referral when every visit
#: is on its target day) then lies in the past, inside its window.
REFERRAL_DAYS_AGO = 275
#: The self-report forms of the rating visits (V3, V13, FU7), entered by the therapist.
SELF_REPORTS = ("sds", "gad7", "isi", "psqi", "pcl5", "bdi2")
#: The checklist answers of the eligibility form (values no form holds).
CHECKLIST = {
    "age_years": "45",
    "mdd_dsm5": "yes",
    "episode_weeks": "30",
    "psychosis": "no",
    "bipolar_i": "no",
    "personality_disorder": "no",
    "substance_use_disorder": "no",
    "cardiovascular_disease": "no",
    "lives_within_1h": "yes",
    "systolic_bp": "128",
}
#: A normal reading on the dosing page (its labels).
NORMAL = {
    "Systolic BP (mmHg)": "124",
    "Diastolic BP (mmHg)": "80",
    "Heart rate (/min)": "72",
    "Temperature (°C)": "36.8",
}
#: Sets the answers of a generated form page by field name (radios, selects, inputs).
FILL_JS = """(answers) => {
  for (const [name, value] of Object.entries(answers)) {
    const fields = document.getElementsByName(name);
    if (!fields.length) throw new Error('no field named ' + name);
    if (fields[0].type === 'radio') {
      for (const f of fields) f.checked = f.value === value;
    } else {
      fields[0].value = value;
    }
  }
}"""


@pytest.fixture
def journey_db(tmp_path: Path) -> Path:
    """A fresh Oslo trial: the admin and one user per staff role, no participant."""
    path = tmp_path / "journey.db"
    trial_file(path, participants=())
    return path


@pytest.fixture
def journey_server(journey_db: Path, tmp_path: Path) -> Iterator[LiveServer]:
    app: FastAPI = create_app(
        str(journey_db), secret_key="test-secret", settings=WebSettings(work_dir=tmp_path / "w")
    )
    with LiveServer(app) as server:
        yield server


def oslo(day: date, hour: int, minute: int = 0) -> str:
    """A wall-clock time at the site, as a datetime-local field takes it."""
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}"


def as_utc(text: str) -> datetime:
    """An Oslo wall-clock time (``oslo()``) as the UTC instant it is."""
    return datetime.fromisoformat(text).replace(tzinfo=OSLO).astimezone(UTC)


def target_days(referral: date) -> dict[str, date]:
    """The day of every visit when each takes place on its target day."""
    protocol = load_protocol("oslo-mdma-mdd")
    days: dict[str, date] = {}
    for code in protocol.visit_codes:
        row = compute_schedule(protocol, {"referral": referral}, days).visit(code)
        assert row.target_date is not None, row.note
        days[code] = row.target_date
    return days


class Walk:
    """The people of the walk (each a logged-in browser), the participant walked, the visit
    dates and the screenshots taken."""

    def __init__(self, browser: Any, server: LiveServer, shots: Path) -> None:
        self.people = {
            role: Person(browser, server, shots, ROLE_USER[role])
            for role in ("investigator", "therapist", "independent_rater")
        }
        self.pid = ""
        self.shots: list[str] = []
        for old in shots.glob("journey-*.png"):  # a shorter earlier walk leaves none behind
            old.unlink()
        self.number = 0

    def __getitem__(self, role: str) -> Person:
        return self.people[role]

    def shot(self, role: str, step: str) -> None:
        self.number += 1
        name = f"journey-{self.number:02d}-{step}"
        self.people[role].shot(name)
        self.shots.append(name)

    def text(self, role: str, selector: str = "main") -> str:
        return str(self.people[role].page.inner_text(selector))

    def close(self) -> None:
        for person in self.people.values():
            person.context.close()


# --- steps ------------------------------------------------------------------------------------


def register(walk: Walk, name: str, step: str) -> str:
    """The investigator registers a man born 1980: the first POST only shows what will be
    created; the confirmation creates the study ID. Returns it."""
    inv = walk["investigator"]
    inv.go("/participants")
    inv.page.get_by_label("Sex").select_option("male")
    inv.page.get_by_label("Birth year").fill("1980")
    inv.page.get_by_label("Name").fill(name)
    inv.page.get_by_role("button", name="Register…").click()
    assert "Nothing has been created yet" in walk.text("investigator")
    walk.shot("investigator", f"{step}-register-confirm")
    inv.page.get_by_role("button", name="Confirm: create the study ID").click()
    inv.page.wait_for_url("**/participants/OSL-*")
    pid = inv.page.url.rsplit("/", 1)[1]
    assert "screening" in walk.text("investigator").lower()
    walk.pid = pid
    return pid


def refer_consent_phone(walk: Walk, referral: date, phone: date, step: str) -> None:
    inv = walk["investigator"]
    screening = f"/participants/{walk.pid}/screening"
    inv.go(screening)
    inv.page.get_by_label("Referral received on").fill(referral.isoformat())
    inv.page.get_by_label("Source").fill("GP referral")
    inv.page.get_by_role("button", name="Record referral").click()
    assert "Referral: GP referral" in walk.text("investigator", "#screening-steps")
    walk.shot("investigator", f"{step}-referral")

    inv.go(f"/participants/{walk.pid}/consent")
    inv.page.get_by_label("future_contact").check()
    inv.page.get_by_label("Signed at (Europe/Oslo)").fill(oslo(referral + timedelta(days=2), 14))
    inv.page.get_by_role("button", name="Record consent").click()
    verdict = walk.text("investigator", "#consent-verdict")
    assert "Study procedures may be recorded" in verdict, verdict
    walk.shot("investigator", f"{step}-consent")

    inv.go(screening)
    inv.page.get_by_label("Pass").check()
    inv.page.get_by_label("Phoned at (Europe/Oslo)").fill(oslo(phone, 10))
    inv.page.get_by_role("button", name="Record phone screen").click()
    # entered and shown in the site's time zone
    phoned = f"Phone screen: pass, {phone.isoformat()} 10:00 (Europe/Oslo)"
    assert phoned in walk.text("investigator", "#screening-steps")
    walk.shot("investigator", f"{step}-phone-screen")


def visit_on(walk: Walk, role: str, visit: str, day: date) -> None:
    """Date a visit in the casebook (on its target day: inside its window)."""
    person = walk[role]
    person.go(f"/participants/{walk.pid}")
    row = person.page.locator(f"#visit-{visit}")
    row.get_by_label("Visit date").fill(day.isoformat())
    row.get_by_role("button", name="Record date").click()
    took = walk.text(role, f"#visit-{visit}")
    assert "Took place" in took, took


def answers_of(values: Mapping[str, object]) -> dict[str, str]:
    """Answers as a form page's fields take them."""
    shown: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            shown[name] = "yes" if value else "no"
        elif isinstance(value, float):
            shown[name] = f"{value:g}"
        else:
            shown[name] = str(value)
    return shown


def enter_form(
    walk: Walk,
    role: str,
    visit: str,
    scale: str,
    answers: Mapping[str, object],
    assessed: str,
) -> str:
    """Open the form from the visit's page, fill it, set the clinical time (Oslo), save it;
    return the score text shown."""
    person = walk[role]
    person.go(f"/participants/{walk.pid}/visits/{visit}/forms/{scale}")
    person.page.evaluate(FILL_JS, answers_of(answers))
    person.page.get_by_label("Assessed at (Europe/Oslo)").fill(assessed)
    person.page.get_by_role("button", name="Save form").click()
    if "/assessments/" not in person.page.url:
        raise AssertionError(f"{scale} at {visit} refused: {walk.text(role)}")
    assert "Status: complete" in walk.text(role, "section.score"), walk.text(role)
    assert f"assessed {assessed.replace('T', ' ')}" in walk.text(role, "section.score")
    return walk.text(role, "#score-total")


def cssrs(walk: Walk, visit: str, day: date, version: str = "since_last_visit") -> None:
    enter_form(walk, "investigator", visit, "cssrs", fill("cssrs", version), oslo(day, 9, 15))


def rating_visit(walk: Walk, visit: str, day: date, madrs_each: int, step: str) -> None:
    """MADRS by the independent rater, the self-reports by the therapist, the C-SSRS."""
    answers = fill("madrs", None, madrs_each)
    total = enter_form(walk, "independent_rater", visit, "madrs", answers, oslo(day, 10))
    assert total.startswith(f"{sum(int(str(a)) for a in answers.values())} "), total
    walk.shot("independent_rater", f"{step}-madrs")
    for scale in SELF_REPORTS:
        enter_form(walk, "therapist", visit, scale, fill(scale, None, 1), oslo(day, 11))
    walk.shot("therapist", f"{step}-self-reports")
    cssrs(walk, visit, day)


def screening_visit(walk: Walk, day: date, answers: Mapping[str, object], step: str) -> None:
    visit_on(walk, "investigator", "SCR", day)
    enter_form(walk, "investigator", "SCR", "cssrs", answers, oslo(day, 9, 30))
    walk.shot("investigator", f"{step}-screening-cssrs")
    inv = walk["investigator"]
    inv.go(f"/participants/{walk.pid}/screening")
    for item, value in CHECKLIST.items():
        field = inv.page.locator(f"#item-{item}")
        if value in ("yes", "no"):
            field.select_option(value)
        else:
            field.fill(value)
    inv.page.get_by_role("button", name="Decide eligibility").click()


def conmed_taper(walk: Walk, v0: date) -> None:
    """Sertraline (an SSRI, washout 14 days) tapered over two weeks from V0 and stopped."""
    the = walk["therapist"]
    the.go(f"/participants/{walk.pid}/conmeds")
    stop = v0 + timedelta(days=15)
    the.page.get_by_label("Name").fill("sertraline")
    the.page.get_by_label("ATC code").fill("N06AB06")
    the.page.get_by_label("Dose", exact=True).fill("100 mg daily")
    the.page.get_by_label("Route").fill("oral")
    the.page.get_by_label("Indication").fill("depression")
    the.page.get_by_label("Start date").fill("2024-03-01")
    half, quarter = v0 + timedelta(days=1), v0 + timedelta(days=8)
    the.page.get_by_label("Taper plan").fill(
        f"{half.isoformat()} 50 mg\n{quarter.isoformat()} 25 mg"
    )
    the.page.get_by_role("button", name="Record medication").click()
    row = the.page.locator("#conmeds tbody tr").first
    assert "prohibited: SSRIs" in row.inner_text()
    assert "no dose while ongoing" in row.inner_text()
    walk.shot("therapist", "p1-conmed-taper")
    row.get_by_label("Stopped on").fill(stop.isoformat())
    row.get_by_role("button", name="Stop").click()
    text = the.page.locator("#conmeds tbody tr").first.inner_text()
    assert f"earliest dose {(stop + timedelta(days=14)).isoformat()}" in text, text
    walk.shot("therapist", "p1-conmed-stopped")


def vitals(person: Person, measured: str, values: Mapping[str, str] = NORMAL) -> None:
    person.page.get_by_label("Measured (Europe/Oslo)").fill(measured)
    for label, value in values.items():
        person.page.get_by_label(label).fill(value)
    person.page.get_by_role("button", name="Record vital signs").click()


def vas(person: Person, timepoint: str, rated: str) -> None:
    """The participant's subjective-effects ratings at a timepoint of the session."""
    person.page.get_by_label("Timepoint").select_option(timepoint)
    person.page.get_by_label("Rated (Europe/Oslo)").fill(rated)
    person.page.evaluate(FILL_JS, answers_of(fill("se_vas", level=10)))
    person.page.locator("#vas").get_by_role("button", name="Record ratings").click()


def dose(person: Person, kind: str, given: str) -> None:
    person.page.get_by_label("Kind").select_option(kind)
    person.page.get_by_label("Status", exact=True).select_option("given")
    person.page.get_by_label("Dose time (Europe/Oslo)").fill(given)
    person.page.get_by_role("button", name="Record dose").click()


def dosing_day(walk: Walk, visit: str, day: date, step: str) -> None:
    """The therapist runs the day, the investigator rates the pre-dose C-SSRS and signs off
    the discharge; every time is an Oslo wall-clock time on the visit's day."""
    page = f"/participants/{walk.pid}/dosing/{visit}"
    visit_on(walk, "therapist", visit, day)
    enter_form(
        walk, "investigator", visit, "cssrs", fill("cssrs", "since_last_visit"), oslo(day, 7, 45)
    )
    the = walk["therapist"]
    the.go(f"/participants/{walk.pid}/results")
    the.page.get_by_label("Test").select_option("urine_drug_screen")
    the.page.get_by_label("Visit").fill(visit)
    the.page.get_by_label("Result", exact=False).fill("negative")
    the.page.get_by_label("Collected at (Europe/Oslo)").fill(oslo(day, 7, 30))
    the.page.get_by_role("button", name="Record result").click()
    assert "negative" in walk.text("therapist", "#results")
    walk.shot("therapist", f"{step}-results")

    the.go(page)
    the.page.get_by_label("Start time (Europe/Oslo)").fill(oslo(day, 8))
    the.page.get_by_role("button", name="Start session").click()
    vitals(the, oslo(day, 8, 30))
    checklist = walk.text("therapist", "#checklist")
    assert "not yet" in checklist  # the confirmations are not ticked yet
    # the initial dose is refused while the checklist is not completed
    dose(the, "initial", oslo(day, 9))
    refusal = walk.text("therapist")
    assert "checklist" in refusal.lower(), refusal
    walk.shot("therapist", f"{step}-dose-refused-checklist")
    the.go(page)
    assert "No dose recorded yet" in walk.text("therapist", "#doses")
    the.go(page)
    the.page.get_by_label("fasting since midnight", exact=False).check()
    the.page.get_by_label("an escort home", exact=False).check()
    the.page.get_by_label("Completed at (Europe/Oslo)").fill(oslo(day, 8, 50))
    the.page.get_by_role("button", name="Complete checklist").click()
    done = walk.text("therapist", "#checklist")
    assert f"completed {day.isoformat()} 08:50 (Europe/Oslo) by tor" in done, done
    assert "FAIL" not in done
    # (the rows show the items judged now, months after this day: the completion and the
    # dose below are judged at their own times)
    walk.shot("therapist", f"{step}-checklist-complete")
    planned = load_protocol("oslo-mdma-mdd").dosing_session(visit)
    assert planned is not None
    dose(the, "initial", oslo(day, 9))
    assert f"initial\t{planned.initial_mg:g} mg\tgiven" in walk.text("therapist", "#doses")
    vas(the, "initial_dose", oslo(day, 9, 5))
    for minutes in (30, 60, 90, 120):
        at = datetime.fromisoformat(oslo(day, 9)) + timedelta(minutes=minutes)
        vitals(the, at.strftime("%Y-%m-%dT%H:%M"))
    vas(the, "before_supplemental", oslo(day, 10, 58))
    dose(the, "supplemental", oslo(day, 11, 1))
    vas(the, "end_of_session", oslo(day, 16, 45))
    rated = walk.text("therapist", "#vas")
    for timepoint in planned.vas_timepoints:
        assert f"{timepoint.replace('_', ' ')}: " in rated, rated
    doses = walk.text("therapist", "#doses")
    assert f"supplemental\t{planned.supplemental_mg:g} mg\tgiven" in doses, doses
    vitals(the, oslo(day, 16, 50))
    walk.shot("therapist", f"{step}-doses-and-readings")

    inv = walk["investigator"]
    inv.go(page)
    inv.page.get_by_label("Signed off (Europe/Oslo)").fill(oslo(day, 16, 55))
    inv.page.get_by_role("button", name="Sign off discharge").click()
    assert "Discharge signed off" in walk.text("investigator", "#discharge")
    the.go(page)
    the.page.get_by_label("End time (Europe/Oslo)").fill(oslo(day, 17))
    the.page.get_by_role("button", name="End session").click()
    session = walk.text("therapist", "section[aria-labelledby=session-h]")
    assert "ended" in session.lower(), session
    walk.shot("therapist", f"{step}-session-ended")


# --- the walk ---------------------------------------------------------------------------------


def walk_the_completer(walk: Walk, today: date) -> dict[str, date]:
    """Participant 1, referral to FU7 and a signature. Returns the visit dates."""
    referral = today - timedelta(days=REFERRAL_DAYS_AGO)
    days = target_days(referral)
    assert days["FU7"] < today

    register(walk, "Ola Nordmann", "p1")
    refer_consent_phone(walk, referral, days["PHONE"], "p1")
    screening_visit(walk, days["SCR"], fill("cssrs", "baseline"), "p1")
    status = walk.text("investigator", "#screening-status")
    assert "Eligible" in status or "eligible" in status, status
    assert "all" in walk.text("investigator", "#eligibility-enrolment")
    walk.shot("investigator", "p1-eligible")

    inv = walk["investigator"]
    inv.page.get_by_label("Enrolled at (Europe/Oslo)").fill(oslo(days["V0"], 11))
    inv.page.get_by_role("button", name="Enrol").click()
    steps = walk.text("investigator", "#screening-steps")
    assert f"Enrolled: {days['V0'].isoformat()} 11:00 (Europe/Oslo) by kari" in steps, steps
    walk.shot("investigator", "p1-enrolled-v0")
    cssrs(walk, "V0", days["V0"])
    walk.shot("investigator", "p1-v0-cssrs")
    conmed_taper(walk, days["V0"])

    for visit in ("V1", "V2"):
        visit_on(walk, "therapist", visit, days[visit])
    walk.shot("therapist", "p1-v1-v2-preparatory-sessions")
    visit_on(walk, "independent_rater", "V3", days["V3"])
    rating_visit(walk, "V3", days["V3"], 3, "p1-v3")

    # V4: the enrolment is confirmed (the MADRS at V3 is 28, at least 20)
    inv.go(f"/participants/{walk.pid}/screening")
    inv.page.get_by_label("Confirmed at (Europe/Oslo)").fill(oslo(days["V4"], 11))
    inv.page.get_by_role("button", name="Confirm enrolment").click()
    confirmed = walk.text("investigator", "#screening-steps")
    assert f"V4: {days['V4'].isoformat()} 11:00 (Europe/Oslo) by kari" in confirmed, confirmed
    walk.shot("investigator", "p1-confirmed-v4")
    cssrs(walk, "V4", days["V4"])
    walk.shot("investigator", "p1-v4-cssrs")

    dosing_day(walk, "V5", days["V5"], "p1-v5")
    for visit in ("V6", "V7", "V8"):
        visit_on(walk, "investigator", visit, days[visit])
        cssrs(walk, visit, days[visit])
        walk.shot("investigator", f"p1-{visit.lower()}-cssrs")
    dosing_day(walk, "V9", days["V9"], "p1-v9")
    for visit in ("V10", "V11", "V12"):
        visit_on(walk, "investigator", visit, days[visit])
        cssrs(walk, visit, days[visit])
        walk.shot("investigator", f"p1-{visit.lower()}-cssrs")
    visit_on(walk, "independent_rater", "V13", days["V13"])
    rating_visit(walk, "V13", days["V13"], 1, "p1-v13")
    visit_on(walk, "investigator", "V14", days["V14"])
    cssrs(walk, "V14", days["V14"])
    walk.shot("investigator", "p1-v14-cssrs")
    visit_on(walk, "independent_rater", "FU7", days["FU7"])
    rating_visit(walk, "FU7", days["FU7"], 1, "p1-fu7")

    inv.go(f"/participants/{walk.pid}")
    casebook = walk.text("investigator")
    assert "not entered" not in casebook, casebook
    walk.shot("investigator", "p1-casebook-complete")
    # the last visit done: the investigator closes the participant's study course
    inv.page.get_by_label("Change status to").select_option("completed")
    inv.page.get_by_role("button", name="Change status").click()
    assert "status completed" in walk.text("investigator")
    assert inv.page.locator("#status-form").count() == 0  # completed is final
    walk.shot("investigator", "p1-completed")
    sign_fu7_madrs(walk)
    return days


def sign_fu7_madrs(walk: Walk) -> None:
    """The investigator signs the rater's FU7 MADRS, seeing what is signed."""
    inv = walk["investigator"]
    inv.go(f"/participants/{walk.pid}/visits/FU7/forms/madrs")  # redirected to the stored form
    inv.page.get_by_role("link", name="Sign").click()
    assert walk.text("investigator", "#signed-participant") == walk.pid
    assert walk.text("investigator", "#signed-visit") == "FU7"
    meanings = inv.page.locator("#meaning option").all_inner_texts()
    assert "author" not in meanings, meanings
    inv.page.get_by_label("Meaning").select_option(meanings[0])
    inv.page.get_by_label("Your password (again)").fill("correct horse battery staple")
    walk.shot("investigator", "p1-sign-fu7-madrs")
    inv.page.get_by_role("button", name="Sign").click()
    inv.page.wait_for_url("**/assessments/*")
    inv.page.get_by_role("link", name="Sign").click()
    assert "valid" in walk.text("investigator")
    walk.shot("investigator", "p1-signed")


def walk_the_screen_failure(walk: Walk, today: date) -> None:
    """Participant 2: referred six weeks ago; the screening C-SSRS shows active ideation with
    a plan and intent (type 5) in the recent window: ineligible, never enrolled."""
    referral = today - timedelta(days=42)
    days = target_days(referral)
    phone, scr = days["PHONE"], days["SCR"]
    register(walk, "Kari Nordmann", "p2")
    refer_consent_phone(walk, referral, phone, "p2")
    answers = dict(fill("cssrs", "baseline"))
    for item in (
        "wish_to_be_dead",
        "non_specific_active_thoughts",
        "active_ideation_methods",
        "active_ideation_intent",
        "active_ideation_plan_intent",
    ):
        answers[item] = True
    for item in ("frequency", "duration", "controllability", "deterrents", "reasons"):
        answers[f"intensity_{item}"] = 3
    screening_visit(walk, scr, answers, "p2")
    row = walk.text("investigator", "#criterion-suicide_risk")
    assert "unmet" in row, row
    status = walk.text("investigator", "#screening-status")
    # the unmet criterion is the coded screen-failure reason
    assert "Status: ineligible — not eligible: fails suicide_risk" in status, status
    assert "cssrs_ideation_type is 5" in status
    assert "suicide_risk unmet" in walk.text("investigator", "#eligibility-enrolment")
    inv = walk["investigator"]
    assert inv.page.locator("#enrol-form").count() == 0  # enrolment is not offered
    walk.shot("investigator", "p2-ineligible")


def test_two_participants_walk_the_web_app(
    browser: Any, journey_server: LiveServer, journey_db: Path, artifacts: Path
) -> None:
    today = datetime.now(UTC).astimezone(OSLO).date()
    walk = Walk(browser, journey_server, artifacts)
    try:
        days = walk_the_completer(walk, today)
        completer = walk.pid
        walk_the_screen_failure(walk, today)
        failed = walk.pid
    finally:
        walk.close()
    print("\n".join(walk.shots))

    engine = sv.open_database(str(journey_db))
    try:
        inv = sv.actor_for(engine, ROLE_USER["investigator"])
        protocol = load_protocol("oslo-mdma-mdd")
        one = sv.get_participant(engine, inv, completer)
        assert one.enrolled_at is not None
        assert one.enrolment_confirmed_at is not None
        assert one.status == "completed"
        forms = {(a.visit_code, a.scale) for a in sv.list_assessments(engine, inv, completer)}
        planned = {
            (v.code, f.scale)
            for v in protocol.visits
            for f in v.assessments
            if f.timing != "during_session"
        }
        assert planned <= forms, sorted(planned - forms)
        # clinical times were entered in Oslo and are stored as the UTC instants they are
        madrs_fu7 = next(
            a
            for a in sv.list_assessments(engine, inv, completer, visit_code="FU7")
            if a.scale == "madrs"
        )
        assert madrs_fu7.assessed_at == as_utc(oslo(days["FU7"], 10))
        ((signature, holds),) = sv.signatures_of(engine, inv, "assessment", madrs_fu7.id)
        assert holds
        assert signature.meaning != "author"
        vas_forms = [a for a in sv.list_assessments(engine, inv, completer) if a.scale == "se_vas"]
        assert len(vas_forms) == 6  # three timepoints on each dosing day
        visits = sv.list_visits(engine, inv, completer)
        assert all(v.actual_date is not None for v in visits), [
            v.visit_code for v in visits if v.actual_date is None
        ]
        assert all(v.window_status == "in_window" for v in visits)
        two = sv.get_participant(engine, inv, failed)
        assert two.enrolled_at is None
        assert two.status == "ineligible"
        assert two.screen_failure_code == "suicide_risk"
    finally:
        sv.close_database(engine)
