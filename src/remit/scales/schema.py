"""The shape of a scale definition file, validated by pydantic (problem codes ``S001``–``S004``).

These models say which keys a scale TOML file may have and of which types; they do not check
that the definition is self-consistent (that items named elsewhere exist, that ranges add
up…): :mod:`remit.scales.build` does, on a file whose shape is sound. The format is described
in ``docs/scales.md``.
"""

from __future__ import annotations

import re
import tomllib
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from remit.errors import Problem
from remit.scales.model import ItemKind
from remit.tomlpos import data_path, line_index, located, syntax_error_at, unknown_key_todo

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def _snake_case(value: str) -> str:
    if not _SNAKE.match(value):
        raise ValueError(f"{value!r} is not a snake_case code (a-z, 0-9, _; starting a-z)")
    return value


Code = Annotated[str, AfterValidator(_snake_case)]
Text = Annotated[str, Field(min_length=1)]
#: ``[low, high]`` (a TOML array; strict mode takes no tuple from a list).
Pair = Annotated[list[float], Field(min_length=2, max_length=2)]


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class BinEntry(_Entry):
    """One step of a threshold recode: ``{ le = 15, value = 0 }``; a last bin of only ``value``
    is the catch-all."""

    value: float
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None


class SkipEntry(_Entry):
    """``skip_when = { all_false = [...] }``, ``{ any_true = [...] }`` or
    ``{ not_zero = [...] }``."""

    all_false: list[str] | None = None
    any_true: list[str] | None = None
    not_zero: list[str] | None = None


class MissingEntry(_Entry):
    """``[missing]``: how a total or subscale is scored with missing items."""

    kind: str = "none"
    max_missing: int = 0
    skipped: str | None = None


class ItemEntry(_Entry):
    """One ``[[items]]`` entry."""

    code: Code
    label: Text
    kind: ItemKind
    min: float | None = None
    max: float | None = None
    options: dict[str, str] = {}
    required: bool = True
    section: Text | None = None
    scored: bool = True
    ref: Text | None = None
    recode: dict[str, float] | str = {}
    bins: list[BinEntry] = []
    accept_range: bool = False
    blank_value: float | None = None
    skip_when: SkipEntry | None = None
    skip_note: Text | None = None
    implies: list[str] = []
    versions: list[str] = []


class SubscaleEntry(_Entry):
    """One ``[[subscales]]`` entry."""

    code: Code
    label: Text
    items: list[str] = []
    method: Literal["sum", "mean", "max", "rule"] = "sum"
    rule: Text | None = None
    params: dict[str, Any] = {}
    bins: list[BinEntry] = []
    range: Pair | None = None
    missing: MissingEntry = MissingEntry()
    versions: list[str] = []


class TotalEntry(_Entry):
    """``[total]``: which parts make the total and how."""

    source: Literal["items", "subscales"] = "items"
    parts: list[str] = []
    method: Literal["sum", "mean"] = "sum"
    skipped: Literal["exclude", "prorate"] = "exclude"


class DerivedEntry(_Entry):
    """One ``[[derived]]`` entry: a value computed by a named rule."""

    name: Code
    rule: Text
    label: str = ""
    params: dict[str, Any] = {}
    range: Pair | None = None
    versions: list[str] = []


class BandEntry(_Entry):
    """One ``[[bands]]`` entry: a severity band of the total."""

    min: float
    max: float
    label: Text


class SafetyEntry(_Entry):
    """``[safety]``: the values a safety review looks at and what their values mean."""

    items: list[str] = []
    fields: list[str] = []
    categories: dict[str, dict[str, Text]] = {}


class ScaleFile(_Entry):
    """A whole scale definition file."""

    code: Code
    name: Text
    short_name: Text | None = None
    description: Text
    respondent: Literal["clinician", "self", "investigator"]
    recall: Text
    versions: list[str] = []
    licence_note: Text
    references: list[str] = []
    total_range: Pair | None = None
    missing: MissingEntry = MissingEntry()
    total: TotalEntry | None = None
    recodes: dict[str, dict[str, float]] = {}
    items: list[ItemEntry] = Field(min_length=1)
    subscales: list[SubscaleEntry] = []
    bands: list[BandEntry] = []
    derived: list[DerivedEntry] = []
    safety: SafetyEntry = SafetyEntry()


# --------------------------------------------------------------------------- problems

_DOCS = "see docs/scales.md for the format"


def read_scale_file(text: str) -> tuple[ScaleFile | None, dict[str, Any], list[Problem]]:
    """Parse and shape-check scale TOML: the file model (or ``None``), the raw data, problems.

    Examples
    --------
    >>> model, data, problems = read_scale_file('code = "x"\\n[items\\n')
    >>> model is None, problems[0].code
    (True, 'S001')
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        where, what = syntax_error_at(error)
        return None, {}, [Problem("S001", where, f"not valid TOML: {what}", "fix the syntax")]
    try:
        return ScaleFile.model_validate(data), data, []
    except ValidationError as error:
        return None, data, _shape_problems(error, data, text)


def _is_tag(part: str) -> bool:
    """Whether ``part`` is a name pydantic gives a union member, not a key of the file."""
    return part in {"str", "float", "int", "bool", "list", "dict"} or any(c in part for c in "[(-")


def _shape_problems(error: ValidationError, data: Any, text: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    index = line_index(text)
    for item in error.errors(include_url=False):
        path = data_path(item["loc"], data, _is_tag)
        where = located(index, path)
        key = str(path[-1]) if path else "?"
        if item["type"] == "extra_forbidden":
            todo = unknown_key_todo(ScaleFile, path, data)
            problem = Problem("S002", where, f"unknown key {key!r}", todo)
        elif item["type"] == "missing":
            problem = Problem("S003", where, f"required key {key!r} is missing", f"add it; {_DOCS}")
        else:
            given = item.get("input")
            message = str(item["msg"]).removeprefix("Value error, ")
            shown = "" if isinstance(given, dict | list) else f" {given!r}"
            problem = Problem(
                "S004",
                where,
                f"{key}{shown} is not valid: {message}",
                f"give a valid value; {_DOCS}",
            )
        if (problem.code, problem.where) not in seen:
            seen.add((problem.code, problem.where))
            problems.append(problem)
    return problems
