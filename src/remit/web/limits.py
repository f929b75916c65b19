"""Request body limits: a size ceiling (413) and a deadline for receiving the body (408).

:class:`BodyLimits` is a pure ASGI middleware that reads the whole body of a request before the
app sees it, so that no route (and no lock a route takes) waits on a client that is slow to send
or never sends its body. The body is then handed to the app unchanged.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Methods whose body the middleware reads ahead.
WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooSlowError(Exception):
    """The client did not send its body within the deadline."""


class BodyLimits:
    """Refuse a request body over ``max_bytes`` (413) or not received within ``timeout_s``
    seconds of the request's start (408); otherwise pass the request on, body read in full."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        replay = await self.read(scope, receive, send)
        if replay is not None:
            await self.app(scope, replay, send)

    async def read(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Read the whole body of an HTTP request: a ``receive`` that hands it to the app
        unchanged, or ``None`` when the request was refused (answered through ``send``) or the
        client left."""
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send, 413, self._too_big(f"{declared:,} bytes declared"))
            return None
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.timeout_s
        more = True
        while more:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                # a timeout scope on this task, not wait_for's extra task per message
                async with asyncio.timeout(left):
                    message = await receive()
            except TimeoutError:
                await self._refuse(
                    scope,
                    send,
                    408,
                    f"the request body was not received within {self.timeout_s:g} s",
                    hint="send the whole request at once; retry on a better connection",
                )
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send, 413, self._too_big(f"more than {size:,} bytes"))
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    def _too_big(self, given: str) -> str:
        return f"the request body is too large ({given}; at most {self.max_bytes:,} bytes)"

    async def _refuse(
        self, scope: Scope, send: Send, status: int, message: str, hint: str | None = None
    ) -> None:
        hint = hint or "send a smaller request; a form or API body is never this large"
        if scope["path"].startswith("/api/"):
            payload: Any = {"error": "RequestBodyError", "message": message, "hint": hint}
            body = json.dumps(payload).encode()
            kind = b"application/json"
        else:
            body = f"{message}. {hint}.".encode()
            kind = b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
