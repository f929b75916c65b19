"""Speed of reference-based imputation on the antidepressant data (172 patients × 4 visits).

Run from the repository root::

    .venv/bin/python benchmarks/bench_rbmi.py [--repeats 3] [--samples 200]

Prints the median wall-clock and CPU time of:

* ``rbmi_bayes`` (J2R, ``--samples`` imputations: one REML fit, then a posterior draw, a GLS
  solve and an imputation per data set) — what ``remit stats rbmi --method bayes`` runs;
* ``rbmi_condmean`` with the jackknife (J2R: 173 REML fits);
* ``tipping_point`` over 21 deltas with the Bayesian draws (the draws are made once).

Timings depend on the load of the machine; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from remit.stats import rbmi_bayes, rbmi_condmean, tipping_point

ROOT = Path(__file__).resolve().parent.parent
AD = ROOT / "tests" / "stats" / "reference" / "data" / "antidepressant_data.csv"
KW = {
    "y": "CHANGE",
    "subject": "PATIENT",
    "visit": "VISIT",
    "group": "THERAPY",
    "reference": "PLACEBO",
    "covariates": ["BASVAL"],
    "strategy": "J2R",
}


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds over ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    data = pd.read_csv(AD)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores")
    print(f"load average before: {os.getloadavg()}")
    n = args.samples
    cases: list[tuple[str, Callable[[], object]]] = [
        (f"rbmi_bayes J2R, {n} imputations", lambda: rbmi_bayes(data, n_samples=n, seed=1, **KW)),
        ("rbmi_condmean J2R, jackknife (173 fits)", lambda: rbmi_condmean(data, **KW)),
        (
            f"tipping_point bayes, 21 deltas, {n} imputations",
            lambda: tipping_point(
                data,
                deltas=np.linspace(0, 10, 21),
                method="bayes",
                n_samples=n,
                seed=1,
                stop=False,
                **KW,
            ),
        ),
    ]
    for name, fn in cases:
        wall, cpu = timed(fn, args.repeats)
        print(f"{name:<48} wall {wall:7.3f} s   cpu {cpu:7.3f} s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
