"""The JSON API of emergency unblinding: an investigator breaks the blind of one participant
with a reason (the answer names the arm); the unblinded roles list every unblinding."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from remit import services as sv
from remit.json_values import to_json_value
from remit.services import UnblindingRecord
from remit.web.api import _ERRORS, Json, Session, answers
from remit.web.core import PID, api_requires, state_of

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


class UnblindIn(BaseModel):
    """Why the blind of this participant must be broken (required, audited)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)


@router.post(
    "/participants/{participant_id}/unblind",
    **answers(UnblindingRecord, 201),
    tags=["blinding"],
    dependencies=[api_requires("emergency_unblind")],
)
def unblind(request: Request, session: Session, participant_id: PID, body: UnblindIn) -> Json:
    """Emergency unblinding of one participant: the arm, for the investigator who asks only."""
    done = sv.emergency_unblind(
        state_of(request).engine, session.actor, participant_id, body.reason
    )
    return to_json_value(done)


@router.get(
    "/unblindings",
    **answers(list[UnblindingRecord]),
    tags=["blinding"],
    dependencies=[api_requires("view_unblindings")],
)
def unblindings(request: Request, session: Session) -> Json:
    """Every emergency unblinding with the arm (unblinded roles only)."""
    return to_json_value(sv.list_unblindings(state_of(request).engine, session.actor))
