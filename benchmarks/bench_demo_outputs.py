"""CPU time of the demo's output phases (exports, analysis plan, report) on a finished demo.

Run:  .venv/bin/python benchmarks/bench_demo_outputs.py DEMO_DIR [--repeat 3] [--out DIR]

``DEMO_DIR`` holds the ``trial.db`` of a ``remit demo --out DEMO_DIR`` run (single-arm
protocol, e.g. ``oslo-mdma-mdd``); it is copied to a temporary directory, so the demo is not
changed. Each repeat reads the trial data as the demo's statistician (``stine``) and then
writes the exports, runs the analysis plan and writes the report as :func:`remit.cli.demo_cmd.
run_demo` does after the services phase. The process CPU time (user + system) of each phase
is printed for every repeat, and the least of each; the first repeat also pays the imports
(SciPy, statsmodels, matplotlib), so compare the least, or the first one across changes.
The services phase (which dominates the demo) is left out: the figures are those of the
phases this benchmark is for, without its noise. The 1-minute load average is printed before
and after, since the machine's other work distorts CPU time too.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="keep the outputs here")
    parser.add_argument("--protocol", default="oslo-mdma-mdd")
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}")
    started = _cpu()
    from remit.analysis import run_analysis_plan
    from remit.interop import export_trial
    from remit.protocol import load_protocol
    from remit.reports import render_report
    from remit.services import Actor, build_trial_data, close_database, open_database

    print(f"imports: {_cpu() - started:.2f} s CPU")
    work = Path(tempfile.mkdtemp(prefix="bench-demo-outputs-"))
    try:
        db = work / "trial.db"
        shutil.copy(args.demo_dir / "trial.db", db)
        for key in args.demo_dir.glob("trial.db.*"):  # the audit key file beside it
            shutil.copy(key, work / key.name)
        engine = open_database(db)
        with sqlite3.connect(db) as con:  # the demo's statistician
            (uid,) = con.execute("SELECT id FROM user_account WHERE username = 'stine'").fetchone()
        actor = Actor(uid, "stine", "statistician", None)
        protocol = load_protocol(args.protocol)
        best: dict[str, float] = {}
        for repeat in range(args.repeat):
            out = args.out if args.out is not None and repeat == 0 else work / f"out{repeat}"
            times: dict[str, float] = {}
            t = _cpu()
            data = build_trial_data(engine, actor=actor)
            times["trial data"] = _cpu() - t
            t = _cpu()
            export_trial(engine, out / "exports", data=data)
            times["exports"] = _cpu() - t
            t = _cpu()
            result = run_analysis_plan(data, protocol, require_arms=False)
            times["analysis"] = _cpu() - t
            t = _cpu()
            render_report(result, data, protocol, out, pdf=False)
            times["report"] = _cpu() - t
            print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
            for k, v in times.items():
                best[k] = min(best.get(k, v), v)
        close_database(engine)
        print("least CPU: " + ", ".join(f"{k} {v:.2f} s" for k, v in best.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
