"""What every section of the plan runner shares: the :class:`Context` and warning capture."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from remit.analysis.endpoints import EndpointsResult
from remit.errors import StatsError
from remit.protocol import AnalysisPlan, Protocol


@dataclass(frozen=True, eq=False)
class Context:
    """What every section needs: the plan, the protocol, ADQS totals, endpoints, population."""

    protocol: Protocol
    plan: AnalysisPlan
    totals: pd.DataFrame
    endpoints: EndpointsResult
    population: tuple[str, ...]
    groups: tuple[tuple[str | None, tuple[str, ...]], ...] = ()
    _cells: dict[tuple[str, str], pd.DataFrame] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cells = {
            (str(key[0]), str(key[1])): group
            for key, group in self.totals.groupby(["scale", "visit_code"], sort=False)
        }
        object.__setattr__(self, "_cells", cells)
        if not self.groups:
            object.__setattr__(self, "groups", ((None, self.population),))

    @property
    def by_arm(self) -> bool:
        """Whether sections are computed per arm (the protocol has more than one arm)."""
        return len(self.protocol.arms) > 1

    def key(self, arm: str | None, *parts: str) -> str:
        """The key of a raw stats result: ``scale/visit``, prefixed by the arm when by arm."""
        return "/".join(([arm or "unassigned"] if self.by_arm else []) + list(parts))

    @property
    def conf_level(self) -> float:
        return self.plan.ci_level

    def cell(self, scale: str, visit: str) -> pd.DataFrame:
        """The ADQS total records of ``scale`` at ``visit`` (may be empty)."""
        found = self._cells.get((scale, visit))
        return self.totals.iloc[0:0] if found is None else found

    def values(
        self, scale: str, visit: str, ids: tuple[str, ...] | None = None
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Scale totals at ``visit`` for each of ``ids`` (default the population), NaN if
        missing."""
        sub = self.cell(scale, visit)
        lookup = dict(zip(sub["participant_id"], sub["AVAL"], strict=True))
        people = self.population if ids is None else ids
        return np.array([float(lookup.get(p, math.nan)) for p in people])


def arm_groups(
    protocol: Protocol, participants: pd.DataFrame, population: tuple[str, ...]
) -> tuple[tuple[str | None, tuple[str, ...]], ...]:
    """The population split by arm when the protocol has more than one arm.

    One group per arm of the protocol, in protocol order (possibly empty), then the enrolled
    participants without a known arm as ``None``; a single-arm protocol gives one group, its
    arm, with everyone.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> people = pd.DataFrame({"participant_id": ["A", "B"], "arm": ["MDMA", None]})
    >>> arm_groups(load_protocol("oslo-mdma-mdd"), people, ("A", "B"))
    (('MDMA', ('A', 'B')),)
    >>> arm_groups(load_protocol("mdma-mdd-rct-example"), people, ("A", "B"))
    (('MDMA', ('A',)), ('PLACEBO', ()), (None, ('B',)))
    """
    codes = [a.code for a in protocol.arms]
    if len(codes) <= 1:
        return ((codes[0] if codes else None, population),)
    arm_of = dict(zip(participants["participant_id"], participants["arm"], strict=True))
    groups: list[tuple[str | None, tuple[str, ...]]] = [
        (code, tuple(p for p in population if arm_of.get(p) == code)) for code in codes
    ]
    unknown = tuple(p for p in population if arm_of.get(p) not in codes)
    if unknown:
        groups.append((None, unknown))
    return tuple(groups)


@contextmanager
def collect_warnings(notes: list[str], where: str) -> Iterator[None]:
    """Turn warnings raised by stats into notes of the section."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        text = f"{where}: {w.message}"
        if text not in notes:
            notes.append(text)


def note_not_estimable(notes: list[str], where: str, error: StatsError) -> None:
    """Record that ``where`` could not be estimated, and why, in the section's notes."""
    notes.append(f"{where}: not estimable ({error})")
