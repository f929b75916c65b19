"""Capture per form through the service (no HTTP): ``record_assessment`` time and queries.

Usage::

    python benchmarks/bench_capture.py [--engine sqlite|postgresql|both] [--participants 20]
                                       [--profile 25] [--sort cumulative|tottime]

For each engine it builds an Oslo trial in a throw-away database (:mod:`battery`), walks
``--participants`` participants through the schedule and then enters every MADRS and
self-report form of the load benchmark's visits (V3, V13, FU7) through
:func:`remit.services.record_assessment`, one form per transaction, as an independent rater.
It prints forms/s, the per-form time (p50/p95/p99), the process CPU time per form (what a
loaded machine distorts least), the SQL statements per form (counted with
a ``before_cursor_execute`` listener) and the audit rows per form; checks every form is stored
once and runs ``remit audit verify``; ``--statements`` lists the SQL statements of the last
form. ``--profile N`` prints the N most expensive functions
(cProfile, sorted by ``--sort``: cumulative or own time) of the timed phase. Machine and load
are printed first.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import battery
import numpy as np
from load_web import assessed_at


def run(
    engine_name: str,
    participants: int,
    profile: int,
    sort: str = "cumulative",
    show_statements: bool = False,
) -> None:
    from sqlalchemy import event, func, select

    from remit import services as sv
    from remit.services import Actor
    from remit.store.tables import Assessment, AuditEvent, UserAccount

    folder = Path(tempfile.mkdtemp(prefix="remit-capture-"))
    with battery.ThrowAwayDatabase(engine_name, folder) as db:
        battery.print_environment(db.url)
        started = time.monotonic()
        ids = battery.seed(db, 1, participants)
        print(f"{engine_name}: seeded {len(ids)} participants in "
              f"{time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
        slots = battery.form_slots(ids, random.Random(1))
        rng = random.Random(2)
        bodies = [(pid, visit, scale, battery.answers(scale, rng)) for pid, visit, scale in slots]
        engine = db.engine()
        statements = 0
        last_form: list[str] = []

        def count(*args: Any) -> None:
            nonlocal statements
            statements += 1
            last_form.append(" ".join(str(args[2]).split()))

        try:
            with engine.connect() as connection:
                rater_id = connection.execute(
                    select(UserAccount.id).where(UserAccount.username == "rater000")
                ).scalar_one()
                audit_before = connection.execute(select(func.count(AuditEvent.id))).scalar_one()
            rater = Actor(rater_id, "rater000", "independent_rater", None)
            # one form first: warms the per-process caches (protocol, scales) as a server has
            pid, visit, scale, answers = bodies.pop()
            sv.record_assessment(
                engine, rater, pid, visit, scale, answers,
                assessed_at=assessed_at(visit), idempotency_key=f"cap-{pid}-{visit}-{scale}",
            )  # fmt: skip
            event.listen(engine, "before_cursor_execute", count)
            profiler = cProfile.Profile() if profile else None
            per_form: list[float] = []
            cpu_began = time.process_time()
            began = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            for pid, visit, scale, answers in bodies:
                last_form.clear()
                t0 = time.perf_counter()
                sv.record_assessment(
                    engine, rater, pid, visit, scale, answers,
                    assessed_at=assessed_at(visit), idempotency_key=f"cap-{pid}-{visit}-{scale}",
                )  # fmt: skip
                per_form.append((time.perf_counter() - t0) * 1000)
            if profiler is not None:
                profiler.disable()
            elapsed = time.perf_counter() - began
            cpu = time.process_time() - cpu_began
            event.remove(engine, "before_cursor_execute", count)
            with engine.connect() as connection:
                stored = connection.execute(
                    select(Assessment.idempotency_key, func.count())
                    .where(Assessment.idempotency_key.like("cap-%"))
                    .group_by(Assessment.idempotency_key)
                ).all()
                audit_after = connection.execute(select(func.count(AuditEvent.id))).scalar_one()
        finally:
            engine.dispose()
        n = len(bodies)
        p50, p95, p99 = np.percentile(per_form, [50, 95, 99])
        once = len(stored) == n + 1 and all(c == 1 for _, c in stored)
        print(
            f"{engine_name:10s} forms={n} time={elapsed:.2f}s ({n / elapsed:.1f} forms/s) "
            f"per form p50={p50:.2f}ms p95={p95:.2f}ms p99={p99:.2f}ms "
            f"CPU {1000 * cpu / n:.2f}ms/form "
            f"statements/form={statements / n:.1f} "
            f"audit rows/form={(audit_after - audit_before) / (n + 1):.1f} "
            f"stored-once={once}",
            flush=True,
        )
        print(f"audit verify: {battery.audit_verify(db).line()}", flush=True)
        if show_statements:
            print(f"the last form's {len(last_form)} statements:")
            for number, statement in enumerate(last_form, 1):
                print(f"  {number:2d}. {statement[:300]}")
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(profile)
            print(out.getvalue())
    battery.keep_or_remove(folder, keep=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative")
    parser.add_argument(
        "--statements", action="store_true", help="print the SQL statements of the last form"
    )
    args = parser.parse_args()
    if not 1 <= args.participants <= 500:
        parser.error("keep --participants within 1..500")
    for name in ("sqlite", "postgresql") if args.engine == "both" else (args.engine,):
        run(name, args.participants, args.profile, args.sort, args.statements)
    return 0


if __name__ == "__main__":
    sys.exit(main())
