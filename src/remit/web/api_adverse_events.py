"""The JSON API of adverse events: a participant's list and the change of one (with a reason;
a non-serious event may be upgraded to an SAE, a serious one is never made non-serious)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from remit import services as sv
from remit.json_values import to_json_value
from remit.protocol.clock import parse_clinical_time
from remit.services import AdverseEventRecord
from remit.web.api import _ERRORS, Json, Session, answers
from remit.web.core import ID, PID, api_requires, parse_day, state_of
from remit.web.schemas import AdverseEventEditIn

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


@router.get(
    "/participants/{participant_id}/adverse-events",
    **answers(list[AdverseEventRecord]),
    tags=["safety"],
    dependencies=[api_requires("view_participants")],
)
def adverse_event_list(request: Request, session: Session, participant_id: PID) -> Json:
    """A participant's adverse events, each with its alerts."""
    engine = state_of(request).engine
    return to_json_value(sv.list_adverse_events(engine, session.actor, participant_id))


@router.patch(
    "/adverse-events/{ae_id}",
    **answers(AdverseEventRecord),
    tags=["safety"],
    dependencies=[api_requires("update_adverse_event")],
)
def adverse_event_edit(
    body: AdverseEventEditIn, request: Request, session: Session, ae_id: ID
) -> Json:
    """Change the fields present, with a reason. ``serious: true`` with its criteria makes a
    non-serious event an SAE: its alert, its reporting clock from ``became_serious_at``."""
    changes: dict[str, Any] = body.model_dump(
        exclude_unset=True, exclude={"reason", "became_serious_at"}
    )
    if "end_date" in changes:
        changes["end_date"] = parse_day(changes["end_date"], "end_date")
    since = body.became_serious_at
    record = sv.update_adverse_event(
        state_of(request).engine,
        session.actor,
        ae_id,
        changes=changes,
        reason=body.reason,
        became_serious_at=None
        if since is None
        else parse_clinical_time(since, None, name="became_serious_at"),
    )
    return to_json_value(record)
