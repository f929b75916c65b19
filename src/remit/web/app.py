"""The application factory: ``create_app(db_url)`` builds a FastAPI app over one database."""

from __future__ import annotations

import gc
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig

from remit.errors import (
    AnswerError,
    ConflictError,
    InputError,
    LockedError,
    NotFoundError,
    PermissionDeniedError,
    RemitError,
    ServerBusyError,
    StorageFullError,
    TransactionCollisionError,
)
from remit.services import (
    Engine,
    allocation_key_from_env,
    load_key_ring,
    open_database,
    trial_protocol,
)
from remit.services.accounts import mfa_roles_from
from remit.web import (
    api,
    api_adverse_events,
    api_blinding,
    api_conmeds,
    api_consent,
    api_locks,
    api_results,
    api_screening,
    api_worklist,
    pages,
    pages_locks,
)
from remit.web.core import (
    HANDOVER_PAGE,
    MFA_LOGIN_PAGE,
    MFA_PAGE,
    PASSWORD_PAGE,
    HandoverActiveError,
    LoginRequiredError,
    MfaStepRequiredError,
    PasswordChangeRequiredError,
    WebState,
    checked_before_invalid_input,
    login_url,
    make_templates,
    render,
)
from remit.web.fast_capture import FastCapture
from remit.web.middleware import RequestGuard
from remit.web.observe import RequestObserver
from remit.web.sessions import AddressSlowdown, SessionStore
from remit.web.settings import WebSettings
from remit.web.workers import MAX_WORKER_THREADS, WORKER_THREADS, use_worker_threads

#: Content-Security-Policy of every page: scripts only from this server, never inline.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
#: The analysis report carries its own inline styles and SVG (but no script).
REPORT_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

_STATIC = Path(__file__).parent / "static"


def status_of(error: RemitError) -> int:
    """The HTTP status of a Remit error."""
    if isinstance(error, StorageFullError):
        return 507
    if isinstance(error, ServerBusyError):
        return 503
    if isinstance(error, PermissionDeniedError):
        return 403
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, LockedError):
        return 423
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, AnswerError | InputError):
        return 422
    return 400 if error.exit_code == 2 else 500


def error_body(error: RemitError) -> dict[str, object]:
    """A Remit error as the API's JSON problem body."""
    return {
        "error": type(error).__name__,
        "message": error.message,
        "expected": error.expected,
        "hint": error.hint,
        "item": getattr(error, "item", None),
    }


def fastapi_telemetry(environ: Mapping[str, str]) -> TelemetryConfig | None:
    """FastAPI's native OpenTelemetry (traces, metrics and logs of every request): its
    defaults (``None``) when the operator configures OpenTelemetry (an ``OTEL_*`` variable,
    or ``FASTAPI_OTEL_AUTO_CONFIGURE``), else off. Unconfigured it records nothing, but asks
    the three global providers on every request whether it should (7 us a request, issue
    16); off, it does not ask."""
    if any(name.startswith(("OTEL_", "FASTAPI_OTEL_")) for name in environ):
        return None
    return {"tracing": False, "metrics": False, "logs": False}


def create_app(
    db_url: str | Engine,
    *,
    secret_key: str | bytes | None = None,
    settings: WebSettings | None = None,
) -> FastAPI:
    """Build the web app over the database at ``db_url`` (a migrated Remit trial database).

    ``secret_key`` signs the login form's CSRF token (a random key when ``None``: login forms
    shown before a restart then need a reload; give every worker and host the same key).
    Sessions live in the database (see :mod:`remit.web.sessions`): the app keeps no state of
    its own, so any number of processes may serve one database.
    """
    settings = settings or WebSettings()
    engine = db_url if isinstance(db_url, Engine) else open_database(db_url)
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    work_dir = settings.work_dir or Path(tempfile.mkdtemp(prefix="remit-web-"))
    state = WebState(
        engine=engine,
        settings=settings,
        secret_key=key or secrets.token_bytes(32),
        sessions=SessionStore(engine, settings.idle_timeout_s, settings.absolute_timeout_s),
        throttle=AddressSlowdown(
            engine, 4 * settings.max_failed_logins, settings.failed_login_window_s
        ),
        templates=make_templates(),
        work_dir=work_dir,
        protocol=trial_protocol(engine),
    )
    app = FastAPI(
        telemetry=fastapi_telemetry(os.environ),
        title="Remit",
        version="1",
        description="Remit trial API: participants, visits, assessments, alerts. "
        "Log in with POST /api/v1/auth/login and send the token as a bearer token.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.remit = state
    app.include_router(api.router)
    app.include_router(api_adverse_events.router)
    app.include_router(api_conmeds.router)
    app.include_router(api_consent.router)
    app.include_router(api_worklist.router)
    app.include_router(api_screening.router)
    app.include_router(api_results.router)
    app.include_router(api_blinding.router)
    app.include_router(api_locks.router)
    app.include_router(pages.router)
    app.include_router(pages_locks.router)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    # Inside the app's own middleware (added first, so innermost): the busiest route's fast
    # path, in front of the router; it declines to the FastAPI route what it may not answer
    # alike (remit.web.fast_capture).
    app.add_middleware(FastCapture, fastapi=app)
    # One plain ASGI middleware (remit.web.middleware.RequestGuard), outermost first: observe,
    # security headers, disk full or pool busy, body limits. No lock here: the SQLite write
    # lock is taken by the services for the transaction only (remit.store.engine.one_writer),
    # after authentication and after the body is read.
    app.add_middleware(
        RequestGuard,
        observer=RequestObserver(engine),
        csp=CSP,
        report_csp=REPORT_CSP,
        https=bool(settings.https),
        handler=lambda request, exc: remit_error(request, exc),
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
    )

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(LoginRequiredError)
    async def to_login(request: Request, exc: LoginRequiredError) -> Response:
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    @app.exception_handler(MfaStepRequiredError)
    async def to_mfa_step(request: Request, exc: MfaStepRequiredError) -> Response:
        return RedirectResponse(MFA_LOGIN_PAGE if exc.stage == "code" else MFA_PAGE, 303)

    @app.exception_handler(HandoverActiveError)
    async def to_handover(request: Request, exc: HandoverActiveError) -> Response:
        if is_api(request):
            return JSONResponse(
                {"error": "HandoverActive", "message": "this session is handed over"}, 403
            )
        return RedirectResponse(HANDOVER_PAGE, status_code=303)

    @app.exception_handler(PasswordChangeRequiredError)
    async def to_password_page(request: Request, exc: PasswordChangeRequiredError) -> Response:
        return RedirectResponse(PASSWORD_PAGE, status_code=303)

    @app.exception_handler(RemitError)
    async def remit_error(request: Request, exc: RemitError) -> Response:
        status = status_of(exc)
        # a collision stored nothing and the same request can succeed: say when to resend
        again = {"Retry-After": "1"} if isinstance(exc, TransactionCollisionError) else None
        if is_api(request):
            return JSONResponse(error_body(exc), status_code=status, headers=again)
        return render(
            request, "error.html", status_code=status, error=exc, title="Not done", headers=again
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if is_api(request):
            return JSONResponse(
                {"error": "HTTPError", "message": str(exc.detail)},
                status_code=exc.status_code,
                headers=exc.headers,
            )
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            error=str(exc.detail),
            title="Not done",
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        refused = await checked_before_invalid_input(request, exc.errors())
        # answered as the route's checks answer it
        if isinstance(refused, HTTPException):
            return await http_error(request, refused)
        if isinstance(refused, RemitError):
            return await remit_error(request, refused)
        if isinstance(refused, HandoverActiveError):
            return await to_handover(request, refused)
        if isinstance(refused, MfaStepRequiredError):
            return await to_mfa_step(request, refused)
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        ]
        if is_api(request):
            return JSONResponse(
                {"error": "ValidationError", "message": "; ".join(problems)}, status_code=422
            )
        return render(
            request, "error.html", status_code=422, error="; ".join(problems), title="Not done"
        )

    return app


#: Environment variables read by :func:`app_from_environment` (set by ``remit serve``).
ENV_DB = "REMIT_DATABASE_URL"
ENV_SECRET = "REMIT_SECRET_KEY"
ENV_HTTPS = "REMIT_HTTPS"
#: Worker threads per server process (``remit serve --threads``).
ENV_THREADS = "REMIT_WEB_THREADS"
ENV_AUDIT_KEY = "REMIT_AUDIT_KEY_FILE"
#: Roles that must use TOTP MFA, comma-separated (``none``: no role); unset: none.
ENV_MFA_ROLES = "REMIT_MFA_ROLES"


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory remit.web.app:app_from_environment``.

    Reads the database from ``REMIT_DATABASE_URL``, the secret from ``REMIT_SECRET_KEY``
    (random if unset), ``REMIT_HTTPS=1`` to mark cookies Secure behind an HTTPS proxy and
    ``REMIT_WEB_THREADS``, the worker threads per process. ``remit serve`` sets them (the CLI
    and the web app do not import each other).
    """
    db = os.environ.get(ENV_DB)
    if not db:
        raise InputError(
            f"{ENV_DB} is not set",
            expected="a SQLite path or database URL",
            hint="start the server with `remit serve --db trial.db`",
        )
    https = os.environ.get(ENV_HTTPS, "").lower() in ("1", "true", "yes")
    use_worker_threads(threads_from(os.environ.get(ENV_THREADS)))
    # the audit key ring (docs/security.md): $REMIT_AUDIT_KEY_FILE, else the database's default
    key_file = os.environ.get(ENV_AUDIT_KEY)
    keys = load_key_ring(key_file) if key_file else None
    # the allocation key of the randomisation list: $REMIT_ALLOCATION_KEY(_FILE), else none
    # (randomising is then refused with how to configure it)
    app = create_app(
        open_database(db, audit_keys=keys, allocation_key=allocation_key_from_env()),
        secret_key=os.environ.get(ENV_SECRET) or None,
        settings=WebSettings(https=https, mfa_roles=mfa_roles_from(os.environ.get(ENV_MFA_ROLES))),
    )
    keep_out_of_full_collections()
    return app


def threads_from(given: str | None) -> int:
    """The worker threads per process asked for by ``$REMIT_WEB_THREADS`` (``given``; unset
    or blank: :data:`~remit.web.workers.WORKER_THREADS`)."""
    if given is None or not given.strip():
        return WORKER_THREADS
    try:
        count = int(given.strip())
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_WORKER_THREADS:
        raise InputError(
            f"{ENV_THREADS}={given!r} is not a number of worker threads",
            expected=f"a whole number from 1 to {MAX_WORKER_THREADS}",
            hint=f"start the server with `remit serve --threads N` (default {WORKER_THREADS})",
        )
    return count


def keep_out_of_full_collections() -> None:
    """Leave what the server process holds for its whole life (modules, the app, its routes
    and templates) out of the garbage collector's passes over old objects.

    Under load, objects of requests in progress outlive the collector's young passes, and so
    many of them reach the old generation that it is scanned whole every few seconds: the
    ~370,000 objects of a server process, about 0.1 s of CPU each time, 5-7 % of the server's
    CPU in the load benchmark (issue 16; measured with ``gc.callbacks``). Frozen
    (:func:`gc.freeze`), the objects alive now are never scanned again; what requests leave
    behind is collected as before. Called once per server process (uvicorn calls the factory
    in each worker), after a collection, so that no garbage is frozen with them."""
    gc.collect()
    gc.freeze()
