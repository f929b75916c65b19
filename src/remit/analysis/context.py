"""What every section of the plan runner shares: the :class:`Context` and warning capture."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd

from remit.analysis.data import TrialData
from remit.analysis.datasets import build_adqs
from remit.analysis.endpoints import EndpointsResult, derive_endpoints
from remit.errors import StatsError
from remit.protocol import AnalysisPlan, Protocol


@dataclass(frozen=True, eq=False)
class Context:
    """What every section needs: the plan, the protocol, ADQS totals, endpoints, population.

    ``data`` is the trial's data (safety tables count events from it); ``totals`` are the
    analysis records of scale totals of the population; ``groups`` the population by arm
    (see :func:`arm_groups`). Build it with :func:`build_context`.

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> from remit.protocol import load_protocol
    >>> ctx = build_context(example_trial(), load_protocol("oslo-mdma-mdd"))
    >>> ctx.values("madrs", "V13").tolist()
    [15.0, 10.0, 8.0, 22.0, 9.0, 12.0]
    >>> ctx.key("MDMA", "madrs", "V13"), ctx.by_arm
    ('madrs/V13', False)
    """

    protocol: Protocol
    plan: AnalysisPlan
    totals: pd.DataFrame
    endpoints: EndpointsResult
    population: tuple[str, ...]
    groups: tuple[tuple[str | None, tuple[str, ...]], ...] = ()
    data: TrialData = field(default_factory=TrialData)
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


def build_context(data: TrialData, protocol: Protocol, adqs: pd.DataFrame | None = None) -> Context:
    """The :class:`Context` the section runners share (``adqs`` if already built).

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> from remit.protocol import load_protocol
    >>> len(build_context(example_trial(), load_protocol("oslo-mdma-mdd")).population)
    6
    """
    population = data.enrolled_ids
    table = build_adqs(data, protocol) if adqs is None else adqs
    totals = table[
        (table["PARCAT1"] == "TOTAL")
        & (table["ANL01FL"] == "Y")
        & table["participant_id"].isin(population)
    ]
    return Context(
        protocol=protocol,
        plan=protocol.analysis,
        totals=totals,
        endpoints=derive_endpoints(data, protocol),
        population=population,
        groups=arm_groups(protocol, data.participants, population),
        data=data,
    )


@contextmanager
def collect_warnings(notes: list[str], where: str) -> Iterator[None]:
    """Turn warnings raised by stats into notes of the section.

    Examples
    --------
    >>> import warnings
    >>> notes: list[str] = []
    >>> with collect_warnings(notes, "madrs/V13"):
    ...     warnings.warn("dropped 1 of 12 pairs")
    >>> notes
    ['madrs/V13: dropped 1 of 12 pairs']
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        text = f"{where}: {w.message}"
        if text not in notes:
            notes.append(text)


def note_not_estimable(notes: list[str], where: str, error: StatsError) -> None:
    """Record that ``where`` could not be estimated, and why, in the section's notes.

    Examples
    --------
    >>> notes: list[str] = []
    >>> note_not_estimable(notes, "sds/V13", StatsError("only 1 complete pairs"))
    >>> notes
    ['sds/V13: not estimable (only 1 complete pairs)']
    """
    notes.append(f"{where}: not estimable ({error})")


_T = TypeVar("_T")
_P = ParamSpec("_P")


def estimated(
    notes: list[str],
    where: str,
    compute: Callable[_P, _T],
    /,
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _T | None:
    """``compute(*args, **kwargs)``, its warnings turned into notes of ``where``; ``None`` when
    the statistics refuse (a :class:`~remit.errors.StatsError`), with a "not estimable" note
    saying why.

    Examples
    --------
    >>> from remit.stats import paired_t
    >>> notes: list[str] = []
    >>> estimated(notes, "sds/V13", paired_t, [1.0], [2.0]) is None
    True
    >>> notes[0].startswith("sds/V13: not estimable")
    True
    """
    try:
        with collect_warnings(notes, where):
            return compute(*args, **kwargs)
    except StatsError as error:
        note_not_estimable(notes, where, error)
        return None
