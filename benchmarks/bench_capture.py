"""Capture per form through the service (no HTTP): ``record_assessment`` time and queries.

Usage::

    python benchmarks/bench_capture.py [--engine sqlite|postgresql|both] [--participants 20]
                                       [--profile 25] [--sort cumulative|tottime]
                                       [--counted 40] [--profile-out FILE] [--callgrind]

For each engine it builds an Oslo trial in a throw-away database (:mod:`battery`), walks
``--participants`` participants through the schedule and then enters every MADRS and
self-report form of the load benchmark's visits (V3, V13, FU7) through
:func:`remit.services.record_assessment`, one form per transaction, as an independent rater.
It prints forms/s, the per-form time (p50/p95/p99), the process CPU time per form (what a
loaded machine distorts least), the SQL statements per form (counted with
a ``before_cursor_execute`` listener, which also sees the reads sent through the DB-API cursor
by :func:`remit.store.queries.hot_rows`), the audit rows per form, the time per form spent holding
the process's SQLite write lock (:func:`remit.store.engine.one_writer`: what caps a server's
writes, since it serialises them; wall time, which includes the commit's fsync, and the
thread's CPU time) and the Python function calls per form (cProfile's count over
the last ``--counted`` forms, entered after the timed ones); checks every form is stored
once and runs ``remit audit verify``; ``--statements`` lists the SQL statements of the last
form. ``--profile N`` prints the N most expensive functions
(cProfile with the thread's CPU time as its clock, so the commit's fsync waits do not count;
sorted by ``--sort``: cumulative or own time) of the timed phase, and ``--profile-out FILE``
saves that profile for :mod:`pstats`. ``--callgrind``, under ``valgrind --tool=callgrind
--instr-atstart=no``, instruments only the ``--counted`` forms: their instructions divided
by their number are the cost of a form whatever the machine's load. Machine and load are
printed first.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
    counted: int = 40,
    profile_out: str | None = None,
    callgrind: bool = False,
) -> None:
    from sqlalchemy import event, func, select

    from remit import services as sv
    from remit.services import Actor
    from remit.store import audit
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
        counted_bodies = bodies[-counted:] if counted else []
        bodies = bodies[: len(bodies) - len(counted_bodies)]
        engine = db.engine()
        statements = 0
        last_form: list[str] = []

        def count(*args: Any) -> None:
            nonlocal statements
            statements += 1
            last_form.append(" ".join(str(args[2]).split()))

        held: list[float] = []  # seconds each write transaction held the write lock
        held_cpu: list[float] = []  # and this thread's CPU seconds meanwhile
        writer = audit.one_writer

        @contextlib.contextmanager
        def timed_writer(bound: Any) -> Iterator[None]:
            with writer(bound):
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    yield
                finally:
                    held.append(time.perf_counter() - t0)
                    held_cpu.append(time.thread_time() - c0)

        def enter(body: tuple[str, str, str, dict[str, object]]) -> None:
            pid, visit, scale, answers = body
            sv.record_assessment(
                engine, rater, pid, visit, scale, answers,
                assessed_at=assessed_at(visit), idempotency_key=f"cap-{pid}-{visit}-{scale}",
            )  # fmt: skip

        try:
            with engine.connect() as connection:
                rater_id = connection.execute(
                    select(UserAccount.id).where(UserAccount.username == "rater000")
                ).scalar_one()
                audit_before = connection.execute(select(func.count(AuditEvent.id))).scalar_one()
            rater = Actor(rater_id, "rater000", "independent_rater", None)
            # one form first: warms the per-process caches (protocol, scales) as a server has
            enter(bodies.pop())
            if engine.dialect.name == "sqlite":  # PostgreSQL has no process write lock
                audit.one_writer = timed_writer  # type: ignore[assignment]
            event.listen(engine, "before_cursor_execute", count)
            # CPU time, not wall time: what the GIL-bound server spends (not the fsync waits)
            profiler = cProfile.Profile(time.thread_time) if profile else None
            per_form: list[float] = []
            cpu_began = time.process_time()
            began = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            for body in bodies:
                last_form.clear()
                t0 = time.perf_counter()
                enter(body)
                per_form.append((time.perf_counter() - t0) * 1000)
            if profiler is not None:
                profiler.disable()
            elapsed = time.perf_counter() - began
            cpu = time.process_time() - cpu_began
            event.remove(engine, "before_cursor_execute", count)
            audit.one_writer = writer  # type: ignore[assignment]
            calls = 0
            if counted_bodies and callgrind:  # instructions of these forms only
                _callgrind("on")
                for body in counted_bodies:
                    enter(body)
                _callgrind("off")
                print(f"callgrind: instrumented {len(counted_bodies)} forms", flush=True)
            elif counted_bodies:
                counter = cProfile.Profile()
                counter.enable()
                for body in counted_bodies:
                    enter(body)
                counter.disable()
                calls = pstats.Stats(counter).total_calls  # type: ignore[attr-defined]
            with engine.connect() as connection:
                stored = connection.execute(
                    select(Assessment.idempotency_key, func.count())
                    .where(Assessment.idempotency_key.like("cap-%"))
                    .group_by(Assessment.idempotency_key)
                ).all()
                audit_after = connection.execute(select(func.count(AuditEvent.id))).scalar_one()
        finally:
            audit.one_writer = writer  # type: ignore[assignment]
            engine.dispose()
        n = len(bodies)
        p50, p95, p99 = np.percentile(per_form, [50, 95, 99])
        once = len(stored) == n + 1 + len(counted_bodies) and all(c == 1 for _, c in stored)
        lock = (
            f"{1000 * sum(held) / n:.2f}ms/form ({1000 * sum(held_cpu) / n:.2f}ms CPU)"
            if held
            else "none (no SQLite write lock)"
        )
        print(
            f"{engine_name:10s} forms={n} time={elapsed:.2f}s ({n / elapsed:.1f} forms/s) "
            f"per form p50={p50:.2f}ms p95={p95:.2f}ms p99={p99:.2f}ms "
            f"CPU {1000 * cpu / n:.2f}ms/form "
            f"statements/form={statements / n:.1f} "
            f"audit rows/form={(audit_after - audit_before) / (n + 1 + len(counted_bodies)):.1f} "
            f"write lock held {lock} "
            f"calls/form={calls / max(len(counted_bodies), 1):.0f} "
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
            if profile_out:
                profiler.dump_stats(f"{profile_out}.{engine_name}")
    battery.keep_or_remove(folder, keep=False)


def _callgrind(state: str) -> None:
    """Switch callgrind's instrumentation of this process ``on`` or ``off`` (run under
    ``valgrind --tool=callgrind --instr-atstart=no``)."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument(
        "--profile-out", metavar="FILE",
        help="with --profile: also save the profile (pstats) to FILE.<engine>",
    )  # fmt: skip
    parser.add_argument(
        "--callgrind", action="store_true",
        help="under valgrind --tool=callgrind --instr-atstart=no: instrument only the --counted "
        "forms (their instructions / N is the load-independent cost of a form)",
    )  # fmt: skip
    parser.add_argument("--sort", choices=("cumulative", "tottime", "ncalls"), default="cumulative")
    parser.add_argument(
        "--counted", type=int, default=40, metavar="N",
        help="count the function calls of N more forms (cProfile, after the timed ones)",
    )  # fmt: skip
    parser.add_argument(
        "--statements", action="store_true", help="print the SQL statements of the last form"
    )
    args = parser.parse_args()
    if not 1 <= args.participants <= 500:
        parser.error("keep --participants within 1..500")
    for name in ("sqlite", "postgresql") if args.engine == "both" else (args.engine,):
        run(
            name, args.participants, args.profile, args.sort, args.statements, args.counted,
            args.profile_out, args.callgrind,
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
