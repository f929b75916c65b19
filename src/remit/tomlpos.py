"""Find the line of a key path in TOML text, so that a problem can say where it is.

Used for protocol files and scale definition files alike.

``tomllib`` keeps no positions, so this is a small line scanner that knows tables
(``[a.b]``), arrays of tables (``[[a]]``), ``key = value`` lines (dotted keys too) and arrays
of inline tables written one per line. It is best effort: a path it cannot resolve fully is
located at its longest known prefix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PathPart = str | int

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\".]+)\s*=")
_INLINE_KEY = re.compile(r"([A-Za-z0-9_\-]+)\s*=")


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
    index = line_index(text)
    for end in range(len(path), 0, -1):
        found = index.get(tuple(path[:end]))
        if found is not None:
            return found
    return None


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
