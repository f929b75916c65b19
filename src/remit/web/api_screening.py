"""Screening and the two-step enrolment on the JSON API (``/api/v1/participants/{id}/…``):
where eligibility stands, the referral, the phone screen, the eligibility decision, a screen
failure, enrolment and its confirmation. Each route calls one service of
:mod:`remit.services`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from remit import services as sv
from remit.errors import InputError
from remit.json_values import to_json_value
from remit.services import EligibilityRecord, ParticipantRecord
from remit.web.api import _ERRORS, IdempotencyKey, Json, Session, _time, answers
from remit.web.core import PID, api_requires, state_of

router = APIRouter(prefix="/api/v1", responses=_ERRORS)

_TIME = "ISO 8601 time with a UTC offset"


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a date", expected="YYYY-MM-DD") from None


def _when(text: str | None, name: str) -> datetime | None:
    return None if text is None else _time(text, name)


class ReferralIn(BaseModel):
    """The referral of a registered candidate."""

    model_config = ConfigDict(extra="forbid")
    referral_date: str = Field(description="YYYY-MM-DD", max_length=10)
    source: str = Field(description="who referred: GP, self-referral, clinic…", max_length=64)


class PhoneScreenIn(BaseModel):
    """The outcome of the phone screen."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["pass", "fail"]
    screened_at: str = Field(description=_TIME, max_length=40)
    failure_code: str | None = Field(default=None, max_length=64, description="needed for fail")
    failure_text: str | None = Field(default=None, max_length=2000)


class EligibilityIn(BaseModel):
    """The checklist answers (criteria not read from a form)."""

    model_config = ConfigDict(extra="forbid")
    answers: dict[str, bool | int | float | str | None] = Field(max_length=200)


class ScreenFailureIn(BaseModel):
    """A coded screen failure."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64, description="a screen-failure code of the protocol")
    text: str | None = Field(default=None, max_length=2000)
    failed_at: str | None = Field(default=None, max_length=40, description=_TIME)


class EnrolIn(BaseModel):
    """Enrolment (the enrolment visit takes place that day)."""

    model_config = ConfigDict(extra="forbid")
    enrolled_at: str | None = Field(default=None, max_length=40, description=_TIME)
    arm: str | None = Field(default=None, max_length=64)


class ConfirmIn(BaseModel):
    """Confirmation of enrolment (the confirmation visit takes place that day)."""

    model_config = ConfigDict(extra="forbid")
    confirmed_at: str | None = Field(default=None, max_length=40, description=_TIME)


class ScreeningOut(BaseModel):
    """Every criterion evaluated now on the recorded forms and the last checklist answers."""

    eligible: bool
    complete: bool
    criteria: list[dict[str, object]]
    answers: dict[str, object]


@router.get(
    "/participants/{participant_id}/screening",
    **answers(ScreeningOut),
    tags=["screening"],
    dependencies=[api_requires("view_participants")],
)
def screening(request: Request, session: Session, participant_id: PID) -> Json:
    """Where eligibility stands: each criterion met, unmet or missing, with its source."""
    verdict, given = sv.screening_status(state_of(request).engine, session.actor, participant_id)
    return to_json_value({**verdict.to_dict(), "answers": given})


@router.post(
    "/participants/{participant_id}/referral",
    **answers(ParticipantRecord, 201),
    tags=["screening"],
    dependencies=[api_requires("record_referral")],
)
def referral(body: ReferralIn, request: Request, session: Session, participant_id: PID) -> Json:
    """Record the referral: its date (anchors the phone screen) and source."""
    record = sv.record_referral(
        state_of(request).engine,
        session.actor,
        participant_id,
        referral_date=_day(body.referral_date, "referral_date"),
        source=body.source,
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/phone-screen",
    **answers(ParticipantRecord, 201),
    tags=["screening"],
    dependencies=[api_requires("record_phone_screen")],
)
def phone_screen(
    body: PhoneScreenIn, request: Request, session: Session, participant_id: PID
) -> Json:
    """Record the phone screen: pass, or fail with a coded reason (ends the screening)."""
    record = sv.record_phone_screen(
        state_of(request).engine,
        session.actor,
        participant_id,
        outcome=body.outcome,
        screened_at=_time(body.screened_at, "screened_at"),
        failure_code=body.failure_code,
        failure_text=body.failure_text,
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/eligibility",
    **answers(EligibilityRecord, 201),
    tags=["screening"],
    dependencies=[api_requires("check_eligibility")],
)
def eligibility(
    body: EligibilityIn,
    request: Request,
    session: Session,
    participant_id: PID,
    idempotency_key: IdempotencyKey = None,
) -> Json:
    """Decide eligibility: the checklist answers given, the other criteria from the forms."""
    record = sv.check_eligibility(
        state_of(request).engine,
        session.actor,
        participant_id,
        body.answers,
        idempotency_key=idempotency_key,
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/screen-failure",
    **answers(ParticipantRecord, 201),
    tags=["screening"],
    dependencies=[api_requires("record_screen_failure")],
)
def screen_failure(
    body: ScreenFailureIn, request: Request, session: Session, participant_id: PID
) -> Json:
    """End the screening with a coded reason."""
    record = sv.record_screen_failure(
        state_of(request).engine,
        session.actor,
        participant_id,
        code=body.code,
        text=body.text,
        failed_at=_when(body.failed_at, "failed_at"),
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/enrolment",
    **answers(ParticipantRecord, 201),
    tags=["screening"],
    dependencies=[api_requires("enrol")],
)
def enrol(body: EnrolIn, request: Request, session: Session, participant_id: PID) -> Json:
    """Enrol the eligible participant (the enrolment visit takes place that day)."""
    record = sv.enrol(
        state_of(request).engine,
        session.actor,
        participant_id,
        arm=body.arm,
        enrolled_at=_when(body.enrolled_at, "enrolled_at"),
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/enrolment/confirmation",
    **answers(ParticipantRecord, 201),
    tags=["screening"],
    dependencies=[api_requires("confirm_enrolment")],
)
def confirm(body: ConfirmIn, request: Request, session: Session, participant_id: PID) -> Json:
    """Confirm the enrolment (the confirmation visit takes place that day: study day 0)."""
    record = sv.confirm_enrolment(
        state_of(request).engine,
        session.actor,
        participant_id,
        confirmed_at=_when(body.confirmed_at, "confirmed_at"),
    )
    return to_json_value(record)
