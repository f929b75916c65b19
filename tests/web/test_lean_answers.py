"""Issue 16: the cheaper steps of a form's submission give what the former ones gave: a JSON
answer's bytes and headers (:class:`remit.web.api.JsonAnswer` against Starlette's
``Response``), the fast path's reading of the body (against FastAPI's route, for bodies that
are odd to decode), the bearer token read from the raw headers (the first ``Authorization``
header, as ``request.headers`` gives it), the security headers, and the session row."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.responses import Response
from tests.web.fast_path_support import FORM, TIME, URL, bearer_token, fastapi_routes, paired_apps

from remit import services as sv
from remit.store import web_sessions
from remit.web.api import JsonAnswer, json_answer


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (201, {"ETag": '"3"', "Location": "/api/v1/assessments/7"}),
        (200, None),
        (200, {}),
        (200, {"X-Ünïcode": "välue"}),
        (204, {"ETag": '"1"'}),
        (304, None),
        (101, None),
        (200, {"Content-Type": "application/problem+json", "ETag": '"2"'}),
        (200, {"content-length": "999"}),
    ],
)
def test_a_json_answer_is_the_response_starlette_gave(
    status: int, headers: dict[str, str] | None
) -> None:
    body = b'{"a":1,"b":"\xc3\xa9"}'
    ours = JsonAnswer(body, status, headers)
    theirs = Response(body, status, headers, media_type="application/json")
    assert ours.raw_headers == theirs.raw_headers
    assert (ours.body, ours.status_code, ours.background) == (theirs.body, status, None)
    assert dict(ours.headers) == dict(theirs.headers)


def test_json_answer_renders_as_json_dumps_did() -> None:
    value = {"name": "é ø", "n": [1, 2.5, None, True], "nested": {"x": "\u2028"}}
    answer = json_answer(value, 201, {"ETag": '"1"'})
    expected = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert answer.body == expected.encode()
    assert answer.headers["content-length"] == str(len(answer.body))


def _form(**change: Any) -> str:
    return json.dumps(FORM | change, ensure_ascii=False)


#: Bodies to decode, with the status answered: UTF-8 (with text beyond ASCII), its BOM,
#: UTF-16 and 32, white space before the object, a lone surrogate (which json.loads reads),
#: bytes that are not UTF-8, and no valid form.
BODIES: list[tuple[bytes, int]] = [
    (_form(window_reason="ærlig talt: utenfor vinduet").encode(), 201),
    (b"\xef\xbb\xbf" + _form(scale="gad7", answers={}).encode(), 201),
    (_form(scale="sds", answers={}).encode("utf-16-le"), 201),
    (_form(scale="isi", answers={}).encode("utf-32-be"), 201),
    (b"  \n" + _form(scale="bdi2", answers={}).encode(), 201),
    (_form(scale="phq9", answers={}, window_reason="x").encode()[:-2] + b'\xed\xa0\x80"}', 422),
    (b'{"participant_id": "\xff"}', 400),
    (b"{", 422),
    (b"{}", 422),
    (b'{"a": NaN}', 422),
]


def test_the_fast_path_reads_every_body_as_the_fastapi_route(
    trial_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, plain = paired_apps(trial_db, tmp_path)
    clients = [TestClient(a) for a in (fast, plain)]
    tokens = [bearer_token(c, "independent_rater") for c in clients]
    handled = fastapi_routes(monkeypatch)
    routes = []
    for body, status in BODIES:
        answers = []
        for client, token in zip(clients, tokens, strict=True):
            handled.clear()
            answer = client.post(
                URL,
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            answers.append((answer.status_code, TIME.sub(b"T", answer.content)))
            routes.append(len(handled))
        assert answers[0] == answers[1], body
        assert answers[0][0] == status, (body, answers[0])
    # the plain app always went through FastAPI; the fast path took every valid form, in
    # any of the encodings json.loads reads, and declined the rest
    assert routes[1::2] == [1] * len(BODIES)
    assert routes[0::2] == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_the_first_authorization_header_is_the_callers(
    api_as: Callable[[str], TestClient], app: FastAPI
) -> None:
    """As ``request.headers["authorization"]``: the first such header; the scheme in any
    case; blanks around the token ignored."""
    token = api_as("independent_rater").headers["Authorization"].partition(" ")[2]
    client = TestClient(app)

    def post(*values: str, **form: Any) -> int:
        headers = [("authorization", v) for v in values] + [("content-type", "application/json")]
        body = _form(**form).encode()
        return client.post(URL, content=body, headers=headers).status_code

    assert post(f"Bearer {token}", "Bearer nonsense") == 201
    assert post("Bearer nonsense", f"Bearer {token}", scale="gad7", answers={}) == 401
    assert post(f"bEARER   {token}  ", scale="sds", answers={}) == 201
    assert post(f"Basic {token}", scale="isi", answers={}) == 401
    assert post(scale="isi", answers={}) == 401


def test_a_route_that_sets_its_own_cache_control_keeps_it_and_gets_the_others(
    app: FastAPI,
) -> None:
    """The security headers replace those the route set but a Content-Security-Policy or
    Cache-Control of its own, compared by name in any case."""

    @app.get("/api/v1/test-own-headers")
    def own() -> Response:
        return Response(
            "x",
            headers={"Cache-Control": "max-age=5", "X-Frame-Options": "SAMEORIGIN", "A": "1"},
        )

    answer = TestClient(app).get("/api/v1/test-own-headers")
    assert answer.headers["cache-control"] == "max-age=5"
    assert answer.headers.get_list("x-frame-options") == ["DENY"]
    assert answer.headers["a"] == "1"
    assert "content-security-policy" in answer.headers


def test_the_session_row_is_converted_as_its_columns_say(app: FastAPI) -> None:
    engine = app.state.remit.engine
    sessions = app.state.remit.sessions
    token = sessions.create(sv.actor_for(engine, "rita"), kind="bearer")
    row = web_sessions._read_session(engine, web_sessions.session_digest(token))
    assert row is not None
    assert isinstance(row["created_at"], datetime)
    assert row["created_at"].tzinfo == UTC
    assert row["account_active"] is True
    assert row["handover"] == ""
    assert row["kind"] == "bearer"
