"""The fast path of a form's submission, ``POST /api/v1/assessments``: the busiest route.

FastAPI spends on every request of a route, before its endpoint runs, about a third of the
web layer's CPU: finding the route among every route of the app, solving the route's
dependencies (the caller guard, the ``Idempotency-Key`` header, the body) and reading the body
through its request object (issue 16). :class:`FastCapture` is a route placed first in the
app's router that does the same for this one route directly, for the request it can answer
exactly as FastAPI would: a complete JSON body (``Content-Type: application/json``) that
:class:`~remit.web.schemas.AssessmentIn` accepts, and an ``Idempotency-Key`` within its
bounds. It then runs the very work of the FastAPI route (:func:`remit.web.api.enter_assessment`:
the same caller checks, service call and answer) inside the app's exception handlers, as
Starlette runs an endpoint, so a refusal (401, 403, 409, 422 of the service …) is answered
alike.

Anything else (a body that is not JSON, or not a valid form; another content type; a key
too long; dependency overrides or FastAPI's own telemetry in use) is *declined*: the request
is handed, body unchanged, to the app's router again, which routes it to the FastAPI route as
before, so every refusal of input is FastAPI's own answer in the same order (401/403 before
422, :func:`remit.web.core.checked_before_invalid_input`). The route is not an ``APIRoute``:
the OpenAPI document, the access table and the route list stay the FastAPI route's.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send

from remit.web import api
from remit.web.core import ApiCaller
from remit.web.schemas import AssessmentIn

#: The route's path and method.
PATH = "/api/v1/assessments"
METHOD = "POST"

#: Scope key set on a request the fast path declined (the router then passes it by).
DECLINED = "remit.fast_capture.declined"

_JSON = b"application/json"


class FastCapture(BaseRoute):
    """``POST /api/v1/assessments`` answered without FastAPI's per-request machinery when the
    request is one FastAPI would accept; otherwise declined to the FastAPI route (see the
    module). ``app`` is the FastAPI app whose router holds this route first."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.path = PATH
        self.name = "create_assessment_fast_path"
        self.include_in_schema = False
        #: The caller guard's operation, read from the FastAPI route's (one source).
        self.operation: str = api.RECORD_ASSESSMENT.dependency.operation

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope["method"] == METHOD
            and DECLINED not in scope
            and get_route_path(scope) == PATH
        ):
            return Match.FULL, {"endpoint": api.create_assessment, "path_params": {}}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        from starlette.routing import NoMatchFound

        raise NoMatchFound(name, path_params)  # (named routes are the FastAPI route's)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = await receive()
        replay = _replaying(first, receive)
        accepted = self._accepted(scope, first)
        if accepted is None:
            scope[DECLINED] = True
            await self.app.router.app(scope, replay, send)
            return
        form, key = accepted
        request = Request(scope, replay, send)
        caller = ApiCaller(request, self.operation)

        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            response = await api.enter_assessment(request, caller, form, key)
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(answer, request)(scope, replay, send)

    def _accepted(self, scope: Scope, first: Message) -> tuple[AssessmentIn, str | None] | None:
        """The form and key of a request FastAPI would accept as they are, else ``None``."""
        if (
            first["type"] != "http.request"
            or first.get("more_body", False)
            or self.app.dependency_overrides
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
        try:
            data = json.loads(first.get("body", b""))
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
