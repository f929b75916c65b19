"""canonical_json's shortcut for plain values writes exactly what the full conversion writes
(the audit chain's hashes depend on it)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import pytest

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
