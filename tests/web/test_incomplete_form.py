"""A form saved with a required item blank: "Saved as incomplete", the message next to the
item's field (inside its fieldset, named by aria-describedby), ``complete``/``missing_required``
in the JSON API; filling the item in completes the form. In the test client and in Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.trial import PASSWORD
from tests.support.waiting import CEILING_S
from tests.support.web import LiveServer, csrf_of
from tests.web.test_pages import V3_AT

from remit.web.forms import form_fields

MADRS = "/participants/OSL-001/visits/V3/forms/madrs"
CSSRS = "/participants/OSL-001/visits/V3/forms/cssrs"


def _madrs_without_item_10(token: str) -> dict[str, str]:
    data = {
        "csrf_token": token,
        "assessed_at": V3_AT,
        **{f.name: "3" for f in form_fields("madrs")},
    }
    data["suicidal_thoughts"] = ""
    return data


def test_madrs_without_item_10_says_saved_as_incomplete_next_to_the_field(
    login_as: Callable[[str], TestClient],
) -> None:
    client = login_as("independent_rater")
    saved = client.post(MADRS, data=_madrs_without_item_10(csrf_of(client.get(MADRS).text)))
    assert saved.status_code == 200
    html = saved.text
    assert "Saved as incomplete: required item 10 is not answered" in html
    assert "Saved." not in html
    assert "Status: <strong>incomplete</strong>" in html
    # the message sits in item 10's field and the input points at it
    field = html.split('<label for="f-suicidal_thoughts">')[1].split('<div class="field')[0]
    assert 'id="f-suicidal_thoughts-missing"' in field
    assert "Required: item 10 is not answered" in field
    assert re.search(r'id="f-suicidal_thoughts"[^>]*aria-describedby="[^"]*'
                     r'f-suicidal_thoughts-missing', html)  # fmt: skip
    assert 'id="f-apparent_sadness-missing"' not in html
    assert re.search(r'id="safety-missing">[^<]*suicidal thoughts[^<]*could not be evaluated', html)
    # still editable (no reason needed); filling item 10 completes it
    action = re.search(r'action="(/assessments/\d+/edit)"', html)
    assert action
    version = re.search(r'name="expected_version" value="(\d+)"', html)
    assert version
    data = {"csrf_token": csrf_of(html), "expected_version": version.group(1)}
    data |= {f.name: "3" for f in form_fields("madrs")}
    done = client.post(action.group(1), data=data)
    assert done.status_code == 200
    assert "Status: <strong>complete</strong>" in done.text
    assert "Saved as complete." in done.text
    assert "-missing" not in done.text


def test_a_yes_no_item_left_blank_is_marked_inside_its_fieldset(
    login_as: Callable[[str], TestClient],
) -> None:
    client = login_as("investigator")
    data = {"csrf_token": csrf_of(client.get(CSSRS).text), "assessed_at": V3_AT}
    for f in form_fields("cssrs", "since_last_visit"):
        if f.kind == "boolean":
            data[f.name] = "no"
    data["actual_attempt"] = ""  # a safety item left "Not answered"
    saved = client.post(CSSRS, data=data)
    assert saved.status_code == 200
    assert "Saved as incomplete" in saved.text
    fieldset = saved.text.split('<fieldset aria-describedby="f-actual_attempt-allowed')[1]
    fieldset = fieldset.split("</fieldset>")[0]
    assert 'id="f-actual_attempt-missing"' in fieldset


def test_the_api_carries_complete_and_missing_required(
    api_as: Callable[[str], TestClient],
) -> None:
    body = {"participant_id": "OSL-001", "visit_code": "V3", "scale": "madrs",
            "answers": {str(i): 3 for i in range(1, 10)}}  # fmt: skip
    created = api_as("independent_rater").post("/api/v1/assessments", json=body)
    assert created.status_code == 201, created.text
    form = created.json()
    assert form["status"] == "incomplete"
    assert form["complete"] is False
    assert form["missing_required"] == ["10"]
    assert form["score"]["missing_required"] == ["10"]
    assert any(r[0] == "madrs_item10" for r in form["not_evaluated"])


@pytest.mark.browser
@pytest.mark.slow
def test_the_missing_item_is_shown_next_to_its_field_in_a_browser(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(CEILING_S * 1000)
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}{MADRS}")
    for f in form_fields("madrs"):
        if f.name != "suicidal_thoughts":
            page.locator(f"#f-{f.name}").fill("3")
    page.get_by_role("button", name="Save form").click()
    page.wait_for_selector("#saved-message")
    assert "Saved as incomplete" in page.locator("#saved-message").inner_text()
    missing = page.locator("#f-suicidal_thoughts-missing")
    assert missing.is_visible()
    assert "item 10" in missing.inner_text()
    described = page.locator("#f-suicidal_thoughts").get_attribute("aria-describedby") or ""
    assert "f-suicidal_thoughts-missing" in described.split()
    page.screenshot(path=str(artifacts / "incomplete-madrs.png"), full_page=True)
    context.close()
