"""The fast path of a form's submission, ``POST /api/v1/assessments``: the busiest route.

FastAPI spends on every request of a route, before its endpoint runs, about a third of the
web layer's CPU: finding the route among every route of the app, solving the route's
dependencies (the caller guard, the ``Idempotency-Key`` header, the body) and reading the body
through its request object (issue 16). :class:`FastCapture` is a middleware, the innermost of
the app's own (inside :class:`~remit.web.middleware.RequestGuard`, so after the security
headers and the body limits), that does the same for this one route directly, for the request
it can answer exactly as FastAPI would: a complete JSON body (``Content-Type:
application/json``) that :class:`~remit.web.schemas.AssessmentIn` accepts, and an
``Idempotency-Key`` within its bounds. It then runs the very work of the FastAPI route
(:func:`remit.web.api.enter_assessment`: the same caller checks, service call and answer),
and answers an exception of it with the app's exception handler for it, as Starlette's
``ExceptionMiddleware`` would (:class:`ExceptionHandlers`), so a refusal (401, 403, 409, 422
of the service …) is answered alike. Being in front of the router, it also passes by
Starlette's exception middleware, FastAPI's exit stack and the router's walk of the routes.

Anything else (a body that is not JSON, or not a valid form; another content type; a key
too long; dependency overrides or FastAPI's own telemetry in use) is *declined*: the request
is handed, body unchanged, to the rest of the app, whose router routes it to the FastAPI route
as before, so every refusal of input is FastAPI's own answer in the same order (401/403 before
422, :func:`remit.web.core.checked_before_invalid_input`). The middleware is not a route: the
OpenAPI document, the access table and the route list are the FastAPI route's.

The route's path is matched as Starlette's router matches it (:func:`route_path`: under the
``root_path`` of a proxy or of a mount), so a mounted app takes the fast path for the same
requests as the FastAPI route.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remit.web import api
from remit.web.core import ApiCaller, WebState
from remit.web.schemas import AssessmentIn

#: The route's path and method.
PATH = "/api/v1/assessments"
METHOD = "POST"

_JSON = b"application/json"
#: What ``json.loads`` decodes text with (its default decoder's settings).
_DECODER = json.JSONDecoder()

#: An exception handler of the app: ``handler(request, exc)``, a coroutine function or not.
Handler = Callable[[Request, Exception], Any]


def route_path(scope: Scope) -> str:
    """The path a router matches its routes against: the request's path under the scope's
    ``root_path`` (a proxy's prefix, or the path of a mount), as Starlette's router reads it
    (an empty path for the root itself; the whole path when it is not under ``root_path``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


def _is_coroutine_function(handler: Any) -> bool:
    while isinstance(handler, functools.partial):
        handler = handler.func
    return inspect.iscoroutinefunction(handler) or (
        callable(handler) and inspect.iscoroutinefunction(handler.__call__)
    )


class ExceptionHandlers:
    """The exception handlers of ``app`` as Starlette's ``ExceptionMiddleware`` applies them
    to a route's exception: a handler registered for an ``HTTPException``'s status code first,
    else the handler of the nearest class in the exception's MRO; the handlers of ``500`` and
    ``Exception`` are the server-error middleware's (an exception left unhandled goes on to
    it). Read when the app's middleware is built, as that middleware reads them."""

    def __init__(self, app: FastAPI) -> None:
        self.by_status: dict[int, Handler] = {}
        self.by_class: dict[Any, Handler] = {}
        for key, handler in app.exception_handlers.items():
            if key in (500, Exception):
                continue
            if isinstance(key, int):
                self.by_status[key] = handler
            else:
                self.by_class[key] = handler
        self._is_async = {
            id(h): _is_coroutine_function(h)
            for h in [*self.by_status.values(), *self.by_class.values()]
        }

    def handler_for(self, exc: Exception) -> Handler | None:
        """The handler that answers ``exc``, else ``None`` (it is raised on)."""
        if self.by_status and isinstance(exc, HTTPException):
            handler = self.by_status.get(exc.status_code)
            if handler is not None:
                return handler
        for cls in type(exc).__mro__:
            found = self.by_class.get(cls)
            if found is not None:
                return found
        return None

    async def answer(self, request: Request, exc: Exception) -> Response | None:
        """The handler's answer to ``exc`` (a coroutine awaited; a plain function run in the
        thread pool, as Starlette runs it); ``exc`` itself is raised when no handler takes it."""
        handler = self.handler_for(exc)
        if handler is None:
            raise exc
        if self._is_async[id(handler)]:
            response: Response | None = await handler(request, exc)
        else:
            response = await run_in_threadpool(handler, request, exc)
        # a reused exception instance would accumulate tracebacks across requests
        exc.__traceback__ = None
        return response


class FastCapture:
    """``POST /api/v1/assessments`` answered without FastAPI's per-request machinery when the
    request is one FastAPI would accept; otherwise declined to ``app``, the rest of the app
    (see the module). ``fastapi`` is the FastAPI app it serves."""

    def __init__(self, app: ASGIApp, *, fastapi: FastAPI) -> None:
        self.app = app
        self.fastapi = fastapi
        self.handlers = ExceptionHandlers(fastapi)
        self.state: WebState = fastapi.state.remit
        #: The caller guard's operation, read from the FastAPI route's (one source).
        self.operation: str = api.RECORD_ASSESSMENT.dependency.operation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != METHOD
            # (route_path's call spared for the path of a request to an app not mounted)
            or ((scope["path"] != PATH or scope.get("root_path")) and route_path(scope) != PATH)
        ):
            await self.app(scope, receive, send)
            return
        first = await receive()
        replay = _replaying(first, receive)
        accepted = self._accepted(scope, first)
        if accepted is None:
            await self.app(scope, replay, send)
            return
        form, key = accepted
        request = Request(scope, replay, send)
        try:
            response = await api.enter_assessment(
                request, ApiCaller(request, self.operation, self.state), form, key
            )
        except Exception as exc:
            refusal = await self.handlers.answer(request, exc)
            if refusal is None:
                return
            response = refusal
        await response(scope, replay, send)

    def _accepted(self, scope: Scope, first: Message) -> tuple[AssessmentIn, str | None] | None:
        """The form and key of a request FastAPI would accept as they are, else ``None``."""
        if (
            first["type"] != "http.request"
            or first.get("more_body", False)
            or self.fastapi.dependency_overrides
            or "fastapi.telemetry" in scope
        ):
            return None
        content_type = key = None
        for name, value in scope["headers"]:
            if name == b"content-type" and content_type is None:
                content_type = value
            elif name == b"idempotency-key" and key is None:
                key = value.decode("latin-1")
        if content_type != _JSON or (key is not None and len(key) > api.IDEMPOTENCY_KEY_MAX):
            return None
        body: bytes = first.get("body", b"")
        try:
            if body[:1] == b"{" and body[1:2] != b"\0":
                # UTF-8, as json.loads detects it (an object's "{" then a byte that is not
                # the NUL of UTF-16 or 32): the decoder without the detection's calls
                data = _DECODER.decode(body.decode("utf-8", "surrogatepass"))
            else:
                data = json.loads(body)
        except ValueError:  # (not JSON, or not UTF-8/16/32 text)
            return None
        if type(data) is not dict:
            return None
        try:
            return AssessmentIn.model_validate(data), key
        except ValidationError:
            return None


def _replaying(first: Message, receive: Receive) -> Receive:
    """A ``receive`` giving ``first`` again, then what ``receive`` gives."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return first
        return await receive()

    return replay
