"""The JSON API of concomitant medications: list, record, edit (with a reason), stop."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from remit import services as sv
from remit.errors import InputError
from remit.json_values import to_json_value
from remit.services import ConmedRecord
from remit.web.api import _ERRORS, IdempotencyKey, Json, Session, answers
from remit.web.core import ID, PID, api_requires, parse_day, state_of
from remit.web.schemas import ConmedEditIn, ConmedIn, ConmedStopIn

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


@router.get(
    "/participants/{participant_id}/conmeds",
    **answers(list[ConmedRecord]),
    tags=["medications"],
    dependencies=[api_requires("view_participants")],
)
def conmed_list(request: Request, session: Session, participant_id: PID) -> Json:
    """A participant's concomitant medications, with the protocol's prohibited class."""
    return to_json_value(sv.list_conmeds(state_of(request).engine, session.actor, participant_id))


@router.post(
    "/participants/{participant_id}/conmeds",
    **answers(ConmedRecord, 201),
    tags=["medications"],
    dependencies=[api_requires("record_conmed")],
)
def conmed_add(
    body: ConmedIn,
    request: Request,
    session: Session,
    participant_id: PID,
    idempotency_key: IdempotencyKey = None,
) -> Json:
    """Record a concomitant medication and its dated taper plan."""
    record = sv.record_conmed(
        state_of(request).engine,
        session.actor,
        participant_id,
        name=body.name,
        atc_code=body.atc_code,
        route=body.route,
        dose=body.dose,
        indication=body.indication,
        start_date=parse_day(body.start_date, "start_date"),
        stop_date=parse_day(body.stop_date, "stop_date"),
        taper_steps=[(s.date, s.dose) for s in body.taper_steps],
        idempotency_key=idempotency_key,
    )
    return to_json_value(record)


@router.patch(
    "/conmeds/{conmed_id}",
    **answers(ConmedRecord),
    tags=["medications"],
    dependencies=[api_requires("edit_conmed")],
)
def conmed_edit(body: ConmedEditIn, request: Request, session: Session, conmed_id: ID) -> Json:
    """Change the fields given (``null`` or absent: unchanged), with a reason."""
    given = body.model_dump(exclude_none=True, exclude={"reason"})
    changes: dict[str, Any] = {k: v for k, v in given.items() if k != "taper_steps"}
    for key in ("start_date", "stop_date"):
        if key in changes:
            changes[key] = parse_day(changes[key], key)
    if body.taper_steps is not None:
        changes["taper_steps"] = [(s.date, s.dose) for s in body.taper_steps]
    record = sv.edit_conmed(
        state_of(request).engine, session.actor, conmed_id, reason=body.reason, **changes
    )
    return to_json_value(record)


@router.post(
    "/conmeds/{conmed_id}/stop",
    **answers(ConmedRecord),
    tags=["medications"],
    dependencies=[api_requires("stop_conmed")],
)
def conmed_stop(body: ConmedStopIn, request: Request, session: Session, conmed_id: ID) -> Json:
    """Record the day a medication was stopped."""
    stop = parse_day(body.stop_date, "stop_date")
    if stop is None:
        raise InputError("stop_date is empty", expected="YYYY-MM-DD")
    record = sv.stop_conmed(
        state_of(request).engine, session.actor, conmed_id, stop_date=stop, reason=body.reason
    )
    return to_json_value(record)
