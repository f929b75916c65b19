"""Time `remit demo` in a fresh process: wall time, CPU time, peak memory, and each phase.

Run:  .venv/bin/python benchmarks/bench_demo.py [--protocol ID ...] [--seed 2023] [--repeat 1]
      [--participants N] [--no-exports] [--json]

Each run starts a new Python process (this script with ``--child``) that imports Remit and
calls :func:`remit.cli.demo_cmd.run_demo` the way ``remit demo --json`` does, into a temporary
directory. The parent reads that process's own resource usage when it ends (``os.wait4``:
user and system CPU time, peak resident set size) and its wall time from start to exit, so
the interpreter start and the imports are counted as a user would feel them. The child
reports when each phase of the demo began (wall clock, process CPU and the peak resident set
so far), from the demo's progress callback: importing, creating the trial and the demo users,
entering the trial through the services, the exports, the analysis plan, the report.

Default: both built-in demo protocols at their default sizes (``oslo-mdma-mdd``, 12 enrolled;
``mdma-mdd-rct-example``, 24 enrolled), with the exports. The figures mean something only
when nothing else competes for the cores: the machine's load average (1 minute) is printed
before and after each run. The production password hashing (argon2id defaults) is used, as
by the command.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEMO_PROTOCOLS = ("oslo-mdma-mdd", "mdma-mdd-rct-example")
DEMO_SEED = 2023  # remit.cli.demo_cmd.DEMO_SEED, not imported here: the parent stays light


def _peak_mb(usage: resource.struct_rusage) -> float:
    """ru_maxrss in MB (Linux reports kilobytes, macOS bytes)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return usage.ru_maxrss * scale / 2**20


def child(args: argparse.Namespace) -> None:
    """Run the demo in this process; print one JSON line with the phases and the summary."""
    marks: list[dict[str, Any]] = []

    def mark(phase: str) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        marks.append(
            {
                "phase": phase,
                "wall": time.perf_counter(),
                "cpu": usage.ru_utime + usage.ru_stime,
                "peak_mb": _peak_mb(usage),
            }
        )

    mark("importing remit")
    from remit.cli.demo_cmd import imports_frozen, run_demo

    def progress(phase: str, done: int, total: int) -> None:
        if marks[-1]["phase"] != phase:
            mark(phase)

    with imports_frozen():  # as the command does
        run = run_demo(
            Path(args.out),
            seed=args.seed,
            exports=args.exports,
            protocol_id=args.protocol[0],
            participants=args.participants,
            progress=progress,
        )
    if marks[-1]["phase"] != "done":
        mark("done")
    calls = run.simulation.n_calls if run.simulation is not None else 0
    print(json.dumps({"marks": marks, "service_calls": calls, "summary": run.summary}))


def one_run(args: argparse.Namespace, protocol: str) -> dict[str, Any]:
    """One demo in a child process: its figures and phases."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            __file__,
            "--child",
            "--protocol",
            protocol,
            "--seed",
            str(args.seed),
            "--out",
            str(Path(folder) / "demo"),
            *(["--participants", str(args.participants)] if args.participants else []),
            *([] if args.exports else ["--no-exports"]),
        ]
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak memory
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"remit demo --protocol {protocol} failed (exit {proc.returncode})")
        report = json.loads(output.strip().splitlines()[-1])
    marks = report["marks"]
    phases = [
        {
            "phase": a["phase"],
            "wall_s": b["wall"] - a["wall"],
            "cpu_s": b["cpu"] - a["cpu"],
            "peak_mb": b["peak_mb"],
        }
        for a, b in itertools.pairwise(marks)
    ]
    return {
        "protocol": protocol,
        "participants": report["summary"].get("n_enrolled"),
        "seed": args.seed,
        "exports": args.exports,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "user_s": usage.ru_utime,
        "system_s": usage.ru_stime,
        "peak_rss_mb": _peak_mb(usage),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "service_calls": report["service_calls"],
        "phases": phases,
        "summary": report["summary"],
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "machine": f"{platform.system()} {platform.machine()}",
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def show(run: dict[str, Any]) -> None:
    print(
        f"{run['protocol']} ({run['participants']} enrolled, seed {run['seed']}, "
        f"{'with' if run['exports'] else 'no'} exports, {run['service_calls']} service calls): "
        f"{run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU (user {run['user_s']:.1f}, "
        f"system {run['system_s']:.1f}), peak RSS {run['peak_rss_mb']:.0f} MB; "
        f"load average {run['load_before']:.1f} before, {run['load_after']:.1f} after"
    )
    for p in run["phases"]:
        print(
            f"  {p['phase']:<45} {p['wall_s']:6.1f} s wall {p['cpu_s']:6.1f} s CPU "
            f"  peak so far {p['peak_mb']:4.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--protocol",
        action="append",
        help=f"built-in protocol (repeatable; default: {', '.join(DEMO_PROTOCOLS)})",
    )
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="demo seed")
    parser.add_argument("--participants", type=int, help="participants (default: the demo's)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per protocol")
    parser.add_argument("--no-exports", dest="exports", action="store_false")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    runs = []
    about = machine()
    if not args.json:
        print(f"{about['machine']}, {about['cores']} cores, Python {about['python']}")
    for protocol in args.protocol or DEMO_PROTOCOLS:
        for _ in range(args.repeat):
            run = one_run(args, protocol)
            runs.append(run)
            if not args.json:
                show(run)
    if args.json:
        print(json.dumps({**about, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
