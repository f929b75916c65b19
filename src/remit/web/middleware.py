"""The app's own request middlewares as plain ASGI callables.

Each replaces an ``@app.middleware("http")`` function: Starlette's ``BaseHTTPMiddleware``, on
which those run, adds a task group and memory streams to every request, a cost each form
submission paid three times (issue 16). These wrap ``send`` instead and keep the same order
and effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remit.errors import RemitError, StorageFullError
from remit.services import is_disk_full
from remit.web.observe import RequestObserver


class SecurityHeaders:
    """The security headers of every response (``csp`` unless the route set its own; the
    report viewer's ``report_csp``; HSTS over HTTPS or when ``https`` is configured)."""

    def __init__(self, app: ASGIApp, *, csp: str, report_csp: str, https: bool) -> None:
        self.app = app
        self.csp = csp
        self.report_csp = report_csp
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = self.report_csp if path == "/report/view" else self.csp
        hsts = scope.get("scheme") == "https" or self.https

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if not path.startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
                if hsts:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, with_headers)


class DiskFull:
    """Any error that says the disk (or the database) is full — a SQLite or PostgreSQL error
    outside a unit of work, a report or export file that could not be written — is answered
    by ``handler`` (507 with a clear message) rather than a 500."""

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
            if started or isinstance(error, StorageFullError) or not is_disk_full(error):
                raise
            full = StorageFullError(
                f"the server's disk is full, nothing was stored: {error}",
                expected="free space on the server",
                hint="ask the administrator to free disk space, then submit again",
            )
            response = await self.handler(Request(scope, receive), full)
            await response(scope, receive, send)


class Observe:
    """Notes what the requests arrive with (HTTPS? through a proxy?) for ``remit doctor``."""

    def __init__(self, app: ASGIApp, *, observer: RequestObserver) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            due = self.observer.due(Request(scope))
            if due:
                await run_in_threadpool(self.observer.record, due)
        await self.app(scope, receive, send)
