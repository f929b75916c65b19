"""The one conversion of Remit's values to JSON: service records, dates, times, numbers.

:func:`to_json_value` is what the audit trail hashes (through
:func:`remit.store.canonical_json`), what the command line prints with ``--json`` and what the
web API answers, so a record reads the same everywhere: dates ISO 8601, times UTC ISO 8601 with
microseconds and ``Z``, records (dataclasses) as objects of their fields, tuples as arrays,
NumPy numbers as plain numbers, NaN and infinities as ``null``. It imports nothing of Remit, so
every layer may use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any


def iso_utc(value: datetime) -> str:
    """A datetime as UTC ISO 8601 with microseconds and ``Z`` (naive means UTC).

    >>> from datetime import timedelta, timezone
    >>> iso_utc(datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1))))
    '2026-03-02T09:30:00.000000Z'
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if type(value) is datetime and value.year >= 1000:
        # the same text as the strftime below, at a third of its cost: isoformat pads a year
        # below 1000 to four digits where the C library's %Y may not, so those take strftime
        return value.isoformat(timespec="microseconds")[:-6] + "Z"  # (less its "+00:00")
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON values (dict, list, str, int, float, bool, None).

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Reading:
    ...     day: date
    ...     values: tuple[float, ...]
    >>> to_json_value({"r": Reading(date(2026, 3, 2), (1.5, float("nan")))})
    {'r': {'day': '2026-03-02', 'values': [1.5, None]}}

    Each value's conversion is chosen by its exact type, once per type (:func:`_conversion`,
    the rules in their order of precedence), then looked up: a service record's fields are
    converted without asking a dozen ``isinstance`` questions of each (issue 16: a form's
    answer is built from about 60 values).
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    convert = _CONVERSIONS.get(kind)
    if convert is None:
        convert = _conversion(kind, value)
    return convert(value)


#: The exact types returned unchanged (a subclass, e.g. an enum deriving from ``int``, is
#: looked up by :func:`_conversion` like any other type).
_PLAIN = frozenset({str, int, bool, type(None)})


def _same(value: Any) -> Any:
    return value


def _float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _enum(value: Enum) -> Any:
    return to_json_value(value.value)


def _date(value: date) -> str:
    return value.isoformat()


def _dict(value: dict[Any, Any]) -> dict[str, Any]:
    plain = _PLAIN
    return {str(k): v if type(v) in plain else to_json_value(v) for k, v in value.items()}


def _sequence(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    plain = _PLAIN
    return [v if type(v) in plain else to_json_value(v) for v in value]


def _record(names: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    """The conversion of a dataclass with fields ``names``: an object of its fields."""

    def convert(value: Any) -> dict[str, Any]:
        plain = _PLAIN
        out = {}
        for name in names:
            field = getattr(value, name)
            out[name] = field if type(field) in plain else to_json_value(field)
        return out

    return convert


def _numpy(value: Any) -> Any:
    return to_json_value(value.tolist())


def _conversion(kind: type, value: Any) -> Callable[[Any], Any]:
    """The conversion of a value of exact type ``kind`` (``value`` one of them): the first
    rule that applies, in this order. Every rule but the last two depends on the type alone,
    so it is kept for the type."""
    convert: Callable[[Any], Any]
    if issubclass(kind, bool | int | str) or value is None:
        convert = _same
    elif issubclass(kind, Enum):
        convert = _enum
    elif issubclass(kind, float):
        convert = _float
    elif issubclass(kind, datetime):
        convert = iso_utc
    elif issubclass(kind, date):
        convert = _date
    elif issubclass(kind, Decimal):
        convert = str
    elif issubclass(kind, dict):
        convert = _dict
    elif issubclass(kind, list | tuple):
        convert = _sequence
    elif is_dataclass(value) and not isinstance(value, type):
        convert = _record(tuple(f.name for f in fields(value)))
    elif hasattr(value, "tolist") and callable(value.tolist):  # NumPy scalars and arrays
        return _numpy
    else:
        raise TypeError(f"cannot write {kind.__name__} value {value!r} as JSON")
    _CONVERSIONS[kind] = convert
    return convert


#: The conversion of each exact type met so far (:func:`_conversion`).
_CONVERSIONS: dict[type, Callable[[Any], Any]] = {}
