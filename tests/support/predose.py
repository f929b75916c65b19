"""Test helper: make a started dosing session ready for its initial dose by recording what the
protocol's pre-dose checklist still lacks (a negative urine drug screen and, where it applies,
pregnancy test, a C-SSRS at the visit, a pre-dose reading of normal vital signs) and completing
the checklist with every confirm item ticked. Items that fail on the data are left failing, so
a test about a refusal still sees it."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.support.forms import NORMAL_VITALS, fill

from sqlalchemy import Engine

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
    assert planned is not None and planned.checklist is not None
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
