"""A tabular dataset with CDISC variable metadata: the unit every SDTM and ADaM writer takes."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from remit.errors import InputError

VariableType = Literal["text", "integer", "float", "date", "datetime"]

_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")

#: The longest character value SDTM and ADaM allow (SAS XPORT v5 and the IGs).
MAX_TEXT_LENGTH = 200
#: The longest variable or dataset label.
MAX_LABEL_LENGTH = 40


@dataclass(frozen=True)
class Variable:
    """One variable of a dataset.

    ``type`` is the logical type: ``text``, ``integer``, ``float``, or ``date``/``datetime``
    (ISO 8601 text in SDTM; in ADaM a ``date`` is a SAS date number, days since 1960-01-01).
    ``origin`` says where the value comes from (``Collected``, ``Derived``, ``Assigned``,
    ``Protocol``), as define.xml does. ``length`` of a text variable is computed from the data
    when the dataset is built.
    """

    name: str
    label: str
    type: VariableType = "text"
    origin: str = "Collected"
    length: int | None = None
    key: int | None = None
    comment: str = ""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A named dataset: its variables (in order) and one row per record.

    Build with :func:`make_dataset`, which checks names, labels and lengths.
    """

    name: str
    label: str
    standard: Literal["SDTM", "ADaM"]
    variables: tuple[Variable, ...]
    frame: pd.DataFrame = field(repr=False)
    structure: str = ""
    #: Text that did not fit: (row, variable, the parts after the first 200 bytes), for
    #: supplemental qualifiers (SDTM subject domains only, see :func:`make_dataset`).
    overflow: tuple[tuple[int, str, tuple[str, ...]], ...] = field(default=(), repr=False)

    @property
    def records(self) -> int:
        """Number of rows."""
        return len(self.frame)

    def column(self, name: str) -> Variable:
        """The variable ``name``."""
        for v in self.variables:
            if v.name == name:
                return v
        raise InputError(
            f"{self.name} has no variable {name!r}",
            expected=", ".join(v.name for v in self.variables),
        )

    def rows(self) -> list[list[Any]]:
        """The rows as plain Python values (``None`` for missing): :func:`plain` of each cell,
        a column at a time."""
        columns = [
            _plain_column(self.frame[v.name].to_numpy(dtype=object), v) for v in self.variables
        ]
        return [list(rec) for rec in zip(*columns, strict=True)]


def frame_rows(frame: pd.DataFrame) -> Iterator[Any]:
    """A frame's rows as named tuples (typed loosely: their fields are the frame's columns)."""
    return iter(frame.itertuples(index=False))


def frame_records(frame: pd.DataFrame) -> list[dict[Hashable, Any]]:
    """``frame.to_dict("records")``: one dict per row of plain Python values (numbers as
    ``int``/``float``, times as ``Timestamp``), read a column at a time instead of a cell at a
    time."""
    columns = list(frame.columns)
    values = [frame.iloc[:, i].tolist() for i in range(len(columns))]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def is_missing(value: Any) -> bool:
    """Whether a cell is missing (None, NaN, NaT or an empty string)."""
    # the common cells first, by exact type (pd.isna is slow per cell)
    if type(value) is str:
        return value == ""
    if value is None:
        return True
    if type(value) is float:
        return value != value  # NaN
    if type(value) is int:
        return False
    # text and whole numbers are never NA
    if isinstance(value, str):
        return value == ""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, int):
        return False
    if value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def plain(value: Any, variable: Variable) -> Any:
    """A cell as a plain Python value of the variable's type (``None`` when missing)."""
    if is_missing(value):
        return None
    if variable.type == "integer":
        return int(value)
    if variable.type == "float":
        return float(value)
    if variable.type == "date" and not isinstance(value, str):
        return int(value)
    return str(value)


def _plain_column(values: Iterable[Any], variable: Variable) -> list[Any]:
    """:func:`plain` of every cell of a column, the variable's type looked at once."""
    missing = is_missing
    kind = variable.type
    if kind == "integer":
        return [None if missing(x) else int(x) for x in values]
    if kind == "float":
        return [None if missing(x) else float(x) for x in values]
    if kind == "date":
        return [None if missing(x) else (str(x) if isinstance(x, str) else int(x)) for x in values]
    return [(x or None) if type(x) is str else (None if missing(x) else str(x)) for x in values]


def text_length(values: Sequence[Any]) -> int:
    """Bytes (UTF-8) of the longest value; at least 1 (SAS has no zero-length text)."""
    lengths = [
        len(v.encode("utf-8"))  # the usual cell: no missing-value check beyond "" (0 bytes)
        if isinstance(v, str)
        else (0 if is_missing(v) else len(str(v).encode("utf-8")))
        for v in values
    ]
    return max(1, max(lengths, default=0))


def make_dataset(
    name: str,
    label: str,
    standard: Literal["SDTM", "ADaM"],
    variables: Sequence[Variable],
    rows: Sequence[dict[str, Any]] | pd.DataFrame,
    *,
    structure: str = "",
) -> Dataset:
    """A checked :class:`Dataset` from row dicts (keys are variable names) or a frame.

    Refuses names that are not 1–8 upper-case letters, digits or underscores starting with a
    letter, labels over 40 characters, duplicate variables, text over 200 bytes and values
    that do not fit the variable's type. Text lengths are set from the data.

    Exception (SDTMIG 4.5.3.2): in an SDTM domain with ``USUBJID`` and ``--SEQ`` a text over
    200 bytes keeps its first part (up to 200 bytes, cut between words where it can) and the
    rest goes to :attr:`Dataset.overflow`, from which
    :func:`remit.interop.sdtm.suppqual.build_supp` writes the SUPP-- records.
    """
    if not _NAME.match(name):
        raise InputError(f"dataset name {name!r} is not SAS-compatible", expected="1-8 of A-Z0-9_")
    _check_label(name, label)
    seen: set[str] = set()
    for v in variables:
        if not _NAME.match(v.name):
            raise InputError(
                f"{name}: variable name {v.name!r} is not SAS-compatible",
                expected="1-8 upper-case letters, digits or _, starting with a letter",
            )
        if v.name in seen:
            raise InputError(f"{name}: variable {v.name} appears twice")
        seen.add(v.name)
        _check_label(f"{name}.{v.name}", v.label)
    names = [v.name for v in variables]
    if isinstance(rows, pd.DataFrame):
        unknown = sorted(set(rows.columns) - set(names))
        frame = rows.reindex(columns=names)
    else:
        unknown = sorted({k for r in rows for k in r} - set(names))
        frame = pd.DataFrame(list(rows), columns=names)
    if unknown:
        raise InputError(f"{name}: values for undeclared variables {unknown}")
    splits = standard == "SDTM" and {"USUBJID", f"{name}SEQ"} <= set(names)
    overflow: list[tuple[int, str, tuple[str, ...]]] = []
    sized: list[Variable] = []
    for v in variables:
        col = frame[v.name]
        if v.type in ("text", "datetime") or (v.type == "date" and standard == "SDTM"):
            # cells as objects in one step (iterating a pandas string array goes cell by cell)
            # text (the usual cell) is itself, or None when empty: no call per cell
            values = [
                (x or None) if type(x) is str else (None if is_missing(x) else str(x))
                for x in col.to_numpy(dtype=object)
            ]
            if splits and v.type == "text":
                for i, x in enumerate(values):
                    if x is not None and len(x.encode("utf-8")) > MAX_TEXT_LENGTH:
                        parts = split_text(x)
                        values[i] = parts[0]
                        overflow.append((i, v.name, tuple(parts[1:])))
            frame[v.name] = pd.Series(values, index=frame.index, dtype=object)
            length = text_length(values)
            if length > MAX_TEXT_LENGTH:
                raise InputError(
                    f"{name}.{v.name}: a value is {length} bytes long",
                    expected=f"at most {MAX_TEXT_LENGTH}",
                    hint="shorten the text or split it into supplemental qualifiers",
                )
            sized.append(_with_length(v, length))
        else:
            try:
                numbers = pd.to_numeric(col.astype(object).where(col.notna(), None))
            except (TypeError, ValueError) as error:
                raise InputError(
                    f"{name}.{v.name} holds a non-numeric value", expected=v.type
                ) from error
            frame[v.name] = numbers.astype(float)
            sized.append(_with_length(v, 8))
    return Dataset(
        name,
        label,
        standard,
        tuple(sized),
        frame.reset_index(drop=True),
        structure,
        tuple(overflow),
    )


def split_text(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-8 bytes, cut before a space where one lies
    in the last quarter of a part (SAS drops trailing blanks, so a part never ends in one) and
    never inside a character; joined they give ``text`` back.

    >>> split_text("aaa bbb ccc", limit=8)
    ['aaa bbb', ' ccc']
    """
    parts: list[str] = []
    rest = text
    while len(rest.encode("utf-8")) > limit:
        cut = 0
        size = 0
        for i, ch in enumerate(rest):
            size += len(ch.encode("utf-8"))
            if size > limit:
                break
            cut = i + 1
        space = rest.rfind(" ", 0, cut)
        if space >= cut * 3 // 4 and space > 0:
            cut = space
        parts.append(rest[:cut])
        rest = rest[cut:]
    parts.append(rest)
    return parts


def _with_length(v: Variable, length: int) -> Variable:
    return Variable(v.name, v.label, v.type, v.origin, length, v.key, v.comment)


def _check_label(where: str, label: str) -> None:
    if not label or len(label) > MAX_LABEL_LENGTH:
        raise InputError(
            f"{where}: label {label!r} has {len(label)} characters",
            expected=f"1 to {MAX_LABEL_LENGTH}",
        )
    if not label.isascii():
        raise InputError(f"{where}: label {label!r} is not ASCII", expected="ASCII text")
