"""Speed of remit's MMRM next to statsmodels' MixedLM, on the same machine.

Run from the repository root::

    .venv/bin/python benchmarks/bench_mmrm.py [--repeats 7]

Prints the median wall-clock and CPU time of several repeats of:

* the antidepressant MMRM (172 patients × 4 visits, unstructured, Satterthwaite; and KR)
  — target < 10 ms median on a quiet machine (issue 17; it was ≤ 30 ms);
* bcva_data (1000 subjects × 10 visits, unstructured: 55 covariance parameters) — target ≤ 3 s;
* one simulated trial of N = 174 × 4 visits with Satterthwaite df (what a power simulation
  repeats 1000 times; target ≤ 30 ms per fit on one core);
* statsmodels MixedLM with a random intercept on the same data, for comparison (it has iid
  residuals only and no small-sample df, so it fits a simpler model).

For one-core figures (as a power simulation running one fit per core sees them) run with
``OPENBLAS_NUM_THREADS=1``; BLAS threads otherwise compete with other processes.

Reference points quoted in issue 4 for R's mmrm on a 2-core machine: 35–74 ms, 3.1 s and
48 ms per simulated trial. Timings depend on the load of the machine; the figures printed
include the load average so that a reader can judge them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from remit.stats import fit_mmrm

ROOT = Path(__file__).resolve().parent.parent
AD = ROOT / "tests" / "stats" / "reference" / "data" / "antidepressant_data.csv"
BCVA = ROOT / "benchmarks" / "data" / "bcva_data.csv"


def timed(fn: Callable[[], object], repeats: int, warm_up: bool = True) -> tuple[float, float]:
    """Median wall-clock and CPU seconds over ``repeats`` calls (after one warm-up)."""
    if warm_up:
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def simulated_trial(seed: int, n: int = 174) -> pd.DataFrame:
    """Two arms, 4 visits, compound symmetry ρ = 0.25, dropout 0/10/20/30 %."""
    rng = np.random.default_rng(seed)
    visits = 4
    cov = 0.75 * np.eye(visits) + 0.25
    keep = np.array([1.0, 0.9, 0.8, 0.7])
    y = rng.multivariate_normal(np.zeros(visits), cov, size=n)
    arm = np.repeat(["CTRL", "TRT"], n // 2)
    y[arm == "TRT"] += np.array([0.1, 0.2, 0.35, 0.5])
    last = np.searchsorted(-keep, -rng.random(n), side="left")  # monotone dropout
    rows = [
        (f"S{i}", f"V{v + 1}", arm[i], y[i, v])
        for i in range(n)
        for v in range(visits)
        if v < max(last[i], 1)
    ]
    return pd.DataFrame(rows, columns=["id", "visit", "arm", "y"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="Timed repeats per case.")
    parser.add_argument(
        "--quick", action="store_true", help="Skip statsmodels on bcva (about a minute per fit)."
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    if hasattr(os, "getloadavg"):
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print()

    ad = pd.read_csv(AD)
    bcva = pd.read_csv(BCVA)
    rows: list[tuple[str, float, float, str]] = []
    f_ad = "CHANGE ~ BASVAL*VISIT + THERAPY*VISIT"
    rows.append(
        (
            "antidepressant us, Satterthwaite",
            *timed(lambda: fit_mmrm(ad, f_ad, subject="PATIENT", visit="VISIT"), args.repeats),
            "< 10 ms",
        )
    )
    rows.append(
        (
            "antidepressant us, Kenward-Roger",
            *timed(
                lambda: fit_mmrm(ad, f_ad, subject="PATIENT", visit="VISIT", df="kenward-roger"),
                args.repeats,
            ),
            "",
        )
    )
    f_bcva = "BCVA_CHG ~ BCVA_BL + ARMCD*AVISIT + RACE"
    rows.append(
        (
            "bcva 1000×10 us (55 cov. params)",
            *timed(
                lambda: fit_mmrm(bcva, f_bcva, subject="USUBJID", visit="AVISIT"),
                max(3, args.repeats // 2),
            ),
            "≤ 3 s",
        )
    )
    trials = [simulated_trial(seed) for seed in range(max(10, args.repeats))]
    counter = iter(range(10**9))

    def one_trial() -> None:
        data = trials[next(counter) % len(trials)]
        fit_mmrm(data, "y ~ arm*visit", subject="id", visit="visit")

    wall, cpu = timed(one_trial, 3 * len(trials))
    rows.append(("simulated trial N=174×4 us, Satterthwaite", wall, cpu, "≤ 30 ms"))

    import statsmodels.formula.api as smf

    ad_sm = ad.assign(VISIT=ad["VISIT"].astype(str))
    rows.append(
        (
            "statsmodels MixedLM (rand. intercept), antidepressant",
            *timed(
                lambda: smf.mixedlm(
                    "CHANGE ~ BASVAL*VISIT + THERAPY*VISIT", ad_sm, groups=ad_sm["PATIENT"]
                ).fit(reml=True),
                args.repeats,
            ),
            "",
        )
    )
    bcva_sm = bcva.dropna(subset=["BCVA_CHG"])
    if not args.quick:
        rows.append(
            (
                "statsmodels MixedLM (rand. intercept), bcva, 1 run",
                *timed(
                    lambda: smf.mixedlm(f_bcva, bcva_sm, groups=bcva_sm["USUBJID"]).fit(reml=True),
                    1,
                    warm_up=False,
                ),
                "",
            )
        )

    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'median wall':>12}  {'median CPU':>11}  target")
    for name, wall, cpu, target in rows:
        print(f"{name:<{width}}  {_fmt(wall):>12}  {_fmt(cpu):>11}  {target}")
    _, wall_fit, cpu_fit, _ = rows[3]
    print()
    print(
        f"1000 simulated trials at this rate: ≈ {1000 * wall_fit:.1f} s wall-clock, "
        f"{1000 * cpu_fit:.1f} s of CPU (one core, no other load)"
    )


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
