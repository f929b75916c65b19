"""The dosing-day page through the test client: the alert banner, the blocked supplement
window, the dose status never pre-selected, the investigator's override recorded as a
deviation, the discharge checklist and sign-off, the next-day call (issue 11, parts 4 and 8)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from tests.support.predose import ready_over_api
from tests.support.web import csrf_of

DOSING = "/participants/OSL-001/dosing/V5"
NORMAL = {"systolic_bp": "124", "diastolic_bp": "80", "heart_rate": "72", "temperature": "36.8"}


def _post(client: TestClient, step: str, token: str, **data: str) -> str:
    response = client.post(f"{DOSING}/{step}", data={"csrf_token": token, **data})
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.dosing_day
def test_dose_stop_banner_override_and_discharge(
    login_as: Callable[[str], TestClient], api_as: Callable[[str], TestClient]
) -> None:
    therapist = login_as("therapist")
    token = csrf_of(therapist.get(DOSING).text)
    _post(therapist, "start", token, started_at="2026-03-02T08:00")
    _post(therapist, "vitals", token, measured_at="2026-03-02T08:45", **NORMAL)
    # the pre-dose checklist on the page: refused (naming the items) until the data are in
    refused = therapist.post(
        f"{DOSING}/dose",
        data={"csrf_token": token, "kind": "initial", "dose_mg": "80", "status": "given",
              "at": "2026-03-02T09:00"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "pre-dose checklist of session 1 has not been completed" in refused.text
    ready_over_api(api_as("investigator"), therapist_api := api_as("therapist"), "OSL-001", "V5",
                   "2026-03-02T08:55:00+01:00", complete=False)  # fmt: skip
    assert therapist_api  # the page itself completes the checklist below
    page = therapist.get(DOSING).text
    assert 'id="checklist"' in page
    assert "Complete checklist" in page
    # the page judges the items now (months after this test's dosing day): rows are there
    assert 'id="item-urine_drug_screen"' in page
    assert re.search(r'id="item-fasting" class="item-not_yet"', page)
    half = therapist.post(
        f"{DOSING}/checklist",
        data={"csrf_token": token, "completed_at": "2026-03-02T08:55", "confirm_fasting": "yes"},
    )
    assert half.status_code == 422
    assert "escort_home (not_yet): not confirmed" in half.text
    _post(therapist, "checklist", token, completed_at="2026-03-02T08:55",
          confirm_fasting="yes", confirm_escort_home="yes")  # fmt: skip
    _post(therapist, "dose", token, kind="initial", dose_mg="80", status="given",
          at="2026-03-02T09:00")  # fmt: skip
    page = _post(
        therapist, "vitals", token, measured_at="2026-03-02T10:55",
        systolic_bp="200", diastolic_bp="125", heart_rate="88", temperature="37.1",
    )  # fmt: skip
    # the banner names each open alert of the session, with a link to it
    banners = re.findall(r'<div class="banner alert (\w+)" role="alert"[^>]*>(.*?)</div>', page)
    assert banners
    assert banners[0][0] == "immediate"
    assert re.search(r'href="/alerts#alert-\d+"', banners[0][1])
    # the window is blocked with the reasons, and only an investigator may override
    assert re.search(r'class="offer blocked"', page)
    assert '<strong class="countdown" aria-live="polite">blocked</strong>' in page
    stops = re.search(r'<div class="blocked" id="dose-stops">(.*?)</div>', page, re.S)
    assert stops
    assert "is not closed" in stops[1]
    assert "An investigator must override" in stops[1]
    assert 'id="override_reason"' not in page
    # the dose status starts unselected
    status = re.search(r'<select id="dose-status"[^>]*>(.*?)</select>', page, re.S)
    assert status
    assert '<option value="" selected>— choose —</option>' in status[1]
    assert status[1].count("selected") == 1
    refused = therapist.post(
        f"{DOSING}/dose",
        data={"csrf_token": token, "kind": "supplemental", "dose_mg": "40", "status": "given",
              "at": "2026-03-02T11:00"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "dose refused" in refused.text
    assert "dose stop" in refused.text

    investigator = login_as("investigator")
    page = investigator.get(DOSING).text
    assert "required to give the blocked supplemental dose" in page
    assert "To give it anyway" in page
    itoken = csrf_of(page)
    page = _post(
        investigator, "dose", itoken, kind="supplemental", dose_mg="40", status="given",
        at="2026-03-02T11:00", override_reason="repeat BP 150/95, participant settled",
    )  # fmt: skip
    deviations = re.search(r'<ul id="deviations">(.*?)</ul>', page, re.S)
    assert deviations
    assert "<strong>dose_stop_override</strong> (major)" in deviations[1]
    assert "repeat BP 150/95" in deviations[1]
    assert 'id="dose-stops"' not in page  # the supplement is decided: nothing left to block
    # not blocked any more, but the window still says alerts of the session are not closed
    assert re.search(r'class="offer [\w-]+ caution"', page)
    assert re.search(r"\d+ alerts? of the session not closed", page)

    # discharge: the session ends only when every criterion is met
    checklist = re.findall(r'<li class="(met|unmet)" data-criterion="(\w+)">', page)
    assert ("unmet", "investigator_sign_off") in checklist
    ended = therapist.post(
        f"{DOSING}/end", data={"csrf_token": token, "ended_at": "2026-03-02T17:00"}
    )
    assert ended.status_code == 422
    assert "not signed off yet" in ended.text
    _post(therapist, "vitals", token, measured_at="2026-03-02T16:45", **NORMAL)
    page = _post(investigator, "sign-off", itoken, signed_at="2026-03-02T16:50", note="settled")
    assert "Discharge signed off" in page
    page = _post(therapist, "end", token, ended_at="2026-03-02T17:00")
    call = re.search(r'<section aria-labelledby="call-h" id="follow-up-call">(.*?)</section>',
                     page, re.S)  # fmt: skip
    assert call
    assert "Due 2026-03-03" in call[1]
    assert "<strong>scheduled</strong>" in call[1]
    dashboard = therapist.get("/").text
    calls = re.search(r'<h2 id="calls-h">.*?</section>', dashboard, re.S)
    assert calls
    assert "dosing/V5#follow-up-call" in calls[0]
    assert 'class="late"' in calls[0]  # due 2026-03-03: long past
    page = _post(therapist, "follow-up-call", token, status="done",
                 called_at="2026-03-03T10:00", note="slept well")  # fmt: skip
    call = re.search(r'id="follow-up-call">(.*?)</section>', page, re.S)
    assert call
    assert "<strong>done</strong>" in call[1]
    assert "slept well" in call[1]
    assert 'action="/participants/OSL-001/dosing/V5/follow-up-call"' not in page
    casebook = therapist.get("/participants/OSL-001").text
    calls = re.search(r'<h2 id="follow-up-calls">.*?</ul>', casebook, re.S)
    assert calls
    assert "due 2026-03-03, <strong>done</strong> — slept well" in calls[0]
    dashboard = therapist.get("/").text
    calls = re.search(r'<h2 id="calls-h">.*?</section>', dashboard, re.S)
    assert calls
    assert "<p>None.</p>" in calls[0]
