"""What a database-backed session costs per request, on SQLite and PostgreSQL.

Run:  .venv/bin/python benchmarks/bench_sessions.py [--n 2000] [--postgres]

Builds a throw-away trial (battery.py), then times :class:`remit.web.sessions.SessionStore`:
logins (``create``: one write), page requests within the touch interval (``get``: one indexed
SELECT, no write), page requests after it (``get`` with the last-seen write) and logouts
(``end``), next to a bare ``SELECT 1`` round trip. Prints the median and p95 per operation
with the machine and its load (battery.environment_lines).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import battery

from remit import services as sv
from remit.web.sessions import SessionStore


def _timed(n: int, step: Callable[[int], object]) -> tuple[float, float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1000, times[int(0.95 * (len(times) - 1))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="operations of each kind")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    backend = "postgresql" if args.postgres else "sqlite"
    with (
        tempfile.TemporaryDirectory() as folder,
        battery.ThrowAwayDatabase(backend, Path(folder)) as db,
    ):
        battery.seed(db, raters=0, participants=0)
        battery.print_environment(db.url)
        engine = db.engine()
        actor = sv.actor_for(engine, "ada")
        now = [datetime.now(UTC)]
        store = SessionStore(engine, 1800, 10**7, clock=lambda: now[0])
        tokens: list[str] = []

        def baseline(i: int) -> object:
            with engine.connect() as connection:
                return connection.exec_driver_sql("SELECT 1").scalar()

        rows: list[tuple[str, Callable[[int], object]]] = [("SELECT 1 (baseline)", baseline)]
        rows += [("create (login)", lambda i: tokens.append(store.create(actor)))]
        rows.append(("get, no write", lambda i: store.get(tokens[i])))

        def touched(i: int) -> object:
            # one session, used once per touch interval: each use writes last_seen_at
            now[0] += timedelta(seconds=store.timeouts.touch_every_s)
            found = store.get(tokens[-1])
            assert found is not None
            assert found.last_seen == now[0]
            return found

        rows.append(("get after touch interval", touched))
        rows.append(("end (logout)", lambda i: store.end(tokens[i])))
        # the absolute timeout is out of the way: one session is used for a long time
        print(f"{'backend':<12}{'operation':<28}{'median ms':>10}{'p95 ms':>10}")
        for name, step in rows:
            median, p95 = _timed(args.n, step)
            print(f"{backend:<12}{name:<28}{median:>10.3f}{p95:>10.3f}")
        sv.close_database(engine)


if __name__ == "__main__":
    main()
