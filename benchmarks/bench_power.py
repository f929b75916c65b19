"""Time simulation-based MMRM power: batched fits, one-at-a-time fits, and a Dask grid.

Run:  OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_power.py [--trials 1000]

Prints, with the machine and its load:

1. 1000 trials of N = 200 (100 + 100), 4 visits, fitted together by the batched engine
   (unstructured Σ, REML, Satterthwaite df) on one core — target < 2 s — and the simulated
   power next to the analytic Lu-Luo-Chen power. The design is the statistics.md reference:
   compound symmetry ρ = 0.25, σ = 1, δ = 0.5 at the last visit, retention 1, .9, .8, .7.
2. The largest absolute difference of estimate, SE, df and p between the batch and
   one-at-a-time ``fit_mmrm`` fits of the same simulated trials (a sample), with the engine at
   its default tolerance and at a tight one, and the time per one-at-a-time fit.
3. A design grid of 64 points × 500 trials run serially and on a local 2-worker Dask cluster
   (both times; the tables must be identical).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, as the target is stated

import argparse
import platform
import time
import warnings

import numpy as np

from remit.stats import fit_mmrm
from remit.stats.power import compound_symmetry, power_mmrm
from remit.stats.power_grid import design_grid, run_power_grid
from remit.stats.power_sim import (
    SimulationDesign,
    _frame,
    _trial_arrays,
    run_batch,
    simulate_power_mmrm,
)


def _machine() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}")
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def _single(design: SimulationDesign, seed: np.random.SeedSequence, tol: float) -> np.ndarray:
    y, seen = _trial_arrays(design, np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_mmrm(
            _frame(design, y, seen),
            "y ~ arm * visit",
            subject="id",
            visit="visit",
            group="arm",
            visit_levels=design.visit_names,
            tol=tol,
        )
    table = fit.contrast({"armarm01": 1.0, "armarm01:visitv03": 1.0})
    return np.array([float(table[c].iloc[0]) for c in ("estimate", "se", "df", "p")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="simulated trials")
    parser.add_argument("--n", type=int, default=200, help="subjects in total (two arms)")
    parser.add_argument("--seed", type=int, default=20261127, help="simulation seed")
    parser.add_argument("--sample", type=int, default=50, help="trials refitted one at a time")
    parser.add_argument("--grid-trials", type=int, default=500, help="trials per grid point")
    parser.add_argument("--no-grid", action="store_true", help="skip the Dask grid")
    args = parser.parse_args()
    _machine()
    corr = compound_symmetry(4, 0.25)
    retention = [1.0, 0.9, 0.8, 0.7]
    means = [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5]]
    half = args.n // 2
    print(
        f"\ndesign: N = {args.n} ({half} + {args.n - half}), 4 visits, CS rho 0.25, "
        f"retention {retention}, delta 0.5; analysis us + REML + Satterthwaite"
    )
    analytic = power_mmrm(args.n, correlation=corr, retention=retention, delta=0.5)
    kw = {"retention": retention, "n_sim": args.trials, "seed": args.seed}
    simulate_power_mmrm((half, args.n - half), means, corr, **{**kw, "n_sim": 20})  # warm up
    start, cpu0 = time.perf_counter(), time.process_time()
    sim = simulate_power_mmrm((half, args.n - half), means, corr, engine="batch", **kw)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
    print(
        f"batched: {args.trials} trials in {elapsed:.2f} s wall, {cpu:.2f} s CPU on one core "
        f"({1000 * elapsed / args.trials:.2f} ms per trial; target < 2 s for 1000); "
        f"power {sim.power:.4f} (MC SE {sim.mc_se:.4f}), analytic {analytic.power:.4f}; "
        f"refitted singly {sim.n_refitted}, failed {sim.n_failed}"
    )

    design = SimulationDesign(
        n_per_arm=(half, args.n - half),
        means=np.asarray(means),
        chol=(np.linalg.cholesky(corr),) * 2,
        retention=np.tile(retention, (2, 1)),
        intermittent=np.zeros((2, 4)),
        target_visit=3,
        alpha=0.05,
        covariance="us",
        df="satterthwaite",
    )
    seeds = np.random.SeedSequence(args.seed).spawn(args.trials)
    sample = np.linspace(0, args.trials - 1, min(args.sample, args.trials)).astype(int)
    batch = run_batch(design, [seeds[i] for i in sample]).values[:, 0, :]
    for tol, label in ((1e-8, "default tol 1e-8"), (1e-14, "tol 1e-14")):
        start = time.perf_counter()
        single = np.array([_single(design, seeds[i], tol) for i in sample])
        per_fit = (time.perf_counter() - start) / len(sample)
        diff = np.abs(batch - single).max(axis=0)
        rel = (np.abs(batch - single) / np.abs(single)).max(axis=0)
        print(
            f"vs fit_mmrm one at a time ({label}), {len(sample)} trials, "
            f"{1000 * per_fit:.1f} ms per fit: max abs diff estimate {diff[0]:.1e}, "
            f"SE {diff[1]:.1e}, df {diff[2]:.1e}, p {diff[3]:.1e} "
            f"(max rel {rel.max():.1e})"
        )

    if args.no_grid:
        return
    from remit.simulate.power_grid import dask_map

    points = design_grid(
        [100, 150, 200, 250],
        [0.2, 0.35, 0.5, 0.65],
        [0.25, 0.5],
        [0.0, 0.3],
        n_sim=args.grid_trials,
        seed=args.seed,
    )
    print(f"\ngrid: {len(points)} points × {args.grid_trials} trials")
    start = time.perf_counter()
    serial = run_power_grid(points, seed=args.seed).table
    t_serial = time.perf_counter() - start
    print(f"serial, this process: {t_serial:.1f} s")
    start = time.perf_counter()
    with dask_map(workers=2, timeout=300) as mapper:
        t_ready = time.perf_counter() - start
        spread = run_power_grid(points, seed=args.seed, map_points=mapper).table
        t_run = time.perf_counter() - start - t_ready
    print(
        f"local Dask cluster, 2 worker processes: {t_run:.1f} s "
        f"(+ {t_ready:.1f} s to start the cluster); identical table: {serial.equals(spread)}"
    )
    print("load average now (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
