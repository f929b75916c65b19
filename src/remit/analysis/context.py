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


@dataclass(frozen=True)
class Context:
    """What every section needs: the plan, the protocol, ADQS totals, endpoints, population."""

    protocol: Protocol
    plan: AnalysisPlan
    totals: pd.DataFrame
    endpoints: EndpointsResult
    population: tuple[str, ...]
    _cells: dict[tuple[str, str], pd.DataFrame] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cells = {
            (str(key[0]), str(key[1])): group
            for key, group in self.totals.groupby(["scale", "visit_code"], sort=False)
        }
        object.__setattr__(self, "_cells", cells)

    @property
    def conf_level(self) -> float:
        return self.plan.ci_level

    def cell(self, scale: str, visit: str) -> pd.DataFrame:
        """The ADQS total records of ``scale`` at ``visit`` (may be empty)."""
        found = self._cells.get((scale, visit))
        return self.totals.iloc[0:0] if found is None else found

    def values(self, scale: str, visit: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Scale totals at ``visit`` for each participant of the population, NaN if missing."""
        sub = self.cell(scale, visit)
        lookup = dict(zip(sub["participant_id"], sub["AVAL"], strict=True))
        return np.array([float(lookup.get(p, math.nan)) for p in self.population])


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
