"""Canonical JSON and the audit hash: one spelling of every value, so hashes are reproducible.

The same value written on SQLite or on PostgreSQL, today or on replay, must hash the same:
dates are ISO 8601, datetimes are UTC ISO 8601 with microseconds and a ``Z``, keys are sorted,
there is no insignificant whitespace. The values are converted by
:func:`remit.json_values.to_json_value`, the one JSON conversion of Remit.
"""

from __future__ import annotations

import hashlib
import json
from math import isfinite
from typing import Any

from remit.json_values import iso_utc, to_json_value

__all__ = [
    "GENESIS_HASH",
    "REDACTED",
    "canonical_json",
    "chain_hash",
    "content_sha256",
    "iso_utc",
    "to_json_value",
]

#: ``prev_hash`` of the first audit row.
GENESIS_HASH = "0" * 64

#: What the audit trail stores instead of a redacted value (identity data, password hashes).
REDACTED = "[redacted]"


def canonical_json(value: Any) -> str:
    """Canonical JSON text of ``value`` (sorted keys, no spaces, UTF-8 kept).

    >>> from datetime import date
    >>> canonical_json({"b": [1, 2.5, None], "a": date(2026, 3, 2), "c": "ø"})
    '{"a":"2026-03-02","b":[1,2.5,null],"c":"ø"}'
    """
    # Most values the audit trail hashes (every row's content, most fields, a form's answers
    # and score) are already plain: for them the conversion gives the same JSON (a tuple
    # becomes a list either way), and skipping it gives the very same text.
    plain = value if _is_plain(value) else to_json_value(value)
    return _CANONICAL_ENCODER.encode(plain)


#: ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``: the very
#: encoder ``json.dumps`` makes for those settings on each call, made once.
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: The exact types :func:`to_json_value` returns unchanged (not their subclasses: an enum may
#: derive from ``str``; not ``float``: NaN becomes ``null``).
_PLAIN = frozenset({str, int, bool, type(None)})


def _is_plain(value: Any) -> bool:
    """``value`` is written by :func:`json.dumps` as :func:`to_json_value` would convert it:
    a plain scalar, a finite float, or dicts (under ``str`` keys), lists and tuples of such
    values, however nested (a form's answers, its score, a request's body)."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind is float:
        return isfinite(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (type(item) in _PLAIN or _is_plain(item)):
                return False
        return True
    if kind is list or kind is tuple:
        return all(type(item) in _PLAIN or _is_plain(item) for item in value)
    return False


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
