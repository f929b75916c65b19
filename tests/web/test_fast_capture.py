"""Issue 16: the fast path of ``POST /api/v1/assessments`` (:mod:`remit.web.fast_capture`)
answers every request byte for byte as the FastAPI route does, and takes the path only for
the requests it may answer so; and the faster :func:`remit.json_values.to_json_value` gives
what the former one gave for any value.

The comparison runs the same requests, in the same order, against two apps over two copies of
one trial: one with the fast path, one without (the FastAPI route alone, as before). Times of
"now" (an alert's ``raised_at``, its ``due_at``) differ between the two runs by the moments
they ran, so they are masked; everything else (status, every header, every other byte of the
body) must be equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.web.fast_path_support import (
    FORM,
    MADRS,
    TIME,
    URL,
    bearer_token,
    fastapi_routes,
    paired_apps,
)

from remit.json_values import iso_utc, to_json_value

JSON = {"content-type": "application/json"}


#: (who sends it, raw body, extra headers) of each request, in order.
Request = tuple[str | None, bytes, dict[str, str]]


def _body(form: dict[str, Any]) -> bytes:
    import json

    return json.dumps(form).encode()


GAD7 = ("feeling_nervous", "uncontrollable_worry", "worrying_too_much", "trouble_relaxing",
        "restlessness", "irritability", "feeling_afraid")  # fmt: skip
REQUESTS: list[Request] = [
    # stored forms: one raising an alert (MADRS item 10, suicidal thoughts), with an
    # idempotency key and its retry and a second key (409), an incomplete one (a GAD-7 item
    # left out), one dated by the rater, and refusals of the service (422)
    ("independent_rater", _body(FORM | {"answers": MADRS | {"10": 6}}), {"Idempotency-Key": "k-1"}),
    ("independent_rater", _body(FORM | {"answers": MADRS | {"10": 6}}), {"Idempotency-Key": "k-1"}),
    ("independent_rater", _body(FORM), {"Idempotency-Key": "k-2"}),
    ("therapist", _body(FORM | {"scale": "gad7", "answers": dict.fromkeys(GAD7[:6], 2)}), {}),
    ("therapist", _body(FORM | {"scale": "sds", "answers": {}, "status": "draft"}), {}),
    (
        "therapist",
        _body(FORM | {"scale": "isi", "answers": {}, "assessed_at": "2026-03-02T09:30:00"}),
        {},
    ),
    ("independent_rater", _body(FORM | {"visit_code": "V2"}), {}),
    # refused by the caller checks (a valid body: the fast path), or by validation (declined)
    (None, _body(FORM), {}),
    ("monitor", _body(FORM), {}),
    ("monitor", _body(FORM | {"answers": "none"}), {}),
    ("independent_rater", _body(FORM | {"answers": "none", "extra": 1}), {}),
    ("independent_rater", b"{", {}),
    ("independent_rater", b"", {}),
    ("independent_rater", b"[1, 2]", {}),
    ("independent_rater", _body(FORM), {"Idempotency-Key": "k" * 201}),
    ("independent_rater", _body(FORM), {"content-type": "text/plain"}),
    ("independent_rater", _body(FORM), {"content-type": "application/json; charset=utf-8"}),
    ("independent_rater", _body(FORM | {"scale": "nope", "visit_code": "V9"}), {}),
]


def _send(client: TestClient, tokens: dict[str, str], request: Request) -> tuple[Any, ...]:
    who, body, extra = request
    headers = JSON | extra
    if who is not None:
        headers["Authorization"] = f"Bearer {tokens[who]}"
    answer = client.post(URL, content=body, headers=headers)
    masked = TIME.sub(b'"T"', answer.content)
    return answer.status_code, sorted(answer.headers.items()), masked


def test_the_fast_path_answers_every_request_as_the_fastapi_route_does(
    trial_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, plain = paired_apps(trial_db, tmp_path)
    fast_client, plain_client = TestClient(fast), TestClient(plain)
    roles = ("independent_rater", "therapist", "monitor")
    fast_tokens = {role: bearer_token(fast_client, role) for role in roles}
    plain_tokens = {role: bearer_token(plain_client, role) for role in roles}

    solved = fastapi_routes(monkeypatch)
    statuses = []
    for request in REQUESTS:
        solved.clear()
        ours = _send(fast_client, fast_tokens, request)
        fast_solved = len(solved)
        theirs = _send(plain_client, plain_tokens, request)
        assert ours == theirs, request
        assert len(solved) == fast_solved + 1  # the plain app went through FastAPI
        statuses.append((ours[0], fast_solved))
    # the stored forms and those the service refused took the fast path (no FastAPI route
    # ran); the requests refused by the checks or by validation went to the FastAPI route
    assert statuses == [
        *[(201, 0), (201, 0), (409, 0), (201, 0), (201, 0), (422, 0), (422, 0)],
        *[(401, 0), (403, 0), (403, 1), (422, 1), (422, 1), (422, 1), (422, 1), (422, 1)],
        *[(422, 1), (409, 1), (422, 0)],
    ]


def test_the_forms_answers_carry_alerts_and_missing_items(
    api_as: Callable[[str], TestClient],
) -> None:
    """The forms of the comparison above are the ones meant: one raised an alert, one is
    incomplete (so their answers' shapes were compared, not only a plain form's)."""
    alerted = api_as("independent_rater").post(URL, json=FORM | {"answers": MADRS | {"10": 6}})
    assert alerted.status_code == 201, alerted.text
    assert alerted.json()["alerts"], alerted.json()
    partial = FORM | {"scale": "gad7", "answers": dict.fromkeys(GAD7[:6], 2)}
    assert api_as("therapist").post(URL, json=partial).json()["missing_required"] == ["7"]


def test_the_fast_path_is_declined_under_dependency_overrides(
    app: FastAPI, api_as: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test (or an operator) overriding a dependency gets FastAPI's route, which honours
    the override."""
    rater = api_as("independent_rater")
    solved = fastapi_routes(monkeypatch)
    assert rater.post(URL, json=FORM).status_code == 201
    assert solved == []
    app.dependency_overrides[object] = lambda: None
    assert rater.post(URL, json=FORM | {"scale": "bdi2", "answers": {}}).status_code == 201
    assert solved == [URL]


# --- to_json_value ---------------------------------------------------------------------------


def _reference(value: Any) -> Any:
    """:func:`remit.json_values.to_json_value` as it was before its per-type dispatch."""
    from dataclasses import fields, is_dataclass

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return _reference(value.value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reference(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _reference(getattr(value, f.name)) for f in fields(value)}
    if hasattr(value, "tolist") and callable(value.tolist):
        return _reference(value.tolist())
    raise TypeError(f"cannot write {type(value).__name__} value {value!r} as JSON")


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


class Pair(Enum):
    AB = ("a", 1)


class Text(str):
    pass


class Moment(datetime):
    pass


@dataclass(frozen=True)
class Reading:
    day: date
    values: tuple[float, ...]
    note: Any = None


_zones: Any = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=11))]
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.decimals(allow_nan=False, places=3),
    st.dates(),
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_zones),
    st.sampled_from([Colour.RED, Level.HIGH, Pair.AB, Text("t"), Moment(2026, 3, 2, 10, 5)]),
    st.sampled_from([np.float64(1.5), np.int64(7), np.array([1.0, np.nan]), np.bool_(True)]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(
            st.one_of(st.text(max_size=4), st.integers(), st.just(Colour.RED)), inner, max_size=4
        ),
        st.builds(Reading, st.dates(), st.lists(st.floats(), max_size=3).map(tuple), inner),
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(_values)
def test_to_json_value_gives_what_it_gave_for_any_value(value: Any) -> None:
    import json

    new, old = to_json_value(value), _reference(value)
    assert new == old or (new != new and old != old)  # (NaN is not equal to itself)
    assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 2, 10, 30, 0, 0),
        datetime(2026, 3, 2, 10, 30, 0, 7, tzinfo=timezone(timedelta(hours=1))),
        datetime(999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1000, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
        Moment(2026, 3, 2, 10, 5, tzinfo=UTC),
    ],
    ids=repr,
)
def test_iso_utc_spells_every_time_as_strftime_did(moment: datetime) -> None:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    assert iso_utc(moment) == aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_an_unknown_type_is_refused_as_before() -> None:
    with pytest.raises(TypeError, match="cannot write object value"):
        to_json_value({"a": [object()]})
