"""What every route shares: the app state, who is acting, access checks, CSRF, rendering."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from typing import Protocol as Interface
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from remit.errors import InputError, PermissionDeniedError, RemitError
from remit.protocol import Protocol
from remit.protocol.clock import show_time, site_zone
from remit.protocol.roles import Role
from remit.protocol.status import (
    ALERT_FILTERS,
    EDITABLE_STATUSES,
    ENTRY_STATUSES,
    SIGNABLE_STATUSES,
    UNCLOSED,
    UNCLOSED_ALERT_STATUSES,
    DoseKind,
    DoseStatus,
    DosingSessionStatus,
)
from remit.services import (
    SCORES_HIDDEN,
    Actor,
    DoseRecord,
    Engine,
    account_standing,
    get_participant,
    record_dose,
)
from remit.services.access import ACCESS, allowed
from remit.services.accounts import LoginPolicy
from remit.web.sessions import AddressSlowdown, SessionStore, WebSession
from remit.web.settings import WebSettings
from remit.web.workers import in_worker_thread

T = TypeVar("T")

SESSION_COOKIE = "remit_session"
LOGIN_COOKIE = "remit_login"

#: Web-only rules, in addition to the services' access table (see docs/web.md).
#: ``any`` means any logged-in user.
WEB_ACCESS: Mapping[str, frozenset[str]] = {
    "export_trial": frozenset({Role.STATISTICIAN, Role.DATA_MANAGER}),
    "view_report": frozenset(
        {Role.INVESTIGATOR, Role.MONITOR, Role.STATISTICIAN, Role.DATA_MANAGER}
    ),
    # the locks page: those who lock, and (read only) the unblinded statistician, whose
    # analysis by arm waits for the study lock
    "view_locks": ACCESS["lock"] | {Role.UNBLINDED_STATISTICIAN},
}


def web_allowed(operation: str, role: str) -> bool:
    """Whether ``role`` may use a route guarded by ``operation``."""
    if operation == "any":
        return True
    if operation in WEB_ACCESS:
        return role in WEB_ACCESS[operation]
    return allowed(operation, role)


@dataclass
class WebState:
    """The app's engine, sessions, address slowdown, settings and templates (one per app)."""

    engine: Engine
    settings: WebSettings
    secret_key: bytes
    sessions: SessionStore
    throttle: AddressSlowdown
    templates: Environment
    work_dir: Path
    protocol: Protocol


def make_templates() -> Environment:
    """The Jinja2 environment of the pages (autoescaped)."""
    env = Environment(
        loader=PackageLoader("remit.web", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dt"] = _fmt_dt
    env.filters["label"] = lambda s: str(s).replace("_", " ") if s is not None else ""
    # templates ask the access table and the status vocabulary instead of listing roles
    env.globals["allowed"] = web_allowed
    env.globals["SIGNABLE_STATUSES"] = SIGNABLE_STATUSES
    env.globals["ENTRY_STATUSES"] = ENTRY_STATUSES
    env.globals["EDITABLE_STATUSES"] = EDITABLE_STATUSES
    env.globals["DoseKind"] = DoseKind
    env.globals["DoseStatus"] = DoseStatus
    env.globals["DosingSessionStatus"] = DosingSessionStatus
    env.globals["ALERT_FILTERS"] = ALERT_FILTERS
    env.globals["SCORES_HIDDEN"] = SCORES_HIDDEN
    env.globals["UNCLOSED"] = UNCLOSED
    env.globals["UNCLOSED_ALERT_STATUSES"] = UNCLOSED_ALERT_STATUSES
    return env


def _fmt_dt(value: object, zone: ZoneInfo | None = None) -> str:
    """A time for a page: in ``zone`` (the participant's site), labelled, e.g.
    ``2024-06-03 14:05 (Europe/Oslo)``; without a zone in UTC."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if zone is not None:
            return show_time(value, zone)
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def participant_zone(request: Request, actor: Actor, pid: str) -> ZoneInfo:
    """The time zone participant ``pid``'s clinical times are entered and shown in: the
    protocol's ``time_zone`` of their site (UTC without one)."""
    state = state_of(request)
    return site_zone(state.protocol, get_participant(state.engine, actor, pid).site)


def state_of(request: Request) -> WebState:
    """The :class:`WebState` of the app serving ``request``."""
    state: WebState = request.app.state.remit
    return state


class LoginRequiredError(Exception):
    """A page was asked for without a live session: the handler redirects to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class MfaStepRequiredError(Exception):
    """A page was asked for by a session that still needs its MFA step (``stage`` ``"code"``:
    the login's TOTP code; ``"setup"``: setting TOTP up): the handler redirects there."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


class HandoverActiveError(Exception):
    """A page was asked for by a session handed over to a participant: the handler sends it
    back to :data:`HANDOVER_PAGE` (only the staff member's password ends the hand-over)."""


#: The participant's page of a tablet hand-over, and where the staff member ends it.
HANDOVER_PAGE = "/handover"
HANDOVER_END = "/handover/end"
_OPEN_IN_HANDOVER = frozenset({HANDOVER_PAGE, HANDOVER_END})


class PasswordChangeRequiredError(Exception):
    """A page was asked for by a user who must change their password first: the handler
    redirects to :data:`PASSWORD_PAGE`."""


#: The page where users change their own password (the only page, with logout, open to a
#: user who must change it).
PASSWORD_PAGE = "/account/password"
#: The API route that changes the caller's password (the only one, with logout, open to a
#: token whose user must change it).
PASSWORD_API = "/api/v1/auth/password"
_OPEN_WHILE_CHANGE_DUE = frozenset({PASSWORD_PAGE, "/logout", PASSWORD_API, "/api/v1/auth/logout"})
#: The login's second step (the TOTP code) and the MFA set-up page.
MFA_LOGIN_PAGE = "/login/mfa"
MFA_PAGE = "/account/mfa"
#: The only pages open to a session in an MFA stage (see :class:`MfaStepRequiredError`).
_OPEN_IN_STAGE = {
    "code": frozenset({MFA_LOGIN_PAGE, "/logout"}),
    "setup": frozenset({MFA_PAGE, "/logout"}),
}


def _standing(request: Request, session: WebSession, token: str | None) -> bool:
    """Whether ``session``'s user is still active (else the session ends); raises
    :class:`PasswordChangeRequiredError` when they must change their password first."""
    standing = session.standing or account_standing(state_of(request).engine, session.actor)
    if not standing.active:
        state_of(request).sessions.end(token)
        return False
    if session.handover and request.url.path not in _OPEN_IN_HANDOVER:
        raise HandoverActiveError()
    if session.stage and request.url.path not in _OPEN_IN_STAGE.get(session.stage, ()):
        raise MfaStepRequiredError(session.stage)
    if standing.must_change_password and request.url.path not in _OPEN_WHILE_CHANGE_DUE:
        raise PasswordChangeRequiredError()
    return True


def page_session(request: Request) -> WebSession:
    """The live cookie session of an active user, else :class:`LoginRequiredError`
    (:class:`PasswordChangeRequiredError` while the user must change their password)."""
    state = state_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    session = state.sessions.get(token, kind="cookie")
    if session is None or not _standing(request, session, token):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(target)
    request.state.web_session = session
    return session


def api_session(request: Request) -> WebSession:
    """The live bearer-token session of an active user, else 401; 403 while the user must
    change their password (except to change it)."""
    return _api_session(request, state_of(request))


def _api_session(request: Request, state: WebState) -> WebSession:
    """:func:`api_session` of the app whose state is ``state``."""
    header = ""
    # the first Authorization header, as ``request.headers`` gives it, without building the
    # headers' mapping (an ASGI server gives the names in lower case)
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            header = value.decode("latin-1")
            break
    scheme, _, token = header.partition(" ")
    token = token.strip()
    session = state.sessions.get(token, kind="bearer") if scheme.lower() == "bearer" else None
    try:
        live = session is not None and _standing(request, session, token)
    except PasswordChangeRequiredError:
        raise HTTPException(
            status_code=403,
            detail="change your password first: the password was set by an admin. "
            f"POST {PASSWORD_API} with current_password and new_password",
        ) from None
    if session is None or not live:
        raise HTTPException(
            status_code=401,
            detail="log in first: POST /api/v1/auth/login, then send Authorization: Bearer TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return session


#: A participant's study ID, as a path parameter (:data:`PID`) and in a request body.
PARTICIPANT_ID_PATTERN = r"^[A-Za-z0-9-]{1,40}$"

#: Path parameters of the pages and the API: a participant's study ID, a visit or scale code,
#: a table name and a row id.
PID = Annotated[str, PathParam(pattern=PARTICIPANT_ID_PATTERN)]
CODE = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
TABLE = Annotated[str, PathParam(pattern=r"^[a-z_]{1,40}$")]
ID = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def parse_day(text: str | None, name: str) -> date | None:
    """A ``YYYY-MM-DD`` field (of a query, a form or a JSON body); blank is ``None``."""
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{name} {text!r} is not a date", expected="YYYY-MM-DD") from None


#: The logged-in user of a page route.
PageSession = Annotated[WebSession, Depends(page_session)]


def _refuse(actor: Actor, operation: str) -> None:
    if not web_allowed(operation, actor.role):
        who = WEB_ACCESS.get(operation)
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role}) may not {operation.replace('_', ' ')}",
            expected="a user with one of the roles "
            + (", ".join(sorted(who)) if who else "allowed by the access table"),
            hint="ask someone who holds such a role, or an admin to grant it",
        )


def _requires(operation: str, surface: str, session_of: Callable[[Request], WebSession]) -> Any:
    """A route dependency: the ``surface``'s user (``session_of``) whose role may perform
    ``operation``; the dependency names both (the access-table documentation reads them).

    The check reads nothing but the session (already looked up by ``session_of``), so it is a
    coroutine: FastAPI runs it on the event loop instead of handing it to a worker thread (a
    thread hop costs more CPU than the check itself, issue 16)."""

    async def check(session: WebSession = Depends(session_of)) -> None:  # noqa: B008
        _refuse(session.actor, operation)

    check.operation = operation  # type: ignore[attr-defined]
    check.surface = surface  # type: ignore[attr-defined]
    return Depends(check)


def page_requires(operation: str) -> Any:
    """A route dependency: a logged-in page user whose role may perform ``operation``."""
    return _requires(operation, "page", page_session)


def api_requires(operation: str) -> Any:
    """A route dependency: an API caller whose role may perform ``operation``."""
    return _requires(operation, "api", api_session)


class ApiCaller:
    """The caller of an API route guarded by :func:`api_caller`: their session is looked up,
    their standing and role checked, and the route's work done in ONE worker-thread hand-off
    (:meth:`run`) instead of two (the session dependency's and the endpoint's): a hand-off
    costs more CPU than the role check, and the session lookup alone is a fraction of one
    (issue 16). The route's work receives the session only from :meth:`run`, after the checks,
    so it cannot act for a caller who was not checked."""

    def __init__(self, request: Request, operation: str, state: WebState | None = None) -> None:
        self.request = request
        self.operation = operation
        #: The app's state (:func:`state_of`, unless given).
        self.state = state_of(request) if state is None else state

    def session(self) -> WebSession:
        """The caller's live session after the checks :func:`api_session` and the role check
        of :func:`api_requires` make (401, 403, as theirs); blocking: call it in a worker
        thread."""
        session = _api_session(self.request, self.state)
        if not web_allowed(self.operation, session.actor.role):
            _refuse(session.actor, self.operation)
        return session

    def run(self, work: Callable[[WebSession], T], *, writes: bool = False) -> Awaitable[T]:
        """``work(session)`` for the checked caller, in one worker thread with the checks
        (:func:`in_worker_thread`), to await (not a coroutine of its own: one frame less to
        resume when the work is done). Work that ``writes`` a form runs in the writer thread
        on SQLite (:func:`remit.web.workers.writer_thread`: SQLite writes one transaction at
        a time anyway); on PostgreSQL, which writes concurrently, in any worker thread."""
        return in_worker_thread(
            lambda: work(self.session()),
            writer=writes and self.state.engine.dialect.name == "sqlite",
        )


def api_caller(operation: str) -> Any:
    """A route dependency giving the :class:`ApiCaller` of an API route whose caller must be
    allowed ``operation``; the route lists it in ``dependencies`` too (the access table reads
    the operation there, and tests/web/test_access_matrix.py sends every role to it) and does
    all its work through :meth:`ApiCaller.run`, its only way to the caller's session.

    The dependency itself reads nothing (no thread hop): FastAPI validates the body before
    the endpoint runs, so a request refused by the checks but with an invalid body would be
    answered 422 before 401/403; :func:`checked_before_invalid_input` restores the order."""

    async def caller(request: Request) -> ApiCaller:
        return ApiCaller(request, operation)

    caller.operation = operation  # type: ignore[attr-defined]
    caller.surface = "api"  # type: ignore[attr-defined]
    caller.in_call = True  # type: ignore[attr-defined]
    return Depends(caller)


async def checked_before_invalid_input(
    request: Request, errors: Sequence[Mapping[str, Any]]
) -> Exception | None:
    """For input refused by validation (``errors``) on a route guarded by :func:`api_caller`:
    what its checks refuse (the 401/403 the caller gets first on every other route), else
    ``None``. A body that is not JSON at all is answered 422 before any check on every route,
    so it is left so here too."""
    route = request.scope.get("route")
    guards = [
        d.dependency
        for d in getattr(route, "dependencies", ())
        if getattr(d.dependency, "in_call", False)
    ]
    if not guards or any(e.get("type") == "json_invalid" for e in errors):
        return None
    try:
        await in_worker_thread(ApiCaller(request, guards[0].operation).session)
    except (HTTPException, RemitError, HandoverActiveError, MfaStepRequiredError) as refused:
        return refused
    return None


def login_csrf(secret: bytes, pre_token: str) -> str:
    """The login form's CSRF token: bound to the pre-login cookie by an HMAC."""
    return hmac.new(secret, pre_token.encode(), hashlib.sha256).hexdigest()


async def checked_form(request: Request, session: PageSession) -> Mapping[str, str]:
    """A page POST's form fields, read on the event loop once its CSRF token is checked
    against the session's (403 when missing or stale), for a page handler written as a plain
    function: FastAPI runs it in a worker thread, so the services it calls (a save, an
    export, a report) never block the event loop and the other requests of the process."""
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not secrets.compare_digest(sent, session.csrf_token):
        raise HTTPException(
            status_code=403,
            detail="the form's security token is missing or stale: reload the page and retry",
        )
    return {k: v for k, v in form.items() if isinstance(v, str)}


#: The form of a page POST, CSRF-checked (:func:`checked_form`).
CheckedForm = Annotated[Mapping[str, str], Depends(checked_form)]


def form_key(form: Mapping[str, str]) -> str | None:
    """The idempotency key a page form carries (its hidden ``idempotency_key`` field), or
    ``None`` when it carries none."""
    return form.get("idempotency_key") or None


class DoseEntry(Interface):
    """A dose as the API body and the page form carry it: one time ``at`` for any status."""

    kind: DoseKind
    dose_mg: float
    status: DoseStatus
    withheld_reason: str | None
    override_reason: str | None


def record_entered_dose(
    engine: Engine,
    actor: Actor,
    participant: str,
    visit_code: str,
    dose: DoseEntry,
    at: datetime,
    idempotency_key: str | None,
) -> DoseRecord:
    """Record a dose entered with one time ``at`` (:func:`remit.services.record_dose`): a given
    dose was given then, an offered or withheld one offered then."""
    given = dose.status == DoseStatus.GIVEN
    return record_dose(
        engine,
        actor,
        participant,
        visit_code,
        kind=dose.kind,
        dose_mg=dose.dose_mg,
        status=dose.status,
        given_at=at if given else None,
        offered_at=None if given else at,
        withheld_reason=dose.withheld_reason,
        override_reason=dose.override_reason,
        idempotency_key=idempotency_key,
    )


def nav_items(actor: Actor) -> list[tuple[str, str]]:
    """The navigation links the actor's role may use."""
    items = [("/", "Dashboard"), ("/participants", "Participants")]
    if web_allowed("view_alerts", actor.role):
        items.append(("/alerts", "Alerts"))
    items.append(("/queries", "Queries"))
    if web_allowed("view_deviations", actor.role):
        items.append(("/deviations", "Deviations"))
    if web_allowed("view_coding_queue", actor.role):
        items.append(("/coding", "Coding"))
    if web_allowed("view_report", actor.role):
        items.append(("/report", "Report"))
    if web_allowed("export_trial", actor.role):
        items.append(("/exports", "Exports"))
    if web_allowed("add_user", actor.role):
        items.append(("/admin/users", "Users"))
    if web_allowed("view_security_log", actor.role):
        items.append(("/admin/security", "Security log"))
    return items


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the acting user, navigation and CSRF token."""
    state = state_of(request)
    session: WebSession | None = getattr(request.state, "web_session", None)
    context.setdefault("title", "Remit")
    html = state.templates.get_template(template).render(
        request_path=request.url.path,
        actor=session.actor if session else None,
        csrf_token=session.csrf_token if session else "",
        nav=nav_items(session.actor) if session else [],
        study_title=state.protocol.study.short_title or state.protocol.study.title,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


def login_url(next_url: str) -> str:
    """The login page that returns to ``next_url`` (a local path only)."""
    safe = next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"
    return "/login?next=" + quote(safe, safe="")


SessionDep = Callable[[Request], WebSession]


def client_of(request: Request) -> str:
    """The client address of a request (``"?"`` when unknown), for the security log."""
    return request.client.host if request.client else "?"


def login_policy(state: WebState) -> LoginPolicy:
    """The per-account login throttle of the app's settings."""
    return LoginPolicy(
        state.settings.max_failed_logins,
        state.settings.failed_login_window_s,
        frozenset(state.settings.mfa_roles),
    )
