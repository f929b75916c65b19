"""Crash battery: ``remit serve`` killed with SIGKILL again and again during API submissions.

Usage::

    python benchmarks/bench_crash.py [--engine sqlite|postgresql|both] [--submissions 1080]
                                     [--kills 16] [--clients 8] [--seed 1] [--keep]

For each engine it builds an Oslo trial (a fresh SQLite file, or a throw-away PostgreSQL
database on ``$REMIT_TEST_POSTGRES_URL``) with its own audit key ring, one independent-rater
account per client and enough consented participants for ``--submissions`` forms, then starts
``remit serve`` as a separate process. ``--clients`` concurrent API clients log in and submit
every form once (``POST /api/v1/assessments`` with an ``Idempotency-Key``); a client that
gets a connection error (or a 5xx) sends the same form again with the same key, and logs in
again when a restart ended its token. The driver draws ``--kills`` kill points at random over
the run (by acknowledged submissions, plus a random delay of up to 0.3 s so a kill lands
anywhere in a request), SIGKILLs the server there and starts it again.

At the end (server stopped) it counts: acknowledged submissions (201) that are not stored
under the id they were acknowledged with, duplicates (forms stored more than once), rows of
audited tables without their audit row, SQLite's ``PRAGMA integrity_check``, and runs
``remit audit verify`` (keyed chain and every stored value explained by the trail). It prints
the figures with the machine and its load; exit 1 if a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import battery
import httpx

FORMS_PER_PARTICIPANT = len(battery.VISITS) * len(battery.SCALES)


@dataclass
class CrashFigures:
    """What one run measured."""

    engine: str
    submissions: int
    clients: int
    kills: int = 0
    in_flight_at_kills: int = 0
    acknowledged: int = 0
    acknowledged_lost: int = 0
    duplicates: int = 0
    stored: int = 0
    connection_errors_retried: int = 0
    server_errors_retried: int = 0
    acknowledged_after_retry: int = 0
    relogins: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    rows_without_audit: int = 0
    integrity_check: str = "n/a"
    audit_verify: str = ""
    audit_ok: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.acknowledged == self.submissions == self.stored
            and self.acknowledged_lost == 0
            and self.duplicates == 0
            and not self.refused
            and self.rows_without_audit == 0
            and self.integrity_check in ("ok", "n/a")
            and self.audit_ok
        )

    def summary(self) -> str:
        return "\n".join(f"{k:>26}: {v}" for k, v in {**asdict(self), "ok": self.ok}.items())


def participants_for(submissions: int) -> int:
    """Participants needed for ``submissions`` forms (each has one slot per visit × scale).

    >>> participants_for(1080), participants_for(1081)
    (60, 61)
    """
    return -(-submissions // FORMS_PER_PARTICIPANT)


def kill_points(submissions: int, kills: int, rng: random.Random) -> list[int]:
    """``kills`` distinct acknowledged-submission counts in ``1..submissions-1``, ascending,
    at which the server is killed.

    >>> kill_points(100, 3, random.Random(1))
    [18, 73, 98]
    """
    if kills >= submissions:
        raise ValueError(f"{kills} kills need more than {kills} submissions")
    return sorted(rng.sample(range(1, submissions), kills))


class Run:
    """The clients and the killer of one run."""

    def __init__(self, server: battery.RemitServer, figures: CrashFigures, seed: int) -> None:
        self.server = server
        self.figures = figures
        self.rng = random.Random(seed)
        self.acked: dict[str, int] = {}
        self.in_flight = 0
        self.server_up = asyncio.Event()
        self.server_up.set()

    async def client(self, number: int, slots: list[tuple[str, str, str, str]]) -> None:
        rng = random.Random(number)
        user = battery.rater_name(number)
        async with httpx.AsyncClient(base_url=self.server.base, timeout=60) as http:
            token = await self.login(http, user)
            while slots:
                key, pid, visit, scale = slots.pop()
                retried = False
                body = battery.form_body(pid, visit, scale, battery.answers(scale, rng))
                while True:
                    await self.server_up.wait()
                    self.in_flight += 1
                    try:
                        response = await http.post(
                            "/api/v1/assessments",
                            json=body,
                            headers={"Idempotency-Key": key, "Authorization": f"Bearer {token}"},
                        )
                    except httpx.TransportError:
                        self.figures.connection_errors_retried += 1
                        retried = True
                        await asyncio.sleep(0.1)
                        continue  # the same form with the same key
                    finally:
                        self.in_flight -= 1
                    if response.status_code == 401:  # a restart ended the token
                        token = await self.login(http, user)
                        self.figures.relogins += 1
                        continue
                    if response.status_code >= 500:
                        self.figures.server_errors_retried += 1
                        retried = True
                        await asyncio.sleep(0.1)
                        continue
                    if response.status_code == 201:
                        self.acked[key] = int(response.json()["id"])
                        self.figures.acknowledged += 1
                        self.figures.acknowledged_after_retry += retried
                    else:
                        label = f"HTTP {response.status_code}: {response.text[:200]}"
                        self.figures.refused[label] = self.figures.refused.get(label, 0) + 1
                    break

    async def login(self, http: httpx.AsyncClient, user: str) -> str:
        while True:
            await self.server_up.wait()
            try:
                response = await http.post(
                    "/api/v1/auth/login", json={"username": user, "password": battery.PASSWORD}
                )
            except httpx.TransportError:
                await asyncio.sleep(0.1)
                continue
            if response.status_code == 200:
                token: str = response.json()["token"]
                return token
            if response.status_code >= 500:
                await asyncio.sleep(0.1)
                continue
            raise RuntimeError(f"login of {user} answered {response.status_code}: {response.text}")

    async def killer(self, points: list[int], clients: list[asyncio.Task[None]]) -> None:
        for point in points:
            while self.figures.acknowledged < point:
                if all(task.done() for task in clients):
                    return
                await asyncio.sleep(0.005)
            await asyncio.sleep(self.rng.uniform(0, 0.3))
            self.figures.in_flight_at_kills += self.in_flight
            self.server_up.clear()  # clients wait for the restart instead of polling
            self.server.kill()
            self.figures.kills += 1
            await asyncio.to_thread(self.server.start)
            self.server_up.set()


async def drive(run: Run, slots: list[tuple[str, str, str, str]], points: list[int]) -> None:
    clients = [asyncio.create_task(run.client(i, slots)) for i in range(run.figures.clients)]
    killer = asyncio.create_task(run.killer(points, clients))
    await asyncio.gather(*clients)
    await killer


def check_stored(db: battery.ThrowAwayDatabase, run: Run, planned: dict[str, tuple]) -> None:
    from sqlalchemy import select

    from remit.store.tables import Assessment, Participant, Visit

    engine = db.engine()
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Assessment.id, Participant.study_id, Visit.visit_code, Assessment.scale)
                .join(Participant, Participant.id == Assessment.participant_id)
                .join(Visit, Visit.id == Assessment.visit_id)
                .where(Visit.visit_code.in_(battery.VISITS))  # not the seeded screening forms
            ).all()
            total = len(rows)
    finally:
        engine.dispose()
    stored = {row[0]: tuple(row[1:]) for row in rows}
    figures = run.figures
    figures.stored = int(total)
    figures.acknowledged_lost = sum(
        1 for key, record_id in run.acked.items() if stored.get(record_id) != planned[key]
    )
    figures.duplicates = int(total) - len(set(stored.values()))


def run_engine(engine_name: str, args: argparse.Namespace) -> CrashFigures:
    folder = Path(tempfile.mkdtemp(prefix=f"remit-crash-{engine_name}-"))
    figures = CrashFigures(engine=engine_name, submissions=args.submissions, clients=args.clients)
    with battery.ThrowAwayDatabase(engine_name, folder) as db:
        if engine_name == "postgresql":
            print(f"postgresql: {battery.postgres_version(db.url)}", flush=True)
        started = time.monotonic()
        ids = battery.seed(db, args.clients, participants_for(args.submissions))
        print(f"{engine_name}: seeded {len(ids)} participants and {args.clients} raters in "
              f"{time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
        slots = battery.form_slots(ids, random.Random(args.seed))[: args.submissions]
        keyed = [(f"crash-{n:05d}", *slot) for n, slot in enumerate(slots)]
        planned = {key: (pid, visit, scale) for key, pid, visit, scale in keyed}
        points = kill_points(args.submissions, args.kills, random.Random(args.seed))
        server = battery.RemitServer(db, folder / "server.log")
        run = Run(server, figures, args.seed)
        with server:
            began = time.monotonic()
            asyncio.run(drive(run, list(reversed(keyed)), points))
            figures.seconds = round(time.monotonic() - began, 1)
        check_stored(db, run, planned)
        figures.rows_without_audit = battery.rows_without_audit(db)
        if engine_name == "sqlite":
            figures.integrity_check = battery.sqlite_integrity(db.url)
        verdict = battery.audit_verify(db)
        figures.audit_verify, figures.audit_ok = verdict.line(), verdict.ok
    print(figures.summary(), flush=True)
    battery.keep_or_remove(folder, args.keep)
    if args.keep:
        print(f"{'work directory':>26}: {folder}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--submissions", type=int, default=1080, help="forms to submit")
    parser.add_argument("--kills", type=int, default=16, help="SIGKILLs of remit serve")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--seed", type=int, default=1, help="seed of the forms and kill points")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (SQLite)")
    args = parser.parse_args()
    if not (1 <= args.clients <= 64 and 0 <= args.kills < args.submissions <= 20000):
        parser.error("keep --clients within 1..64 and 0 <= --kills < --submissions <= 20000")
    battery.print_environment()
    print(f"sizes: {args.submissions} submissions, {args.kills} kills, {args.clients} clients, "
          f"seed {args.seed}", flush=True)  # fmt: skip
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    results = [run_engine(name, args) for name in engines]
    print("load average after the run (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(
        *battery.os.getloadavg()))  # fmt: skip
    return 0 if all(f.ok for f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
