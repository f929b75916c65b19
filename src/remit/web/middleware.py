"""The app's own request middlewares as plain ASGI callables.

Each replaces an ``@app.middleware("http")`` function: Starlette's ``BaseHTTPMiddleware``, on
which those run, adds a task group and memory streams to every request, a cost each form
submission paid three times (issue 16). These wrap ``send`` instead and keep the same order
and effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remit.errors import RemitError, ServerBusyError, StorageFullError
from remit.services import is_disk_full, is_pool_exhausted
from remit.web.observe import RequestObserver


class SecurityHeaders:
    """The security headers of every response (``csp`` unless the route set its own; the
    report viewer's ``report_csp``; HSTS over HTTPS or when ``https`` is configured).

    The headers are raw byte pairs built once: each response gets one pass over the headers
    the route set (a route's own ``Content-Security-Policy`` or ``Cache-Control`` is kept, the
    others replace any the route set) instead of a header object and a scan per header."""

    def __init__(self, app: ASGIApp, *, csp: str, report_csp: str, https: bool) -> None:
        self.app = app
        self.csp = csp
        self.report_csp = report_csp
        self.https = https
        self._csp = (_CSP, csp.encode("latin-1"))
        self._report_csp = (_CSP, report_csp.encode("latin-1"))
        self._always = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        self._with_hsts = [*self._always, (_HSTS, b"max-age=31536000")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = self._report_csp if path == "/report/view" else self._csp
        no_store = not path.startswith("/static/")
        forced = self._with_hsts if scope.get("scheme") == "https" or self.https else self._always

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in forced}
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() not in names
                ]
                given = {name.lower() for name, _ in headers}
                if _CSP not in given:
                    headers.append(csp)
                if no_store and _CACHE not in given:
                    headers.append(_NO_STORE)
                headers += forced
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


_CSP = b"content-security-policy"
_HSTS = b"strict-transport-security"
_CACHE = b"cache-control"
_NO_STORE = (_CACHE, b"no-store")


class StorageTrouble:
    """Errors of the database's state outside a unit of work, answered by ``handler`` with a
    clear message rather than a 500: a disk (or database) that is full — a SQLite or
    PostgreSQL error, a report or export file that could not be written — is 507; every
    connection of the pool busy for its whole wait (many requests at once on a loaded server)
    is 503 with ``Retry-After``. Neither stored anything of the request."""

    #: Seconds a client is asked to wait before sending a request refused as busy again.
    RETRY_AFTER = 2

    def __init__(
        self, app: ASGIApp, *, handler: Callable[[Request, RemitError], Awaitable[Response]]
    ) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            if started or isinstance(error, RemitError):
                raise
            problem: RemitError
            if is_disk_full(error):
                problem = StorageFullError(
                    f"the server's disk is full, nothing was stored: {error}",
                    expected="free space on the server",
                    hint="ask the administrator to free disk space, then submit again",
                )
            elif is_pool_exhausted(error):
                problem = ServerBusyError(
                    "the server is too busy to reach the database: every connection was in "
                    "use; nothing was stored",
                    expected="a free database connection within the pool's wait",
                    hint=f"send the request again in {self.RETRY_AFTER} seconds (with the same "
                    "Idempotency-Key, a form is stored once); if it goes on, ask the "
                    "administrator to add workers or database connections",
                )
            else:
                raise
            response = await self.handler(Request(scope, receive), problem)
            if isinstance(problem, ServerBusyError):
                response.headers["Retry-After"] = str(self.RETRY_AFTER)
            await response(scope, receive, send)


class Observe:
    """Notes what the requests arrive with (HTTPS? through a proxy?) for ``remit doctor``."""

    def __init__(self, app: ASGIApp, *, observer: RequestObserver) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # read from the scope as the request's URL would (no Request object per request)
            forwarded = ""
            for name, value in scope.get("headers", ()):
                if name == b"x-forwarded-proto":
                    forwarded = value.decode("latin-1")
                    break
            due = self.observer.due(scope.get("scheme", "http"), forwarded)
            if due:
                await run_in_threadpool(self.observer.record, due)
        await self.app(scope, receive, send)
