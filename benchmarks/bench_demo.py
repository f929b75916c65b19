"""Time `remit demo` end to end: create the trial, simulate it through the services, analyse it,
write the report.

Run:  .venv/bin/python benchmarks/bench_demo.py [--seed 2023] [--repeat 1]

Prints, per run, the wall time and process CPU time of each phase and in total, the number of
service calls, and the load average of the machine while it ran (the figure is only meaningful
when nothing else competes for the cores). Uses the production password hashing (argon2id
defaults), like the command does.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from pathlib import Path

from remit.cli.demo_cmd import DEMO_SEED, run_demo


class Phases:
    """Records when each phase of the demo starts (wall and CPU clocks)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float, float]] = []

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.marks or self.marks[-1][0] != phase:
            self.marks.append((phase, time.perf_counter(), time.process_time()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="demo seed")
    parser.add_argument("--repeat", type=int, default=1, help="number of runs")
    args = parser.parse_args()
    for run in range(1, args.repeat + 1):
        phases = Phases()
        with tempfile.TemporaryDirectory() as folder:
            start, cpu = time.perf_counter(), time.process_time()
            demo = run_demo(Path(folder) / "demo", seed=args.seed, progress=phases)
            wall_total = time.perf_counter() - start
            cpu_total = time.process_time() - cpu
        load = os.getloadavg()[0]
        print(
            f"run {run}: {wall_total:.1f} s wall, {cpu_total:.1f} s CPU "
            f"(load average {load:.1f} on {os.cpu_count()} cores)"
        )
        for (phase, wall, pcpu), (_, next_wall, next_cpu) in itertools.pairwise(phases.marks):
            print(f"  {phase:<45} {next_wall - wall:6.1f} s wall {next_cpu - pcpu:6.1f} s CPU")
        if demo.simulation is not None:
            print(f"  {demo.simulation.n_calls} service calls: {dict(demo.simulation.actions)}")
        s = demo.summary
        print(
            f"  summary: baseline {s['baseline_madrs_mean']:.2f} ({s['baseline_madrs_sd']:.2f}), "
            f"change {s['madrs_change_v13']['mean']:.2f}, responders {s['responders_v13']}, "
            f"remitters {s['remitters_v13']}, relapses {s['relapses']}"
        )


if __name__ == "__main__":
    main()
