"""Find the line of a key path in TOML text, so that a problem can say where it is.

Used for protocol files and scale definition files alike, as is the rest of what turns a
pydantic error into a readable problem: its location as a key path (:func:`data_path`), the
keys allowed where an unknown one stands (:func:`unknown_key_todo`) and the position of a TOML
syntax error (:func:`syntax_error_at`).

``tomllib`` keeps no positions, so this is a small line scanner that knows tables
(``[a.b]``), arrays of tables (``[[a]]``), ``key = value`` lines (dotted keys too) and arrays
of inline tables written one per line. It is best effort: a path it cannot resolve fully is
located at its longest known prefix.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

PathPart = str | int

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\".]+)\s*=")
_INLINE_KEY = re.compile(r"([A-Za-z0-9_\-]+)\s*=")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def _split_key(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"') for part in key.split("."))


def line_index(text: str) -> dict[tuple[PathPart, ...], int]:
    """Map every key path the scanner recognises to its 1-based line number.

    Examples
    --------
    >>> idx = line_index('[[visits]]\\ncode = "V1"\\n[[visits]]\\ncode = "V2"\\n')
    >>> idx[("visits", 1, "code")]
    4
    """
    index: dict[tuple[PathPart, ...], int] = {}
    counters: dict[tuple[PathPart, ...], int] = {}
    current: tuple[PathPart, ...] = ()
    open_array: tuple[PathPart, ...] | None = None
    element = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header and open_array is None:
            is_array = header.group(1) == "[["
            parts = _split_key(header.group(2))
            resolved = _resolve(parts, counters)
            if is_array:
                count = counters.get(resolved, 0)
                counters[resolved] = count + 1
                current = (*resolved, count)
                index.setdefault(resolved, number)
            else:
                current = resolved
            index.setdefault(current, number)
            continue
        if open_array is not None:
            if stripped.startswith("]"):
                open_array = None
                continue
            if stripped.startswith("{"):
                path = (*open_array, element)
                index.setdefault(path, number)
                for key in _INLINE_KEY.findall(stripped):
                    index.setdefault((*path, key), number)
                element += 1
            continue
        key = _KEY.match(line)
        if key:
            path = (*current, *_split_key(key.group(1)))
            index.setdefault(path, number)
            rest = line[key.end() :].strip()
            if rest.startswith("{"):
                for inner in _INLINE_KEY.findall(rest[1:]):
                    index.setdefault((*path, inner), number)
            if rest.startswith("[") and "]" not in _strip_strings(rest):
                open_array = path
                element = 0
    return index


def _strip_strings(text: str) -> str:
    return re.sub(r'"[^"]*"', '""', text)


def _resolve(
    parts: Sequence[str], counters: dict[tuple[PathPart, ...], int]
) -> tuple[PathPart, ...]:
    """Give each array-of-tables prefix of a header its current element index."""
    resolved: list[PathPart] = []
    for i, part in enumerate(parts):
        resolved.append(part)
        if i < len(parts) - 1 and tuple(resolved) in counters:
            resolved.append(counters[tuple(resolved)] - 1)
    return tuple(resolved)


def find_line(text: str, path: Sequence[PathPart]) -> int | None:
    """The line of ``path`` in ``text``, or of its longest prefix that can be found.

    Examples
    --------
    >>> find_line('[study]\\nid = "x"\\n', ("study", "id"))
    2
    >>> find_line('[study]\\nid = "x"\\n', ("study", "title")) is None
    False
    """
    return nearest_line(line_index(text), path)


def nearest_line(index: Mapping[tuple[PathPart, ...], int], path: Sequence[PathPart]) -> int | None:
    """The line of ``path``, or of its longest prefix, in a :func:`line_index`.

    Examples
    --------
    >>> nearest_line(line_index('[study]\\nid = "x"\\n'), ("study", "title"))
    1
    """
    for end in range(len(path), 0, -1):
        found = index.get(tuple(path[:end]))
        if found is not None:
            return found
    return None


def located(index: Mapping[tuple[PathPart, ...], int], path: Sequence[PathPart]) -> str:
    """Where a problem is: ``path`` as people write it, with its line when one is known.

    Examples
    --------
    >>> located(line_index('[study]\\nid = "x"\\n'), ("study", "id"))
    'study.id (line 2)'
    >>> located({}, ("visits", 3, "window"))
    'visits[3].window'
    """
    line = nearest_line(index, path)
    return format_path(path) + (f" (line {line})" if line else "")


def data_path(
    loc: Sequence[int | str], data: Any, is_tag: Callable[[str], bool]
) -> tuple[PathPart, ...]:
    """A pydantic error location as a key path of ``data``.

    Pydantic puts union tags and helper names into locations; a part that is not a key (or
    index) of the data and for which ``is_tag`` holds is dropped.

    Examples
    --------
    >>> data_path(("visits", 0, "str", "code"), {"visits": [{"code": 1}]}, lambda p: p == "str")
    ('visits', 0, 'code')
    """
    path: list[PathPart] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and is_tag(part):
            continue
        else:
            path.append(part)
            node = None
    return tuple(path)


def format_path(path: Sequence[PathPart]) -> str:
    """A key path as people write it: ``visits[3].window``.

    Examples
    --------
    >>> format_path(("visits", 3, "window"))
    'visits[3].window'
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def syntax_error_at(error: tomllib.TOMLDecodeError) -> tuple[str, str]:
    """Where a TOML syntax error is (``line L, column C``) and what it is, without the position.

    Examples
    --------
    >>> try:
    ...     tomllib.loads("a = ]")
    ... except tomllib.TOMLDecodeError as error:
    ...     syntax_error_at(error)
    ('line 1, column 5', 'Invalid value')
    """
    message = str(error)
    match = _TOML_POSITION.search(message)
    where = f"line {match.group(1)}, column {match.group(2)}" if match else "(file)"
    return where, _TOML_POSITION.sub("", message).strip().rstrip(".")


def model_at(root: type[BaseModel], path: Sequence[PathPart], data: Any) -> type[BaseModel] | None:
    """The model that validates the table at ``path`` of ``data`` (read against ``root``).

    An element of a list of a union of models (a protocol's endpoints and analyses) is read
    as the member its ``kind`` names; ``None`` when the path leaves the models.
    """
    model: Any = root
    node = data
    annotation: Any = None
    for part in path:
        if isinstance(part, int):
            if isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
                model = _inner_model(annotation, node)
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return model
        node = node.get(part) if isinstance(node, dict) else None
        annotation = field.annotation
        model = _inner_model(annotation, node)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any, node: Any) -> Any:
    kind = node.get("kind") if isinstance(node, dict) else None
    args = typing.get_args(annotation)
    if not args:
        return annotation
    candidates: list[Any] = []
    stack = list(args)
    while stack:
        a = stack.pop(0)
        if isinstance(a, type) and issubclass(a, BaseModel):
            candidates.append(a)
        else:
            stack.extend(typing.get_args(a))
    if kind is not None:
        for c in candidates:
            tag = c.model_fields.get("kind")
            if tag is not None and kind in typing.get_args(tag.annotation):
                return c
    return candidates[0] if len(candidates) == 1 else None


def unknown_key_todo(root: type[BaseModel], path: Sequence[PathPart], data: Any) -> str:
    """What to do about the unknown key at ``path``: the closest allowed key, and all of them.

    Examples
    --------
    >>> class Study(BaseModel):
    ...     title: str
    ...     version: str
    >>> unknown_key_todo(Study, ("titel",), {"titel": "x"})
    "did you mean 'title'? remove or rename the key (allowed here: title, version)"
    """
    key = str(path[-1]) if path else "?"
    model = model_at(root, path[:-1], data)
    allowed = sorted(model.model_fields) if model else []
    close = difflib.get_close_matches(key, allowed, n=1)
    return (
        (f"did you mean {close[0]!r}? " if close else "")
        + "remove or rename the key"
        + (f" (allowed here: {', '.join(allowed)})" if allowed else "")
    )
