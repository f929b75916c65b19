"""Cells and columns of the data contract: how each kind of column is checked and
normalised, and how a frame becomes JSON-ready records. :mod:`remit.analysis.data` declares
the frames (:data:`~remit.analysis.data.SCHEMA`) with these columns."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from remit.errors import InputError

ColumnKind = Literal["text", "number", "integer", "bool", "date", "time", "mapping", "text_list"]


@dataclass(frozen=True)
class Column:
    """One column of the contract: its name, kind, whether it may be empty, allowed values.

    An ``optional`` column may be left out of a frame handed in: it is then added, empty
    (so older bundles and hand-built frames stay valid when the contract grows).

    Examples
    --------
    >>> from remit.analysis.data import SCHEMA
    >>> status = next(c for c in SCHEMA["participants"] if c.name == "status")
    >>> status.kind, status.nullable, status.allowed[:2]
    ('text', False, ('screening', 'eligible'))
    """

    name: str
    kind: ColumnKind
    nullable: bool = True
    allowed: tuple[str, ...] = ()
    doc: str = ""
    optional: bool = False


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(float(value))
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return False


def _example(values: pd.Series) -> str:
    for v in values:
        if not _is_missing(v):
            return repr(v)
    return "(none)"


def _text(frame: str, col: Column, s: pd.Series) -> pd.Series:
    out: list[object] = []
    for v in s:
        if _is_missing(v):
            out.append(None)
        elif isinstance(v, str):
            out.append(v)
        else:
            raise InputError(
                f"TrialData.{frame}.{col.name} must hold text; found {type(v).__name__} {v!r}",
                expected=f"strings ({col.doc or col.name})",
                hint="convert the column to str before building TrialData",
            )
    return pd.Series(out, index=s.index, dtype=object)


def _number(frame: str, col: Column, s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        raise InputError(
            f"TrialData.{frame}.{col.name} must hold numbers; found booleans",
            expected="numbers (NaN when missing)",
        )
    converted = pd.to_numeric(s.where(~s.isna(), np.nan), errors="coerce")
    bad = converted.isna() & ~s.isna()
    if bad.any():
        raise InputError(
            f"TrialData.{frame}.{col.name} must hold numbers; found {_example(s[bad])}",
            expected="numbers (NaN when missing)",
            hint="fix or blank the value",
        )
    result = converted.astype("float64")
    infinite = np.isinf(result.to_numpy())
    if infinite.any():
        raise InputError(
            f"TrialData.{frame}.{col.name} holds an infinite value",
            expected="finite numbers (NaN when missing)",
        )
    if col.kind == "integer":
        fractional = result.notna() & (result != np.floor(result))
        if fractional.any():
            raise InputError(
                f"TrialData.{frame}.{col.name} must hold whole numbers; "
                f"found {_example(result[fractional])}",
                expected="integers",
            )
        return result.astype("Int64")
    return result


def _bool(frame: str, col: Column, s: pd.Series) -> pd.Series:
    words = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
    out: list[object] = []
    for v in s:
        if _is_missing(v):
            out.append(None)
        elif isinstance(v, bool | np.bool_) or (isinstance(v, int | np.integer) and v in (0, 1)):
            out.append(bool(v))
        elif isinstance(v, str) and v.strip().lower() in words:
            out.append(words[v.strip().lower()])
        else:
            raise InputError(
                f"TrialData.{frame}.{col.name} must hold true/false; found {v!r}",
                expected="booleans",
            )
    if any(v is None for v in out):
        return pd.Series(out, index=s.index, dtype="boolean")
    return pd.Series(out, index=s.index, dtype=bool)


def _datetime(frame: str, col: Column, s: pd.Series) -> pd.Series:
    try:
        if col.kind == "time":
            converted = pd.to_datetime(s, utc=True, format="ISO8601")
        else:
            converted = pd.to_datetime(s, format="ISO8601")
            if isinstance(converted.dtype, pd.DatetimeTZDtype):
                converted = converted.dt.tz_convert("UTC").dt.tz_localize(None)
            converted = converted.dt.normalize()
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"TrialData.{frame}.{col.name} must hold "
            f"{'dates' if col.kind == 'date' else 'times'}; could not read {_example(s)} ({exc})",
            expected="ISO 8601 values (2024-01-31 or 2024-01-31T09:30:00Z), NaT when missing",
        ) from exc
    return converted.astype("datetime64[ns, UTC]" if col.kind == "time" else "datetime64[ns]")


def _mapping(frame: str, col: Column, s: pd.Series) -> pd.Series:
    out: list[dict[str, Any]] = []
    for v in s:
        if _is_missing(v):
            out.append({})
        elif isinstance(v, Mapping):
            out.append({str(k): plain_cell(x) for k, x in v.items()})
        elif isinstance(v, str):
            try:
                parsed = json.loads(v) if v.strip() else {}
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"TrialData.{frame}.{col.name} holds text that is not a JSON object: {v!r}",
                    expected="a dict (or a JSON object in a file)",
                ) from exc
            if not isinstance(parsed, dict):
                raise InputError(
                    f"TrialData.{frame}.{col.name} holds {v!r}, not a JSON object",
                    expected="a dict (or a JSON object in a file)",
                )
            out.append(parsed)
        else:
            raise InputError(
                f"TrialData.{frame}.{col.name} must hold dicts; found {type(v).__name__} {v!r}",
                expected="a dict of code → value per row",
            )
    return pd.Series(out, index=s.index, dtype=object)


def _text_list(frame: str, col: Column, s: pd.Series) -> pd.Series:
    out: list[list[str]] = []
    for v in s:
        if _is_missing(v):
            out.append([])
        elif isinstance(v, str):
            stripped = v.strip()
            if stripped.startswith("["):
                try:
                    parsed = json.loads(stripped)
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"TrialData.{frame}.{col.name} holds {v!r}, not a JSON list",
                        expected="a list of strings or one string",
                    ) from exc
                out.append([str(x) for x in parsed])
            else:
                out.append([stripped] if stripped else [])
        elif isinstance(v, list | tuple | np.ndarray):
            out.append([str(x) for x in v])
        else:
            raise InputError(
                f"TrialData.{frame}.{col.name} must hold lists of text; found {v!r}",
                expected="a list of strings or one string",
            )
    return pd.Series(out, index=s.index, dtype=object)


_CONVERTERS: dict[str, Callable[[str, Column, pd.Series], pd.Series]] = {
    "text": _text,
    "number": _number,
    "integer": _number,
    "bool": _bool,
    "date": _datetime,
    "time": _datetime,
    "mapping": _mapping,
    "text_list": _text_list,
}


def normalise_frame(name: str, frame: object, columns: Sequence[Column]) -> pd.DataFrame:
    """``frame`` checked against ``columns`` (the frame ``name`` of the contract) and
    converted to their kinds, contract columns first, extra columns kept.

    Examples
    --------
    >>> cols = (Column("participant_id", "text", nullable=False), Column("age", "number"))
    >>> normalise_frame("people", pd.DataFrame({"age": ["41"], "participant_id": ["P1"]}),
    ...                 cols).dtypes.astype(str).tolist()
    ['object', 'float64']
    >>> optional = (*cols, Column("note", "text", optional=True))
    >>> normalise_frame("people", pd.DataFrame({"age": [41], "participant_id": ["P1"]}),
    ...                 optional)["note"].tolist()
    [None]
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            f"TrialData.{name} must be a pandas DataFrame; got {type(frame).__name__}",
            expected="a DataFrame with columns " + ", ".join(c.name for c in columns),
        )
    missing = [c.name for c in columns if c.name not in frame.columns and not c.optional]
    if missing:
        raise InputError(
            f"TrialData.{name} lacks column{'s' if len(missing) > 1 else ''} " + ", ".join(missing),
            expected="columns " + ", ".join(c.name for c in columns),
            hint="see docs/analysis.md for the meaning of each column",
        )
    out = frame.reset_index(drop=True).copy()
    for col in columns:
        if col.name not in out.columns:  # an optional column left out: empty
            out[col.name] = pd.Series([None] * len(out), index=out.index, dtype=object)
        converted = _CONVERTERS[col.kind](name, col, out[col.name])
        if not col.nullable and bool(converted.isna().any()):
            raise InputError(
                f"TrialData.{name}.{col.name} has {int(converted.isna().sum())} empty value(s)",
                expected=f"a value in every row ({col.doc or col.name})",
            )
        if col.allowed:
            bad = sorted({str(v) for v in converted.dropna() if v not in col.allowed})
            if bad:
                raise InputError(
                    f"TrialData.{name}.{col.name} holds unknown value(s) " + ", ".join(bad),
                    expected="one of " + ", ".join(col.allowed),
                )
        out[col.name] = converted
    known = {c.name for c in columns}
    ordered = [c.name for c in columns] + [c for c in out.columns if c not in known]
    return out[ordered]


def plain_cell(value: object) -> Any:
    """A JSON-ready, canonical form of one cell.

    Examples
    --------
    >>> plain_cell(float("nan")), plain_cell(3.0), plain_cell({"b": 1, "a": None})
    (None, 3, {'a': None, 'b': 1})
    """
    if _is_missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            return value.tz_convert("UTC").isoformat()
        return value.isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        if math.isinf(f):
            return None  # JSON has no infinity; TrialData itself refuses infinite values
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    if isinstance(value, Mapping):
        return {str(k): plain_cell(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain_cell(v) for v in value]
    return value


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-ready dictionaries (ISO dates, ``None`` for missing).

    Examples
    --------
    >>> frame_records(pd.DataFrame({"a": [1.0, float("nan")]}))
    [{'a': 1}, {'a': None}]
    """
    cols = list(frame.columns)
    return [
        {c: plain_cell(v) for c, v in zip(cols, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
