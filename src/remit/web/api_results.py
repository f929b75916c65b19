"""The JSON API of clinical results (laboratory, ECG, screening tests) and of the pre-dose
checklist of a dosing session."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from remit import services as sv
from remit.json_values import to_json_value
from remit.services import ChecklistRecord, ResultRecord
from remit.web.api import _ERRORS, IdempotencyKey, Json, Session, VisitPath, _time, answers
from remit.web.core import ID, PID, api_requires, state_of

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


class ResultIn(BaseModel):
    """A result of a test the protocol declares."""

    model_config = ConfigDict(extra="forbid")
    visit_code: str = Field(max_length=32)
    test: str = Field(description="the protocol's test code", max_length=64)
    value: float | str = Field(description="a number, or one of the test's answers")
    collected_at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)
    comment: str | None = Field(default=None, max_length=2000)


class ResultEditIn(BaseModel):
    """A correction of a stored result, with a reason."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)
    value: float | str | None = None
    collected_at: str | None = Field(default=None, max_length=40)
    comment: str | None = Field(default=None, max_length=2000)


class ChecklistIn(BaseModel):
    """A completion of the pre-dose checklist."""

    model_config = ConfigDict(extra="forbid")
    completed_at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)
    confirmed: list[str] = Field(default_factory=list, description="confirm items ticked")
    not_applicable: dict[str, str] = Field(
        default_factory=dict, description="item id → why it does not apply"
    )
    override_reason: str | None = Field(
        default=None, description="an investigator's reason (overridable items)", max_length=2000
    )


@router.get(
    "/participants/{participant_id}/results",
    **answers(list[ResultRecord]),
    tags=["results"],
    dependencies=[api_requires("view_participants")],
)
def result_list(
    request: Request,
    session: Session,
    participant_id: PID,
    visit_code: str | None = Query(default=None, max_length=32),
    test: str | None = Query(default=None, max_length=64),
) -> Json:
    """A participant's results, oldest first (of one visit and/or test when given)."""
    found = sv.list_results(
        state_of(request).engine, session.actor, participant_id, visit_code=visit_code, test=test
    )
    return to_json_value(found)


@router.post(
    "/participants/{participant_id}/results",
    **answers(ResultRecord, 201),
    tags=["results"],
    dependencies=[api_requires("record_result")],
)
def result_add(
    body: ResultIn,
    request: Request,
    session: Session,
    participant_id: PID,
    idempotency_key: IdempotencyKey = None,
) -> Json:
    """Record a result; a flagged one (out of range, positive) raises an alert."""
    record = sv.record_result(
        state_of(request).engine,
        session.actor,
        participant_id,
        body.visit_code,
        body.test,
        body.value,
        collected_at=_time(body.collected_at, "collected_at"),
        comment=body.comment,
        idempotency_key=idempotency_key,
    )
    return to_json_value(record)


@router.patch(
    "/results/{result_id}",
    **answers(ResultRecord),
    tags=["results"],
    dependencies=[api_requires("edit_result")],
)
def result_edit(body: ResultEditIn, request: Request, session: Session, result_id: ID) -> Json:
    """Correct a result with a reason; it is judged again."""
    record = sv.edit_result(
        state_of(request).engine,
        session.actor,
        result_id,
        reason=body.reason,
        value=body.value,
        collected_at=None
        if body.collected_at is None
        else _time(body.collected_at, "collected_at"),
        comment=body.comment,
    )
    return to_json_value(record)


@router.get(
    "/participants/{participant_id}/dosing/{visit_code}/checklist",
    **answers(ChecklistRecord),
    tags=["dosing"],
    dependencies=[api_requires("view_participants")],
)
def checklist_get(
    request: Request,
    session: Session,
    participant_id: PID,
    visit_code: VisitPath,
    at: str | None = Query(default=None, max_length=40, description="default: now"),
) -> Json:
    """The pre-dose checklist evaluated at ``at`` (items pass, fail, not yet …)."""
    when = datetime.now(UTC) if at is None else _time(at, "at")
    record = sv.checklist_status(
        state_of(request).engine, session.actor, participant_id, visit_code, at=when
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/dosing/{visit_code}/checklist",
    **answers(ChecklistRecord, 201),
    tags=["dosing"],
    dependencies=[api_requires("complete_checklist")],
)
def checklist_complete(
    body: ChecklistIn,
    request: Request,
    session: Session,
    participant_id: PID,
    visit_code: VisitPath,
    idempotency_key: IdempotencyKey = None,
) -> Json:
    """Complete the pre-dose checklist (refused, naming the items, while one is not cleared)."""
    record = sv.complete_checklist(
        state_of(request).engine,
        session.actor,
        participant_id,
        visit_code,
        completed_at=_time(body.completed_at, "completed_at"),
        confirmed=body.confirmed,
        not_applicable=body.not_applicable,
        override_reason=body.override_reason,
        idempotency_key=idempotency_key,
    )
    return to_json_value(record)
