"""canonical_json's shortcut for plain values writes exactly what the full conversion writes
(the audit chain's hashes depend on it)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remit.json_values import to_json_value
from remit.store.canonical import canonical_json


class Colour(StrEnum):
    RED = "red"


def _full(value: Any) -> str:
    return json.dumps(
        to_json_value(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -17,
        "ø",
        "",
        {"b": 1, "a": None, "c": "x", "d": False},
        {"id": 3, "occurred_at": "2026-03-02T09:30:00.000000Z", "field": None},
        # not plain: converted
        float("nan"),
        1.5,
        {"a": float("inf")},
        {"a": date(2026, 3, 2)},
        {"a": datetime(2026, 3, 2, 10, tzinfo=UTC)},
        {"a": Colour.RED},
        Colour.RED,
        {1: "x"},
        {"a": [1, 2]},
        {"a": {"b": 1}},
    ],
    ids=repr,
)
def test_the_shortcut_writes_what_the_conversion_writes(value: Any) -> None:
    assert canonical_json(value) == _full(value)


def test_non_finite_floats_inside_a_flat_dict_still_become_null() -> None:
    assert canonical_json({"x": float("nan"), "y": 1}) == '{"x":null,"y":1}'
    assert canonical_json({"s": {"t": [1.5, float("-inf")]}}) == '{"s":{"t":[1.5,null]}}'


_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from([Colour.RED, date(2026, 3, 2), datetime(2026, 3, 2, 10, tzinfo=UTC)])
)
_nested = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        | st.dictionaries(st.integers(-3, 3) | st.booleans(), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(value=_nested)
def test_nested_values_are_written_as_the_conversion_writes_them(value: Any) -> None:
    """A form's score (dicts of floats and lists, nested) takes the shortcut; anything the
    conversion would change (NaN, a date, an enum, a key not a str) anywhere inside does not."""
    assert canonical_json(value) == _full(value)


@pytest.mark.parametrize(
    "value", [None, 0, -17, 2**70, "", "ø", 'a"b\\c\n\u2028\x00', "\U0001f600"], ids=repr
)
def test_the_audit_trails_spelling_of_a_scalar_is_canonical_json(value: Any) -> None:
    from remit.store.audit import _scalar

    assert _scalar(value) == canonical_json(value) == _full(value)


_text_or_none = st.none() | st.text(max_size=30)
_int_or_none = st.none() | st.integers(min_value=-(2**63), max_value=2**63)


@settings(max_examples=200, deadline=None)
@given(
    row_id=st.integers(min_value=1, max_value=2**62),
    record_id=st.integers(min_value=0, max_value=2**62),
    participant_id=_int_or_none,
    user_id=_int_or_none,
    site_id=_int_or_none,
    username=st.text(min_size=1, max_size=20),
    field=_text_or_none,
    old_value=_text_or_none,
    new_value=_text_or_none,
    reason=_text_or_none,
)
def test_the_audit_rows_content_is_spelled_as_canonical_json(
    row_id: int,
    record_id: int,
    participant_id: int | None,
    user_id: int | None,
    site_id: int | None,
    username: str,
    field: str | None,
    old_value: str | None,
    new_value: str | None,
    reason: str | None,
) -> None:
    from remit.store.audit import AuditContentWriter, AuditRecord
    from remit.store.audit_keys import AuditKeyRing

    actor = SimpleNamespace(
        user_id=user_id, username=username, role="investigator", site_id=site_id
    )
    writer = AuditContentWriter("2026-03-02T09:30:00.000000Z", "f" * 32, actor)  # type: ignore[arg-type]
    record = AuditRecord(
        "update", "assessment", record_id, participant_id, field, old_value, new_value, reason
    )
    content = writer.content(row_id, record)
    assert writer.json(row_id, record) == canonical_json(content) == _full(content)
    ring = AuditKeyRing((("k1", b"k" * 32),))
    assert ring.signer()("0" * 64, writer.json(row_id, record)) == ring.row_hash(
        0, "0" * 64, content
    )
