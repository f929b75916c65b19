"""The API answers the services' records in their one shape: the OpenAPI schema is the record
class's, and the body is exactly ``record.to_dict()`` (what ``--json`` prints)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from remit import services as sv


def test_the_api_answers_the_records_to_dict(
    app: FastAPI, api_as: Callable[[str], TestClient], trial_db: Path
) -> None:
    api = api_as("investigator")
    listed = api.get("/api/v1/participants")
    visits = api.get("/api/v1/participants/OSL-001/visits")
    assert listed.status_code == visits.status_code == 200
    engine = sv.open_database(trial_db)
    try:
        kari = sv.actor_for(engine, "kari")
        assert listed.json() == [p.to_dict() for p in sv.list_participants(engine, kari)]
        assert visits.json() == [v.to_dict() for v in sv.list_visits(engine, kari, "OSL-001")]
    finally:
        sv.close_database(engine)
    times = [v for p in listed.json() for v in (p["screened_at"], p["enrolled_at"]) if v]
    assert times
    assert all(t.endswith("Z") and len(t) == len("2024-01-08T09:30:00.000000Z") for t in times)


def test_the_openapi_schema_of_a_record_is_the_record_class(app: FastAPI) -> None:
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    answer = spec["paths"]["/api/v1/participants"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/ParticipantRecord"
    }
    fields = set(sv.ParticipantRecord.__dataclass_fields__)
    assert set(schemas["ParticipantRecord"]["properties"]) == fields
    assert not any(name.endswith("Out") and name[:-3] + "Record" in schemas for name in schemas)
