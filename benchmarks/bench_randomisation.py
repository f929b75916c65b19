"""Wall time of generating the sealed randomisation list and of sealing/opening one arm.

Run:  .venv/bin/python benchmarks/bench_randomisation.py [--engine sqlite|postgresql]
      [--n-per-stratum 60] [--seals 10000]

Prints the machine and its load, then the time to generate the RCT example's list (4 strata,
permuted blocks of 4 and 6, every slot sealed with AES-256-GCM and audited) through
``remit.services.generate_list``, and the time per seal and per open of one slot's arm. An
allocation at the confirmation of enrolment opens one slot (a minimisation opens every kit).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from battery import ThrowAwayDatabase, print_environment

from remit import services as sv
from remit.protocol import load_protocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--n-per-stratum", type=int, default=60)
    parser.add_argument("--seals", type=int, default=10_000)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        ThrowAwayDatabase(args.engine, Path(folder)) as db,
    ):
        print_environment(db.url)
        key = sv.new_allocation_key_file(Path(folder) / "allocation.key")
        engine = sv.create_database(
            db.url, audit_keys=sv.load_key_ring(db.key_file), allocation_key=key
        )
        try:
            made = sv.create_trial(
                engine,
                load_protocol("mdma-mdd-rct-example"),
                admin_username="ada",
                admin_password="correct horse battery staple",
            )
            admin = sv.actor_for(engine, "ada", "admin")
            sv.add_user(
                engine, admin, "una", "correct horse battery staple",
                [("unblinded_statistician", None)], must_change_password=False,
            )  # fmt: skip
            una = sv.actor_for(engine, "una", "unblinded_statistician")
            started = time.perf_counter()
            listed = sv.generate_list(engine, una, n_per_stratum=args.n_per_stratum, seed=1)
            took = time.perf_counter() - started
            print(
                f"generate_list ({args.engine}): {listed.status.slots} slots in "
                f"{len(listed.status.strata)} strata, {took:.2f} s "
                f"({1000 * took / listed.status.slots:.2f} ms per slot, audit included); "
                f"study {made.study_code}"
            )
        finally:
            sv.close_database(engine)
    place = "remit-slot\x00madrs_baseline_band=35+|site=OST\x001\x001001"
    started = time.perf_counter()
    sealed = [key.seal({"arm": "PLACEBO", "block": 1, "block_size": 4}, place)
              for _ in range(args.seals)]  # fmt: skip
    seal_s = (time.perf_counter() - started) / args.seals
    started = time.perf_counter()
    for value in sealed:
        key.open(value, place)
    open_s = (time.perf_counter() - started) / args.seals
    print(f"seal one arm: {1e6 * seal_s:.1f} µs; open one arm: {1e6 * open_s:.1f} µs "
          f"(over {args.seals})")  # fmt: skip


if __name__ == "__main__":
    main()
