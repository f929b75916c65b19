"""Pydantic models of the pages' fixed forms (scale forms are generated: see ``forms.py``).

A page POST reads its fields into one of these models; a refused field becomes one clear
message (422) naming the field, what was given and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from remit.errors import InputError
from remit.protocol import VITAL_SIGN_CODES, VitalSign
from remit.protocol.adverse_event import ActionTaken, AEOutcome, Relatedness, Severity
from remit.protocol.clock import UTC_ZONE, parse_clinical_time
from remit.protocol.deviation import DeviationSeverity
from remit.protocol.status import DoseKind, DoseStatus, FollowUpCallStatus
from remit.web.core import form_key

M = TypeVar("M", bound=BaseModel)


def _blank_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _site_time(value: object, info: ValidationInfo) -> object:
    """``YYYY-MM-DDTHH:MM`` from a datetime-local field, read in the site's time zone (the
    ``zone`` of the validation context, UTC without one) by the one parser of clinical times,
    :func:`remit.protocol.clock.parse_clinical_time`: a time the clocks skipped is refused, a
    repeated one needs the form's ``fold`` choice."""
    if isinstance(value, str) and value.strip():
        context = info.context or {}
        zone = context.get("zone") or UTC_ZONE
        field = (info.field_name or "time").replace("_", " ")
        return parse_clinical_time(value, zone, fold=context.get("fold"), name=field)
    return value


def form_fold(form: Mapping[str, str]) -> int | None:
    """The form's answer to "which of the two" for a time the clocks repeated (``fold``:
    ``"0"`` the first, ``"1"`` the second; ``None`` not given)."""
    raw = (form.get("fold") or "").strip()
    if raw in ("0", "1"):
        return int(raw)
    if raw:
        raise InputError(f"fold {raw!r} is not 0 or 1", expected="0 (first) or 1 (second)")
    return None


Optional = Annotated[Annotated[str, Field(max_length=2000)] | None, BeforeValidator(_blank_none)]
#: A clinical time entered on a page, in the participant's site time zone, stored in UTC.
SiteTime = Annotated[datetime, BeforeValidator(_site_time)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class PageForm(BaseModel):
    """Fields of a page form (the CSRF token and idempotency key are read apart)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class StartForm(PageForm):
    started_at: SiteTime


class EndForm(PageForm):
    ended_at: SiteTime
    notes: Optional = None


class DoseForm(PageForm):
    kind: DoseKind
    dose_mg: float = Field(ge=0, le=10000)
    status: DoseStatus  # no default: the person chooses given, offered or withheld
    at: SiteTime
    withheld_reason: Optional = None
    override_reason: Optional = None


class SignOffForm(PageForm):
    signed_at: SiteTime
    note: Optional = None


class FollowUpCallForm(PageForm):
    status: FollowUpCallStatus
    called_at: SiteTime
    note: Optional = None


class VitalsForm(PageForm):
    """One field per vital sign, named by its code (``heart_rate`` …); blank: not read."""

    measured_at: SiteTime
    values: dict[VitalSign, float] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _sign_fields(cls, data: object) -> object:
        if not isinstance(data, Mapping):
            return data
        fields = {code: _blank_none(data.get(code)) for code in VITAL_SIGN_CODES}
        return {**data, "values": {k: v for k, v in fields.items() if v is not None}}


class NoteForm(PageForm):
    note: Text


class AdverseEventForm(PageForm):
    term: Annotated[str, Field(min_length=1, max_length=200)]
    onset_date: date
    severity: Severity
    relatedness: Relatedness
    outcome: AEOutcome = AEOutcome.UNKNOWN
    end_date: Annotated[date | None, BeforeValidator(_blank_none)] = None
    action_taken: Annotated[ActionTaken | None, BeforeValidator(_blank_none)] = None
    serious: bool = False
    seriousness_criteria: Optional = None
    description: Optional = None


class AdverseEventEditForm(PageForm):
    """An adverse event's fields after the change, with the reason. ``serious`` ticked on a
    non-serious event upgrades it to an SAE, its clock from ``became_serious_at`` (in the site's
    time zone; blank: now)."""

    severity: Severity
    relatedness: Relatedness
    outcome: AEOutcome
    end_date: Annotated[date | None, BeforeValidator(_blank_none)] = None
    action_taken: Annotated[ActionTaken | None, BeforeValidator(_blank_none)] = None
    serious: bool = False
    seriousness_criteria: Optional = None
    became_serious_at: Annotated[
        datetime | None, BeforeValidator(_site_time), BeforeValidator(_blank_none)
    ] = None
    description: Optional = None
    reason: Text


class DeviationForm(PageForm):
    participant: Optional = None
    visit_code: Optional = None
    category: Annotated[str, Field(min_length=1, max_length=64)]
    severity: DeviationSeverity = DeviationSeverity.MINOR
    occurred_date: date
    description: Text


class QueryForm(PageForm):
    record_table: Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]
    record_id: int = Field(ge=1)
    field: Optional = None
    text: Text


class MessageForm(PageForm):
    message: Text


class ClosingForm(PageForm):
    message: Optional = None


class SignForm(PageForm):
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    meaning: Text
    #: The authenticator app's code, when the signer has MFA.
    totp_code: Optional = None


class UserForm(PageForm):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    role: Annotated[str, Field(min_length=1, max_length=40)]
    site: Optional = None
    full_name: Optional = None
    email: Optional = None


class ActiveForm(PageForm):
    active: Literal["yes", "no"]
    reason: Optional = None


class VisitDateForm(PageForm):
    actual_date: date
    #: Why the visit took place outside its window (required then; a deviation keeps it).
    window_reason: Optional = None


class PurposeForm(PageForm):
    purpose: Text


def parse_form(model: type[M], form: Mapping[str, str], zone: ZoneInfo | None = None) -> M:
    """``form`` read into ``model``, or :class:`InputError` naming every refused field. Times
    (:data:`SiteTime`) are read in ``zone`` (UTC when ``None``)."""
    try:
        return model.model_validate(dict(form), context={"zone": zone, "fold": form_fold(form)})
    except ValidationError as error:
        problems = []
        for e in error.errors():
            loc = [str(p) for p in e.get("loc", ())]
            field = ".".join(loc) or "form"
            given = form.get(field, form.get(loc[-1], "") if loc else "")  # values.<sign>: <sign>
            given = given if len(given) <= 60 else given[:57] + "…"
            problems.append(f"{field.replace('_', ' ')} {given!r}: {e.get('msg')}")
        raise InputError(
            "; ".join(problems),
            hint="go back, correct the field and send the form again",
        ) from None


def posted_form(
    form: Mapping[str, str], model: type[M], zone: ZoneInfo | None = None
) -> tuple[M, str | None]:
    """A page POST's checked form (:data:`remit.web.core.CheckedForm`): its fields read into
    ``model`` (:func:`parse_form`, times in ``zone``) and its idempotency key (``None``
    without one)."""
    return parse_form(model, form, zone), form_key(form)


class ConmedForm(PageForm):
    """A concomitant medication; ``taper`` one step a line, ``YYYY-MM-DD dose``."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    atc_code: Optional = None
    dose: Optional = None
    route: Optional = None
    indication: Optional = None
    start_date: Annotated[date | None, BeforeValidator(_blank_none)] = None
    stop_date: Annotated[date | None, BeforeValidator(_blank_none)] = None
    taper: Optional = None
    reason: Optional = None


class ConmedStopForm(PageForm):
    stop_date: date
    reason: Optional = None
