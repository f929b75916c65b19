"""Adverse events changed on the page and over the JSON API: a non-serious event upgraded to
an SAE raises its alert; a serious one is never made non-serious; an outcome that says the event
ended needs an end date (422, nothing stored) on the record form, the edit form and the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient
from tests.support.web import csrf_of

TODAY = date.today().isoformat()
NEW = "/participants/OSL-001/ae/new"
LIST = "/api/v1/participants/OSL-001/adverse-events"


def _events(api: TestClient) -> dict[str, dict[str, Any]]:
    found = api.get(LIST)
    assert found.status_code == 200, found.text
    return {ae["term"]: ae for ae in found.json()}


def _record(page: TestClient, term: str, **extra: str) -> Any:
    form = page.get(NEW)
    data = {"csrf_token": csrf_of(form.text), "term": term, "onset_date": TODAY,
            "severity": "moderate", "relatedness": "possible", **extra}  # fmt: skip
    return page.post("/participants/OSL-001/ae", data=data)


def test_the_pages_refuse_an_end_without_a_date_and_upgrade_to_serious(
    login_as: Callable[[str], TestClient], api_as: Callable[[str], TestClient]
) -> None:
    therapist, investigator, api = (
        login_as("therapist"),
        login_as("investigator"),
        api_as("investigator"),
    )
    before = _events(api)
    refused = _record(therapist, "dizziness", outcome="recovered")
    assert refused.status_code == 422
    assert "has the outcome recovered but no end date" in refused.text
    assert _events(api) == before
    assert _record(therapist, "dizziness").status_code == 200
    ae = _events(api)["dizziness"]
    edit = f"/participants/OSL-001/ae/{ae['id']}/edit"
    assert edit in investigator.get("/participants/OSL-001").text
    page = investigator.get(edit)
    assert page.status_code == 200
    fields = {"csrf_token": csrf_of(page.text), "severity": "moderate",
              "relatedness": "possible", "outcome": "unknown"}  # fmt: skip
    no_end = investigator.post(edit, data={**fields, "outcome": "recovered", "reason": "better"})
    assert no_end.status_code == 422
    assert "no end date" in no_end.text
    assert _events(api)["dizziness"] == ae
    upgraded = investigator.post(
        edit,
        data={**fields, "serious": "1", "seriousness_criteria": "hospitalisation",
              "reason": "admitted to hospital"},
    )  # fmt: skip
    assert upgraded.status_code == 200, upgraded.text
    sae = _events(api)["dizziness"]
    assert (sae["serious"], sae["seriousness_criteria"]) == (True, ["hospitalisation"])
    assert sae["became_serious_at"] is not None
    assert [(a["rule_id"], a["level"]) for a in sae["alerts"]] == [("sae", "immediate")]
    assert any(a["id"] == sae["alerts"][0]["id"] for a in api.get("/api/v1/alerts").json())
    # the form of a serious event keeps it serious
    page = investigator.get(edit)
    assert 'name="serious" value="1"' in page.text
    assert "an SAE stays serious" in page.text


def test_the_api_upgrades_refuses_a_downgrade_and_an_end_without_a_date(
    login_as: Callable[[str], TestClient], api_as: Callable[[str], TestClient]
) -> None:
    therapist, api = login_as("therapist"), api_as("investigator")
    assert _record(therapist, "headache").status_code == 200
    ae = _events(api)["headache"]
    url = f"/api/v1/adverse-events/{ae['id']}"
    no_end = api.patch(url, json={"outcome": "recovered", "reason": "resolved"})
    assert no_end.status_code == 422
    assert (
        no_end.json()["message"]
        == "adverse event 'headache' has the outcome recovered but no end date"
    )
    future = api.patch(
        url,
        json={"serious": True, "seriousness_criteria": ["hospitalisation"], "reason": "admitted",
              "became_serious_at": "2999-01-01T09:00:00+01:00"},
    )  # fmt: skip
    assert future.status_code == 422
    assert "is in the future" in future.json()["message"]
    assert _events(api)["headache"] == ae
    now = datetime.now(UTC).isoformat()
    sae = api.patch(
        url,
        json={"serious": True, "seriousness_criteria": ["hospitalisation"], "reason": "admitted",
              "became_serious_at": now},
    )  # fmt: skip
    assert sae.status_code == 200, sae.text
    assert [a["rule_id"] for a in sae.json()["alerts"]] == ["sae"]
    down = api.patch(url, json={"serious": False, "reason": "not serious after all"})
    assert down.status_code == 422
    assert "is recorded as serious" in down.json()["message"]
    assert "stays serious" in down.json()["expected"]
    assert _events(api)["headache"]["serious"] is True
    done = api.patch(url, json={"outcome": "recovered", "end_date": TODAY, "reason": "resolved"})
    assert done.status_code == 200, done.text
    back = api.patch(url, json={"outcome": "recovering", "end_date": None, "reason": "back"})
    assert back.status_code == 200, back.text
    assert (back.json()["outcome"], back.json()["end_date"]) == ("recovering", None)
