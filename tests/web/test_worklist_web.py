"""The worklist on the dashboard, on ``/worklist`` and on the API: the rater's MADRS due today
is the first thing on their dashboard, as a link to the form; a statistician is told that
nothing is assigned to the role."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from tests.web.worklist_setup import pin_worklist_day

FORM = "/participants/OSL-001/visits/V3/forms/madrs"


def test_dashboard_shows_the_worklist_first(
    worklist_day: date, login_as: Callable[[str], TestClient]
) -> None:
    page = login_as("independent_rater").get("/").text
    assert page.index("Your worklist") < page.index("The study") < page.index("Enrolment")
    assert f'<a href="{FORM}">MADRS (independent rater)</a>' in page
    assert "Today: <strong>1</strong>" in page
    assert "Overdue: <strong>0</strong>" in page
    assert "Therapy session" not in page


def test_the_therapist_and_investigator_see_their_own(
    worklist_day: date, login_as: Callable[[str], TestClient]
) -> None:
    therapist = login_as("therapist").get("/worklist").text
    assert "SDS (self report)" in therapist
    assert "MADRS" not in therapist
    investigator = login_as("investigator").get("/worklist").text
    assert "CSSRS since_last_visit (investigator)" in investigator
    assert "MADRS (independent rater)" not in investigator


def test_nothing_assigned_to_a_statistician(login_as: Callable[[str], TestClient]) -> None:
    page = login_as("statistician").get("/").text
    assert "Nothing is assigned to the role statistician." in page


def test_the_api_lists_the_same_items(
    worklist_day: date, api_as: Callable[[str], TestClient]
) -> None:
    client = api_as("independent_rater")
    body = client.get("/api/v1/worklist").json()
    assert body["today"] == worklist_day.isoformat()
    assert body["roles"] == ["independent_rater@OST"]
    assert [(i["what"], i["link"], i["group"]) for i in body["due_today"]] == [
        ("MADRS (independent rater)", FORM, "today")
    ]
    assert body["overdue"] == []
    later = client.get("/api/v1/worklist", params={"today": "2000-01-01"}).json()
    assert later["today"] == "2000-01-01"
    assert later["due_today"] == []
    refused = client.get("/api/v1/worklist", params={"horizon_days": 400})
    assert refused.status_code == 422
    assert "worklist" in client.app.openapi()["paths"]["/api/v1/worklist"]["get"]["tags"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("after", [timedelta(seconds=1), timedelta(hours=23, minutes=59)])
def test_the_worklist_keeps_the_trials_day_when_the_clock_passes_midnight(
    trial_day: date,
    monkeypatch: pytest.MonkeyPatch,
    api_as: Callable[[str], TestClient],
    after: timedelta,
) -> None:
    """The run crossed midnight UTC after the trial was seeded: the worklist service's clock
    reads the next day, and the pinned clock still lists V3 as due on the trial's day."""
    module = importlib.import_module("remit.services.worklist")
    next_day = datetime.combine(trial_day + timedelta(days=1), time(0), UTC) + after
    monkeypatch.setattr(module, "now_utc", lambda: next_day)
    assert module.now_utc().date() != trial_day
    pin_worklist_day(monkeypatch, trial_day)
    body = api_as("independent_rater").get("/api/v1/worklist").json()
    assert body["today"] == trial_day.isoformat()
    assert [(i["what"], i["link"], i["group"]) for i in body["due_today"]] == [
        ("MADRS (independent rater)", FORM, "today")
    ]
