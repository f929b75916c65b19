"""The JSON API under ``/api/v1``: each route validates input, calls one service, returns a
schema. Log in with ``POST /api/v1/auth/login`` and send ``Authorization: Bearer TOKEN``."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from remit import services as sv
from remit.errors import (
    ConflictError,
    MfaRequiredError,
    PermissionDeniedError,
    TooManyAttemptsError,
    TransactionCollisionError,
)
from remit.json_values import to_json_value
from remit.protocol.clock import parse_clinical_time
from remit.protocol.status import ALERT_FILTERS, ParticipantStatus, values
from remit.services import (
    AlertRecord,
    AssessmentRecord,
    DeviationRecord,
    DoseRecord,
    DosingSessionRecord,
    ParticipantRecord,
    QueryRecord,
    SigningPreviewRecord,
    UserRecord,
    VisitRecord,
    VitalsRecord,
)
from remit.services.access import ACCESS, ROLES
from remit.web.core import (
    ID,
    PARTICIPANT_ID_PATTERN,
    PID,
    TABLE,
    WEB_ACCESS,
    ApiCaller,
    api_caller,
    api_requires,
    api_session,
    client_of,
    login_policy,
    record_entered_dose,
    state_of,
)
from remit.web.schemas import (
    AccessRow,
    AssessmentIn,
    AssessmentUpdateIn,
    DeviationIn,
    DischargeSignOffIn,
    DoseIn,
    DosingStartIn,
    ErrorOut,
    FollowUpCallIn,
    LoginIn,
    MeOut,
    NoteIn,
    PasswordChangeIn,
    TokenOut,
    VitalsIn,
)
from remit.web.sessions import WebSession

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        401: "no session: log in first",
        403: "the role may not do this, or the participant is at another site",
        404: "no such record",
        409: "conflict: it exists already, or someone else changed it; or (error "
        "TransactionCollisionError, with Retry-After) the save collided with another made at "
        "the same moment: nothing was stored, send it again",
        422: "the input is refused (what was expected is in the body)",
        423: "locked or signed",
    }.items()
}

router = APIRouter(prefix="/api/v1", responses=_ERRORS)

#: The most characters of an ``Idempotency-Key`` header.
IDEMPOTENCY_KEY_MAX = 200

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=IDEMPOTENCY_KEY_MAX,
        description="Retrying with the same key and body returns the first result; "
        "never a duplicate.",
    ),
]
VisitPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,20}$")]
Session = Annotated[WebSession, Depends(api_session)]


#: What a route answering with service records returns: the records converted by the one JSON
#: conversion (:func:`remit.json_values.to_json_value`, as ``--json`` prints them).
Json = Any


def answers(
    model: Any, status_code: int = 200, *, errors: dict[int | str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Route options for a route answering with ``model`` (a service record class from
    :mod:`remit.services.records`, or a list of them): the OpenAPI schema is the record's own,
    and the body is the route's return value, already plain JSON (:data:`Json`). ``errors``
    documents the route's own error responses."""
    return {
        "response_model": None,
        "status_code": status_code,
        "responses": {
            status_code: {"model": model, "description": "Successful Response"},
            **(errors or {}),
        },
    }


def _etag(version: int) -> str:
    return f'"{version}"'


def json_answer(
    value: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``value`` (service records) as a JSON response, serialised once.

    A route returning plain data has FastAPI walk it again (``jsonable_encoder``) before
    rendering it; :func:`remit.json_values.to_json_value` already gives plain JSON, so the hot
    routes (a form's submission, read and save) render it themselves, as Starlette's
    ``JSONResponse`` does. Their OpenAPI response stays the record's (:func:`answers`)."""
    body = _JSON_ENCODER.encode(to_json_value(value)).encode()
    return JsonAnswer(body, status_code, headers)


#: ``json.dumps(..., ensure_ascii=False, allow_nan=False, separators=(",", ":"))``'s encoder,
#: made once instead of at each call.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class JsonAnswer(Response):
    """A rendered JSON body (``application/json``) with ``headers``: the response Starlette's
    ``Response(body, status_code, headers, media_type="application/json")`` is, its raw
    headers built in one loop instead of a render, two lists and a scan (the hot routes
    answer with one each, issue 16)."""

    media_type = "application/json"

    def __init__(
        self, body: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        raw: list[tuple[bytes, bytes]] = []
        for name, value in (headers or {}).items():
            lower = name.lower().encode("latin-1")
            if lower in _OWN_HEADERS:  # (the caller sets one of them: Starlette's way)
                super().__init__(body, status_code, headers, self.media_type)
                return
            raw.append((lower, value.encode("latin-1")))
        if not (status_code < 200 or status_code in (204, 304)):
            raw.append((b"content-length", str(len(body)).encode("latin-1")))
        raw.append((b"content-type", b"application/json"))
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = raw


#: The headers a :class:`JsonAnswer` sets itself unless given.
_OWN_HEADERS = frozenset({b"content-length", b"content-type"})


@router.post(
    "/auth/login",
    response_model=TokenOut,
    tags=["auth"],
    responses={
        401: {
            "model": ErrorOut,
            "description": "wrong credentials, or `mfa_required`: the user has MFA and "
            "totp_code is missing",
        },
        403: {"model": ErrorOut, "description": "`mfa_setup_required`: set MFA up on the web"},
        429: {"model": ErrorOut, "description": "too many failed logins"},
    },
)
def api_login(body: LoginIn, request: Request) -> TokenOut:
    """Exchange a username, password and (for a user with MFA) TOTP code for a bearer token."""
    state = state_of(request)
    client = client_of(request)
    delay = state.throttle.delay_for(client)
    if delay > 0:
        time.sleep(delay)  # a sync route: this runs in the thread pool
    try:
        actor = sv.login(
            state.engine,
            body.username,
            body.password,
            body.role,
            client=client,
            policy=login_policy(state),
            totp_code=body.totp_code,
        )
    except MfaRequiredError as needed:
        # the password was right: a code is missing, or MFA must be set up on the web first
        error = "mfa_setup_required" if needed.setup else "mfa_required"
        return JSONResponse(  # type: ignore[return-value]
            {"error": error, "message": needed.message, "hint": needed.hint},
            status_code=403 if needed.setup else 401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    except TooManyAttemptsError as error:
        raise HTTPException(
            status_code=429,
            detail=f"too many failed logins: try again in {int(error.retry_after_s) + 1} s",
            headers={"Retry-After": str(int(error.retry_after_s) + 1)},
        ) from None
    except PermissionDeniedError:
        state.throttle.failed(client)
        raise HTTPException(
            status_code=401,
            detail="unknown username, wrong password or inactive account",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    token = state.sessions.create(actor, kind="bearer")
    return TokenOut(
        token=token,
        username=actor.username,
        role=actor.role,
        site_id=actor.site_id,
        idle_timeout_s=state.settings.idle_timeout_s,
        absolute_timeout_s=state.settings.absolute_timeout_s,
    )


@router.post("/auth/logout", status_code=204, tags=["auth"], dependencies=[api_requires("any")])
def api_logout(request: Request, session: Session) -> Response:
    """End the token's session."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    state = state_of(request)
    state.sessions.end(token)
    sv.log_logout(state.engine, session.actor, client=client_of(request))
    return Response(status_code=204)


@router.post(
    "/auth/password",
    **answers(UserRecord),
    tags=["auth"],
    dependencies=[api_requires("change_own_password")],
)
def api_change_password(body: PasswordChangeIn, request: Request, session: Session) -> Json:
    """Change the caller's own password (the current one must match). A user whose password
    an admin set must do this before any other call: every other route answers 403 until then.
    This token stays valid; the user's other tokens and page sessions end."""
    state = state_of(request)
    user = sv.change_password(state.engine, session.actor, body.current_password, body.new_password)
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    state.sessions.end_user(session.actor.user_id, keep=token)  # other tokens and browsers
    return to_json_value(user)


@router.get("/me", response_model=MeOut, tags=["auth"], dependencies=[api_requires("any")])
def me(session: Session) -> MeOut:
    """Who the token acts as."""
    a = session.actor
    return MeOut(username=a.username, role=a.role, site_id=a.site_id)


@router.get(
    "/access", response_model=list[AccessRow], tags=["auth"], dependencies=[api_requires("any")]
)
def access_table() -> list[AccessRow]:
    """The access matrix: every operation and the roles allowed (services and web rules)."""
    rows = [
        AccessRow(operation=op, roles=[r for r in ROLES if r in who]) for op, who in ACCESS.items()
    ]
    rows += [
        AccessRow(operation=op, roles=[r for r in ROLES if r in who])
        for op, who in WEB_ACCESS.items()
    ]
    return rows


@router.get(
    "/participants",
    **answers(list[ParticipantRecord]),
    tags=["participants"],
    dependencies=[api_requires("view_participants")],
)
def participants(
    request: Request,
    session: Session,
    status: Annotated[
        str | None,
        Query(pattern="^(" + "|".join(values(ParticipantStatus)) + ")$"),
    ] = None,
) -> Json:
    """Participants of the caller's sites."""
    found = sv.list_participants(state_of(request).engine, session.actor, status=status)
    return to_json_value(found)


@router.get(
    "/participants/{participant_id}",
    **answers(ParticipantRecord),
    tags=["participants"],
    dependencies=[api_requires("view_participants")],
)
def participant(request: Request, session: Session, participant_id: PID) -> Json:
    """One participant."""
    p = sv.get_participant(state_of(request).engine, session.actor, participant_id)
    return to_json_value(p)


@router.get(
    "/participants/{participant_id}/visits",
    **answers(list[VisitRecord]),
    tags=["participants"],
    dependencies=[api_requires("view_participants")],
)
def visits(request: Request, session: Session, participant_id: PID) -> Json:
    """A participant's visits: targets, windows, what happened."""
    found = sv.list_visits(state_of(request).engine, session.actor, participant_id)
    return to_json_value(found)


@router.get(
    "/participants/{participant_id}/assessments",
    **answers(list[AssessmentRecord]),
    tags=["assessments"],
    dependencies=[api_requires("view_participants")],
)
def participant_assessments(request: Request, session: Session, participant_id: PID) -> Json:
    """A participant's forms."""
    found = sv.list_assessments(state_of(request).engine, session.actor, participant_id)
    return to_json_value(found)


#: The guards of a form's submission, read and save: the session lookup, the role check and
#: the service call in one worker-thread hand-off (:class:`remit.web.core.ApiCaller`).
RECORD_ASSESSMENT = api_caller("record_assessment")
READ_ASSESSMENT = api_caller("view_participants")
SAVE_ASSESSMENT = api_caller("update_assessment")


@router.post(
    "/assessments",
    **answers(AssessmentRecord, 201),
    tags=["assessments"],
    dependencies=[RECORD_ASSESSMENT],
)
async def create_assessment(
    body: AssessmentIn,
    request: Request,
    caller: Annotated[ApiCaller, RECORD_ASSESSMENT],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Enter a form: validated, scored and checked by the safety rules in one transaction."""
    return await enter_assessment(request, caller, body, idempotency_key)


async def enter_assessment(
    request: Request, caller: ApiCaller, body: AssessmentIn, idempotency_key: str | None
) -> Response:
    """The work of ``POST /api/v1/assessments`` once its input is validated: the caller
    checked, the form stored, its record answered 201. :func:`create_assessment` and the
    route's fast path (:mod:`remit.web.fast_capture`) both end here."""
    engine = caller.state.engine

    def enter(session: WebSession) -> Response:
        record = sv.record_assessment(
            engine,
            session.actor,
            body.participant_id,
            body.visit_code,
            body.scale,
            body.answers,
            version=body.version,
            status=body.status,
            idempotency_key=idempotency_key,
            assessed_at=None
            if body.assessed_at is None
            else parse_clinical_time(body.assessed_at, None, name="assessed_at"),
            window_reason=body.window_reason,
        )
        headers = {"ETag": _etag(record.version), "Location": f"/api/v1/assessments/{record.id}"}
        return json_answer(record, 201, headers)

    return await caller.run(enter, writes=True)


@router.get(
    "/assessments/{assessment_id}",
    **answers(AssessmentRecord),
    tags=["assessments"],
    dependencies=[READ_ASSESSMENT],
)
async def assessment(
    request: Request, caller: Annotated[ApiCaller, READ_ASSESSMENT], assessment_id: ID
) -> Response:
    """One form; its ``ETag`` is the version to send back in ``If-Match`` when saving."""
    engine = caller.state.engine

    def read(session: WebSession) -> Response:
        record = sv.get_assessment(engine, session.actor, assessment_id)
        return json_answer(record, headers={"ETag": _etag(record.version)})

    return await caller.run(read)


@router.put(
    "/assessments/{assessment_id}",
    **answers(
        AssessmentRecord,
        errors={
            412: {"model": ErrorOut, "description": "If-Match names an older version"},
            428: {"model": ErrorOut, "description": "If-Match is missing"},
        },
    ),
    tags=["assessments"],
    dependencies=[SAVE_ASSESSMENT],
)
async def save_assessment(
    body: AssessmentUpdateIn,
    request: Request,
    caller: Annotated[ApiCaller, SAVE_ASSESSMENT],
    assessment_id: ID,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=40)] = None,
) -> Response:
    """Save a form read at the version in ``If-Match`` (412 if someone saved since; 409 with
    ``Retry-After`` if the save collided with another at the same moment: send it again)."""
    engine = caller.state.engine
    return await caller.run(
        lambda session: _save_assessment(engine, session, assessment_id, body, if_match),
        writes=True,
    )


def _save_assessment(
    engine: sv.Engine,
    session: WebSession,
    assessment_id: int,
    body: AssessmentUpdateIn,
    if_match: str | None,
) -> Response:
    if not if_match:
        raise HTTPException(
            status_code=428,
            detail="send If-Match with the ETag of the version you read (GET the form first)",
        )
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise HTTPException(status_code=412, detail=f"If-Match {if_match!r} is not a version")
    current = sv.get_assessment(engine, session.actor, assessment_id)
    if current.version != int(tag):
        raise HTTPException(
            status_code=412,
            detail=f"the form is at version {current.version}, not {tag}: "
            "someone saved it after you read it; GET it again and reapply your change",
        )
    try:
        record = sv.update_assessment(
            engine,
            session.actor,
            assessment_id,
            body.answers,
            expected_version=int(tag),
            reason=body.reason,
            status=body.status,
        )
    except TransactionCollisionError:  # nothing stored, the version still holds: 409, resend
        raise
    except ConflictError as error:  # saved by someone else between the read and the write
        raise HTTPException(status_code=412, detail=str(error)) from None
    return json_answer(record, headers={"ETag": _etag(record.version)})


def _time(text: str, name: str) -> datetime:
    """A clinical time of the API: ISO 8601 with an offset, by the one parser of clinical
    times (:func:`remit.protocol.clock.parse_clinical_time`); a naive time is refused."""
    return parse_clinical_time(text, None, name=name)


@router.post(
    "/participants/{participant_id}/dosing/{visit_code}/start",
    **answers(DosingSessionRecord, 201),
    tags=["dosing"],
    dependencies=[api_requires("start_dosing_session")],
)
def dosing_start(
    body: DosingStartIn,
    request: Request,
    session: Session,
    participant_id: PID,
    visit_code: VisitPath,
    idempotency_key: IdempotencyKey = None,
) -> Json:
    """Open the dosing session held at ``visit_code``."""
    record = sv.start_dosing_session(
        state_of(request).engine,
        session.actor,
        participant_id,
        visit_code,
        started_at=_time(body.started_at, "started_at"),
        idempotency_key=idempotency_key,
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/dosing/{visit_code}/doses",
    **answers(DoseRecord, 201),
    tags=["dosing"],
    dependencies=[api_requires("record_dose")],
)
def dosing_dose(
    body: DoseIn,
    request: Request,
    session: Session,
    participant_id: PID,
    visit_code: VisitPath,
    idempotency_key: IdempotencyKey = None,
) -> Json:
    """Record the initial or supplemental dose (limits and the offer window are checked)."""
    record = record_entered_dose(
        state_of(request).engine,
        session.actor,
        participant_id,
        visit_code,
        body,
        _time(body.at, "at"),
        idempotency_key,
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/dosing/{visit_code}/discharge-sign-off",
    **answers(DosingSessionRecord),
    tags=["dosing"],
    dependencies=[api_requires("sign_off_discharge")],
)
def dosing_sign_off(
    body: DischargeSignOffIn,
    request: Request,
    session: Session,
    participant_id: PID,
    visit_code: VisitPath,
) -> Json:
    """An investigator signs the discharge off (one of the protocol's discharge criteria)."""
    record = sv.sign_off_discharge(
        state_of(request).engine,
        session.actor,
        participant_id,
        visit_code,
        signed_at=_time(body.signed_at, "signed_at"),
        note=body.note,
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/dosing/{visit_code}/follow-up-call",
    **answers(DosingSessionRecord),
    tags=["dosing"],
    dependencies=[api_requires("record_follow_up_call")],
)
def dosing_follow_up_call(
    body: FollowUpCallIn,
    request: Request,
    session: Session,
    participant_id: PID,
    visit_code: VisitPath,
) -> Json:
    """Record the next-day follow-up call scheduled when the session ended."""
    record = sv.record_follow_up_call(
        state_of(request).engine,
        session.actor,
        participant_id,
        visit_code,
        status=body.status,
        called_at=_time(body.called_at, "called_at"),
        note=body.note,
    )
    return to_json_value(record)


@router.post(
    "/participants/{participant_id}/vitals",
    **answers(VitalsRecord, 201),
    tags=["dosing"],
    dependencies=[api_requires("record_vitals")],
)
def vitals(
    body: VitalsIn,
    request: Request,
    session: Session,
    participant_id: PID,
    idempotency_key: IdempotencyKey = None,
) -> Json:
    """Record vital signs; values beyond the protocol's thresholds raise alerts."""
    measured_at = _time(body.measured_at, "measured_at")
    record = sv.record_vitals(
        state_of(request).engine,
        session.actor,
        participant_id,
        body.visit_code,
        measured_at=measured_at,
        values=body.values,
        idempotency_key=idempotency_key,
    )
    return to_json_value(record)


@router.get(
    "/alerts",
    **answers(list[AlertRecord]),
    tags=["alerts"],
    dependencies=[api_requires("view_alerts")],
)
def alerts(
    request: Request,
    session: Session,
    status: Annotated[str | None, Query(pattern=f"^({'|'.join(ALERT_FILTERS)})$")] = None,
) -> Json:
    """Alerts, most pressing first."""
    found = sv.list_alerts(state_of(request).engine, session.actor, status=status)
    return to_json_value(found)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    **answers(AlertRecord),
    tags=["alerts"],
    dependencies=[api_requires("acknowledge_alert")],
)
def acknowledge(request: Request, session: Session, alert_id: ID, body: NoteIn) -> Json:
    """Acknowledge an alert with a note (what is being done)."""
    a = sv.acknowledge_alert(state_of(request).engine, session.actor, alert_id, note=body.note)
    return to_json_value(a)


@router.post(
    "/alerts/{alert_id}/close",
    **answers(AlertRecord),
    tags=["alerts"],
    dependencies=[api_requires("close_alert")],
)
def close(request: Request, session: Session, alert_id: ID, body: NoteIn) -> Json:
    """Close an alert with a note (how it was resolved)."""
    a = sv.close_alert(state_of(request).engine, session.actor, alert_id, note=body.note)
    return to_json_value(a)


@router.get(
    "/deviations",
    **answers(list[DeviationRecord]),
    tags=["deviations"],
    dependencies=[api_requires("view_deviations")],
)
def deviations(
    request: Request,
    session: Session,
    participant: Annotated[str | None, Query(max_length=40)] = None,
    site: Annotated[str | None, Query(max_length=32)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
    source: Annotated[str | None, Query(max_length=16)] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> Json:
    """The deviation log, automatic and logged entries, newest first; every filter optional."""
    found = sv.list_deviations(
        state_of(request).engine,
        session.actor,
        participant=participant,
        site=site,
        category=category,
        severity=severity,
        source=source,
        date_from=date_from,
        date_to=date_to,
    )
    return to_json_value(found)


@router.post(
    "/deviations",
    **answers(DeviationRecord, 201),
    tags=["deviations"],
    dependencies=[api_requires("record_deviation")],
)
def deviation_log(
    body: DeviationIn, request: Request, session: Session, idempotency_key: IdempotencyKey = None
) -> Json:
    """Log a protocol deviation (category, severity, the day it happened, what happened)."""
    record = sv.record_deviation(
        state_of(request).engine,
        session.actor,
        body.participant_id,
        category=body.category,
        description=body.description,
        occurred_date=body.occurred_date,
        severity=body.severity.value,
        visit_code=body.visit_code,
        idempotency_key=idempotency_key,
    )
    return to_json_value(record)


@router.get(
    "/queries",
    **answers(list[QueryRecord]),
    tags=["queries"],
    dependencies=[api_requires("view_participants")],
)
def queries(
    request: Request,
    session: Session,
    status: Annotated[str | None, Query(pattern="^(open|answered|closed)$")] = None,
    participant: Annotated[
        str | None,
        Query(
            pattern=PARTICIPANT_ID_PATTERN,
            description="only this participant's queries (their study ID)",
        ),
    ] = None,
) -> Json:
    """Data queries, oldest first (one participant's with ``participant``: a participant of
    another site is refused with 403, an unknown one with 404)."""
    found = sv.list_queries(
        state_of(request).engine, session.actor, status=status, participant=participant
    )
    return to_json_value(found)


@router.get(
    "/signatures/{record_table}/{record_id}/preview",
    **answers(SigningPreviewRecord),
    tags=["signatures"],
    dependencies=[api_requires("sign")],
)
def signing_preview(request: Request, session: Session, record_table: TABLE, record_id: ID) -> Json:
    """What signing this record now would sign: participant, visit, form and version, every
    answer with its item label, the score, the record's version, who entered it, the exact
    content a signature binds to and its SHA-256, and the meanings the caller may sign with.
    Nothing is signed."""
    preview = sv.signing_preview(state_of(request).engine, session.actor, record_table, record_id)
    return to_json_value(preview)
