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
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON values (dict, list, str, int, float, bool, None).

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Reading:
    ...     day: date
    ...     values: tuple[float, ...]
    >>> to_json_value({"r": Reading(date(2026, 3, 2), (1.5, float("nan")))})
    {'r': {'day': '2026-03-02', 'values': [1.5, None]}}
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return to_json_value(value.value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
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
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in fields(value)}
    if hasattr(value, "tolist") and callable(value.tolist):  # NumPy scalars and arrays
        return to_json_value(value.tolist())
    raise TypeError(f"cannot write {type(value).__name__} value {value!r} as JSON")
