"""Issue 16: the fast path of ``POST /api/v1/assessments`` (:mod:`remit.web.fast_capture`), a
middleware in front of the router, matches the route's path as the router does (under a
``root_path``, in a mounted app) and answers an exception with the app's exception handlers
as Starlette's exception middleware does, without Starlette's private helpers: each case is
sent to an app with the fast path and to one without (the FastAPI route alone), and the
answers compared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount
from tests.web.fast_path_support import (
    FORM,
    TIME,
    URL,
    bearer_token,
    fastapi_routes,
    paired_apps,
)

from remit import services as sv
from remit.errors import PermissionDeniedError
from remit.web.fast_capture import route_path

#: (what the router matches against, given path and root_path), as Starlette's router reads
#: it: under the root path when the path is below it, else the whole path.
ROUTE_PATHS = [
    ("/api/v1/assessments", "", "/api/v1/assessments"),
    ("/remit/api/v1/assessments", "/remit", "/api/v1/assessments"),
    ("/remit/api/v1/assessments", "/remit/", "/remit/api/v1/assessments"),
    ("/remit", "/remit", ""),
    ("/remitx/api/v1/assessments", "/remit", "/remitx/api/v1/assessments"),
    ("/api/v1/assessments", "/remit", "/api/v1/assessments"),
    ("/a/b/api/v1/assessments", "/a/b", "/api/v1/assessments"),
]


@pytest.mark.parametrize(("path", "root", "expected"), ROUTE_PATHS)
def test_the_route_path_is_read_as_the_router_reads_it(path: str, root: str, expected: str) -> None:
    assert route_path({"path": path, "root_path": root}) == expected
    assert route_path({"path": path}) == path


def _answer(client: TestClient, url: str, token: str | None, **form: Any) -> tuple[Any, ...]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = client.post(url, json=FORM | form, headers=headers)
    return answer.status_code, sorted(answer.headers.items()), TIME.sub(b"T", answer.content)


def test_a_mounted_app_takes_the_fast_path_for_the_same_requests(
    trial_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, plain = paired_apps(trial_db, tmp_path)
    clients = [TestClient(Starlette(routes=[Mount("/remit", app=a)])) for a in (fast, plain)]
    tokens = [bearer_token(c, "independent_rater", "/remit") for c in clients]
    routed = fastapi_routes(monkeypatch)
    ours = _answer(clients[0], f"/remit{URL}", tokens[0])
    assert routed == []  # the fast path answered
    assert ours[0] == 201
    assert ours == _answer(clients[1], f"/remit{URL}", tokens[1])
    assert routed == [f"/remit{URL}"]
    # a path that only ends like the route's is not the route, with or without the fast path
    routed.clear()
    for client, token in zip(clients, tokens, strict=True):
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post(f"/remit/x{URL}", json=FORM, headers=headers).status_code == 404
    assert routed == []


def test_a_root_path_is_matched_as_the_router_matches_it(
    trial_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy's prefix in ``root_path``: the path with the prefix (as uvicorn gives it) or
    without (as a proxy that strips it gives it) is the route's either way."""
    fast, plain = paired_apps(trial_db, tmp_path)
    clients = [TestClient(a, root_path="/trial") for a in (fast, plain)]
    tokens = [bearer_token(c, "independent_rater") for c in clients]
    routed = fastapi_routes(monkeypatch)
    for url in (URL, f"/trial{URL}"):
        routed.clear()
        form = {} if url == URL else {"scale": "bdi2", "answers": {}}
        ours = _answer(clients[0], url, tokens[0], **form)
        assert ours[0] == 201
        assert routed == []
        assert ours == _answer(clients[1], url, tokens[1], **form)
        assert routed == [url]


def test_the_apps_exception_handlers_answer_the_fast_paths_refusals_as_the_routes(
    trial_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler registered on the app for a class (here nearer in the MRO than the app's own
    ``RemitError`` handler), a synchronous one, and one for an ``HTTPException``'s status code
    answer alike, whether the fast path or the FastAPI route ran."""
    fast, plain = paired_apps(trial_db, tmp_path)

    async def denied(request: Request, exc: Exception) -> Response:
        return JSONResponse({"denied": str(exc), "path": request.url.path}, 451)

    def unauthorised(request: Request, exc: Exception) -> Response:  # (run in a thread)
        assert isinstance(exc, HTTPException)
        return Response(f"who? {exc.detail}", 499, {"X-Handled": "sync"})

    for app in (fast, plain):
        app.add_exception_handler(PermissionDeniedError, denied)
        app.add_exception_handler(401, unauthorised)
    clients = [TestClient(a) for a in (fast, plain)]
    monitors = [bearer_token(c, "monitor") for c in clients]
    routed = fastapi_routes(monkeypatch)
    refused = _answer(clients[0], URL, monitors[0])
    assert routed == []
    assert refused[0] == 451
    assert refused == _answer(clients[1], URL, monitors[1])
    routed.clear()
    anonymous = _answer(clients[0], URL, None)
    assert routed == []
    assert anonymous[0] == 499
    assert ("x-handled", "sync") in anonymous[1]
    assert anonymous == _answer(clients[1], URL, None)


def test_an_unhandled_exception_is_a_server_error_as_from_the_route(
    trial_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, plain = paired_apps(trial_db, tmp_path)
    clients = [TestClient(a, raise_server_exceptions=False) for a in (fast, plain)]
    tokens = [bearer_token(c, "independent_rater") for c in clients]
    crashes: list[str] = []

    def broken(*_: Any, **__: Any) -> None:
        crashes.append("crash")
        raise RuntimeError("the service broke")

    monkeypatch.setattr(sv, "record_assessment", broken)
    routed = fastapi_routes(monkeypatch)
    ours = _answer(clients[0], URL, tokens[0])
    assert routed == []
    assert ours[0] == 500
    assert ours == _answer(clients[1], URL, tokens[1])
    assert crashes == ["crash", "crash"]
    with pytest.raises(RuntimeError, match="the service broke"):
        TestClient(fast).post(URL, json=FORM, headers={"Authorization": f"Bearer {tokens[0]}"})


def test_handlers_added_before_the_first_request_are_the_ones_used(
    api_as: Callable[[str], TestClient], app: FastAPI
) -> None:
    """As Starlette's exception middleware, the fast path reads the app's handlers when the
    app's middleware is built (at its first request), not when the app is created."""

    async def teapot(request: Request, exc: Exception) -> Response:
        return Response("no", 418)

    app.add_exception_handler(PermissionDeniedError, teapot)
    assert api_as("monitor").post(URL, json=FORM).status_code == 418
