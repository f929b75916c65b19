"""Informed consent over the JSON API: where it stands, recorded by an investigator only,
refused with what was expected, withdrawn partly then fully."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

BASE = "/api/v1/participants/OSL-002/consent"


def test_consent_over_the_api(api_as: Callable[[str], TestClient]) -> None:
    investigator, rater = api_as("investigator"), api_as("independent_rater")
    shown = rater.get(BASE)
    assert shown.status_code == 200, shown.text
    status = shown.json()
    assert (status["consent_required"], status["procedures_allowed"]) == (True, True)
    assert [c["version"] for c in status["history"]] == ["1.0"]

    now = datetime.now(UTC)
    body = {"version": "1.0", "components": ["main"], "consented_at": now.isoformat()}
    assert rater.post(BASE, json=body).status_code == 403
    wrong = investigator.post(BASE, json=body | {"components": ["future_contact"]})
    assert wrong.status_code == 422, wrong.text
    assert "required ['main'] missing" in wrong.json()["message"]
    again = investigator.post(BASE, json=body)
    assert again.status_code == 201, again.text
    assert (again.json()["obtained_by"], again.json()["components"]) == ("kari", ["main"])

    later = (now + timedelta(seconds=1)).isoformat()
    partly = {"reason": "no calls", "withdrawn_at": later, "components": ["future_contact"]}
    refused = investigator.post(f"{BASE}/withdrawal", json=partly)
    assert refused.status_code == 422, refused.text  # not agreed to in the latest consent
    gone = investigator.post(f"{BASE}/withdrawal", json={"reason": "moved", "withdrawn_at": later})
    assert gone.status_code == 201, gone.text
    assert gone.json()["withdrawal_scope"] == "full"
    status = rater.get(BASE, params={"at": (now + timedelta(minutes=1)).isoformat()}).json()
    assert status["procedures_allowed"] is False
    assert "withdrew consent" in status["problem"]
