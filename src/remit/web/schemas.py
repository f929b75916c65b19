"""The JSON API's request bodies, and the responses that are the web's own (the login token,
who the token acts as, an error, a row of the access matrix).

A response carrying a service record has no schema here: its schema is the record class of
:mod:`remit.services.records` itself (see ``answers`` in :mod:`remit.web.api`).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from remit.protocol import VitalSign
from remit.protocol.deviation import DeviationSeverity
from remit.protocol.status import DoseKind, DoseStatus, EntryStatus, FollowUpCallStatus
from remit.web.core import PARTICIPANT_ID_PATTERN

Answer = str | int | float | bool | None
ParticipantKey = Field(pattern=PARTICIPANT_ID_PATTERN, max_length=40)


class Out(BaseModel):
    """The web's own response schemas ignore fields added later (forward compatible)."""

    model_config = ConfigDict(extra="ignore")


class ErrorOut(BaseModel):
    """Every refusal: what was wrong, what was expected, what to try."""

    error: str
    message: str
    expected: str | None = None
    hint: str | None = None
    item: str | None = None


class LoginIn(BaseModel):
    """Username and password; ``role`` (``role`` or ``role@SITE``) when several are held;
    ``totp_code`` (the authenticator app's code, or a recovery code) for a user with MFA."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    role: str | None = Field(default=None, max_length=120)
    totp_code: str | None = Field(default=None, max_length=40)


class PasswordChangeIn(BaseModel):
    """The caller's current password and the new one (at least 12 characters, 5 different,
    not containing the username, not a very common password)."""

    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


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


class AssessmentIn(BaseModel):
    """A new form: ``answers`` item number or code → answer."""

    model_config = ConfigDict(extra="forbid")
    participant_id: str = ParticipantKey
    visit_code: str = Field(min_length=1, max_length=20)
    scale: str = Field(min_length=1, max_length=40)
    answers: dict[str, Answer]
    version: str | None = Field(default=None, max_length=40)
    status: EntryStatus = "complete"
    #: When the form was done: ISO 8601 WITH an offset (a naive time is refused; the API does
    #: not guess the site's zone). ``None``: the visit's date.
    assessed_at: str | None = Field(default=None, max_length=40)
    #: Why the form is dated outside its visit's window (required then; a deviation keeps it).
    window_reason: str | None = Field(default=None, max_length=2000)


class AssessmentUpdateIn(BaseModel):
    """New answers of a form; a complete form needs a ``reason``."""

    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Answer]
    reason: str | None = Field(default=None, max_length=2000)
    status: EntryStatus | None = None


class NoteIn(BaseModel):
    """A note on acknowledging or closing an alert."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000)


class DeviationIn(BaseModel):
    """A protocol deviation logged by a person (``participant_id`` left out: study-wide);
    ``category`` a word of ``remit.protocol.deviation.LoggedDeviationCategory``."""

    model_config = ConfigDict(extra="forbid")
    participant_id: str | None = Field(default=None, pattern=PARTICIPANT_ID_PATTERN, max_length=40)
    visit_code: str | None = Field(default=None, min_length=1, max_length=20)
    category: str = Field(min_length=1, max_length=64)
    severity: DeviationSeverity = DeviationSeverity.MINOR
    occurred_date: date = Field(description="the day it happened (YYYY-MM-DD)")
    description: str = Field(min_length=1, max_length=2000)


class VitalsIn(BaseModel):
    """Vital signs measured at a visit (at a dosing visit: in its running session)."""

    model_config = ConfigDict(extra="forbid")
    visit_code: str = Field(min_length=1, max_length=20)
    measured_at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)
    values: dict[VitalSign, float] = Field(
        description="value by vital-sign code (remit.protocol.VITAL_SIGNS), in its unit",
        min_length=1,
    )


class AccessRow(Out):
    """One row of the access matrix: operation and the roles allowed."""

    operation: str
    roles: list[str]


class DosingStartIn(BaseModel):
    """Open a dosing session."""

    model_config = ConfigDict(extra="forbid")
    started_at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)


class DischargeSignOffIn(BaseModel):
    """An investigator signs the participant's discharge from a dosing session off."""

    model_config = ConfigDict(extra="forbid")
    signed_at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)
    note: str | None = Field(default=None, max_length=2000)


class FollowUpCallIn(BaseModel):
    """The next-day follow-up call of a dosing session: done, or not reached (with a note)."""

    model_config = ConfigDict(extra="forbid")
    status: FollowUpCallStatus = Field(description="done or not_reached")
    called_at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)
    note: str | None = Field(default=None, max_length=2000)


class DoseIn(BaseModel):
    """A dose given, offered or withheld."""

    model_config = ConfigDict(extra="forbid")
    kind: DoseKind
    dose_mg: float = Field(ge=0, le=10000)
    status: DoseStatus = DoseStatus.GIVEN
    at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)
    withheld_reason: str | None = Field(default=None, max_length=2000)
    override_reason: str | None = Field(default=None, max_length=2000)


class ConsentIn(BaseModel):
    """Informed consent obtained by the caller."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(description="version of the consent form, e.g. 1.0", max_length=32)
    components: list[str] = Field(
        description="components agreed to (the required ones among them)", max_length=50
    )
    consented_at: str = Field(
        description="when the participant signed: ISO 8601 time with a UTC offset", max_length=40
    )


class ConsentWithdrawalIn(BaseModel):
    """A withdrawal of consent: fully (no components) or of optional components only."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    withdrawn_at: str = Field(description="ISO 8601 time with a UTC offset", max_length=40)
    components: list[str] | None = Field(
        default=None, description="optional components withdrawn; leave out to withdraw fully"
    )


class TaperStepIn(BaseModel):
    """One step of a dated taper plan: from ``date`` on, ``dose``."""

    model_config = ConfigDict(extra="forbid")
    date: str = Field(description="YYYY-MM-DD", max_length=10)
    dose: str = Field(min_length=1, max_length=100)


class ConmedIn(BaseModel):
    """A concomitant medication with its WHO ATC code (e.g. N06AB06) and dated taper plan."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    atc_code: str | None = Field(default=None, max_length=7)
    route: str | None = Field(default=None, max_length=50)
    dose: str | None = Field(default=None, max_length=100)
    indication: str | None = Field(default=None, max_length=200)
    start_date: str | None = Field(default=None, description="YYYY-MM-DD", max_length=10)
    stop_date: str | None = Field(default=None, description="YYYY-MM-DD", max_length=10)
    taper_steps: list[TaperStepIn] = Field(default_factory=list, max_length=100)


class ConmedEditIn(BaseModel):
    """Fields of a medication to change (only those given), and the reason."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    atc_code: str | None = Field(default=None, max_length=7)
    route: str | None = Field(default=None, max_length=50)
    dose: str | None = Field(default=None, max_length=100)
    indication: str | None = Field(default=None, max_length=200)
    start_date: str | None = Field(default=None, description="YYYY-MM-DD", max_length=10)
    stop_date: str | None = Field(default=None, description="YYYY-MM-DD", max_length=10)
    taper_steps: list[TaperStepIn] | None = Field(default=None, max_length=100)


class AdverseEventEditIn(BaseModel):
    """Fields of an adverse event to change (only those present; ``end_date: null`` clears the
    end date), and the reason. ``serious: true`` with ``seriousness_criteria`` upgrades a
    non-serious event to an SAE, its clock from ``became_serious_at`` (ISO 8601 with an offset;
    absent: now); a serious event is never made non-serious."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    severity: str | None = Field(default=None, max_length=32)
    relatedness: str | None = Field(default=None, max_length=32)
    outcome: str | None = Field(default=None, max_length=32)
    end_date: str | None = Field(default=None, description="YYYY-MM-DD", max_length=10)
    action_taken: str | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, max_length=2000)
    serious: bool | None = None
    seriousness_criteria: list[str] | None = Field(default=None, max_length=20)
    became_serious_at: str | None = Field(
        default=None, description="ISO 8601 with an offset", max_length=40
    )


class ConmedStopIn(BaseModel):
    """The day a medication was stopped (and why, for the audit trail)."""

    model_config = ConfigDict(extra="forbid")
    stop_date: str = Field(description="YYYY-MM-DD", max_length=10)
    reason: str | None = Field(default=None, max_length=2000)
