"""What every whole-protocol check shares: the :class:`Checker` it reports problems to, with
the protocol's visits, events, arms and scales looked up once, and small helpers."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from remit.errors import Problem
from remit.protocol.model import Protocol
from remit.scales import ScaleDefinition, list_scales, load_scale
from remit.tomlpos import PathPart, line_index, located

T = TypeVar("T")


class _Scales:
    """Scale definitions looked up once per check, with unknown codes remembered."""

    def __init__(self) -> None:
        self.known = set(list_scales())
        self._cache: dict[str, ScaleDefinition] = {}

    def get(self, code: str) -> ScaleDefinition | None:
        if code not in self.known:
            return None
        if code not in self._cache:
            self._cache[code] = load_scale(code)
        return self._cache[code]


class Checker:
    """The protocol under check and the problems found so far, each with its line."""

    def __init__(self, protocol: Protocol):
        self.p = protocol
        self.problems: list[Problem] = []
        self._index = line_index(protocol.text) if protocol.text else {}
        self.scales = _Scales()
        self.visit_codes = [v.code for v in protocol.visits]
        self.visits = {v.code: v for v in protocol.visits}
        self.events = {e.code for e in protocol.events}
        self.arms = {a.code for a in protocol.arms}

    def add(self, code: str, path: Sequence[PathPart], what: str, todo: str) -> None:
        """Report problem ``code`` at ``path`` (the nearest line of the file is found)."""
        self.problems.append(Problem(code, located(self._index, path), what, todo))

    # -- references -----------------------------------------------------------------

    def visit_ref(self, code: str, path: Sequence[PathPart], what: str) -> bool:
        """Whether visit ``code`` exists; P014 when it does not."""
        if code in self.visits:
            return True
        self.add(
            "P014",
            path,
            f"{what} refers to visit {code!r}, which is not in the protocol",
            suggest(code, self.visit_codes, "use one of the visit codes"),
        )
        return False

    def scale_ref(self, code: str, path: Sequence[PathPart]) -> ScaleDefinition | None:
        """The definition of scale ``code``; P005 (and ``None``) when it is unknown."""
        definition = self.scales.get(code)
        if definition is None:
            self.add(
                "P005",
                path,
                f"unknown scale {code!r}",
                suggest(
                    code, sorted(self.scales.known), "use a scale code from `remit scales list`"
                ),
            )
        return definition

    def assessed(self, scale: str, visit: str, path: Sequence[PathPart], what: str) -> None:
        """P020 when ``visit`` exists but does not assess ``scale``."""
        v = self.visits.get(visit)
        if v is None or scale not in self.scales.known:
            return
        if scale not in v.scales():
            self.add(
                "P020",
                path,
                f"{what} needs {scale} at {visit}, but {visit} does not assess {scale}",
                f"add {scale} to the assessments of {visit}, or change the {what}",
            )


def suggest(given: str, choices: Iterable[str], fallback: str) -> str:
    """What to do instead of ``given``: the closest of ``choices``, then the fallback and them."""
    choices = list(dict.fromkeys(choices))
    close = difflib.get_close_matches(given, choices, n=1)
    head = f"did you mean {close[0]!r}? " if close else ""
    shown = ", ".join(choices[:25]) + (" …" if len(choices) > 25 else "")
    return f"{head}{fallback} ({shown})"


def duplicates(values: Sequence[T]) -> list[T]:
    """The values that occur more than once."""
    return [v for v, n in Counter(values).items() if n > 1]


def last_index(values: Sequence[T], value: T) -> int:
    """Where ``value`` occurs last in ``values``."""
    return len(values) - 1 - list(values)[::-1].index(value)


#: A whole-protocol check: reads ``checker.p`` and reports with ``checker.add``.
Check = Callable[[Checker], None]
