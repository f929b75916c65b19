"""Time :func:`remit.services.worklist` per user of a trial database.

Run:  .venv/bin/python benchmarks/bench_worklist.py DB [--today 2023-06-01] [--repeat 3]

``DB`` is a SQLite path or database URL, e.g. the demo's (``remit demo --out DIR`` makes
``DIR/trial.db``). Prints, per user (in the first role they hold), the number of items, the
number of SQL statements the call ran and its best wall time over ``--repeat`` runs. The
statement count must not grow with the number of participants and visits; the figure is only
meaningful when nothing else competes for the cores.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from remit import services as sv
from remit.store.tables import Participant, UserAccount, Visit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", help="SQLite path or database URL")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--repeat", type=int, default=3, help="runs per user (best is shown)")
    args = parser.parse_args()
    engine = sv.open_database(args.db)
    try:
        with Session(engine) as session:
            users = list(session.scalars(select(UserAccount.username).order_by(UserAccount.id)))
            people = len(session.scalars(select(Participant.id)).all())
            visits = len(session.scalars(select(Visit.id)).all())
        print(f"{args.db}: {people} participants, {visits} visits")
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(str(a[2])))
        for username in users:
            actor = next(iter(sv.actors_for(engine, username).values()))
            best = float("inf")
            for _ in range(args.repeat):
                statements.clear()
                start = time.perf_counter()
                found = sv.worklist(engine, actor, today=args.today)
                best = min(best, time.perf_counter() - start)
            print(
                f"{username:>10} ({actor.role}): {len(found.items):5d} items, "
                f"{len(statements):3d} statements, {best * 1000:7.1f} ms"
            )
    finally:
        sv.close_database(engine)


if __name__ == "__main__":
    main()
