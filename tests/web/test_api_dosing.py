"""The dose stop, its override and the discharge over the JSON API (issue 11, parts 4 and 8)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from tests.support.predose import ready_over_api

BASE = "/api/v1/participants/OSL-001"
NORMAL = {"systolic_bp": 124, "diastolic_bp": 80, "heart_rate": 72, "temperature": 36.8}


@pytest.mark.dosing_day
def test_dose_stop_override_and_discharge_over_the_api(
    api_as: Callable[[str], TestClient],
) -> None:
    therapist, investigator = api_as("therapist"), api_as("investigator")

    def post(
        client: TestClient, path: str, body: dict[str, object], code: int
    ) -> dict[str, object]:
        response = client.post(f"{BASE}{path}", json=body)
        assert response.status_code == code, response.text
        found: dict[str, object] = response.json()
        return found

    def vitals(at: str, **values: float) -> None:
        post(therapist, "/vitals", {"visit_code": "V5", "measured_at": at,
                                    "values": NORMAL | values}, 201)  # fmt: skip

    post(therapist, "/dosing/V5/start", {"started_at": "2026-03-02T08:00:00+00:00"}, 201)
    vitals("2026-03-02T08:45:00+00:00")
    ready_over_api(investigator, therapist, "OSL-001", "V5", "2026-03-02T08:55:00+00:00")
    post(therapist, "/dosing/V5/doses",
         {"kind": "initial", "dose_mg": 80, "at": "2026-03-02T09:00:00+00:00"}, 201)  # fmt: skip
    vitals("2026-03-02T11:00:00+00:00", systolic_bp=200, diastolic_bp=125)
    supplement = {"kind": "supplemental", "dose_mg": 40, "at": "2026-03-02T11:05:00+00:00"}
    refused = post(therapist, "/dosing/V5/doses", supplement, 422)
    assert "dose stop" in str(refused["message"])
    assert "override" in str(refused["hint"])
    not_allowed = supplement | {"override_reason": "participant asks"}
    post(therapist, "/dosing/V5/doses", not_allowed, 403)
    given = post(investigator, "/dosing/V5/doses", not_allowed, 201)
    assert given["deviations"] == ["dose_stop_override"]

    vitals("2026-03-02T16:45:00+00:00")
    sign_off = {"signed_at": "2026-03-02T16:50:00+00:00", "note": "settled"}
    post(therapist, "/dosing/V5/discharge-sign-off", sign_off, 403)
    signed = post(investigator, "/dosing/V5/discharge-sign-off", sign_off, 200)
    assert signed["discharge_signed_off_at"] == "2026-03-02T16:50:00.000000Z"
    call = {"status": "done", "called_at": "2026-03-03T10:00:00+00:00"}
    post(therapist, "/dosing/V5/follow-up-call", call, 422)  # the session has not ended
    post(therapist, "/dosing/V5/follow-up-call", call | {"status": "maybe"}, 422)
