"""The JSON API's request and response schemas (apart from the store's tables)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remit.protocol import VitalSign

Answer = str | int | float | bool | None
ParticipantKey = Field(pattern=r"^[A-Za-z0-9-]{1,40}$", max_length=40)


class Out(BaseModel):
    """Response schemas ignore fields the services add later (forward compatible)."""

    model_config = ConfigDict(extra="ignore")


class ErrorOut(BaseModel):
    """Every refusal: what was wrong, what was expected, what to try."""

    error: str
    message: str
    expected: str | None = None
    hint: str | None = None
    item: str | None = None


class LoginIn(BaseModel):
    """Username and password; ``role`` (``role`` or ``role@SITE``) when several are held."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    role: str | None = Field(default=None, max_length=120)


class TokenOut(Out):
    """A bearer token for ``Authorization: Bearer …`` (ends at logout, idle or absolute
    timeout)."""

    token: str
    token_type: Literal["bearer"] = "bearer"
    username: str
    role: str
    site_id: int | None
    idle_timeout_s: float
    absolute_timeout_s: float


class MeOut(Out):
    """Who the token acts as."""

    username: str
    role: str
    site_id: int | None


class ParticipantOut(Out):
    """A participant (pseudonymous: no identifying data)."""

    id: int
    participant_id: str
    site: str
    arm: str | None
    status: str
    status_reason: str | None
    sex: str | None
    birth_year: int | None
    screened_at: str | None
    enrolled_at: str | None
    baseline_date: str | None
    simulated: bool


class VisitOut(Out):
    """A scheduled visit: target, window, what happened."""

    id: int
    participant_id: str
    visit_code: str
    label: str
    target_date: str | None
    window_start_date: str | None
    window_end_date: str | None
    actual_date: str | None
    status: str
    window_status: str | None
    deviation: str | None


class AlertOut(Out):
    """A safety alert."""

    id: int
    participant_id: str
    rule_id: str
    level: str
    message: str
    source_table: str | None
    source_id: int | None
    raised_at: str
    due_at: str | None
    status: str
    acknowledged_by: int | None
    acknowledged_at: str | None
    closed_by: int | None
    closed_at: str | None
    note: str | None


class AssessmentOut(Out):
    """A form: answers, score, version (also sent as the ``ETag``) and the alerts it raised."""

    id: int
    participant_id: str
    visit_code: str | None
    scale: str
    scale_version: str
    status: str
    version: int
    total: float | None
    band: str | None
    score: dict[str, Any]
    answers: dict[str, Any]
    rater_role: str | None
    timepoint: str | None
    assessed_at: str | None
    alerts: list[AlertOut] = []


class AssessmentIn(BaseModel):
    """A new form: ``answers`` item number or code → answer."""

    model_config = ConfigDict(extra="forbid")
    participant_id: str = ParticipantKey
    visit_code: str = Field(min_length=1, max_length=20)
    scale: str = Field(min_length=1, max_length=40)
    answers: dict[str, Answer]
    version: str | None = Field(default=None, max_length=40)
    status: Literal["draft", "complete"] = "complete"


class AssessmentUpdateIn(BaseModel):
    """New answers of a form; a complete form needs a ``reason``."""

    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Answer]
    reason: str | None = Field(default=None, max_length=2000)
    status: Literal["draft", "complete"] | None = None


class NoteIn(BaseModel):
    """A note on acknowledging or closing an alert."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000)


class VitalsIn(BaseModel):
    """Vital signs measured at a visit (at a dosing visit: in its running session)."""

    model_config = ConfigDict(extra="forbid")
    visit_code: str = Field(min_length=1, max_length=20)
    measured_at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)
    values: dict[VitalSign, float] = Field(
        description="value by vital-sign code (remit.protocol.VITAL_SIGNS), in its unit",
        min_length=1,
    )


class VitalsOut(Out):
    """Stored vital signs and the alerts they raised."""

    id: int
    participant_id: str
    visit_code: str | None
    measured_at: str
    minutes_after_dose: int | None
    values: dict[VitalSign, int | float] = Field(description="value by vital-sign code")
    alerts: list[AlertOut] = []


class QueryOut(Out):
    """A data query and its messages."""

    id: int
    participant_id: str | None
    record_table: str
    record_id: int
    field: str | None
    text: str
    status: str
    messages: list[tuple[int | None, str]]


class AccessRow(Out):
    """One row of the access matrix: operation and the roles allowed."""

    operation: str
    roles: list[str]


class DosingStartIn(BaseModel):
    """Open a dosing session."""

    model_config = ConfigDict(extra="forbid")
    started_at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)


class DosingSessionOut(Out):
    """A dosing session."""

    id: int
    participant_id: str
    visit_code: str
    session_number: int
    status: str
    started_at: str | None
    ended_at: str | None
    notes: str | None


class DoseIn(BaseModel):
    """A dose given, offered or withheld."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["initial", "supplemental"]
    dose_mg: float = Field(ge=0, le=10000)
    status: Literal["given", "offered", "withheld"] = "given"
    at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)
    withheld_reason: str | None = Field(default=None, max_length=2000)
    override_reason: str | None = Field(default=None, max_length=2000)


class DoseOut(Out):
    """A stored dose and the warnings about it."""

    id: int
    participant_id: str
    visit_code: str
    session_number: int
    kind: str
    dose_mg: float
    status: str
    offered_at: str | None
    given_at: str | None
    withheld_reason: str | None
    override_reason: str | None
    warnings: list[str] = []
