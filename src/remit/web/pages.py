"""Pages for people: login, dashboard, participants, casebook, form pages.

Every page works without JavaScript. Each POST checks the form's CSRF token, calls one service
and redirects (303) to a page that shows the result; a refused input re-renders the form with
the message next to the field.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from remit import services as sv
from remit.errors import (
    AnswerError,
    ConflictError,
    InputError,
    PermissionDeniedError,
    TooManyAttemptsError,
    TransactionCollisionError,
)
from remit.protocol import Protocol
from remit.protocol.clock import local_input_value, local_today, parse_clinical_time, site_zone
from remit.protocol.demographics import Characteristic, Ethnicity, Race
from remit.protocol.notify import UNDELIVERABLE_RULE
from remit.protocol.status import (
    ACTIVE_STATUSES,
    ENROLLED_STATUSES,
    OPEN_CALL_STATUSES,
    UNCLOSED,
    VisitStatus,
    values,
)
from remit.services.accounts import MIN_PASSWORD_LENGTH
from remit.services.participants import STATUS_CHANGES
from remit.services.signing import FORM_TABLE
from remit.web import (
    pages_blinding,
    pages_coding,
    pages_conmeds,
    pages_consent,
    pages_data,
    pages_deviations,
    pages_dosing,
    pages_epro,
    pages_mfa,
    pages_results,
    pages_screening,
    pages_security,
    pages_worklist,
)
from remit.web.core import (
    CODE,
    ID,
    LOGIN_COOKIE,
    MFA_LOGIN_PAGE,
    MFA_PAGE,
    PASSWORD_PAGE,
    PID,
    SESSION_COOKIE,
    CheckedForm,
    PageSession,
    client_of,
    form_key,
    login_csrf,
    login_policy,
    page_requires,
    participant_zone,
    render,
    state_of,
    web_allowed,
)
from remit.web.forms import (
    form_fields,
    missing_messages,
    read_answers,
    saved_message,
    scale_title,
    shown_answers,
)
from remit.web.page_forms import VisitDateForm, form_fold, parse_form

router = APIRouter(include_in_schema=False)
router.include_router(pages_dosing.router)
router.include_router(pages_data.router)
router.include_router(pages_deviations.router)
router.include_router(pages_conmeds.router)
router.include_router(pages_coding.router)
router.include_router(pages_consent.router)
router.include_router(pages_worklist.router)
router.include_router(pages_security.router)
router.include_router(pages_screening.router)
router.include_router(pages_results.router)
router.include_router(pages_blinding.router)
router.include_router(pages_mfa.router)
router.include_router(pages_epro.router)


def see_other(url: str) -> RedirectResponse:
    """Redirect after a POST (the browser then GETs the result page)."""
    return RedirectResponse(url, status_code=303)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or state_of(request).settings.https


# --- accounts -------------------------------------------------------------------------------


def _login_page(
    request: Request,
    next_url: str,
    error: str | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    state = state_of(request)
    pre = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        status_code=status,
        title="Log in",
        next_url=next_url,
        error=error,
        login_token=login_csrf(state.secret_key, pre),
        **extra,
    )
    response.set_cookie(
        LOGIN_COOKIE, pre, httponly=True, samesite="lax", secure=_secure(request), max_age=3600
    )
    return response


@router.get("/login")
def login_form(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> Response:
    """The login page."""
    return _login_page(request, next)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    """Check the password; on success start a new session (any old one ends) and go on."""
    state = state_of(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    next_url = form.get("next", "/")
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = "/"
    pre = request.cookies.get(LOGIN_COOKIE, "")
    sent = form.get("login_token", "")
    if not pre or not secrets.compare_digest(sent, login_csrf(state.secret_key, pre)):
        return _login_page(
            request, next_url, "The login form expired. Please try again.", status=400
        )
    username = form.get("username", "").strip()
    password = form.get("password", "")
    client = client_of(request)
    delay = await run_in_threadpool(state.throttle.delay_for, client)
    if delay > 0:
        await asyncio.sleep(delay)
    try:
        step = await run_in_threadpool(
            sv.login_password_step,
            state.engine,
            username,
            password,
            form.get("role") or None,
            client=client,
            policy=login_policy(state),
        )
    except TooManyAttemptsError as error:
        return _login_page(
            request,
            next_url,
            f"Too many failed logins. Try again in {int(error.retry_after_s // 60) + 1} minutes.",
            status=429,
        )
    except PermissionDeniedError:
        await run_in_threadpool(state.throttle.failed, client)
        return _login_page(
            request, next_url, "Unknown username or wrong password.", status=401, username=username
        )
    except InputError as error:
        return _login_page(
            request,
            next_url,
            f"You hold several roles: {error.expected}. Choose one and log in again.",
            status=422,
            username=username,
            role_hint=error.expected,
        )
    # After the password an MFA step may be due: the session is confined to it until done.
    stage = "" if step.mfa == "none" else step.mfa
    token = await run_in_threadpool(
        partial(
            state.sessions.create,
            step.actor,
            replaces=request.cookies.get(SESSION_COOKIE),
            stage=stage,
        )
    )
    if stage == "code":
        target = MFA_LOGIN_PAGE + "?next=" + quote(next_url, safe="")
    elif stage == "setup":
        target = MFA_PAGE
    else:
        target = next_url
    response = see_other(target)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, _checked: CheckedForm, session: PageSession) -> Response:
    """End the session."""
    state = state_of(request)
    state.sessions.end(request.cookies.get(SESSION_COOKIE))
    sv.log_logout(state.engine, session.actor, client=client_of(request))
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _password_page(
    request: Request, forced: bool, error: str | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "password.html",
        status_code=status,
        title="Change your password",
        forced=forced,
        error=error,
        rules=PASSWORD_RULES,
    )


#: The password rules as the page states them (the store checks them).
PASSWORD_RULES = (
    f"At least {MIN_PASSWORD_LENGTH} characters, at least 5 different, not containing your "
    "username, not a very common password."
)


@router.get(PASSWORD_PAGE, dependencies=[page_requires("change_own_password")])
def password_form(request: Request, session: PageSession) -> Response:
    """Change one's own password (forced after an admin added the user or reset it)."""
    state = state_of(request)
    return _password_page(
        request, sv.account_standing(state.engine, session.actor).must_change_password
    )


@router.post(PASSWORD_PAGE, dependencies=[page_requires("change_own_password")])
def password_submit(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """Check the current password, set the new one and start a new session."""
    state = state_of(request)
    forced = sv.account_standing(state.engine, session.actor).must_change_password
    new = form.get("new_password", "")
    if new != form.get("repeat_password", ""):
        return _password_page(
            request, forced, "The two new passwords differ: nothing was changed.", status=422
        )
    try:
        sv.change_password(state.engine, session.actor, form.get("current_password", ""), new)
    except PermissionDeniedError:
        return _password_page(
            request,
            forced,
            "The current password does not match: nothing was changed.",
            status=401,
        )
    except InputError as error:
        return _password_page(request, forced, f"{error} Nothing was changed.", status=422)
    token = state.sessions.create(session.actor, replaces=request.cookies.get(SESSION_COOKIE))
    state.sessions.end_user(session.actor.user_id, keep=token)  # other browsers, API tokens
    response = see_other("/?password_changed=1")
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )
    return response


# --- dashboard and participants -------------------------------------------------------------


@router.get("/", dependencies=[page_requires("any")])
def dashboard(request: Request, session: PageSession) -> Response:
    """The user's worklist first (overdue / today / this week), then the study: enrolment
    against target, visits due this week, overdue visits, next-day follow-up calls to make
    (due by the end of the week), alerts, queries."""
    state = state_of(request)
    actor = session.actor
    engine = state.engine
    today = datetime.now(UTC).date()
    week_start = today - timedelta(days=today.weekday())
    week_end = week_start + timedelta(days=6)
    people = (
        sv.list_participants(engine, actor) if web_allowed("view_participants", actor.role) else []
    )
    enrolled = sum(1 for p in people if p.enrolled_at is not None or p.status in ENROLLED_STATUSES)
    due, overdue = [], []
    calls: list[sv.DosingSessionRecord] = []
    sees_dosing = sv.may_see_dosing(state.protocol, actor)
    for p in people:
        if p.status not in ACTIVE_STATUSES:
            continue
        for v in sv.list_visits(engine, actor, p.participant_id):
            if v.status != VisitStatus.SCHEDULED or v.target_date is None:
                continue
            end = v.window_end_date or v.target_date
            if end < today:
                overdue.append(v)
            elif week_start <= v.target_date <= week_end:
                due.append(v)
        if not sees_dosing:  # a rater blind to dosing is refused the sessions and their notes
            continue
        calls.extend(
            c
            for c in sv.list_dosing_sessions(engine, actor, p.participant_id)
            if c.follow_up_status in OPEN_CALL_STATUSES
            and c.follow_up_due_date is not None
            and c.follow_up_due_date <= week_end
        )
    alerts = (
        sv.list_alerts(engine, actor, status=UNCLOSED)
        if web_allowed("view_alerts", actor.role)
        else None
    )
    queries = sv.list_queries(engine, actor, status="open")
    undeliverable = [a for a in alerts or () if a.rule_id == UNDELIVERABLE_RULE]
    target = state.protocol.study.target_enrolment
    return render(
        request,
        "dashboard.html",
        title="Dashboard",
        enrolled=enrolled,
        target=target,
        percent=round(100 * enrolled / target) if target else None,
        screened=len(people),
        due=due,
        overdue=overdue,
        calls=calls,
        alerts=alerts,
        undeliverable=undeliverable,
        queries=queries,
        today=today,
        **pages_worklist.worklist_context(request, session, pages_worklist.DASHBOARD_LIMIT),
    )


@router.get("/participants", dependencies=[page_requires("view_participants")])
def participants(request: Request, session: PageSession) -> Response:
    """Participants of the user's sites."""
    state = state_of(request)
    people = sv.list_participants(state.engine, session.actor)
    return render(
        request,
        "participants.html",
        title="Participants",
        people=people,
        sites=[s.code for s in state.protocol.study.sites],
        demographics=_demographic_choices(state.protocol),
        may_screen=web_allowed("screen_participant", session.actor.role),
        idem=uuid.uuid4().hex,
    )


def _demographic_choices(protocol: Protocol) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The registration form's demographic fields the protocol collects: field → (label,
    the CDISC terms to choose from)."""
    fields = {
        Characteristic.RACE: ("Race", values(Race)),
        Characteristic.ETHNICITY: ("Ethnicity", values(Ethnicity)),
    }
    return {c.value: found for c, found in fields.items() if protocol.demographics.collects(c)}


@router.post("/participants", dependencies=[page_requires("screen_participant")])
def screen(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """Register a person for screening in two steps: the first POST checks the form and shows
    what will be created; only a second POST with ``confirm=yes`` creates the study ID."""
    state = state_of(request)
    sites = [s.code for s in state.protocol.study.sites]
    site = form.get("site", "").strip() or None
    if site is not None and site not in sites:
        raise InputError(f"site {site!r}", expected="one of " + ", ".join(sites))
    sex = form.get("sex", "").strip()
    if sex not in ("female", "male"):
        raise InputError(
            f"sex {sex!r}" if sex else "sex is not given",
            expected="female or male",
            hint="the registration form needs sex and birth year; nothing was created",
        )
    birth = form.get("birth_year", "").strip()
    this_year = datetime.now(UTC).year
    if not (birth.isdigit() and 1900 <= int(birth) <= this_year):
        raise InputError(
            f"birth year {birth!r}" if birth else "birth year is not given",
            expected=f"a year from 1900 to {this_year}",
            hint="nothing was created",
        )
    collected = _demographic_choices(state.protocol)
    demographics: dict[str, str] = {}
    for field, (label, choices) in collected.items():
        given = form.get(field, "").strip()
        if given not in choices:
            raise InputError(
                f"{label.lower()} {given!r}" if given else f"{label.lower()} is not given",
                expected="one of " + ", ".join(choices),
                hint="the protocol collects it: choose NOT REPORTED when the person does not "
                "want to say; nothing was created",
            )
        demographics[field] = given
    for c in Characteristic:  # posted though not collected: the service refuses it
        if c.value not in collected and form.get(c.value, "").strip():
            demographics[c.value] = form.get(c.value, "").strip()
    identity = {k: form.get(k, "").strip() or None for k in ("name", "national_id", "contact")}
    if any(identity.values()) and not identity["name"]:
        raise InputError(
            "identity without a name",
            expected="the person's name with the national ID or contact",
            hint="nothing was created",
        )
    if form.get("confirm") != "yes":
        return render(
            request,
            "register_confirm.html",
            title="Confirm registration",
            site=site or (sites[0] if len(sites) == 1 else None),
            sex=sex,
            birth_year=birth,
            identity=identity,
            demographics={collected[k][0]: v for k, v in demographics.items() if k in collected},
            demographic_fields=demographics,
            idem=form_key(form) or uuid.uuid4().hex,
        )
    record = sv.screen_participant(
        state.engine,
        session.actor,
        site=site,
        sex=sex,
        birth_year=int(birth),
        identity=identity if any(identity.values()) else None,
        race=demographics.get("race"),
        ethnicity=demographics.get("ethnicity"),
        idempotency_key=form_key(form),
    )
    return see_other(f"/participants/{record.participant_id}")


@router.get("/participants/{pid}", dependencies=[page_requires("view_participants")])
def casebook(request: Request, session: PageSession, pid: PID) -> Response:
    """A participant's casebook: visit timeline with windows and the status of every form."""
    state = state_of(request)
    engine, actor, protocol = state.engine, session.actor, state.protocol
    person = sv.get_participant(engine, actor, pid)
    visits = sv.list_visits(engine, actor, pid)
    forms = {(a.visit_code, a.scale): a for a in sv.list_assessments(engine, actor, pid)}
    rows = []
    for v in visits:
        planned = [
            (f, forms.get((v.visit_code, f.scale)))
            for f in protocol.assessments_at(v.visit_code)
            if f.timing != "during_session"
        ]
        rows.append((v, planned, protocol.dosing_session(v.visit_code) is not None))
    # a rater blind to the safety data reads no adverse event, nor a follow-up call's note
    hidden = sv.SafetyBlind.of(protocol, actor).active
    aes = [] if hidden else sv.list_adverse_events(engine, actor, pid)
    dosing_hidden = hidden or not sv.may_see_dosing(protocol, actor)  # refused them otherwise
    sessions = [] if dosing_hidden else sv.list_dosing_sessions(engine, actor, pid)
    calls = [c for c in sessions if c.follow_up_status]
    return render(
        request,
        "casebook.html",
        title=f"Casebook {person.participant_id}",
        person=person,
        rows=rows,
        aes=aes,
        calls=calls,
        safety_hidden=sv.SAFETY_HIDDEN if hidden else None,
        today=datetime.now(UTC).date(),
        may_identity=web_allowed("read_identity", actor.role),
        may_unblind=person.kit is not None
        and protocol.blinding is not None
        and actor.role in protocol.blinding.emergency_unblinding,
        may_ae=web_allowed("record_adverse_event", actor.role),
        may_edit_ae=web_allowed("update_adverse_event", actor.role),
        may_visit=web_allowed("record_visit", actor.role),
        next_statuses=sorted(STATUS_CHANGES.get(person.status, ())),
        may_status=web_allowed("change_status", actor.role),
    )


@router.post(
    "/participants/{pid}/visits/{visit}/date", dependencies=[page_requires("record_visit")]
)
def visit_date(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """Record the date a visit took place."""
    body = parse_form(VisitDateForm, checked)
    sv.record_visit(
        state_of(request).engine,
        session.actor,
        pid,
        visit,
        body.actual_date,
        window_reason=body.window_reason,
    )
    return see_other(f"/participants/{pid}#visit-{visit}")


# --- forms ----------------------------------------------------------------------------------


def _planned_version(request: Request, visit: str, scale: str) -> str | None:
    for f in state_of(request).protocol.assessments_at(visit):
        if f.scale == scale:
            return f.version
    raise InputError(
        f"{scale} is not a form of visit {visit}",
        expected="a scale the protocol plans at that visit",
        hint="open the form from the participant's casebook",
    )


def _form_page(
    request: Request,
    *,
    pid: str,
    visit: str,
    scale: str,
    version: str | None,
    values: dict[str, str],
    errors: dict[str, str],
    record: sv.AssessmentRecord | None = None,
    status: int = 200,
    idem: str | None = None,
    message: str | None = None,
    reason: str = "",
    when: dict[str, str] | None = None,
) -> Response:
    action = (
        f"/assessments/{record.id}/edit"
        if record
        else f"/participants/{pid}/visits/{visit}/forms/{scale}"
    )
    fields = form_fields(scale, version)
    missing = missing_messages(fields, record.missing_required) if record else {}
    state = state_of(request)
    actor = request.state.web_session.actor
    zone = site_zone(state.protocol, sv.get_participant(state.engine, actor, pid).site)
    window = None
    outside = False
    if record is None:
        planned = {v.visit_code: v for v in sv.list_visits(state.engine, actor, pid)}.get(visit)
        window = planned
        today = local_today(datetime.now(UTC), zone)
        if planned is not None and planned.actual_date is None:
            lo, hi = planned.window_start_date, planned.window_end_date
            outside = lo is None or hi is None or not lo <= today <= hi
    locks = _locks_on_form(request, pid, record)
    entered = dict(when or {})
    now = datetime.now(UTC)
    default = local_input_value(now, zone)
    if window is not None and window.actual_date is not None:
        # a form of a visit that took place on an earlier day: that day, at the time now
        default = f"{window.actual_date.isoformat()}T{default[11:]}"
    entered.setdefault("assessed_at", default)
    return render(
        request,
        "form.html",
        zone=zone,
        window=window,
        outside_window=outside or bool(entered.get("window_reason")),
        when=entered,
        status_code=status,
        title=f"{scale_title(scale)} — {pid} {visit}",
        pid=pid,
        visit=visit,
        scale=scale,
        scale_name=scale_title(scale),
        version=version,
        fields=fields,
        values=values,
        errors=errors,
        missing=missing,
        record=record,
        action=action,
        idem=idem or uuid.uuid4().hex,
        message=message,
        reason=reason,
        locks=locks,
    )


def _locks_on_form(
    request: Request, pid: str, record: sv.AssessmentRecord | None
) -> list[sv.LockRecord]:
    """The open locks that would refuse a save of this form: the study's, the participant's
    and (for a stored form) the form's own, so that the page says so before anyone fills it
    in, instead of only when the save is refused."""
    state = state_of(request)
    actor = request.state.web_session.actor
    return [
        lock
        for lock in sv.list_locks(state.engine, actor, participant=pid, open_only=True)
        if lock.level != sv.LockLevel.FORM
        or (record is not None and lock.record_table == FORM_TABLE and lock.record_id == record.id)
    ]


@router.get(
    "/participants/{pid}/visits/{visit}/forms/{scale}",
    dependencies=[page_requires("view_participants")],
)
def form_new(
    request: Request, session: PageSession, pid: PID, visit: CODE, scale: CODE
) -> Response:
    """An empty form (or the form already entered at this visit)."""
    state = state_of(request)
    version = _planned_version(request, visit, scale)
    sv.get_participant(state.engine, session.actor, pid)
    for a in sv.list_assessments(state.engine, session.actor, pid, visit_code=visit):
        if a.scale == scale:
            return see_other(f"/assessments/{a.id}")
    return _form_page(
        request, pid=pid, visit=visit, scale=scale, version=version, values={}, errors={}
    )


@router.post(
    "/participants/{pid}/visits/{visit}/forms/{scale}",
    dependencies=[page_requires("record_assessment")],
)
def form_submit(
    request: Request, form: CheckedForm, session: PageSession, pid: PID, visit: CODE, scale: CODE
) -> Response:
    """Enter a form: every refused field is shown with its message; else stored and scored."""
    version = _planned_version(request, visit, scale)
    answers, errors = read_answers(scale, version, form)
    values = {f.name: form.get(f.name, "") for f in form_fields(scale, version)}
    idem = form_key(form)
    draft = bool(form.get("draft"))
    when = {k: form.get(k, "") for k in ("assessed_at", "window_reason")}
    assessed_at = None
    if when["assessed_at"].strip():
        try:
            zone = participant_zone(request, session.actor, pid)
            assessed_at = parse_clinical_time(
                when["assessed_at"], zone, fold=form_fold(form), name="assessed at"
            )
        except InputError as error:
            errors["assessed_at"] = str(error)
    elif not draft:
        errors["assessed_at"] = (
            "Say when the form was done (date and time): required to complete it."
        )
    if not errors:
        try:
            record = sv.record_assessment(
                state_of(request).engine,
                session.actor,
                pid,
                visit,
                scale,
                answers,
                version=version,
                idempotency_key=idem,
                status="draft" if draft else "complete",
                assessed_at=assessed_at,
                window_reason=when["window_reason"].strip() or None,
            )
            return see_other(f"/assessments/{record.id}?saved=1")
        except AnswerError as error:
            errors[error.item or "_form"] = str(error)
        except InputError as error:  # the visit not reached, out of window, status
            errors["assessed_at"] = str(error)
            if "window" in str(error):
                when.setdefault("window_reason", "")
                when["outside"] = "1"
    return _form_page(
        request,
        pid=pid,
        visit=visit,
        scale=scale,
        version=version,
        values=values,
        errors=errors,
        status=422,
        idem=idem,
        when=when,
    )


@router.get("/assessments/{assessment_id}", dependencies=[page_requires("view_participants")])
def form_show(
    request: Request,
    session: PageSession,
    assessment_id: ID,
    saved: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """A stored form: its score, alerts and answers (editable by those who may)."""
    record = sv.get_assessment(state_of(request).engine, session.actor, assessment_id)
    version = record.scale_version if record.scale_version != "default" else None
    return _form_page(
        request,
        pid=record.participant_id,
        visit=record.visit_code or "",
        scale=record.scale,
        version=version,
        values=shown_answers(record.scale, version, record.answers),
        errors={},
        record=record,
        message=saved_message(record) if saved else None,
    )


@router.post("/assessments/{assessment_id}/edit", dependencies=[page_requires("update_assessment")])
def form_edit(
    request: Request, form: CheckedForm, session: PageSession, assessment_id: ID
) -> Response:
    """Save an edited form based on the version read; a completed form needs a reason."""
    engine = state_of(request).engine
    current = sv.get_assessment(engine, session.actor, assessment_id)
    version = current.scale_version if current.scale_version != "default" else None
    answers, errors = read_answers(current.scale, version, form)
    values = {f.name: form.get(f.name, "") for f in form_fields(current.scale, version)}
    reason = form.get("reason", "").strip()
    expected = form.get("expected_version", "")
    if not expected.isdigit():
        raise InputError("the form does not say which version it edits", hint="reload the form")
    if current.status == "complete" and not reason:
        errors["reason"] = "Say why you change a completed form."
    status = 422
    if not errors:
        try:
            sv.update_assessment(
                engine,
                session.actor,
                assessment_id,
                answers,
                expected_version=int(expected),
                reason=reason or None,
                status="complete" if form.get("complete") else None,
            )
            return see_other(f"/assessments/{assessment_id}?saved=1")
        except TransactionCollisionError as error:  # nothing stored: the same form again
            errors["_form"] = str(error)
            status = 409
        except ConflictError as error:
            theirs = shown_answers(current.scale, version, current.answers)
            return render(
                request,
                "conflict.html",
                status_code=409,
                title="Someone else saved this form first",
                record=current,
                error=error,
                fields=form_fields(current.scale, version),
                theirs=theirs,
                yours=values,
            )
        except AnswerError as error:
            errors[error.item or "_form"] = str(error)
    return _form_page(
        request,
        pid=current.participant_id,
        visit=current.visit_code or "",
        scale=current.scale,
        version=version,
        values=values,
        errors=errors,
        record=current,
        status=status,
        reason=reason,
    )
