"""Simulated MMRM power over a design grid (total N × effect × correlation × dropout).

Each grid point is one call of :func:`remit.stats.power_sim.simulate_power_mmrm` (two equal
arms, the effect at the last visit only, outcomes with the given correlation structure and σ,
monotone dropout growing linearly to the point's dropout at the last visit). Its seed is
derived from the master seed and the point's index alone (``SeedSequence(seed,
spawn_key=(index,))``), so a point gives the same answer whatever order the points are run
in, on however many machines, and whether or not earlier points came from a resumed file.

How the points are run is the caller's: :func:`run_power_grid` takes a ``map_points``
callable (the default runs them in this process, one after another; ``remit.simulate``
provides a Dask one), and previous rows to resume from.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from remit.errors import StatsError
from remit.stats._tidy import TidyResult

#: Columns of the grid table, in order.
GRID_COLUMNS = (
    "point",
    "n_total",
    "effect",
    "rho",
    "dropout",
    "correlation",
    "sigma",
    "n_visits",
    "alpha",
    "n_sim",
    "seed",
    "power",
    "mc_se",
    "analytic_power",
    "n_failed",
    "n_refitted",
    "mean_estimate",
    "mean_se",
)


@dataclass(frozen=True)
class GridPoint:
    """One design of the grid and everything needed to simulate it (picklable)."""

    point: int
    n_total: int
    effect: float
    rho: float
    dropout: float
    correlation: str
    sigma: float
    n_visits: int
    alpha: float
    n_sim: int
    seed: int

    @property
    def retention(self) -> list[float]:
        """Proportion still observed at each visit: 1 down to 1 − dropout, linearly."""
        j = self.n_visits
        return [1.0 - self.dropout * v / (j - 1) for v in range(j)]

    def key(self) -> tuple[Any, ...]:
        """The design fields a resumed row must match."""
        return (
            self.point,
            self.n_total,
            self.effect,
            self.rho,
            self.dropout,
            self.correlation,
            self.sigma,
            self.n_visits,
            self.alpha,
            self.n_sim,
            self.seed,
        )


def point_seed(master_seed: int, index: int) -> int:
    """The seed of grid point ``index``: a function of the master seed and the index only.

    Examples
    --------
    >>> point_seed(7, 3) == point_seed(7, 3) != point_seed(7, 4)
    True
    """
    seq = np.random.SeedSequence(int(master_seed), spawn_key=(int(index),))
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _values(name: str, values: Sequence[float], low: float, high: float) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise StatsError(f"the grid axis {name} is empty", expected="at least one value")
    bad = [v for v in out if not (low <= v <= high) or not math.isfinite(v)]
    if bad:
        raise StatsError(f"{name} values {bad}", expected=f"numbers between {low} and {high}")
    return out


def design_grid(
    n_total: Sequence[int],
    effect: Sequence[float],
    rho: Sequence[float],
    dropout: Sequence[float],
    *,
    correlation: str = "cs",
    sigma: float = 1.0,
    n_visits: int = 4,
    alpha: float = 0.05,
    n_sim: int = 1000,
    seed: int = 1,
) -> list[GridPoint]:
    """Every combination of the axes, in a fixed order (N slowest, dropout fastest).

    Examples
    --------
    >>> pts = design_grid([100, 200], [0.5], [0.3], [0.0, 0.2], n_sim=10, seed=1)
    >>> [(p.point, p.n_total, p.dropout) for p in pts]
    [(0, 100, 0.0), (1, 100, 0.2), (2, 200, 0.0), (3, 200, 0.2)]
    """
    ns = [int(n) for n in n_total]
    if not ns or min(ns) < 8:
        raise StatsError(f"n_total values {ns}", expected="total sample sizes of at least 8")
    effects = _values("effect", effect, -1e6, 1e6)
    rhos = _values("rho", rho, -0.99, 0.99)
    drops = _values("dropout", dropout, 0.0, 0.95)
    if correlation not in ("cs", "ar1"):
        raise StatsError(f"correlation {correlation!r}", expected="cs or ar1")
    if n_visits < 2:
        raise StatsError(f"n_visits={n_visits}", expected="at least 2 visits")
    if not sigma > 0:
        raise StatsError(f"sigma={sigma}", expected="a positive standard deviation")
    if n_sim < 1:
        raise StatsError(f"n_sim={n_sim}", expected="at least 1 simulated trial per point")
    combos = itertools.product(ns, effects, rhos, drops)
    return [
        GridPoint(
            i, n, e, r, d, correlation, float(sigma), n_visits, alpha, n_sim, point_seed(seed, i)
        )
        for i, (n, e, r, d) in enumerate(combos)
    ]


def run_point(point: GridPoint) -> dict[str, Any]:
    """Simulate one grid point; a tidy row (see :data:`GRID_COLUMNS`).

    Examples
    --------
    >>> [pt] = design_grid([40], [0.8], [0.3], [0.1], n_sim=5, seed=3)
    >>> row = run_point(pt)
    >>> row["point"], row["n_sim"], 0.0 <= row["power"] <= 1.0
    (0, 5, True)
    """
    from remit.stats.power import ar1, compound_symmetry, power_mmrm
    from remit.stats.power_sim import simulate_power_mmrm

    j = point.n_visits
    corr = compound_symmetry(j, point.rho) if point.correlation == "cs" else ar1(j, point.rho)
    means = np.zeros((2, j))
    means[1, -1] = point.effect
    control = point.n_total // 2
    sim = simulate_power_mmrm(
        (control, point.n_total - control),
        means,
        corr * point.sigma**2,
        retention=point.retention,
        n_sim=point.n_sim,
        alpha=point.alpha,
        seed=point.seed,
        n_jobs=1,
    )
    analytic = math.nan
    if point.effect != 0:
        analytic = power_mmrm(
            point.n_total,
            correlation=corr,
            retention=point.retention,
            delta=abs(point.effect),
            sigma=point.sigma,
            alpha=point.alpha,
            ratio=(point.n_total - control) / control,
        ).power
    row = asdict(point)
    row.update(
        power=sim.power,
        mc_se=sim.mc_se,
        analytic_power=float(analytic),
        n_failed=sim.n_failed,
        n_refitted=sim.n_refitted,
        mean_estimate=float(sim.comparisons["mean_estimate"].iloc[0]),
        mean_se=float(sim.comparisons["mean_se"].iloc[0]),
    )
    return {c: row[c] for c in GRID_COLUMNS}


MapPoints = Callable[
    [Callable[[GridPoint], dict[str, Any]], Sequence[GridPoint]], Iterable[dict[str, Any]]
]


def serial_map(
    fn: Callable[[GridPoint], dict[str, Any]], points: Sequence[GridPoint]
) -> Iterator[dict[str, Any]]:
    """Run the points one after another in this process."""
    for p in points:
        yield fn(p)


@dataclass(frozen=True)
class PowerGridResult(TidyResult):
    """Simulated power at every point of a design grid.

    Attributes
    ----------
    table
        One row per grid point (:data:`GRID_COLUMNS`), sorted by ``point``.
    seed
        Master seed.
    n_resumed
        Points taken from earlier results instead of being simulated again.
    """

    table: pd.DataFrame
    seed: int
    n_resumed: int

    def to_frame(self) -> pd.DataFrame:
        """The grid table (a copy)."""
        return self.table.copy()


def _check_resumed(
    points: Sequence[GridPoint], previous: pd.DataFrame
) -> dict[int, dict[str, Any]]:
    missing = [c for c in GRID_COLUMNS if c not in previous.columns]
    if missing:
        raise StatsError(
            f"the results to resume from lack the column(s) {missing}",
            expected="a table written by a power grid run (" + ", ".join(GRID_COLUMNS) + ")",
        )
    by_point = {p.point: p for p in points}
    done: dict[int, dict[str, Any]] = {}
    for rec in previous.to_dict("records"):
        idx = int(rec["point"])
        pt = by_point.get(idx)
        if pt is None:
            raise StatsError(
                f"resumed row for point {idx} is not part of this grid",
                expected=f"points 0..{len(points) - 1} of the same grid",
                hint="resume with the same grid, seed and number of trials",
            )
        old = (
            idx,
            int(rec["n_total"]),
            float(rec["effect"]),
            float(rec["rho"]),
            float(rec["dropout"]),
            str(rec["correlation"]),
            float(rec["sigma"]),
            int(rec["n_visits"]),
            float(rec["alpha"]),
            int(rec["n_sim"]),
            int(rec["seed"]),
        )
        if old != pt.key():
            raise StatsError(
                f"resumed row for point {idx} has design {old}, this grid has {pt.key()}",
                expected="results of the same grid, master seed and number of trials",
                hint="start a new results file, or rerun with the grid that wrote it",
            )
        done[idx] = {c: rec[c] for c in GRID_COLUMNS}
    return done


def run_power_grid(
    points: Sequence[GridPoint],
    *,
    seed: int,
    map_points: MapPoints | None = None,
    previous: pd.DataFrame | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> PowerGridResult:
    """Simulate every point not already in ``previous``; a tidy table sorted by point.

    Parameters
    ----------
    points
        The grid (:func:`design_grid` with the same ``seed``).
    seed
        The master seed the points were made with (reported).
    map_points
        Runs ``fn`` over points and yields rows in any order (default :func:`serial_map`).
    previous
        Rows of an earlier run of the same grid; their points are not simulated again (they
        must match the grid's design and seeds exactly).
    on_row
        Called with each new row as it arrives (e.g. to append it to a file and advance a
        progress bar).

    Examples
    --------
    >>> pts = design_grid([40], [0.0, 0.8], [0.3], [0.0], n_sim=4, seed=5)
    >>> res = run_power_grid(pts, seed=5)
    >>> res.table["point"].tolist(), res.n_resumed
    ([0, 1], 0)
    """
    done = {} if previous is None or previous.empty else _check_resumed(points, previous)
    todo = [p for p in points if p.point not in done]
    mapper = map_points or serial_map
    rows = dict(done)
    for row in mapper(run_point, todo):
        rows[int(row["point"])] = row
        if on_row is not None:
            on_row(row)
    table = pd.DataFrame(
        [rows[p.point] for p in points if p.point in rows], columns=list(GRID_COLUMNS)
    )
    return PowerGridResult(table=table, seed=int(seed), n_resumed=len(done))
