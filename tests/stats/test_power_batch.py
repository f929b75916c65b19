"""Batched MMRM fits of simulated trials equal one-at-a-time fits; the design grid and Dask."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from remit.errors import StatsError
from remit.stats import fit_mmrm
from remit.stats.mmrm import batch
from remit.stats.power import compound_symmetry
from remit.stats.power_grid import (
    GridPoint,
    design_grid,
    point_seed,
    run_point,
    run_power_grid,
)
from remit.stats.power_sim import (
    SimulationDesign,
    _frame,
    _trial_arrays,
    run_batch,
    simulate_power_mmrm,
)


def _design(
    n_per_arm: tuple[int, ...],
    retention: Sequence[float],
    intermittent: float = 0.0,
    rho: float = 0.4,
) -> SimulationDesign:
    j = len(retention)
    means = np.zeros((len(n_per_arm), j))
    means[1:, -1] = 0.5
    chol = np.linalg.cholesky(compound_symmetry(j, rho) * 2.0)
    inter = np.full((len(n_per_arm), j), intermittent)
    return SimulationDesign(
        n_per_arm=n_per_arm,
        means=means,
        chol=(chol,) * len(n_per_arm),
        retention=np.tile(np.asarray(retention, dtype=float), (len(n_per_arm), 1)),
        intermittent=inter,
        target_visit=j - 1,
        alpha=0.05,
        covariance="us",
        df="satterthwaite",
    )


def _engine(
    design: SimulationDesign, seed: np.random.SeedSequence, tol: float = 1e-14
) -> np.ndarray:
    """[estimate, se, df, p] per comparison from one fit_mmrm of the same simulated data."""
    y, seen = _trial_arrays(design, np.random.default_rng(seed))
    data = _frame(design, y, seen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_mmrm(
            data,
            "y ~ arm * visit",
            subject="id",
            visit="visit",
            group="arm",
            visit_levels=design.visit_names,
            # the engine's default (Newton decrement < 1e-8) may stop one step earlier, which
            # moves estimates by up to ~1e-8 relative; the batch always takes that last step
            tol=tol,
        )
    assert fit.converged
    target = design.visit_names[-1]
    rows = []
    for arm in design.arm_names[1:]:
        table = fit.contrast({f"arm{arm}": 1.0, f"arm{arm}:visit{target}": 1.0})
        rows.append([float(table[c].iloc[0]) for c in ("estimate", "se", "df", "p")])
    return np.array(rows)


@pytest.mark.parametrize(
    ("n_per_arm", "retention", "intermittent"),
    [
        ((60, 60), [1.0, 1.0, 1.0, 1.0], 0.0),  # complete data
        ((100, 100), [1.0, 0.9, 0.8, 0.7], 0.0),  # monotone dropout
        ((40, 45, 50), [1.0, 0.85, 0.7, 0.6, 0.5], 0.1),  # 3 arms, 5 visits, intermittent
    ],
)
def test_batch_equals_one_at_a_time_fits(
    n_per_arm: tuple[int, ...], retention: list[float], intermittent: float
) -> None:
    design = _design(n_per_arm, retention, intermittent)
    seeds = np.random.SeedSequence(20261204).spawn(40)
    out = run_batch(design, seeds)
    assert out.refitted.size == 0
    for t in range(0, 40, 5):  # a sample of the trials
        ref = _engine(design, seeds[t])
        got = out.values[t]
        np.testing.assert_allclose(got[:, :3], ref[:, :3], rtol=1e-8, atol=0)
        np.testing.assert_allclose(got[:, 3], ref[:, 3], rtol=1e-8, atol=1e-14)


def test_trials_that_do_not_converge_are_refitted_singly(monkeypatch: pytest.MonkeyPatch) -> None:
    design = _design((50, 50), [1.0, 0.9, 0.8, 0.7])
    seeds = np.random.SeedSequence(5).spawn(6)
    real = batch.fit_us_batch

    def one_step(st: batch.PatternStats, **_: Any) -> batch.BatchFit:
        return real(st, max_iter=1)  # one iteration cannot converge from the start values

    monkeypatch.setattr(batch, "fit_us_batch", one_step)
    out = run_batch(design, seeds)
    assert out.refitted.tolist() == list(range(6))
    for t in (0, 3):
        ref = _engine(design, seeds[t], tol=1e-8)  # the refit uses the engine's defaults
        np.testing.assert_allclose(out.values[t][:, [0, 1, 3]], ref[:, [0, 1, 3]], rtol=1e-12)
        assert np.isnan(out.values[t][:, 2]).all()  # the single path does not report df


def test_trial_with_an_empty_cell_goes_to_the_general_engine() -> None:
    # 3 per arm and heavy dropout: some trials have nobody left at the last visit of an arm
    design = _design((3, 3), [1.0, 0.5, 0.3, 0.15])
    seeds = np.random.SeedSequence(11).spawn(30)
    out = run_batch(design, seeds)
    arrays = [_trial_arrays(design, np.random.default_rng(s)) for s in seeds]
    empty = [
        t
        for t, (_, seen) in enumerate(arrays)
        if not (seen[:3].any(axis=0).all() and seen[3:].any(axis=0).all())
    ]
    assert empty, "the design should produce trials with an empty arm × visit cell"
    assert set(empty) <= set(out.refitted.tolist())


def test_simulate_power_batch_and_single_agree() -> None:
    cov = compound_symmetry(4, 0.25)
    means = [[0, 0, 0, 0], [0, 0, 0, 0.6]]
    kw: dict[str, Any] = {"retention": [1, 0.9, 0.8, 0.7], "n_sim": 12, "seed": 9, "n_jobs": 1}
    fast = simulate_power_mmrm((40, 40), means, cov, engine="batch", **kw)
    slow = simulate_power_mmrm((40, 40), means, cov, engine="single", **kw)
    assert fast.engine == "batch"
    assert slow.engine == "single"
    np.testing.assert_array_equal(fast.rejections, slow.rejections)
    a, b = fast.comparisons.iloc[0], slow.comparisons.iloc[0]
    assert a["mean_estimate"] == pytest.approx(b["mean_estimate"], rel=1e-9)
    assert a["mean_se"] == pytest.approx(b["mean_se"], rel=1e-9)
    auto = simulate_power_mmrm((40, 40), means, cov, **kw)
    assert auto.engine == "batch"
    assert simulate_power_mmrm((40, 40), means, cov, covariance="cs", **kw).engine == "single"
    with pytest.raises(StatsError, match="batched engine"):
        simulate_power_mmrm((40, 40), means, cov, covariance="cs", engine="batch", **kw)
    with pytest.raises(StatsError, match="engine"):
        simulate_power_mmrm((40, 40), means, cov, engine="fast", **kw)


def test_pattern_stats_counts_and_refuses_bad_shapes() -> None:
    y = np.arange(12, dtype=float).reshape(1, 4, 3)
    seen = np.array([[[1, 1, 1], [1, 1, 0], [1, 1, 1], [0, 0, 0]]], dtype=bool)
    st = batch.pattern_stats(y, seen, np.array([0, 0, 1, 1]), 2)
    # arm 0 has two patterns, arm 1 one (its fourth subject has no visit and is left out)
    assert st.n.sum() == 3
    assert st.cell_counts.tolist() == [[[2, 2, 1], [1, 1, 1]]]
    full = st.S[0][st.mask.all(axis=1) & (st.arm == 0)][0]
    np.testing.assert_array_equal(full, np.outer(y[0, 0], y[0, 0]))
    with pytest.raises(StatsError, match="same shape"):
        batch.pattern_stats(y, seen[:, :2], np.array([0, 0, 1, 1]), 2)
    with pytest.raises(StatsError, match="arm code"):
        batch.pattern_stats(y, seen, np.array([0, 0, 1, 2]), 2)


# ------------------------------------------------------------------------------ the grid
def _grid() -> list[GridPoint]:
    return design_grid([40, 60], [0.0, 0.9], [0.3], [0.0, 0.3], n_sim=6, seed=17)


def test_point_seeds_depend_on_master_seed_and_index_only() -> None:
    pts = _grid()
    assert [p.seed for p in pts] == [point_seed(17, i) for i in range(len(pts))]
    assert len({p.seed for p in pts}) == len(pts)
    assert pts[3].retention == pytest.approx([1.0, 0.9, 0.8, 0.7])
    with pytest.raises(StatsError, match="dropout"):
        design_grid([40], [0.5], [0.3], [1.5])
    with pytest.raises(StatsError, match="n_total"):
        design_grid([4], [0.5], [0.3], [0.0])


def test_grid_does_not_depend_on_the_order_points_run_in() -> None:
    pts = _grid()
    serial = run_power_grid(pts, seed=17).table

    def backwards(
        fn: Callable[[GridPoint], dict[str, Any]], points: Sequence[GridPoint]
    ) -> Iterator[dict[str, Any]]:
        for p in reversed(points):
            yield fn(p)

    reordered = run_power_grid(pts, seed=17, map_points=backwards).table
    pd.testing.assert_frame_equal(serial, reordered)
    assert serial["point"].tolist() == list(range(len(pts)))
    assert serial["analytic_power"].isna().tolist() == [True, True, False, False] * 2
    assert run_point(pts[7]) == serial.iloc[7].to_dict()


def test_resume_skips_finished_points_and_refuses_another_grid() -> None:
    pts = _grid()
    serial = run_power_grid(pts, seed=17).table
    ran: list[int] = []

    def counting(
        fn: Callable[[GridPoint], dict[str, Any]], points: Sequence[GridPoint]
    ) -> Iterator[dict[str, Any]]:
        for p in points:
            ran.append(p.point)
            yield fn(p)

    resumed = run_power_grid(pts, seed=17, map_points=counting, previous=serial.iloc[:5])
    assert ran == [5, 6, 7]
    assert resumed.n_resumed == 5
    pd.testing.assert_frame_equal(resumed.table, serial, check_dtype=False)
    other = design_grid([40, 60], [0.0, 0.9], [0.3], [0.0, 0.3], n_sim=6, seed=18)
    with pytest.raises(StatsError, match="same grid"):
        run_power_grid(other, seed=18, previous=serial)
    with pytest.raises(StatsError, match="lack the column"):
        run_power_grid(pts, seed=17, previous=serial.drop(columns="seed"))


def test_grid_on_a_local_dask_cluster_equals_the_serial_run() -> None:
    pytest.importorskip("distributed")
    from remit.simulate.power_grid import dask_map

    pts = _grid()
    serial = run_power_grid(pts, seed=17).table
    with dask_map(workers=2, processes=False, timeout=180) as mapper:
        spread = run_power_grid(pts, seed=17, map_points=mapper).table
    pd.testing.assert_frame_equal(serial, spread)
