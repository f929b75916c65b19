"""ePRO on a phone in Debian's Chromium (issue 14): a participant opens a link on a 390×844
viewport, completes GAD-7 and BDI-II with item 9 = 2 (which raises the same-day alert staff
see), and the link cannot be reused; in Norwegian and in English. Screenshots in
``test-artifacts/web/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.forms import fill
from tests.support.trial import ROLE_USER
from tests.support.waiting import CEILING_S
from tests.support.web import LiveServer

from remit import services as sv

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PID = "OSL-001"
PHONE = {"width": 390, "height": 844}
TEXT = {
    "nb": {"submit": "Send inn", "thanks": "Takk", "refused": "Denne lenken kan ikke brukes"},
    "en": {"submit": "Submit", "thanks": "Thank you", "refused": "This link cannot be used"},
}


def _issue(trial_db: Path, language: str) -> str:
    engine = sv.open_database(trial_db)
    try:
        therapist = sv.actor_for(engine, ROLE_USER["therapist"], "therapist", "OST")
        investigator = sv.actor_for(engine, ROLE_USER["investigator"], "investigator", "OST")
        sv.set_epro_preferences(engine, investigator, PID, language=language)
        issued = sv.issue_epro_link(engine, therapist, PID, "V3", scales=["gad7", "bdi2"])
        return issued.path
    finally:
        sv.close_database(engine)


def _alerts(trial_db: Path) -> set[str]:
    engine = sv.open_database(trial_db)
    try:
        investigator = sv.actor_for(engine, ROLE_USER["investigator"], "investigator", "OST")
        return {a.rule_id for a in sv.list_alerts(engine, investigator, participant=PID)}
    finally:
        sv.close_database(engine)


@pytest.mark.parametrize("language", ["nb", "en"])
def test_a_participant_completes_gad7_and_bdi2_on_a_phone(
    browser: Any, trial_db: Path, live_server: LiveServer, artifacts: Path, language: str
) -> None:
    path = _issue(trial_db, language)
    words = TEXT[language]
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(CEILING_S * 1000)  # a busy machine is slow, not broken
    page = context.new_page()
    page.goto(live_server.url + path)
    assert page.locator("html").get_attribute("lang") == language
    # phone-sized: nothing wider than the screen, answer options at least 44 px tall
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    first = page.locator("label.option").first.bounding_box()
    assert first is not None
    assert first["height"] >= 44

    answers = {
        "gad7": fill("gad7", level=1),
        "bdi2": {**fill("bdi2", level=0), "suicidal_thoughts": 2},
    }
    for scale, items in answers.items():
        for item, value in items.items():
            group = page.locator(f'fieldset[id="{scale}.{item}"]')
            # tap the answer's label, as a participant does
            group.locator(f'label.option:has(input[value="{value}"])').click()
    page.screenshot(path=str(artifacts / f"epro-phone-{language}-filled.png"), full_page=True)
    page.get_by_role("button", name=words["submit"]).click()
    page.wait_for_load_state()
    assert words["thanks"] in page.locator("h1").inner_text()
    assert page.locator("#help").is_visible()  # item 9 = 2: where to get help now
    page.screenshot(path=str(artifacts / f"epro-phone-{language}-done.png"), full_page=True)
    assert "bdi2_item9_2" in _alerts(trial_db)

    # the link cannot be reused
    response = page.goto(live_server.url + path)
    assert response is not None
    assert response.status == 410
    assert words["refused"] in page.locator("h1").inner_text()
    context.close()
