"""Test helper: make a started dosing session ready for its initial dose by recording what the
protocol's pre-dose checklist still lacks (a negative urine drug screen and, where it applies,
pregnancy test, a C-SSRS at the visit, a pre-dose reading of normal vital signs) and completing
the checklist with every confirm item ticked. Items that fail on the data are left failing, so
a test about a refusal still sees it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from tests.support.forms import NORMAL_VITALS, fill

from remit import services as sv
from remit.protocol import Protocol
from remit.store import Actor

#: What a screen item records to pass.
NEGATIVE = "negative"
#: A normal reading of every vital sign a session may read.
EVERY_SIGN = {**NORMAL_VITALS, "respiratory_rate": 14, "oxygen_saturation": 98}


def ready_for_dose(
    engine: Engine,
    protocol: Protocol,
    investigator: Actor,
    therapist: Actor,
    pid: str,
    visit: str,
    at: datetime,
    *,
    complete: bool = True,
) -> sv.ChecklistRecord:
    """Record what the checklist of the session at ``visit`` lacks at ``at`` (results 30
    minutes before, the C-SSRS and a normal reading 20 minutes before) and, with ``complete``,
    complete it at ``at``. Returns the checklist as it stands."""
    planned = protocol.dosing_session(visit)
    assert planned is not None
    assert planned.checklist is not None
    status = sv.checklist_status(engine, investigator, pid, visit, at=at)
    items = {i.id: i for i in status.items}
    confirmed = []
    for item in planned.checklist.items:
        if items[item.id].status != "not_yet":
            continue
        if item.kind == "result":
            assert item.test is not None
            sv.record_result(
                engine,
                investigator,
                pid,
                visit,
                item.test,
                NEGATIVE,
                collected_at=at - timedelta(minutes=30),
            )
        elif item.kind == "cssrs":
            sv.record_assessment(
                engine,
                investigator,
                pid,
                visit,
                "cssrs",
                fill("cssrs", "since_last_visit"),
                version="since_last_visit",
                assessed_at=at - timedelta(minutes=20),
            )
        elif item.kind == "vitals":
            sv.record_vitals(
                engine,
                therapist,
                pid,
                visit,
                measured_at=at - timedelta(minutes=20),
                values={s: EVERY_SIGN[s] for s in planned.vitals.recorded_signs()},
            )
        elif item.kind == "confirm":
            confirmed.append(item.id)
    if not complete:
        return sv.checklist_status(engine, investigator, pid, visit, at=at)
    return sv.complete_checklist(
        engine, therapist, pid, visit, completed_at=at, confirmed=confirmed
    )


def ready_over_api(
    investigator: Any, therapist: Any, pid: str, visit: str, at: str, *, complete: bool = True
) -> None:
    """:func:`ready_for_dose` over the JSON API (``investigator`` and ``therapist`` are
    logged-in test clients): a negative urine drug screen 30 minutes before ``at`` (ISO 8601),
    the C-SSRS and a normal reading 20 minutes before, then the completion at ``at``
    with the Oslo protocol's confirm items ticked (and a negative pregnancy test when it
    applies); without ``complete`` the checklist is left to complete."""
    base = f"/api/v1/participants/{pid}"
    when = datetime.fromisoformat(at)

    def post(client: Any, path: str, body: dict[str, object]) -> None:
        response = client.post(path, json=body)
        assert response.status_code == 201, response.text

    post(investigator, f"{base}/results", {
        "visit_code": visit, "test": "urine_drug_screen", "value": NEGATIVE,
        "collected_at": (when - timedelta(minutes=30)).isoformat(),
    })  # fmt: skip
    pregnancy = investigator.post(f"{base}/results", json={
        "visit_code": visit, "test": "pregnancy_test", "value": NEGATIVE,
        "collected_at": (when - timedelta(minutes=30)).isoformat(),
    })  # fmt: skip
    assert pregnancy.status_code == 201 or "does not apply" in pregnancy.text, pregnancy.text
    post(investigator, "/api/v1/assessments", {
        "participant_id": pid, "visit_code": visit, "scale": "cssrs",
        "version": "since_last_visit", "answers": fill("cssrs", "since_last_visit"),
        "assessed_at": (when - timedelta(minutes=20)).isoformat(),
    })  # fmt: skip
    post(therapist, f"{base}/vitals", {
        "visit_code": visit, "measured_at": (when - timedelta(minutes=20)).isoformat(),
        "values": NORMAL_VITALS,
    })  # fmt: skip
    if not complete:
        return
    post(therapist, f"{base}/dosing/{visit}/checklist", {
        "completed_at": at, "confirmed": ["fasting", "escort_home"],
    })  # fmt: skip
