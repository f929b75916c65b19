"""Canonical JSON and the audit hash: one spelling of every value, so hashes are reproducible.

The same value written on SQLite or on PostgreSQL, today or on replay, must hash the same:
dates are ISO 8601, datetimes are UTC ISO 8601 with microseconds and a ``Z``, keys are sorted,
there is no insignificant whitespace.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

#: ``prev_hash`` of the first audit row.
GENESIS_HASH = "0" * 64

#: What the audit trail stores instead of a redacted value (identity data, password hashes).
REDACTED = "[redacted]"


def iso_utc(value: datetime) -> str:
    """A datetime as UTC ISO 8601 with microseconds and ``Z`` (naive means UTC).

    >>> from datetime import timedelta, timezone
    >>> iso_utc(datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1))))
    '2026-03-02T09:30:00.000000Z'
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json_value(value: Any) -> Any:
    """A column value in the plain JSON form used by the audit trail and by replay."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return to_json_value(value.value)
    if isinstance(value, float):
        return value
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return to_json_value(value.item())
    raise TypeError(f"cannot store {type(value).__name__} value {value!r} in the audit trail")


def canonical_json(value: Any) -> str:
    """Canonical JSON text of ``value`` (sorted keys, no spaces, UTF-8 kept).

    >>> canonical_json({"b": [1, 2.5, None], "a": date(2026, 3, 2), "c": "ø"})
    '{"a":"2026-03-02","b":[1,2.5,null],"c":"ø"}'
    """
    return json.dumps(
        to_json_value(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """``sha256(prev_hash + canonical_json(content))`` as 64 hex digits.

    >>> first = chain_hash(GENESIS_HASH, {"id": 1, "field": "total", "new_value": "18"})
    >>> same = chain_hash(GENESIS_HASH, {"new_value": "18", "field": "total", "id": 1})
    >>> len(first), first == same
    (64, True)
    """
    return hashlib.sha256((prev_hash + canonical_json(content)).encode("utf-8")).hexdigest()


def content_sha256(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (what an electronic signature is bound to)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
