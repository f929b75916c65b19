"""Load test of the web API: concurrent simulated raters submitting forms.

Usage::

    python benchmarks/load_web.py [--engine sqlite|postgresql|both] [--raters 50]
                                  [--seconds 60] [--participants 300] [--retry-share 0.05]
                                  [--think 2.0] [--workers 1]

For each engine it builds an Oslo trial (SQLite file in a temporary folder, or a throw-away
PostgreSQL database on 127.0.0.1 that is dropped afterwards), adds one independent-rater
account per simulated rater and screens ``--participants`` participants. It starts
``remit.web`` under uvicorn in a separate process on a free port of 127.0.0.1 (loopback only)
(``--workers`` uvicorn worker processes; more than one needs PostgreSQL: the workers share
nothing but the database) and runs ``--raters`` concurrent clients for ``--seconds`` seconds:
each logs in once
(``POST /api/v1/auth/login``) and then submits MADRS and self-report forms
(``POST /api/v1/assessments`` with an ``Idempotency-Key``), waiting ``--think`` seconds on
average between two forms (0: as fast as the server answers, to find its capacity); a
share of submissions is sent twice with the same key (a client retry). The run is bounded by
time and by the forms the participants have (each form can be entered once).

It prints the machine and its load, throughput, p50/p95/p99 latency, errors, and checks in
the database that every acknowledged submission (201) is stored exactly once, under the id it
was acknowledged with, that retries returned the same id, and that the audit chain verifies
(``remit audit verify``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from remit.simulate.plan import eligible_checklist

PASSWORD = "correct horse battery staple"
POSTGRES_ADMIN = os.environ.get(
    "REMIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
VISITS = ("V3", "V13", "FU7")
#: Forms a rater may enter at those visits: MADRS and the self-reports.
SCALES = ("madrs", "sds", "gad7", "isi", "pcl5", "bdi2")


@dataclass
class Figures:
    """What one run measured."""

    engine: str
    raters: int
    seconds: float
    think: float = 0.0
    workers: int = 1
    requests: int = 0
    acknowledged: int = 0
    retries: int = 0
    retries_same_id: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    ran_out_of_forms: bool = False
    stored: int = 0
    stored_once: bool = False
    ids_match: bool = False
    audit_ok: bool = False
    #: CPU seconds (user + system) the server's processes spent in the timed phase (Linux).
    server_cpu_s: float | None = None

    def line(self) -> str:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.array([np.nan])
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        errors = sum(self.errors.values())
        return (
            f"{self.engine:10s} workers={self.workers} raters={self.raters} think={self.think:g}s "
            f"time={self.seconds:.1f}s "
            f"requests={self.requests} ({self.requests / self.seconds:.1f}/s) "
            f"acknowledged={self.acknowledged} ({self.acknowledged / self.seconds:.1f} forms/s) "
            f"p50={p50:.1f}ms p95={p95:.1f}ms p99={p99:.1f}ms errors={errors} "
            f"{dict(self.errors) if errors else ''}"
            f"retries={self.retries} same-id={self.retries_same_id} "
            f"stored={self.stored} stored-once={self.stored_once} ids-match={self.ids_match} "
            f"audit-verified={self.audit_ok} "
            + (
                f"server-cpu={self.server_cpu_s:.1f}s "
                f"({1000 * self.server_cpu_s / max(self.requests, 1):.1f} ms/request)"
                if self.server_cpu_s is not None
                else "server-cpu=?"
            )
            + (" (ran out of forms)" if self.ran_out_of_forms else "")
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


#: Checklist answers that pass every Oslo criterion not read from a form.
ELIGIBLE: dict[str, object] = eligible_checklist()
#: How long before today the walked participants were referred: their last visit (FU7) is past.
REFERRED_DAYS_AGO = 400
#: The day each visit took place (the same for every walked participant), set by :func:`walk`.
VISIT_DAYS: dict[str, str] = {}


def walk(engine: object, actor: object, pid: str) -> None:
    """Take ``pid`` through the whole Oslo schedule as a site does, so that every form of
    :data:`VISITS` may be entered: consent and referral :data:`REFERRED_DAYS_AGO` days ago,
    every visit on its target day, the screening C-SSRS (no suicidality), the eligibility
    check and the enrolment at V0. Records the visit days in :data:`VISIT_DAYS`."""
    from remit import services as sv
    from remit.scales import load_scale

    referral = datetime.now(UTC).date() - timedelta(days=REFERRED_DAYS_AGO)
    morning = datetime.combine(referral, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
    sv.record_consent(engine, actor, pid, version="1.0", components=["main"], consented_at=morning)
    sv.set_anchor_date(engine, actor, pid, "referral", referral)
    for visit in [v.visit_code for v in sv.list_visits(engine, actor, pid)]:
        planned = {v.visit_code: v for v in sv.list_visits(engine, actor, pid)}[visit]
        day = planned.target_date
        if day is None:
            raise RuntimeError(f"{pid} {visit} has no target date")
        sv.record_visit(engine, actor, pid, visit, day)
        VISIT_DAYS[visit] = day.isoformat()
        if visit == "SCR":
            calm = {
                item.code: False
                for item in load_scale("cssrs").items_for("baseline")
                if item.kind == "boolean" and item.skip_when is None
            }
            sv.record_assessment(
                engine, actor, pid, "SCR", "cssrs", calm, version="baseline",
                assessed_at=assessed_at("SCR"),
            )  # fmt: skip
            sv.check_eligibility(engine, actor, pid, ELIGIBLE)
        if visit == "V0":
            sv.enrol(engine, actor, pid, enrolled_at=assessed_at("V0"))


def assessed_at(visit: str) -> datetime:
    """10:00 UTC on the day ``visit`` took place (after :func:`walk`)."""
    return datetime.fromisoformat(VISIT_DAYS[visit]).replace(hour=10, tzinfo=UTC)


def form_body(pid: str, visit: str, scale: str, answers: dict[str, object]) -> dict[str, object]:
    """The JSON body of ``POST /api/v1/assessments`` for a form of a walked participant."""
    return {"participant_id": pid, "visit_code": visit, "scale": scale, "answers": answers,
            "assessed_at": assessed_at(visit).isoformat()}  # fmt: skip


def seed(url: str, raters: int, participants: int) -> list[str]:
    """Create the trial, the rater accounts and the participants (walked through the
    schedule, :func:`walk`); return the study IDs."""
    from remit import services as sv
    from remit.protocol import load_protocol
    from remit.store import Actor, make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    protocol = load_protocol("oslo-mdma-mdd")
    trial = sv.create_trial(
        engine, protocol, sites=["OST"], admin_username="ada", admin_password=PASSWORD
    )
    admin = Actor(trial.admin.id, "ada", "admin", None)
    for i in range(raters):
        sv.add_user(
            engine, admin, f"rater{i:03d}", PASSWORD, [("independent_rater", None)],
            must_change_password=False,  # simulated raters: no person logs in with it
        )  # fmt: skip
    kari = sv.add_user(engine, admin, "kari-seed", PASSWORD, [("investigator", "OST")])
    investigator = Actor(kari.id, "kari-seed", "investigator", 1)
    ids = [
        sv.screen_participant(engine, investigator, site="OST", simulated=True).participant_id
        for _ in range(participants)
    ]
    for pid in ids:
        walk(engine, investigator, pid)
    engine.dispose()
    return ids


def form_slots(ids: list[str], rng: random.Random) -> list[tuple[str, str, str]]:
    slots = [(pid, visit, scale) for pid in ids for visit in VISITS for scale in SCALES]
    rng.shuffle(slots)
    return slots


def answers(scale: str, rng: random.Random) -> dict[str, object]:
    from remit.scales import load_scale

    out: dict[str, object] = {}
    for item in load_scale(scale).items:
        if item.kind == "integer" and item.min is not None and item.max is not None:
            out[item.code] = rng.randint(int(item.min), int(item.max))
        elif item.kind == "number" and item.min is not None and item.max is not None:
            out[item.code] = round(rng.uniform(item.min, item.max), 1)
        elif item.kind == "boolean":
            out[item.code] = False
        elif item.kind == "choice" and item.options:
            out[item.code] = next(iter(item.options))
    return out


class Server:
    """``remit.web`` under uvicorn in its own process on 127.0.0.1."""

    def __init__(self, url: str, folder: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, REMIT_DATABASE_URL=url, REMIT_SECRET_KEY="load-test")
        self.log = (folder / "server.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "remit.web.app:app_from_environment", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             "--no-access-log", "--workers", str(workers)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def __enter__(self) -> Server:
        ceiling = 120  # generous: a busy machine starts the server slowly; this only ends a hang
        deadline = time.monotonic() + ceiling
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server stopped; see {self.log.name}")
            try:
                if httpx.get(f"{self.base}/login", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(
            f"the server did not answer GET {self.base}/login within {ceiling} s "
            f"(the ceiling of the wait; the machine may be overloaded); see {self.log.name}"
        )

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


async def log_in(base: str, number: int) -> str:
    """The bearer token of rater ``number`` (logins happen before the timed phase)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"username": f"rater{number:03d}", "password": PASSWORD}
        )
        login.raise_for_status()
        token: str = login.json()["token"]
        return token


async def rater(
    number: int,
    token: str,
    base: str,
    slots: list[tuple[str, str, str]],
    until: float,
    figures: Figures,
    acked: dict[str, int],
    retry_share: float,
    think: float,
) -> None:
    rng = random.Random(number)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        while time.monotonic() < until:
            if think > 0:
                await asyncio.sleep(min(rng.expovariate(1 / think), until - time.monotonic()))
                if time.monotonic() >= until:
                    return
            if not slots:
                figures.ran_out_of_forms = True
                return
            pid, visit, scale = slots.pop()
            key = f"load-{uuid.uuid4().hex}"
            body = form_body(pid, visit, scale, answers(scale, rng))
            sends = 2 if rng.random() < retry_share else 1
            first_id = None
            for attempt in range(sends):
                started = time.perf_counter()
                try:
                    response = await client.post(
                        "/api/v1/assessments", json=body, headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError as error:
                    figures.errors[type(error).__name__] = (
                        figures.errors.get(type(error).__name__, 0) + 1
                    )
                    continue
                figures.latencies_ms.append((time.perf_counter() - started) * 1000)
                figures.requests += 1
                if response.status_code != 201:
                    label = f"HTTP {response.status_code}"
                    figures.errors[label] = figures.errors.get(label, 0) + 1
                    continue
                record_id = response.json()["id"]
                if attempt == 0:
                    first_id = record_id
                    acked[key] = record_id
                    figures.acknowledged += 1
                else:
                    figures.retries += 1
                    figures.retries_same_id += int(record_id == first_id)


def check_stored(url: str, acked: dict[str, int], figures: Figures) -> None:
    """Every acknowledged key stored once, under the acknowledged id."""
    from sqlalchemy import func, select

    from remit.store import make_engine
    from remit.store.tables import Assessment

    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Assessment.idempotency_key, Assessment.id).where(
                Assessment.idempotency_key.like("load-%")
            )
        ).all()
        figures.stored = int(
            connection.execute(
                select(func.count())
                .select_from(Assessment)
                .where(Assessment.idempotency_key.like("load-%"))  # not the seeded forms
            ).scalar_one()
        )
    engine.dispose()
    by_key: dict[str, list[int]] = {}
    for key, record_id in rows:
        by_key.setdefault(key, []).append(record_id)
    figures.stored_once = all(len(by_key.get(key, [])) == 1 for key in acked) and all(
        len(ids) == 1 for ids in by_key.values()
    )
    figures.ids_match = all(
        by_key.get(key, [None])[0] == record_id for key, record_id in acked.items()
    )


def run(engine_name: str, args: argparse.Namespace) -> Figures:
    folder = Path(tempfile.mkdtemp(prefix="remit-load-"))
    with database(engine_name, folder) as url:
        started = time.monotonic()
        ids = seed(url, args.raters, args.participants)
        print(f"{engine_name}: seeded {len(ids)} participants and {args.raters} raters "
              f"in {time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
        slots = form_slots(ids, random.Random(1))
        figures = Figures(
            engine=engine_name,
            raters=args.raters,
            seconds=args.seconds,
            think=args.think,
            workers=args.workers,
        )
        acked: dict[str, int] = {}
        with Server(url, folder, args.workers) as server:

            async def main() -> float:
                tokens = await asyncio.gather(*(log_in(server.base, i) for i in range(args.raters)))
                cpu_before = cpu_seconds(server.process.pid)
                began = time.monotonic()
                until = began + args.seconds
                await asyncio.gather(
                    *(
                        rater(i, tokens[i], server.base, slots, until, figures, acked,
                              args.retry_share, args.think)
                        for i in range(args.raters)
                    )
                )  # fmt: skip
                cpu_after = cpu_seconds(server.process.pid)
                if cpu_before is not None and cpu_after is not None:
                    figures.server_cpu_s = cpu_after - cpu_before
                return time.monotonic() - began

            figures.seconds = asyncio.run(main())
        check_stored(url, acked, figures)
        figures.audit_ok = audit_verified(url)
    shutil.rmtree(folder, ignore_errors=True)
    return figures


class database:  # noqa: N801 - used as a context manager like a function
    """A fresh database URL for one run (removed afterwards)."""

    def __init__(self, engine_name: str, folder: Path) -> None:
        self.engine_name = engine_name
        self.folder = folder
        self.name = f"remit_load_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        if self.engine_name == "sqlite":
            return str(self.folder / "load.db")
        import psycopg
        from sqlalchemy.engine import make_url

        admin = make_url(POSTGRES_ADMIN)
        self.conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')
        return admin.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        if self.engine_name == "postgresql":
            import psycopg

            with psycopg.connect(self.conninfo, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, seconds) of process ``pid`` and its live descendants (the
    uvicorn workers), from ``/proc``; ``None`` where there is no ``/proc`` (not Linux).

    CPU per request is what a loaded machine distorts least: wall-clock figures of a machine
    shared with other work say more about the other work."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    try:
        while todo:
            current = todo.pop()
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()  # fields from the 3rd (state)
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(child) for child in children.read().split()]
    except (OSError, ValueError, IndexError):
        return None
    return total


def audit_verified(url: str) -> bool:
    """Whether ``remit audit verify`` passes on the database (the server's default key)."""
    remit = Path(sys.executable).with_name("remit")
    done = subprocess.run(
        [str(remit), "audit", "verify", "--db", url], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print((done.stdout + done.stderr).strip()[-400:], flush=True)
    return done.returncode == 0


def print_machine() -> None:
    """Machine, cores, load average and versions (as the reliability battery prints them)."""
    import battery  # here, not at the top: battery imports this module

    battery.print_environment()


def engines(choice: str) -> Iterator[str]:
    yield from (("sqlite", "postgresql") if choice == "both" else (choice,))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--retry-share", type=float, default=0.05)
    parser.add_argument(
        "--think",
        type=float,
        default=2.0,
        help="mean seconds a rater spends between submissions (exponential; 0: none)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (>1: PostgreSQL only)"
    )
    args = parser.parse_args()
    if not (1 <= args.raters <= 200 and 1 <= args.seconds <= 600):
        parser.error("keep --raters within 1..200 and --seconds within 1..600")
    if not 1 <= args.workers <= 8:
        parser.error("keep --workers within 1..8")
    if args.workers > 1 and args.engine != "postgresql":
        parser.error("--workers above 1 needs --engine postgresql (SQLite has one writer)")
    print_machine()
    results = [run(name, args) for name in engines(args.engine)]
    print()
    print_machine()
    for figures in results:
        print(figures.line())
    ok = all(
        f.stored_once
        and f.ids_match
        and f.audit_ok
        and not f.errors
        and f.retries == f.retries_same_id
        for f in results
    )
    print("every acknowledged submission stored once:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
