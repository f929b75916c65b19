"""The app's own request middleware: one plain ASGI callable, :class:`RequestGuard`.

It replaces what were three ``@app.middleware("http")`` functions and then four plain ASGI
middlewares (observe, security headers, storage trouble, body limits): Starlette's
``BaseHTTPMiddleware`` added a task group and memory streams to every request, and each plain
layer still cost a coroutine call and, for two of them, a ``send`` wrapper per message, on
every form submission (issue 16). One layer does all four, in the same order and to the same
effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remit.errors import RemitError, ServerBusyError, StorageFullError
from remit.services import is_disk_full, is_pool_exhausted
from remit.web.limits import WITH_BODY, BodyLimits
from remit.web.observe import RequestObserver


class RequestGuard:
    """What every request goes through before the app's routes, outermost first:

    1. *observe*: what the request arrives with (HTTPS? through a proxy?) is noted for
       ``remit doctor`` (:class:`remit.web.observe.RequestObserver`);
    2. *security headers* on every response, the refusals below included (``csp`` unless the
       route set its own; the report viewer's ``report_csp``; HSTS over HTTPS or when
       ``https`` is configured; ``Cache-Control: no-store`` but for static files);
    3. *storage trouble*: an error of the database's state outside a unit of work, answered by
       ``handler`` with a clear message rather than a 500: a disk (or database) that is full —
       a SQLite or PostgreSQL error, a report or export file that could not be written — is
       507; every connection of the pool busy for its whole wait (many requests at once on a
       loaded server) is 503 with ``Retry-After``. Neither stored anything of the request;
    4. *body limits*: the whole body of a request read before any route runs, refused when
       too large (413) or too slow (408) (:class:`remit.web.limits.BodyLimits`).

    The headers are raw byte pairs built once: each response gets one pass over the headers
    the route set (a route's own ``Content-Security-Policy`` or ``Cache-Control`` is kept, the
    others replace any the route set) instead of a header object and a scan per header."""

    #: Seconds a client is asked to wait before sending a request refused as busy again.
    RETRY_AFTER = 2

    def __init__(
        self,
        app: ASGIApp,
        *,
        observer: RequestObserver,
        csp: str,
        report_csp: str,
        https: bool,
        handler: Callable[[Request, RemitError], Awaitable[Response]],
        max_bytes: int,
        timeout_s: float,
    ) -> None:
        self.app = app
        self.observer = observer
        self.csp = csp
        self.report_csp = report_csp
        self.https = https
        self.handler = handler
        self.limits = BodyLimits(app, max_bytes=max_bytes, timeout_s=timeout_s)
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
        self._always_names = frozenset(name for name, _ in self._always)
        self._with_hsts_names = frozenset(name for name, _ in self._with_hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scheme: str = scope.get("scheme", "http")
        await self._observe(scope, scheme)
        path: str = scope["path"]
        csp = self._report_csp if path == "/report/view" else self._csp
        no_store = not path.startswith("/static/")
        if scheme == "https" or self.https:
            forced, names = self._with_hsts, self._with_hsts_names
        else:
            forced, names = self._always, self._always_names
        started = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # (a loop, not two comprehensions: each is a call)
                headers = []
                given = set()
                for name, value in message.get("headers", ()):
                    lower = name.lower()
                    if lower not in names:
                        headers.append((name, value))
                        given.add(lower)
                if _CSP not in given:
                    headers.append(csp)
                if no_store and _CACHE not in given:
                    headers.append(_NO_STORE)
                headers += forced
                message["headers"] = headers
            await send(message)

        try:
            if scope["method"] in WITH_BODY:
                replay = await self.limits.read(scope, receive, guarded)
                if replay is None:  # refused (answered) or the client left
                    return
                receive = replay
            await self.app(scope, receive, guarded)
        except Exception as error:
            if started or isinstance(error, RemitError):
                raise
            problem = self._storage_problem(error)
            if problem is None:
                raise
            response = await self.handler(Request(scope, receive), problem)
            if isinstance(problem, ServerBusyError):
                response.headers["Retry-After"] = str(self.RETRY_AFTER)
            await response(scope, receive, guarded)

    async def _observe(self, scope: Scope, scheme: str) -> None:
        """Note what the request arrives with, when it is due (read from the scope as the
        request's URL would be: no Request object per request)."""
        forwarded = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-proto":
                forwarded = value.decode("latin-1")
                break
        due = self.observer.due(scheme, forwarded)
        if due:
            await run_in_threadpool(self.observer.record, due)

    def _storage_problem(self, error: Exception) -> RemitError | None:
        """The clear error of a full disk (507) or a busy pool (503), else ``None``."""
        if is_disk_full(error):
            return StorageFullError(
                f"the server's disk is full, nothing was stored: {error}",
                expected="free space on the server",
                hint="ask the administrator to free disk space, then submit again",
            )
        if is_pool_exhausted(error):
            return ServerBusyError(
                "the server is too busy to reach the database: every connection was in "
                "use; nothing was stored",
                expected="a free database connection within the pool's wait",
                hint=f"send the request again in {self.RETRY_AFTER} seconds (with the same "
                "Idempotency-Key, a form is stored once); if it goes on, ask the "
                "administrator to add workers or database connections",
            )
        return None


_CSP = b"content-security-policy"
_HSTS = b"strict-transport-security"
_CACHE = b"cache-control"
_NO_STORE = (_CACHE, b"no-store")
