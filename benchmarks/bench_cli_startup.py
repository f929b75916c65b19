"""Wall time of short ``remit`` commands, each in a fresh process (the start-up a user waits for).

Run:  .venv/bin/python benchmarks/bench_cli_startup.py [--repeat 10]

Prints the machine and its load, then per command the median and best wall time over
``--repeat`` runs of the installed ``remit`` console script beside this interpreter. Issue 16
asks for ``remit --help`` under 0.3 s and ``remit scales score madrs …`` under 0.6 s on a quiet
machine; the figures mean little while other work competes for the cores.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from battery import print_environment

MADRS = '{"1":2,"2":2,"3":2,"4":2,"5":2,"6":2,"7":2,"8":2,"9":2,"10":1}'
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("--version",),
    ("scales", "score", "madrs", "-a", MADRS),
    ("protocol", "list"),
    ("stats", "--help"),
    ("power", "--help"),
)


def timed(remit: Path, args: tuple[str, ...]) -> float:
    started = time.perf_counter()
    subprocess.run([str(remit), *args], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs per command")
    args = parser.parse_args()
    remit = Path(sys.executable).with_name("remit")
    print_environment()
    for command in COMMANDS:
        runs = [timed(remit, command) for _ in range(args.repeat)]
        shown = " ".join(command if command[0] != "scales" else (*command[:3], "-a", "…"))
        print(
            f"remit {shown:<32} median {statistics.median(runs):.3f} s"
            f"  best {min(runs):.3f} s  ({args.repeat} runs)"
        )


if __name__ == "__main__":
    main()
