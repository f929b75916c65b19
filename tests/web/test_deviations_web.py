"""The deviation log in the web app: the API lists and logs (refusals store nothing), the page
filters the list and its form logs one; a monitor reads, a therapist sees nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from tests.support.db import count_all
from tests.support.web import csrf_of

from remit.store import make_engine


def _rows(trial_db: Path) -> dict[str, int]:
    engine = make_engine(trial_db)
    try:
        return count_all(engine)
    finally:
        engine.dispose()


def test_the_api_logs_and_lists_deviations(
    api_as: Callable[[str], TestClient], trial_db: Path
) -> None:
    dm = api_as("data_manager")
    today = date.today()
    body = {
        "participant_id": "OSL-001",
        "visit_code": "V3",
        "category": "procedure",
        "severity": "major",
        "occurred_date": today.isoformat(),
        "description": "MADRS rated by the treating therapist",
    }
    made = dm.post("/api/v1/deviations", json=body, headers={"Idempotency-Key": "d-1"})
    assert made.status_code == 201, made.text
    logged = made.json()
    assert (logged["severity"], logged["source"], logged["site"], logged["visit_code"]) == (
        "major",
        "manual",
        "OST",
        "V3",
    )
    again = dm.post("/api/v1/deviations", json=body, headers={"Idempotency-Key": "d-1"})
    assert again.json() == logged

    monitor = api_as("monitor")  # logging in stores login rows: before counting
    before = _rows(trial_db)
    refused = [
        ({**body, "category": "paperwork"}, 422, "'paperwork' is unknown"),
        ({**body, "category": "visit_out_of_window"}, 422, "Remit itself"),
        ({**body, "description": ""}, 422, "description"),
        ({**body, "occurred_date": (today + timedelta(days=3)).isoformat()}, 422, "future"),
        ({k: v for k, v in body.items() if k != "occurred_date"}, 422, "occurred_date"),
    ]
    for wrong, status, words in refused:
        answer = dm.post("/api/v1/deviations", json=wrong)
        assert answer.status_code == status, (wrong, answer.text)
        assert words in answer.text, answer.text
    assert monitor.post("/api/v1/deviations", json=body).status_code == 403
    assert _rows(trial_db) == before

    listed = monitor.get("/api/v1/deviations").json()
    assert [d["id"] for d in listed] == [logged["id"]]
    assert monitor.get("/api/v1/deviations", params={"source": "automatic"}).json() == []
    assert len(monitor.get("/api/v1/deviations", params={"severity": "major"}).json()) == 1
    assert (
        monitor.get("/api/v1/deviations", params={"from": str(today + timedelta(1))}).json() == []
    )
    bad = monitor.get("/api/v1/deviations", params={"severity": "grave"})
    assert bad.status_code == 422
    assert "severity 'grave'" in bad.text
    assert api_as("therapist").get("/api/v1/deviations").status_code == 403


def test_the_page_logs_one_and_filters_the_list(login_as: Callable[[str], TestClient]) -> None:
    inv = login_as("investigator")
    page = inv.get("/deviations")
    assert page.status_code == 200
    assert "No deviations" in page.text
    assert "Log a deviation" in page.text
    assert 'href="/deviations"' in page.text  # in the navigation
    today = date.today().isoformat()
    sent = inv.post(
        "/deviations",
        data={
            "csrf_token": csrf_of(page.text),
            "idempotency_key": "deviation-page-1",
            "participant": "OSL-001",
            "visit_code": "V3",
            "occurred_date": today,
            "category": "informed_consent",
            "severity": "minor",
            "description": "consent page 4 not initialled",
        },
    )
    assert sent.status_code == 200, sent.text
    assert "consent page 4 not initialled" in sent.text
    assert "Informed consent" in sent.text
    assert "consent page 4" in inv.get("/deviations", params={"severity": "minor"}).text
    assert "consent page 4" not in inv.get("/deviations", params={"source": "automatic"}).text
    refused = inv.post(
        "/deviations",
        data={
            "csrf_token": csrf_of(page.text),
            "participant": "OSL-001",
            "occurred_date": today,
            "category": "paperwork",
            "description": "x",
        },
    )
    assert refused.status_code == 422
    assert "paperwork" in refused.text

    monitor_page = login_as("monitor").get("/deviations")
    assert "consent page 4" in monitor_page.text
    assert "Log a deviation" not in monitor_page.text
    therapist = login_as("therapist")
    assert 'href="/deviations"' not in therapist.get("/").text
    assert therapist.get("/deviations").status_code == 403
