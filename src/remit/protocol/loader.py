"""Read a protocol file: TOML → shape checks (pydantic) → whole-protocol checks → model."""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from remit.errors import NotFoundError, Problem, ProtocolError
from remit.protocol.legacy import upgrade_vital_limits
from remit.protocol.model import Protocol
from remit.protocol.sap import ANALYSIS_KINDS, ENDPOINT_KINDS
from remit.tomlpos import data_path, line_index, located, syntax_error_at, unknown_key_todo


def _builtin_folder() -> Traversable:
    # The folder is package data of ``remit.protocol`` (see pyproject.toml), not a package.
    return resources.files("remit.protocol").joinpath("protocols")


def builtin_protocols() -> list[str]:
    """Names of the protocols shipped with Remit.

    Examples
    --------
    >>> builtin_protocols()
    ['mdma-mdd-rct-example', 'oslo-mdma-mdd']
    """
    folder = _builtin_folder()
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def read_protocol_source(name_or_path: str | Path) -> tuple[str, str]:
    """The text of a built-in protocol or a protocol file, and the name to call it by.

    A string naming a built-in protocol (``"oslo-mdma-mdd"``) wins over a file of that name
    only when no such file exists.

    Examples
    --------
    >>> text, source = read_protocol_source("oslo-mdma-mdd")
    >>> source, text.count("[[visits]]")
    ('oslo-mdma-mdd', 18)
    """
    path = Path(name_or_path)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as error:
            raise NotFoundError(
                f"protocol file {str(path)!r} cannot be read: {error}",
                expected="a readable UTF-8 TOML file",
            ) from None
    name = str(name_or_path)
    if name in builtin_protocols():
        text = _builtin_folder().joinpath(f"{name}.toml").read_text("utf-8")
        return text, name
    raise NotFoundError(
        f"no protocol file or built-in protocol called {name!r}",
        expected="a path to a .toml file or one of " + ", ".join(builtin_protocols()),
        hint="run `remit protocol list` to see the built-in protocols",
    )


def parse_protocol(text: str, source: str = "<text>") -> tuple[Protocol | None, list[Problem]]:
    """Parse protocol text; return the model (or ``None``) and every problem found.

    Shape problems (bad TOML, unknown or missing keys, wrong types) stop before the
    whole-protocol checks, since those need a well-formed protocol.

    Examples
    --------
    >>> protocol, problems = parse_protocol("format_version = 1\\n[study\\n")
    >>> protocol is None, problems[0].code
    (True, 'P001')
    """
    from remit.protocol.check import check_model  # the checks import this module's helpers

    too_deep = _nesting_problem(text)
    if too_deep is not None:
        return None, [too_deep]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return None, [_toml_problem(error)]
    except RecursionError:  # the scan above should have caught it: still a problem, not a crash
        return None, [_depth_problem("(file)", MAX_NESTING + 1)]
    data = upgrade_vital_limits(data)  # files written before tiered vital-sign limits
    try:
        protocol = Protocol.model_validate(data)
    except ValidationError as error:
        return None, _schema_problems(error, data, text)
    protocol = protocol.with_text(text, source)
    return protocol, check_model(protocol)


def load_protocol(name_or_path: str | Path) -> Protocol:
    """Load a built-in protocol by name, or a protocol file by path.

    Raises
    ------
    NotFoundError
        Neither a file nor a built-in protocol has that name.
    ProtocolError
        The protocol has problems; ``error.problems`` lists them all.

    Examples
    --------
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> p.study.design, len(p.therapy_sessions())
    ('open-label single-arm', 9)
    >>> len(p.sha256)
    64
    """
    text, source = read_protocol_source(name_or_path)
    return protocol_from_text(text, source)


def protocol_from_text(text: str, source: str = "<text>") -> Protocol:
    """Build a protocol from its TOML text (e.g. the text kept in a database).

    Raises :class:`ProtocolError` listing every problem when the text is not sound.

    Examples
    --------
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> protocol_from_text(p.text).sha256 == p.sha256
    True
    """
    return _protocol_from_text(text, source)


@functools.lru_cache(maxsize=32)
def _protocol_from_text(text: str, source: str) -> Protocol:
    # Protocols are immutable, so one parsed object can serve every caller of the same text.
    protocol, problems = parse_protocol(text, source)
    if problems or protocol is None:
        raise ProtocolError(source, problems)
    return protocol


# --------------------------------------------------------------------------- problem helpers

#: Deepest nesting of arrays and inline tables a protocol file may use. Real protocols nest
#: three or four levels; Python's TOML reader recurses once per level and crashes at about a
#: thousand, so a deeper file is refused (P033) before it is read.
MAX_NESTING = 32


def _nesting_problem(text: str) -> Problem | None:
    """P033 when arrays or inline tables nest deeper than :data:`MAX_NESTING` (brackets inside
    strings and comments do not count; a table header ``[a]`` is one level on its line).

    >>> _nesting_problem("x = [[1, 2], {a = [3]}]") is None
    True
    >>> _nesting_problem("x = " + "[" * 40 + "]" * 40).what[:47]
    'arrays or inline tables nest 33 or more levels '
    """
    depth = 0
    line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            i, line = _skip_string(text, i, line)
            continue
        elif c in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return _depth_problem(f"line {line}", depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _skip_string(text: str, i: int, line: int) -> tuple[int, int]:
    """The index after the TOML string starting at ``i`` (and the line number there)."""
    quote = text[i]
    triple = text.startswith(quote * 3, i)
    close = quote * 3 if triple else quote
    j = i + len(close)
    while j < len(text):
        if quote == '"' and text[j] == "\\":
            j += 2
            continue
        if text.startswith(close, j):
            end = j + len(close)
            return end, line + text.count("\n", i, end)
        if text[j] == "\n" and not triple:
            break  # an unclosed one-line string: TOML's reader reports it (P001)
        j += 1
    return j, line + text.count("\n", i, j)


def _depth_problem(where: str, depth: int) -> Problem:
    return Problem(
        "P033",
        where,
        f"arrays or inline tables nest {depth} or more levels deep (at most {MAX_NESTING})",
        "write the values flat: a protocol never needs more than a few levels",
    )


def _toml_problem(error: tomllib.TOMLDecodeError) -> Problem:
    where, what = syntax_error_at(error)
    return Problem(
        "P001",
        where,
        f"the file is not valid TOML: {what}",
        "fix the TOML syntax at that place (quotes, brackets, one key per line)",
    )


#: The ``kind`` words of the discriminated unions (endpoints, analyses): pydantic puts them into
#: error locations. Read off the families, so that a new kind is known here with no edit.
_UNION_TAGS = frozenset(
    word
    for cls in (*ENDPOINT_KINDS, *ANALYSIS_KINDS)
    for word in get_args(cls.model_fields["kind"].annotation)
)


def path_known_tag(part: str) -> bool:
    """Whether ``part`` is a discriminator tag pydantic adds to locations (not a key)."""
    return part in _UNION_TAGS or part.startswith(("function-", "[")) or part in _TYPE_TAGS


_TYPE_TAGS = {"str", "int", "float", "bool", "tuple[str, ...]", "is-instance"}


def _schema_problems(error: ValidationError, data: Any, text: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    index = line_index(text)
    for item in error.errors(include_url=False):
        path = data_path(item["loc"], data, path_known_tag)
        where = located(index, path)
        kind = item["type"]
        if kind == "extra_forbidden":
            key = str(path[-1]) if path else "?"
            todo = unknown_key_todo(Protocol, path, data)
            problem = Problem("P002", where, f"unknown key {key!r}", todo)
        elif kind == "union_tag_not_found":
            problem = Problem(
                "P003",
                where,
                "required key 'kind' is missing",
                'add kind = "…" (see docs/protocol.md for the kinds)',
            )
        elif kind == "missing":
            problem = Problem(
                "P003",
                where,
                f"required key {str(path[-1]) if path else '?'!r} is missing",
                "add it (see docs/protocol.md for the format)",
            )
        else:
            given = item.get("input")
            if isinstance(given, dict | list):
                what = f"not valid: {_clean_message(item['msg'])}"
            else:
                what = f"value {given!r} is not valid: {_clean_message(item['msg'])}"
            problem = Problem(
                "P004", where, what, "give a value of the expected type (see docs/protocol.md)"
            )
        if (problem.code, problem.where) not in seen:
            seen.add((problem.code, problem.where))
            problems.append(problem)
    return problems


def _clean_message(message: str) -> str:
    return message.removeprefix("Value error, ")
