"""Randomisation lists: stratified permuted blocks, simple randomisation and minimisation.

A list is a pure function of its recorded seed and its specification, so the unblinded
statistician can regenerate it to prove what was allocated. Each stratum draws from its own
stream, ``PCG64(SeedSequence(seed, spawn_key=key(method, stratum label)))``: adding, removing
or reordering strata leaves every other stratum's allocations unchanged. Kit numbers are a
random permutation of ``first_kit, first_kit + 1, …`` over the whole list (its own stream), so a
kit number says nothing about the arm; they change when the list's length changes.

Permuted blocks: each block's size is drawn uniformly from ``block_sizes`` (each entry equally
likely) and the block holds every arm ``ratio[k] × size / sum(ratio)`` times in random order.
Varying the size keeps an observer who knows the sizes from telling where a block ends, so
fewer allocations can be foreseen than with one fixed size. Every stratum's list is made of
whole blocks: it has at least ``n_per_stratum`` rows and ends at a block end.

Minimisation (:class:`Minimiser`) follows Pocock and Simon (1975): for each candidate arm it
sums, over the factors, the imbalance (range or variance of the ratio-adjusted counts, Han et
al. 2009) among earlier participants with the same level, had the new participant gone there;
the arm(s) with the least total are preferred and chosen with probability ``p``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from remit.errors import StatsError
from remit.stats._tidy import TidyResult, plain

Method = Literal["permuted-block", "simple"]
Imbalance = Literal["range", "variance"]

#: The columns of a randomisation list, in order.
LIST_COLUMNS = ("stratum", "sequence", "block", "block_size", "arm", "kit")


# --------------------------------------------------------------------------- checks


def _check_arms(arms: Sequence[str]) -> tuple[str, ...]:
    if isinstance(arms, str):
        raise StatsError(f"arms={arms!r} is one string", expected="a sequence of arm names")
    names = tuple(arms)
    if len(names) < 2:
        raise StatsError(
            f"arms={list(names)!r} has {len(names)} arm(s)",
            expected="at least two distinct arm names, e.g. ('MDMA', 'PLACEBO')",
            hint="list every arm of the protocol",
        )
    if any(not isinstance(a, str) or not a for a in names) or len(set(names)) != len(names):
        raise StatsError(
            f"arms={list(names)!r}", expected="distinct, non-empty arm names (strings)"
        )
    return names


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _check_ratio(ratio: Sequence[int] | None, arms: tuple[str, ...]) -> tuple[int, ...]:
    if ratio is None:
        return (1,) * len(arms)
    weights = tuple(ratio)
    if len(weights) != len(arms) or not all(_is_int(w) and w >= 1 for w in weights):
        raise StatsError(
            f"ratio={list(weights)!r} for arms {list(arms)!r}",
            expected=f"{len(arms)} positive whole numbers, one per arm (e.g. 1:1 or 2:1)",
            hint="give the allocation ratio as integers in the order of arms",
        )
    return tuple(int(w) for w in weights)


def _check_seed(seed: int | None) -> int:
    if seed is None:
        # A fresh seed, recorded in the result so the list can be regenerated.
        entropy = np.random.SeedSequence().entropy
        return int(entropy) % 2**63  # type: ignore[arg-type]
    if not _is_int(seed) or seed < 0:
        raise StatsError(
            f"seed={seed!r}",
            expected="a non-negative whole number",
            hint="record the seed with the list; pass None to draw one (it is in the result)",
        )
    return int(seed)


def _check_strata(strata: Sequence[str] | Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    if isinstance(strata, Mapping):
        factors = {str(f): tuple(levels) for f, levels in strata.items()}
        if not factors or any(not levels for levels in factors.values()):
            raise StatsError(
                f"strata={dict(strata)!r}",
                expected="at least one factor, each with at least one level",
            )
        labels = tuple(
            stratum_label(dict(zip(factors, combo, strict=True)))
            for combo in itertools.product(*factors.values())
        )
    elif isinstance(strata, str):
        raise StatsError(
            f"strata={strata!r} is one string", expected="a sequence of stratum labels"
        )
    else:
        labels = tuple(strata)
    if not labels or any(not isinstance(s, str) or not s for s in labels):
        raise StatsError(
            f"strata={list(labels)!r}",
            expected="at least one non-empty stratum label",
            hint="pass strata=('all',) for an unstratified list",
        )
    if len(set(labels)) != len(labels):
        raise StatsError(f"strata={list(labels)!r} repeats a label", expected="distinct labels")
    return labels


def _check_n(n_per_stratum: int | Mapping[str, int], strata: tuple[str, ...]) -> dict[str, int]:
    if isinstance(n_per_stratum, Mapping):
        unknown = sorted(set(n_per_stratum) - set(strata))
        missing = [s for s in strata if s not in n_per_stratum]
        if unknown or missing:
            problems = [f"names unknown strata {unknown}"] if unknown else []
            problems += [f"misses {missing}"] if missing else []
            raise StatsError(
                f"n_per_stratum {' and '.join(problems)}",
                expected=f"one count for each stratum of {list(strata)!r}",
            )
        counts = {s: n_per_stratum[s] for s in strata}
    else:
        counts = dict.fromkeys(strata, n_per_stratum)
    for stratum, n in counts.items():
        if not _is_int(n) or n < 1:
            raise StatsError(
                f"n_per_stratum={n!r} for stratum {stratum!r}",
                expected="a whole number of at least 1 (the participants the stratum may enrol)",
                hint="give the largest number the stratum may enrol; the list is not shortened",
            )
    return {s: int(n) for s, n in counts.items()}


def _check_block_sizes(block_sizes: Sequence[int], ratio: tuple[int, ...]) -> tuple[int, ...]:
    total = sum(ratio)
    ratio_text = ":".join(map(str, ratio))
    sizes = tuple(block_sizes)
    if not sizes:
        raise StatsError(
            "block_sizes is empty",
            expected=f"one or more multiples of {total} (the sum of ratio {ratio_text})",
        )
    for size in sizes:
        if not _is_int(size) or size < 1 or size % total:
            raise StatsError(
                f"block size {size!r} is not a multiple of {total} (the sum of ratio {ratio_text})",
                expected=f"block sizes that are positive multiples of {total}, "
                f"e.g. {total * 2}, {total * 3}",
                hint="change block_sizes or the ratio",
            )
    return tuple(int(s) for s in sizes)


def _check_first_kit(first_kit: int) -> int:
    if not _is_int(first_kit) or first_kit < 0:
        raise StatsError(f"first_kit={first_kit!r}", expected="a non-negative whole number")
    return int(first_kit)


# --------------------------------------------------------------------------- streams


def _stream(seed: int, purpose: str, label: str) -> np.random.Generator:
    """An independent PCG64 stream for one purpose and label, stable across list changes."""
    digest = hashlib.sha256(f"{purpose}\x00{label}".encode()).digest()
    key = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def stratum_label(levels: Mapping[str, str]) -> str:
    """The label of the stratum of one combination of factor levels.

    Factors are sorted by name, so the label does not depend on the order of ``levels``; lists
    made with ``strata=`` as a mapping of factors to levels use these labels.

    Examples
    --------
    >>> stratum_label({"site": "OSL", "sex": "F"})
    'sex=F|site=OSL'
    """
    if not levels:
        raise StatsError("no factor levels given", expected="a mapping of factor to level")
    return "|".join(f"{factor}={levels[factor]}" for factor in sorted(levels))


# --------------------------------------------------------------------------- lists


@dataclass(frozen=True)
class RandomisationListResult(TidyResult):
    """A concealed randomisation list and the specification it was generated from.

    Attributes
    ----------
    allocations
        One row per allocation: ``stratum``, ``sequence`` (1, 2, … within the stratum, the order
        of consumption), ``block`` (1, 2, … within the stratum) and ``block_size`` (missing for
        simple randomisation), ``arm`` and ``kit`` (unique over the list, not revealing the arm).
    method
        ``"permuted-block"`` or ``"simple"``.
    arms, ratio, block_sizes, strata, n_per_stratum
        The specification (``block_sizes`` is empty for simple randomisation).
    seed, generator
        The seed from which the list is regenerated, and the bit generator (``"PCG64"``).
    first_kit
        The lowest kit number.
    """

    allocations: pd.DataFrame
    method: str
    arms: tuple[str, ...]
    ratio: tuple[int, ...]
    block_sizes: tuple[int, ...]
    strata: tuple[str, ...]
    n_per_stratum: dict[str, int]
    seed: int
    first_kit: int
    generator: str = "PCG64"

    def to_frame(self) -> pd.DataFrame:
        """The list, one row per allocation (a copy)."""
        return self.allocations.copy()

    def to_dict(self) -> dict[str, Any]:
        """Specification and list as plain values (a missing block is ``None``)."""
        out = {name: plain(getattr(self, name)) for name in self.__dataclass_fields__}
        records = self.allocations.astype(object).where(self.allocations.notna(), None)
        out["allocations"] = plain(records)
        return out

    def summary(self) -> str:
        """The specification and the counts per arm by stratum (not the list itself)."""
        sizes = ", ".join(map(str, self.block_sizes)) or "none"
        head = (
            f"{type(self).__name__}: {self.method}, arms {', '.join(self.arms)} "
            f"ratio {':'.join(map(str, self.ratio))}, block sizes {sizes}, "
            f"{len(self.strata)} strata, {len(self.allocations)} allocations, "
            f"seed {self.seed} ({self.generator})"
        )
        balance = allocation_balance(self.allocations, by="stratum", arms=self.arms)
        return f"{head}\n{balance.to_frame().to_string(index=False)}"


def _kits(seed: int, n: int, first_kit: int) -> npt.NDArray[np.int64]:
    return first_kit + _stream(seed, "kit", "").permutation(n).astype(np.int64)


def _assemble(
    method: Method,
    parts: list[pd.DataFrame],
    *,
    arms: tuple[str, ...],
    ratio: tuple[int, ...],
    block_sizes: tuple[int, ...],
    strata: tuple[str, ...],
    counts: dict[str, int],
    seed: int,
    first_kit: int,
) -> RandomisationListResult:
    frame = pd.concat(parts, ignore_index=True)
    frame["kit"] = _kits(seed, len(frame), first_kit)
    frame = frame.astype({"block": "Int64", "block_size": "Int64", "sequence": "int64"})
    return RandomisationListResult(
        allocations=frame[list(LIST_COLUMNS)],
        method=method,
        arms=arms,
        ratio=ratio,
        block_sizes=block_sizes,
        strata=strata,
        n_per_stratum=counts,
        seed=seed,
        first_kit=first_kit,
    )


def permuted_block_list(
    arms: Sequence[str],
    *,
    block_sizes: Sequence[int],
    n_per_stratum: int | Mapping[str, int],
    seed: int | None,
    ratio: Sequence[int] | None = None,
    strata: Sequence[str] | Mapping[str, Sequence[str]] = ("all",),
    first_kit: int = 1001,
) -> RandomisationListResult:
    """Stratified permuted-block list with block sizes drawn at random.

    Parameters
    ----------
    arms
        Arm names, e.g. ``("MDMA", "PLACEBO")``.
    block_sizes
        The sizes a block may have, each drawn with equal chance; each must be a multiple of
        ``sum(ratio)``. One size gives fixed blocks (more predictable: see the module text).
    n_per_stratum
        The most participants a stratum may enrol (one number, or one per stratum). The list
        is completed to the end of a block, so it may be longer.
    seed
        The recorded seed; ``None`` draws one (kept in the result).
    ratio
        Allocation ratio, one positive integer per arm (default 1 each).
    strata
        Stratum labels, or a mapping of factor to levels whose combinations are the strata
        (labelled by :func:`stratum_label`).
    first_kit
        The lowest kit number.

    Returns
    -------
    RandomisationListResult

    Examples
    --------
    >>> lst = permuted_block_list(
    ...     ["MDMA", "PLACEBO"], block_sizes=[2, 4], n_per_stratum=6, seed=2026,
    ...     strata={"site": ["OSL", "BGO"]},
    ... )
    >>> print(lst.to_frame().head(5).to_string(index=False))
     stratum  sequence  block  block_size     arm  kit
    site=OSL         1      1           2 PLACEBO 1008
    site=OSL         2      1           2    MDMA 1001
    site=OSL         3      2           2    MDMA 1006
    site=OSL         4      2           2 PLACEBO 1003
    site=OSL         5      3           4 PLACEBO 1004
    >>> pd.crosstab(lst.to_frame()["stratum"], lst.to_frame()["arm"]).to_dict()
    {'MDMA': {'site=BGO': 3, 'site=OSL': 4}, 'PLACEBO': {'site=BGO': 3, 'site=OSL': 4}}
    """
    names = _check_arms(arms)
    weights = _check_ratio(ratio, names)
    sizes = _check_block_sizes(block_sizes, weights)
    labels = _check_strata(strata)
    counts = _check_n(n_per_stratum, labels)
    seed = _check_seed(seed)
    first_kit = _check_first_kit(first_kit)
    unit = np.repeat(np.arange(len(names)), weights)  # one ratio's worth of arm indices
    size_choices = np.asarray(sizes)
    arm_names = np.asarray(names, dtype=object)
    parts = []
    for label in labels:
        rng = _stream(seed, "permuted-block", label)
        arms_idx: list[npt.NDArray[np.intp]] = []
        block_no: list[int] = []
        block_size: list[int] = []
        filled, block = 0, 0
        while filled < counts[label]:
            size = int(rng.choice(size_choices))
            block += 1
            arms_idx.append(rng.permutation(np.tile(unit, size // len(unit))))
            block_no.extend([block] * size)
            block_size.extend([size] * size)
            filled += size
        parts.append(
            pd.DataFrame(
                {
                    "stratum": label,
                    "sequence": np.arange(1, filled + 1),
                    "block": block_no,
                    "block_size": block_size,
                    "arm": arm_names[np.concatenate(arms_idx)],
                }
            )
        )
    return _assemble(
        "permuted-block",
        parts,
        arms=names,
        ratio=weights,
        block_sizes=sizes,
        strata=labels,
        counts=counts,
        seed=seed,
        first_kit=first_kit,
    )


def simple_list(
    arms: Sequence[str],
    *,
    n_per_stratum: int | Mapping[str, int],
    seed: int | None,
    ratio: Sequence[int] | None = None,
    strata: Sequence[str] | Mapping[str, Sequence[str]] = ("all",),
    first_kit: int = 1001,
) -> RandomisationListResult:
    """Simple (unrestricted) randomisation: each allocation drawn independently by the ratio.

    The degenerate case of :func:`permuted_block_list` with no blocks: nothing is predictable,
    but the arms' totals drift (for 1:1 the difference after n allocations has SD √n).
    Parameters are those of :func:`permuted_block_list`; the list has exactly ``n_per_stratum``
    rows per stratum and ``block``/``block_size`` are missing.

    Examples
    --------
    >>> lst = simple_list(["A", "B"], n_per_stratum=5, seed=1, ratio=[2, 1])
    >>> lst.to_frame()[["sequence", "block", "arm"]].values.tolist()
    [[1, <NA>, 'A'], [2, <NA>, 'A'], [3, <NA>, 'A'], [4, <NA>, 'A'], [5, <NA>, 'B']]
    """
    names = _check_arms(arms)
    weights = _check_ratio(ratio, names)
    labels = _check_strata(strata)
    counts = _check_n(n_per_stratum, labels)
    seed = _check_seed(seed)
    first_kit = _check_first_kit(first_kit)
    probabilities = np.asarray(weights, dtype=np.float64) / sum(weights)
    arm_names = np.asarray(names, dtype=object)
    parts = []
    for label in labels:
        rng = _stream(seed, "simple", label)
        drawn = rng.choice(len(names), size=counts[label], p=probabilities)
        parts.append(
            pd.DataFrame(
                {
                    "stratum": label,
                    "sequence": np.arange(1, counts[label] + 1),
                    "block": pd.NA,
                    "block_size": pd.NA,
                    "arm": arm_names[drawn],
                }
            )
        )
    return _assemble(
        "simple",
        parts,
        arms=names,
        ratio=weights,
        block_sizes=(),
        strata=labels,
        counts=counts,
        seed=seed,
        first_kit=first_kit,
    )


# --------------------------------------------------------------------------- minimisation


class Minimiser:
    """Pocock–Simon minimisation, consuming participants one at a time.

    Parameters
    ----------
    arms
        Arm names.
    factors
        Each prognostic factor and its levels, e.g. ``{"sex": ["F", "M"], "site": [...]}``.
    seed
        The recorded seed (``None`` draws one; see :attr:`seed`).
    ratio
        Allocation ratio (counts are divided by it before the imbalance is measured).
    imbalance
        ``"range"`` (max − min) or ``"variance"`` of the adjusted counts per factor level.
    p
        Probability of the preferred arm(s) (0.8 is common; 1 is deterministic minimisation,
        which should not be used where the site can foresee allocations).
    weights
        Weight of each factor in the total imbalance (default 1 each).

    The allocation of participant *i* depends only on the seed and the levels of participants
    1 … *i* (each allocation takes exactly two uniforms from one PCG64 stream), so a
    minimiser rebuilt with the same settings and :meth:`replay`-ed over the past participants
    is in the same state. The object holds the running counts; it is not a result.

    Examples
    --------
    >>> m = Minimiser(["A", "B"], {"sex": ["F", "M"], "site": ["OSL", "BGO"]}, seed=7)
    >>> arms = [m.allocate({"sex": s, "site": t}) for s, t in
    ...         [("F", "OSL"), ("M", "OSL"), ("F", "BGO"), ("F", "OSL"), ("M", "BGO")]]
    >>> arms
    ['B', 'B', 'A', 'A', 'B']
    >>> again = Minimiser(["A", "B"], {"sex": ["F", "M"], "site": ["OSL", "BGO"]}, seed=7)
    >>> again.replay([levels for levels, _ in m.history], expected=arms) == arms
    True
    """

    def __init__(
        self,
        arms: Sequence[str],
        factors: Mapping[str, Sequence[str]],
        *,
        seed: int | None,
        ratio: Sequence[int] | None = None,
        imbalance: Imbalance = "range",
        p: float = 0.8,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        self.arms = _check_arms(arms)
        self.ratio = _check_ratio(ratio, self.arms)
        if not factors or any(not tuple(levels) for levels in factors.values()):
            raise StatsError(
                f"factors={dict(factors)!r}",
                expected="at least one factor, each with at least one level",
            )
        self.factors = {str(f): tuple(levels) for f, levels in factors.items()}
        if imbalance not in ("range", "variance"):
            raise StatsError(f"imbalance={imbalance!r}", expected="'range' or 'variance'")
        self.imbalance: Imbalance = imbalance
        if not (isinstance(p, int | float) and 1 / len(self.arms) <= p <= 1):
            raise StatsError(
                f"p={p!r}",
                expected=f"a probability between {1 / len(self.arms):g} (1/number of arms) and 1",
                hint="0.8 is common",
            )
        self.p = float(p)
        given = dict(weights) if weights is not None else dict.fromkeys(self.factors, 1.0)
        if set(given) != set(self.factors) or any(
            not isinstance(w, int | float) or w < 0 for w in given.values()
        ):
            raise StatsError(
                f"weights={given!r}",
                expected=f"a non-negative weight for each factor of {list(self.factors)!r}",
            )
        self.weights = {f: float(given[f]) for f in self.factors}
        self.seed = _check_seed(seed)
        self._rng = _stream(self.seed, "minimisation", "")
        self._ratio = np.asarray(self.ratio, dtype=np.float64)
        self._counts = {
            f: np.zeros((len(levels), len(self.arms))) for f, levels in self.factors.items()
        }
        self._history: list[tuple[dict[str, str], str]] = []

    @property
    def history(self) -> tuple[tuple[dict[str, str], str], ...]:
        """Every participant's levels and arm, in order of allocation."""
        return tuple((dict(levels), arm) for levels, arm in self._history)

    def _rows(self, levels: Mapping[str, str]) -> dict[str, int]:
        missing = [f for f in self.factors if f not in levels]
        unknown = sorted(set(levels) - set(self.factors))
        if missing or unknown:
            raise StatsError(
                f"levels {dict(levels)!r} miss {missing} and name unknown factors {unknown}",
                expected=f"one level for each factor of {list(self.factors)!r}",
            )
        rows = {}
        for factor, allowed in self.factors.items():
            if levels[factor] not in allowed:
                raise StatsError(
                    f"{factor}={levels[factor]!r} is not a level of {factor}",
                    expected=f"one of {list(allowed)!r}",
                )
            rows[factor] = allowed.index(levels[factor])
        return rows

    def imbalances(self, levels: Mapping[str, str]) -> npt.NDArray[np.float64]:
        """Total weighted imbalance had the participant gone to each arm (no allocation made)."""
        rows = self._rows(levels)
        totals = np.zeros(len(self.arms))
        for factor, row in rows.items():
            hypothetical = self._counts[factor][row][None, :] + np.eye(len(self.arms))
            adjusted = hypothetical / self._ratio[None, :]
            if self.imbalance == "range":
                spread = adjusted.max(axis=1) - adjusted.min(axis=1)
            else:
                spread = adjusted.var(axis=1)
            totals += self.weights[factor] * spread
        return totals

    def allocate(self, levels: Mapping[str, str]) -> str:
        """Allocate the next participant, with these factor levels, and return the arm."""
        totals = self.imbalances(levels)
        rows = self._rows(levels)
        # Always two draws, so the stream stays aligned with the participant sequence.
        u_group, u_arm = self._rng.random(2)
        preferred = np.isclose(totals, totals.min(), rtol=0.0, atol=1e-12)
        # When every arm ties there is no preferred arm: draw by the ratio alone.
        group = preferred if preferred.all() or u_group < self.p else ~preferred
        share = np.where(group, self._ratio, 0.0)
        cumulative = np.cumsum(share / share.sum())
        arm_index = min(int(np.searchsorted(cumulative, u_arm, side="right")), len(self.arms) - 1)
        for factor, row in rows.items():
            self._counts[factor][row, arm_index] += 1
        arm = self.arms[arm_index]
        self._history.append(({f: levels[f] for f in self.factors}, arm))
        return arm

    def replay(
        self, sequence: Iterable[Mapping[str, str]], *, expected: Sequence[str] | None = None
    ) -> list[str]:
        """Allocate each participant of ``sequence`` in order; check against ``expected`` arms.

        Rebuilding the minimiser from its settings and replaying the past participants brings it
        to the state it had; a recorded arm that the replay does not reproduce is refused (the
        minimiser has then consumed part of the sequence: build a fresh one to try again).
        """
        got = []
        for i, levels in enumerate(sequence):
            arm = self.allocate(levels)
            if expected is not None and (i >= len(expected) or expected[i] != arm):
                recorded = expected[i] if i < len(expected) else "nothing"
                raise StatsError(
                    f"replayed participant {i + 1} gets {arm!r} but the record says {recorded!r}",
                    expected="the same seed, settings and participant order as the original",
                    hint="check the seed, the factor levels and the order of the participants",
                )
            got.append(arm)
        if expected is not None and len(expected) != len(got):
            raise StatsError(
                f"{len(got)} participants replayed but {len(expected)} arms recorded",
                expected="one recorded arm per participant",
            )
        return got


# --------------------------------------------------------------------------- balance


@dataclass(frozen=True)
class AllocationBalanceResult(TidyResult):
    """Counts and shares per arm, overall and within each level of each margin.

    Attributes
    ----------
    table
        Rows ``margin`` (``"overall"`` or the column name), ``level`` (``"all"`` for overall),
        ``arm``, ``n``, ``share`` (of the level's total), ``imbalance`` (max − min of ``n``
        across arms within the level, repeated on each of its rows).
    arms
        The arms counted (an arm with no allocation has n = 0).
    """

    table: pd.DataFrame
    arms: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy)."""
        return self.table.copy()


def allocation_balance(
    frame: pd.DataFrame,
    *,
    arm: str = "arm",
    by: str | Sequence[str] | None = "stratum",
    arms: Sequence[str] | None = None,
) -> AllocationBalanceResult:
    """Counts per arm overall and by stratum (or any other margins), for the unblinded report.

    Parameters
    ----------
    frame
        One row per allocation, e.g. the used rows of a list or the participants randomised.
    arm
        The arm column.
    by
        Column(s) whose levels are counted separately (strata, or each minimisation factor);
        ``None`` for overall only.
    arms
        Every arm, so that an arm without allocations shows with n = 0 (default: those seen).

    Examples
    --------
    >>> df = pd.DataFrame({"stratum": ["s1", "s1", "s1", "s2"], "arm": ["A", "B", "A", "B"]})
    >>> allocation_balance(df).to_frame()[["margin", "level", "arm", "n"]].values.tolist()
    [['overall', 'all', 'A', 2], ['overall', 'all', 'B', 2], ['stratum', 's1', 'A', 2], \
['stratum', 's1', 'B', 1], ['stratum', 's2', 'A', 0], ['stratum', 's2', 'B', 1]]
    """
    margins = [] if by is None else [by] if isinstance(by, str) else list(by)
    for column in [arm, *margins]:
        if column not in frame.columns:
            raise StatsError(
                f"column {column!r} is not in the data",
                expected=f"one of {list(frame.columns)!r}",
            )
    if frame[arm].isna().any():
        raise StatsError(
            f"{int(frame[arm].isna().sum())} rows have no {arm}",
            expected="only allocated rows",
            hint="drop the rows not yet used",
        )
    seen = list(pd.unique(frame[arm]))
    names = tuple(arms) if arms is not None else tuple(sorted(map(str, seen)))
    stray = sorted(set(map(str, seen)) - set(names))
    if stray:
        raise StatsError(f"arms {stray} are not among {list(names)!r}", expected="known arms")
    rows = []
    groups: list[tuple[str, str, pd.Series]] = [("overall", "all", frame[arm])]
    for margin in margins:
        for level, part in frame.groupby(margin, sort=True)[arm]:
            groups.append((margin, str(level), part))
    for margin, level, values in groups:
        counts = values.value_counts().reindex(list(names), fill_value=0)
        total = int(counts.sum())
        spread = int(counts.max() - counts.min())
        for name, n in counts.items():
            rows.append(
                {
                    "margin": margin,
                    "level": level,
                    "arm": name,
                    "n": int(n),
                    "share": int(n) / total if total else float("nan"),
                    "imbalance": spread,
                }
            )
    return AllocationBalanceResult(table=pd.DataFrame(rows), arms=names)
