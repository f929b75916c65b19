"""The JSON API: tokens, idempotent creation, ETag/If-Match saves, alerts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.predose import ready_over_api
from tests.support.trial import PASSWORD

MADRS = {str(i): 2 for i in range(1, 11)}
NEW_MADRS = {"participant_id": "OSL-001", "visit_code": "V3", "scale": "madrs", "answers": MADRS}


def test_login_me_logout(app: FastAPI) -> None:
    client = TestClient(app)
    bad = client.post("/api/v1/auth/login", json={"username": "rita", "password": "wrong one!"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "HTTPError"
    good = client.post("/api/v1/auth/login", json={"username": "rita", "password": PASSWORD})
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "independent_rater"
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/v1/me", headers=headers).json()["username"] == "rita"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_bearer_token_is_not_a_page_session(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    token = client.post(
        "/api/v1/auth/login", json={"username": "rita", "password": PASSWORD}
    ).json()["token"]
    assert client.get("/", cookies={"remit_session": token}).status_code == 303


def test_create_is_idempotent_and_save_needs_a_current_if_match(
    api_as: Callable[[str], TestClient],
) -> None:
    rater = api_as("independent_rater")
    key = {"Idempotency-Key": "madrs-osl-001-v3"}
    created = rater.post("/api/v1/assessments", json=NEW_MADRS, headers=key)
    assert created.status_code == 201
    record = created.json()
    assert record["total"] == 20
    assert created.headers["etag"] == '"1"'
    retry = rater.post("/api/v1/assessments", json=NEW_MADRS, headers=key)
    assert retry.status_code == 201
    assert retry.json()["id"] == record["id"]
    other_body = rater.post(
        "/api/v1/assessments", json=NEW_MADRS | {"answers": MADRS | {"1": 3}}, headers=key
    )
    assert other_body.status_code in (409, 422)
    listed = rater.get("/api/v1/participants/OSL-001/assessments").json()
    assert [a["id"] for a in listed if a["scale"] == "madrs"] == [record["id"]]

    url = f"/api/v1/assessments/{record['id']}"
    change = {"answers": MADRS | {"1": 4}, "reason": "rater re-scored item 1"}
    assert rater.put(url, json=change).status_code == 428
    etag = rater.get(url).headers["etag"]
    saved = rater.put(url, json=change, headers={"If-Match": etag})
    assert saved.status_code == 200
    assert saved.json()["total"] == 22
    assert saved.headers["etag"] == '"2"'
    stale = rater.put(url, json=change | {"answers": MADRS}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert rater.get(url).json()["total"] == 22
    no_reason = rater.put(url, json={"answers": MADRS}, headers={"If-Match": '"2"'})
    assert no_reason.status_code == 422
    assert "reason" in no_reason.json()["message"]


def test_refusals_carry_what_was_expected(api_as: Callable[[str], TestClient]) -> None:
    rater = api_as("independent_rater")
    out_of_range = rater.post("/api/v1/assessments", json=NEW_MADRS | {"answers": MADRS | {"3": 9}})
    assert out_of_range.status_code == 422
    body = out_of_range.json()
    assert body["error"] == "AnswerError"
    assert body["item"]
    assert body["expected"]
    therapist = api_as("therapist")
    refused = therapist.post("/api/v1/assessments", json=NEW_MADRS)
    assert refused.status_code == 403
    assert therapist.get("/api/v1/participants/OSL-999").status_code == 404
    statistician = api_as("statistician")
    assert statistician.get("/api/v1/alerts").status_code == 403


@pytest.mark.dosing_day
def test_dosing_day_vitals_beyond_threshold_raise_an_alert_acknowledged_over_the_api(
    api_as: Callable[[str], TestClient],
) -> None:
    therapist = api_as("therapist")
    investigator = api_as("investigator")
    base = "/api/v1/participants/OSL-001"
    started = therapist.post(
        f"{base}/dosing/V5/start", json={"started_at": "2026-03-02T08:00:00+00:00"}
    )
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "in_progress"
    ready_over_api(investigator, therapist, "OSL-001", "V5", "2026-03-02T08:55:00+00:00")
    dose = therapist.post(
        f"{base}/dosing/V5/doses",
        json={"kind": "initial", "dose_mg": 80, "at": "2026-03-02T09:00:00+00:00"},
        headers={"Idempotency-Key": "dose-1"},
    )
    assert dose.status_code == 201, dose.text
    vitals = {"visit_code": "V5", "measured_at": "2026-03-02T09:30:00+00:00",
              "values": {"systolic_bp": 172, "diastolic_bp": 95, "heart_rate": 70}}  # fmt: skip
    stored = therapist.post(f"{base}/vitals", json=vitals, headers={"Idempotency-Key": "v-1"})
    assert stored.status_code == 201, stored.text
    assert stored.json()["minutes_after_dose"] == 30
    raised = stored.json()["alerts"]
    assert len(raised) == 1
    assert (raised[0]["rule_id"], raised[0]["level"]) == (
        "vitals:systolic_bp:high:urgent",
        "urgent",
    )
    again = therapist.post(f"{base}/vitals", json=vitals, headers={"Idempotency-Key": "v-1"})
    assert again.json()["id"] == stored.json()["id"]
    open_alerts = investigator.get("/api/v1/alerts", params={"status": "open"}).json()
    assert [a["id"] for a in open_alerts] == [raised[0]["id"]]
    url = f"/api/v1/alerts/{raised[0]['id']}/acknowledge"
    assert therapist.post(url, json={"note": "seen"}).status_code == 403
    assert investigator.post(url, json={"note": ""}).status_code == 422
    acked = investigator.post(url, json={"note": "physician called"})
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged"
    bad_time = therapist.post(f"{base}/vitals", json=vitals | {"measured_at": "yesterday"})
    assert bad_time.status_code == 422
