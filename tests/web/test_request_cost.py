"""Issue 16: what a form submission through the API costs the web layer, and that the cheaper
path keeps every behaviour (status, headers, body, the OpenAPI description, the security
headers, the observation of what requests arrive with).

The figures are printed by ``benchmarks/bench_web_request.py``; these tests guard the
mechanisms: one worker-thread hand-off per submission (the session lookup, the role check and
the service call together), no second walk of the answer by FastAPI's ``jsonable_encoder``,
and ``remit serve`` on uvloop and httptools when they are installed.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio.to_thread
import fastapi.routing
import opentelemetry.trace
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.trial import PASSWORD
from tests.web.test_api import MADRS, NEW_MADRS
from typer.testing import CliRunner

import remit.cli.serve_cmd as serve_cmd
from remit import services as sv
from remit.cli.app import app as cli_app
from remit.errors import ConflictError
from remit.json_values import to_json_value
from remit.services.web_sessions import read_observations
from remit.web import WebSettings, core, create_app, workers
from remit.web.fast_capture import FastCapture
from remit.web.middleware import RequestGuard

#: What the counting stand-in of :func:`remit.web.core.in_worker_thread` notes per hand-off.
LEAN = "in_worker_thread"


def test_a_submission_hands_off_to_a_worker_thread_once_and_is_serialised_once(
    api_as: Callable[[str], TestClient], app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    rater = api_as("independent_rater")
    hops: list[str] = []
    walks: list[object] = []
    run_sync = anyio.to_thread.run_sync
    encoder = fastapi.routing.jsonable_encoder

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    def walked(value: Any, *args: Any, **kwargs: Any) -> Any:
        walks.append(value)
        return encoder(value, *args, **kwargs)

    lean = core.in_worker_thread

    async def handed(work: Callable[[], Any], **where: Any) -> Any:
        hops.append(LEAN)
        return await lean(work, **where)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    monkeypatch.setattr(core, "in_worker_thread", handed)
    monkeypatch.setattr(fastapi.routing, "jsonable_encoder", walked)
    created = rater.post("/api/v1/assessments", json=NEW_MADRS, headers={"Idempotency-Key": "k1"})
    assert created.status_code == 201, created.text
    # the session lookup, the role check and the service call: one hand-off, the lean one
    # (remit.web.workers' threads, not anyio's)
    assert hops == [LEAN]
    assert walks == []  # the route renders its JSON itself
    assert created.headers["content-type"] == "application/json"
    assert created.headers["etag"] == '"1"'
    record = created.json()
    assert created.headers["location"] == f"/api/v1/assessments/{record['id']}"
    engine = app.state.remit.engine
    stored = sv.get_assessment(engine, sv.actor_for(engine, "rita"), record["id"])
    assert record == json.loads(json.dumps(to_json_value(stored)))
    assert record["total"] == 20

    # a refused role is still refused, in the same hand-off, and nothing stored
    monitor = api_as("monitor")
    hops.clear()
    refused = monitor.post("/api/v1/assessments", json=NEW_MADRS | {"visit_code": "V2"})
    assert refused.status_code == 403
    assert refused.json()["error"] == "PermissionDeniedError"
    assert hops == [LEAN]
    forms = sv.list_assessments(engine, sv.actor_for(engine, "rita"), "OSL-001")
    assert [a.visit_code for a in forms if a.scale == "madrs"] == ["V3"]

    # a read and a save of the form answer the same way
    # (each in one hand-off too)
    url = f"/api/v1/assessments/{record['id']}"
    hops.clear()
    read = rater.get(url)
    assert read.json() == record
    assert read.headers["etag"] == '"1"'
    assert hops == [LEAN]
    change = {"answers": MADRS | {"1": 4}, "reason": "rescored"}
    assert rater.put(url, json=change).status_code == 428  # no If-Match
    stale = rater.put(url, json=change, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert "not 7" in stale.json()["message"]
    hops.clear()
    saved = rater.put(url, json=change, headers={"If-Match": '"1"'})
    assert saved.status_code == 200
    assert saved.headers["etag"] == '"2"'
    assert saved.json()["total"] == 22
    assert hops == [LEAN]
    # a role that may read but not save is refused before its (invalid) change is looked at
    assert monitor.get(url).status_code == 200
    refused_save = monitor.put(url, json={"answers": "none"}, headers={"If-Match": '"2"'})
    assert refused_save.status_code == 403
    assert TestClient(app).get(url).status_code == 401
    assert walks == []


def test_the_lean_hand_off_runs_the_work_in_a_worker_thread_with_the_callers_context() -> None:
    """:func:`remit.web.core.in_worker_thread` does what Starlette's ``run_in_threadpool``
    does: the work in another thread (the process's ``remit-web`` threads), the caller's
    context variables in it, its result or its exception back on the event loop."""
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")

    def work() -> tuple[str, str]:
        return threading.current_thread().name, request_id.get()

    def failing() -> None:
        raise ConflictError("taken", expected="another")

    async def both() -> tuple[tuple[str, str], BaseException | None]:
        request_id.set("r-1")
        done = await core.in_worker_thread(work)
        try:
            await core.in_worker_thread(failing)
        except ConflictError as error:
            return done, error
        return done, None

    with ThreadPoolExecutor(1) as pool:  # asyncio.run in a thread (see run_apart)
        (thread, seen), error = pool.submit(asyncio.run, both()).result()
    assert thread.startswith(workers.WORKER_THREAD_NAME), thread
    assert thread != threading.current_thread().name
    assert seen == "r-1"
    assert isinstance(error, ConflictError)


def test_a_submission_is_checked_before_its_input_as_before(
    api_as: Callable[[str], TestClient], app: FastAPI
) -> None:
    """The caller's checks run inside the submission's one hand-off, after FastAPI has
    validated the body; the answers keep their order all the same: no token 401 and a refused
    role 403 before an invalid body's 422, a body that is not JSON 422 first, as on every
    other route, and nothing stored by any of them."""
    engine = app.state.remit.engine

    def forms() -> int:
        return len(sv.list_assessments(engine, sv.actor_for(engine, "rita"), "OSL-001"))

    before = forms()
    anonymous = TestClient(app)
    invalid = NEW_MADRS | {"answers": "none", "extra": 1}
    for body in (invalid, {}, NEW_MADRS):
        answer = anonymous.post("/api/v1/assessments", json=body)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"] == "HTTPError"
    forged = anonymous.post(
        "/api/v1/assessments", json=NEW_MADRS, headers={"Authorization": "Bearer forged"}
    )
    assert forged.status_code == 401
    not_json = anonymous.post(
        "/api/v1/assessments", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json() == {"error": "ValidationError", "message": "body.1: JSON decode error"}

    monitor = api_as("monitor")
    for body in (invalid, {}):
        refused = monitor.post("/api/v1/assessments", json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "PermissionDeniedError"
    long_key = {"Idempotency-Key": "k" * 201}
    too_long = monitor.post("/api/v1/assessments", json=NEW_MADRS, headers=long_key)
    assert too_long.status_code == 403

    rater = api_as("independent_rater")
    wrong = rater.post("/api/v1/assessments", json=invalid)
    assert wrong.status_code == 422
    assert wrong.json()["error"] == "ValidationError"
    assert "body.extra: Extra inputs are not permitted" in wrong.json()["message"]
    too_long = rater.post("/api/v1/assessments", json=NEW_MADRS, headers=long_key)
    assert too_long.status_code == 422
    assert "Idempotency-Key" in too_long.json()["message"]
    assert forms() == before


def test_the_openapi_description_still_gives_the_records_schema(app: FastAPI) -> None:
    spec = TestClient(app).get("/openapi.json").json()
    post = spec["paths"]["/api/v1/assessments"]["post"]["responses"]
    assert post["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AssessmentRecord"
    }
    assert "401" in post
    assert "422" in post
    get = spec["paths"]["/api/v1/assessments/{assessment_id}"]["get"]["responses"]
    assert get["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AssessmentRecord")
    assert "total" in spec["components"]["schemas"]["AssessmentRecord"]["properties"]


def test_security_headers_of_api_answers_static_files_and_https(
    trial_db: Path, tmp_path: Path
) -> None:
    plain = TestClient(create_app(str(trial_db), settings=WebSettings(work_dir=tmp_path)))
    login = plain.post("/api/v1/auth/login", json={"username": "rita", "password": PASSWORD})
    for response in (login, plain.get("/api/v1/me"), plain.get("/login")):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["permissions-policy"] == "camera=(), microphone=(), geolocation=()"
        assert headers["cross-origin-opener-policy"] == "same-origin"
        assert headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "strict-transport-security" not in headers
        # one of each, never a duplicate of a header the route also set
        assert len(headers.get_list("x-frame-options")) == 1
        assert len(headers.get_list("content-security-policy")) == 1
    static = plain.get("/static/" + next(p.name for p in _static().iterdir() if p.is_file()))
    assert static.status_code == 200
    assert static.headers.get("cache-control") != "no-store"
    assert static.headers["x-content-type-options"] == "nosniff"
    https = TestClient(
        create_app(str(trial_db), settings=WebSettings(work_dir=tmp_path, https=True))
    )
    assert https.get("/login").headers["strict-transport-security"] == "max-age=31536000"


def test_one_middleware_of_the_app_and_no_telemetry_asked_unless_configured(
    trial_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's own middleware is one layer (observe, security headers, storage trouble,
    body limits: :class:`remit.web.middleware.RequestGuard`) with, inside it, the fast path
    of a form's submission (:class:`remit.web.fast_capture.FastCapture`), and FastAPI's native
    OpenTelemetry, unconfigured, no longer asks the global providers on every request; it
    still does when the operator configures OpenTelemetry (an ``OTEL_*`` variable)."""
    asked: list[str] = []
    provider = opentelemetry.trace.get_tracer_provider

    def counted() -> Any:
        asked.append("tracer provider")
        return provider()

    monkeypatch.setattr(opentelemetry.trace, "get_tracer_provider", counted)
    for name in [n for n in os.environ if n.startswith(("OTEL_", "FASTAPI_OTEL_"))]:
        monkeypatch.delenv(name)
    app = create_app(str(trial_db), settings=WebSettings(work_dir=tmp_path))
    assert [m.cls for m in app.user_middleware] == [RequestGuard, FastCapture]
    client = TestClient(app)
    assert client.get("/login").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert asked == []
    monkeypatch.setenv("OTEL_SERVICE_NAME", "remit")
    traced = TestClient(create_app(str(trial_db), settings=WebSettings(work_dir=tmp_path)))
    assert traced.get("/login").status_code == 200
    assert asked


def test_what_requests_arrive_with_is_noted(trial_db: Path, tmp_path: Path) -> None:
    client = TestClient(create_app(str(trial_db), settings=WebSettings(work_dir=tmp_path)))
    assert client.get("/login", headers={"X-Forwarded-Proto": "https"}).status_code == 200
    engine = sv.open_database(str(trial_db))
    try:
        seen = {name: o.value for name, o in read_observations(engine).items()}
    finally:
        sv.close_database(engine)
    assert seen["request_scheme"] == "http"
    assert seen["forwarded_proto"] == "https"


@pytest.mark.parametrize("installed", [True, False])
def test_serve_runs_uvicorn_on_uvloop_and_httptools_when_installed(
    trial_db: Path, monkeypatch: pytest.MonkeyPatch, installed: bool
) -> None:
    ran: list[dict[str, Any]] = []

    class _Done:
        def join(self, timeout: float | None = None) -> None:
            pass

    monkeypatch.setattr("uvicorn.run", lambda *a, **k: ran.append(k))
    monkeypatch.setattr(serve_cmd, "_start_delivery", lambda *a, **k: _Done())
    if not installed:
        monkeypatch.setattr(serve_cmd.importlib.util, "find_spec", lambda name: None)
    done = CliRunner().invoke(cli_app, ["serve", "--db", str(trial_db)])
    assert done.exit_code == 0, done.output
    expected = ("uvloop", "httptools") if installed else ("asyncio", "h11")
    assert (ran[0]["loop"], ran[0]["http"]) == expected
    assert f"({expected[0]}, {expected[1]})" in done.output
    # no access line per request unless asked for (the proxy logs requests)
    assert ran[0]["access_log"] is False
    logged = CliRunner().invoke(cli_app, ["serve", "--db", str(trial_db), "--access-log"])
    assert logged.exit_code == 0, logged.output
    assert ran[1]["access_log"] is True


def _static() -> Path:
    import remit.web

    return Path(remit.web.__file__).parent / "static"
