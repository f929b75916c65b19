"""Informed consent on the JSON API (``/api/v1/participants/{id}/consent``): where it stands,
record it, withdraw it. Each route calls one service of :mod:`remit.services`."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from remit import services as sv
from remit.json_values import to_json_value
from remit.services import ConsentRecord, ConsentStatusRecord
from remit.web.api import _ERRORS, IdempotencyKey, Json, Session, _time, answers
from remit.web.core import PID, api_requires, state_of
from remit.web.schemas import ConsentIn, ConsentWithdrawalIn

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


@router.get(
    "/participants/{participant_id}/consent",
    **answers(ConsentStatusRecord),
    tags=["consent"],
    dependencies=[api_requires("view_participants")],
)
def consent_status(
    request: Request,
    session: Session,
    participant_id: PID,
    at: str | None = Query(default=None, max_length=40, description="at this time; default now"),
) -> Json:
    """Where a participant's consent stands: may study procedures be recorded, and if not why."""
    found = sv.consent_status(
        state_of(request).engine,
        session.actor,
        participant_id,
        at=None if at is None else _time(at, "at"),
    )
    return to_json_value(found)


@router.post(
    "/participants/{participant_id}/consent",
    **answers(ConsentRecord, 201),
    tags=["consent"],
    dependencies=[api_requires("record_consent")],
)
def record_consent(
    body: ConsentIn,
    request: Request,
    session: Session,
    participant_id: PID,
    idempotency_key: IdempotencyKey = None,
) -> Json:
    """Record informed consent to a version of the protocol's consent form."""
    record = sv.record_consent(
        state_of(request).engine,
        session.actor,
        participant_id,
        version=body.version,
        components=body.components,
        consented_at=_time(body.consented_at, "consented_at"),
        idempotency_key=idempotency_key,
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/consent/withdrawal",
    **answers(ConsentRecord, 201),
    tags=["consent"],
    dependencies=[api_requires("withdraw_consent")],
)
def withdraw_consent(
    body: ConsentWithdrawalIn, request: Request, session: Session, participant_id: PID
) -> Json:
    """Record the withdrawal of the participant's consent."""
    record = sv.withdraw_consent(
        state_of(request).engine,
        session.actor,
        participant_id,
        reason=body.reason,
        withdrawn_at=_time(body.withdrawn_at, "withdrawn_at"),
        components=body.components,
    )
    return to_json_value(record)
