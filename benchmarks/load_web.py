"""Load test of the web API: concurrent simulated raters submitting forms.

Usage::

    python benchmarks/load_web.py [--engine sqlite|postgresql|both] [--raters 50]
                                  [--seconds 60] [--participants 300] [--retry-share 0.05]
                                  [--think 2.0] [--workers 1]
                                  [--seed-cache DIR | --fresh-seed]

For each engine it builds an Oslo trial (SQLite file in a temporary folder, or a throw-away
PostgreSQL database on 127.0.0.1 that is dropped afterwards), adds one independent-rater
account per simulated rater and screens ``--participants`` participants, each walked through
the whole schedule by the services (:func:`seed`). Seeding is paid once a day per engine:
the seeded database is kept (:class:`SeedCache`, in ``--seed-cache``, default
``~/.cache/remit-load-web``; a PostgreSQL seed is a template database) for today and for this
very code, and later runs copy it; ``--fresh-seed`` seeds afresh and keeps nothing. The rater
accounts share one argon2id hash made with the production parameters, so seeding does not
hash 50 times, while every login still costs the server a full verification.

It starts ``remit.web`` under uvicorn in a separate process on a free port of 127.0.0.1
(loopback only) (``--workers`` uvicorn worker processes; more than one needs PostgreSQL: the
workers share nothing but the database), logs each rater in through the API
(``POST /api/v1/auth/login``, a few at a time, before the timed phase) and runs ``--raters``
concurrent clients for ``--seconds`` seconds: each submits MADRS and self-report forms
(``POST /api/v1/assessments`` with an ``Idempotency-Key``), waiting ``--think`` seconds on
average between two forms (0: as fast as the server answers, to find its capacity); a
share of submissions is sent twice with the same key (a client retry). The run is bounded by
time and by the forms the participants have (each form can be entered once).

The clients run on the same cores as the server, so they are kept lean: aiohttp (an eighth
of httpx's CPU per request), one keep-alive HTTP/1.1 connection per rater, no cookie jar.
Each latency runs from sending a request to reading its whole response.

It prints the machine and its load, throughput, p50/p95/p99 latency, errors by kind, the CPU
per request of the server's processes and of this load generator (over the timed phase) and,
on PostgreSQL, of the database's backends (:class:`DatabaseCpu`); the whole machine's CPU
split per form (server, database, client, other work, idle: :meth:`Figures.split`); on
PostgreSQL the database's counters per form (commits, rows, WAL, fsyncs) and what its
backends were doing (waiting for the audit chain's lock, for the WAL, for the server:
:class:`WaitSampler`),
and checks in the database that every acknowledged submission (201) is stored exactly once,
under the id it was acknowledged with, that retries returned the same id, and that the audit
chain verifies (``remit audit verify``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np

from remit.simulate.plan import eligible_checklist

if TYPE_CHECKING:
    import aiohttp
    from sqlalchemy import Engine

    from remit.store import Actor

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
    #: CPU seconds (user + system) this load generator spent in the timed phase: taken from
    #: the same cores as the server's, so it is printed beside it.
    client_cpu_s: float | None = None
    #: CPU seconds of the PostgreSQL backends serving the benchmark's database (None on
    #: SQLite: its work is done inside the server's processes), and of the cluster's shared
    #: background processes (WAL writer, checkpointer, background writer, autovacuum).
    database_cpu_s: float | None = None
    database_shared_cpu_s: float | None = None
    #: The whole machine over the timed phase (``/proc/stat``): busy and idle CPU seconds.
    machine: MachineCpu | None = None
    #: The database's own counters over the timed phase (PostgreSQL): commits, rows
    #: inserted, WAL records, bytes, full-page images and fsyncs (:class:`DatabaseCounters`).
    counters: dict[str, float] = field(default_factory=dict)
    #: What the database's backends were doing (:meth:`WaitSampler.averages`).
    waits: str = ""

    def cpu(self, who: str, seconds: float | None) -> str:
        """``who-cpu=…s (… ms/request)``; ``?`` where it could not be measured.

        >>> Figures("sqlite", 50, 10.0, requests=4000).cpu("client", 0.8)
        'client-cpu=0.8s (0.20 ms/request)'
        >>> Figures("sqlite", 50, 10.0).cpu("server", None)
        'server-cpu=?'
        """
        if seconds is None:
            return f"{who}-cpu=?"
        return f"{who}-cpu={seconds:.1f}s ({1000 * seconds / max(self.requests, 1):.2f} ms/request)"

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
            f"{self.cpu('server', self.server_cpu_s)} "
            + (
                f"{self.cpu('database', self.database_cpu_s)} "
                f"{self.cpu('database-shared', self.database_shared_cpu_s)} "
                if self.engine == "postgresql"
                else ""
            )
            + f"{self.cpu('client', self.client_cpu_s)}"
            + (" (ran out of forms)" if self.ran_out_of_forms else "")
        )

    def split(self) -> str:
        """Where the machine's CPU went in the timed phase, per acknowledged form and as a
        share of all the cores' time: server workers, database, client, the rest of the
        machine (other work, the kernel's share not charged to a process) and idle.

        >>> f = Figures("postgresql", 50, 10.0, requests=1000, acknowledged=1000)
        >>> f.server_cpu_s, f.database_cpu_s, f.database_shared_cpu_s = 8.0, 4.0, 1.0
        >>> f.client_cpu_s, f.machine = 1.0, MachineCpu(busy_s=16.0, idle_s=4.0)
        >>> print(f.split())
        CPU per form (ms) and share of 2 cores x 10.0 s: server 8.00 (40%) database 4.00 (20%) ...
        >>> f.split().endswith("client 1.00 (5%) other 2.00 (10%) idle 4.00 (20%)")
        True
        """
        if self.machine is None:
            return "CPU split: ? (no /proc/stat)"
        total = self.machine.busy_s + self.machine.idle_s
        forms = max(self.acknowledged, 1)
        parts = [
            ("server", self.server_cpu_s),
            ("database", self.database_cpu_s),
            ("database-shared", self.database_shared_cpu_s),
            ("client", self.client_cpu_s),
        ]
        known = sum(seconds for _, seconds in parts if seconds is not None)
        parts += [("other", self.machine.busy_s - known), ("idle", self.machine.idle_s)]
        cores = round(total / self.seconds) if self.seconds > 0 else 0
        shown = " ".join(
            f"{who} {1000 * seconds / forms:.2f} ({100 * seconds / total:.0f}%)"
            for who, seconds in parts
            if seconds is not None
        )
        return f"CPU per form (ms) and share of {cores} cores x {self.seconds:.1f} s: {shown}"

    def database_line(self) -> str:
        """The database's counters per acknowledged form (PostgreSQL; WAL figures are the
        whole cluster's: other databases' writes in the same seconds are counted too).

        >>> f = Figures("postgresql", 50, 10.0, acknowledged=100)
        >>> f.counters = {"commits": 210.0, "wal_bytes": 1_000_000.0, "wal_sync": 50.0}
        >>> f.database_line()
        'database per form: commits 2.10 wal_bytes 10000.00 wal_sync 0.50'
        """
        forms = max(self.acknowledged, 1)
        shown = " ".join(f"{name} {value / forms:.2f}" for name, value in self.counters.items())
        return f"database per form: {shown}"


@dataclass(frozen=True)
class MachineCpu:
    """CPU seconds of all the machine's cores in an interval: busy (user, nice, system, irq,
    softirq, steal) and idle (idle, iowait)."""

    busy_s: float
    idle_s: float

    def __sub__(self, other: MachineCpu) -> MachineCpu:
        return MachineCpu(self.busy_s - other.busy_s, self.idle_s - other.idle_s)


def machine_cpu() -> MachineCpu | None:
    """The machine's CPU seconds since boot (``/proc/stat``); ``None`` where there is none."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return MachineCpu(
        busy_s=(user + nice + system + irq + softirq + steal) / tick, idle_s=(idle + iowait) / tick
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
    planned = {v.visit_code: v.target_date for v in sv.list_visits(engine, actor, pid)}
    for visit in list(planned):
        if planned[visit] is None:  # its anchor took place since the schedule was read
            planned = {v.visit_code: v.target_date for v in sv.list_visits(engine, actor, pid)}
        day = planned[visit]
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
    add_raters(engine, admin, raters)
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


def rater_password_hash() -> str:
    """An argon2id hash of :data:`PASSWORD` made with the production parameters (64 MiB,
    t=3, p=4), so that every login of the timed phase costs the server what a real login
    costs."""
    from argon2 import PasswordHasher

    from remit.store.users import PRODUCTION_HASH_PARAMETERS

    return PasswordHasher.from_parameters(PRODUCTION_HASH_PARAMETERS).hash(PASSWORD)


def add_raters(engine: Engine, admin: Actor, raters: int) -> None:
    """Add the independent-rater accounts ``rater000``… (password :data:`PASSWORD`), each in
    its own audited ``add_user`` unit of work, as :func:`remit.services.add_demo_user` adds a
    demo login.

    They share one production-strength hash, made once (:func:`rater_password_hash`): hashing
    the password anew for each account (what :func:`remit.services.add_user` does, rightly,
    for real users) cost a third of a second and 64 MiB per rater. The store refuses a
    precomputed hash weaker than the production one, and the raters still log in through
    ``POST /api/v1/auth/login`` with a full argon2id verification each."""
    from remit.services.unit import writing
    from remit.store.users import add_user_with_hash

    password_hash = rater_password_hash()
    for i in range(raters):
        with writing(engine, admin, "add_user", protocol=False, locks=False) as w:
            add_user_with_hash(
                w.uow, f"rater{i:03d}", password_hash, [("independent_rater", None)],
                must_change_password=False,  # simulated raters: no person logs in with it
            )  # fmt: skip


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
            [sys.executable, "-m", "uvicorn",
             os.environ.get("REMIT_X_FACTORY", "remit.web.app:app_from_environment"), "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             "--no-access-log", "--workers", str(workers),
             *os.environ.get("REMIT_X_UVICORN", "").split()],
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


#: One keep-alive HTTP/1.1 connection per simulated rater, as one browser tab has.
CONNECTIONS_PER_RATER = 1


def rater_session(base: str, token: str | None = None) -> aiohttp.ClientSession:
    """The HTTP client of one simulated rater (aiohttp: an eighth of httpx's CPU per request,
    and the client shares the cores with the server): one connection, no cookie jar (the API
    authenticates with the bearer ``token``), a 30 s ceiling per request."""
    import aiohttp

    return aiohttp.ClientSession(
        base,
        connector=aiohttp.TCPConnector(limit=CONNECTIONS_PER_RATER),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=30),
        headers={"Authorization": f"Bearer {token}"} if token else None,
    )


#: Logins at once before the timed phase (each is a 64 MiB argon2id verification; fifty at
#: once exhausted the server's connection pool on a busy 2-core machine, answering 500).
LOGINS_AT_ONCE = 4


async def log_in_all(base: str, raters: int) -> list[str]:
    """The bearer tokens of raters ``0..raters-1``, :data:`LOGINS_AT_ONCE` at a time."""
    gate = asyncio.Semaphore(LOGINS_AT_ONCE)

    async def one(number: int) -> str:
        async with gate:
            return await log_in(base, number)

    return list(await asyncio.gather(*(one(i) for i in range(raters))))


async def log_in(base: str, number: int) -> str:
    """The bearer token of rater ``number`` (logins happen before the timed phase)."""
    async with (
        rater_session(base) as session,
        session.post(
            "/api/v1/auth/login", json={"username": f"rater{number:03d}", "password": PASSWORD}
        ) as login,
    ):
        login.raise_for_status()
        token: str = (await login.json())["token"]
        return token


def count_error(figures: Figures, kind: str) -> None:
    figures.errors[kind] = figures.errors.get(kind, 0) + 1


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
    """One simulated rater: until ``until`` (monotonic clock) or the forms run out, take a
    form slot, wait ``think`` seconds on average, and submit it; a ``retry_share`` of the
    forms are sent a second time with the same ``Idempotency-Key`` (a client retry).

    Counts requests and the latency of each (from sending it to the whole body read), the
    acknowledged forms (201, their ids in ``acked`` by key), retries that got the same id,
    and errors by kind (``HTTP 409``, ``ClientConnectorError``, ``TimeoutError``…)."""
    import aiohttp

    rng = random.Random(number)
    async with rater_session(base, token) as session:
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
                    async with session.post(
                        "/api/v1/assessments", json=body, headers={"Idempotency-Key": key}
                    ) as response:
                        payload = await response.read()
                except (aiohttp.ClientError, TimeoutError) as error:
                    count_error(figures, type(error).__name__)
                    continue
                figures.latencies_ms.append((time.perf_counter() - started) * 1000)
                figures.requests += 1
                if response.status != 201:
                    count_error(figures, f"HTTP {response.status}")
                    continue
                record_id = json.loads(payload)["id"]
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
    with database(engine_name, folder) as db:
        url = db.url
        started, cpu_started = time.monotonic(), time.process_time()
        cache = None if args.fresh_seed else SeedCache(args.seed_cache, engine_name)
        ids, how = seeded(db, cache, args.raters, args.participants)
        print(f"{engine_name}: {how} {len(ids)} participants and {args.raters} raters "
              f"in {time.monotonic() - started:.1f} s "
              f"({time.process_time() - cpu_started:.1f} s CPU in this process)",
              flush=True)  # fmt: skip
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
            postgres = engine_name == "postgresql"
            watch = DatabaseCpu(db.conninfo, db.name) if postgres else None
            waits = WaitSampler(db.conninfo, db.name) if postgres else None

            async def main() -> float:
                tokens = await log_in_all(server.base, args.raters)
                database_before = watch.processes() if watch else {}
                counters_before = watch.counters() if watch else {}
                machine_before = machine_cpu()
                cpu_before = cpu_seconds(server.process.pid)
                client_before = time.process_time()
                began = time.monotonic()
                until = began + args.seconds
                with waits or contextlib.nullcontext():
                    await asyncio.gather(
                        *(
                            rater(i, tokens[i], server.base, slots, until, figures, acked,
                                  args.retry_share, args.think)
                            for i in range(args.raters)
                        )
                    )  # fmt: skip
                figures.client_cpu_s = time.process_time() - client_before
                cpu_after = cpu_seconds(server.process.pid)
                machine_after = machine_cpu()
                elapsed = time.monotonic() - began
                if cpu_before is not None and cpu_after is not None:
                    figures.server_cpu_s = cpu_after - cpu_before
                if machine_before is not None and machine_after is not None:
                    figures.machine = machine_after - machine_before
                if watch is not None:
                    # backends that ended in the phase: counted to their last sample
                    seen = {
                        pid: ("backend", cpu) for pid, cpu in (waits.seen if waits else {}).items()
                    }
                    after_all = {**seen, **watch.processes()}
                    backends, shared, lost = watch.spent(database_before, after_all)
                    figures.database_cpu_s, figures.database_shared_cpu_s = backends, shared
                    after = watch.counters()
                    figures.counters = {k: after[k] - counters_before[k] for k in after}
                    if lost:
                        print(f"{lost} database backends ended in the timed phase unseen: "
                              "their CPU is not counted", flush=True)  # fmt: skip
                if waits is not None:
                    figures.waits = waits.averages()
                return elapsed

            figures.seconds = asyncio.run(main())
        check_stored(url, acked, figures)
        figures.audit_ok = audit_verified(url)
    shutil.rmtree(folder, ignore_errors=True)
    return figures


class database:  # noqa: N801 - used as a context manager like a function
    """A fresh database for one run (removed afterwards): ``url``, a SQLite file in
    ``folder`` or a PostgreSQL database on the server of ``$REMIT_TEST_POSTGRES_URL``."""

    def __init__(self, engine_name: str, folder: Path) -> None:
        self.engine_name = engine_name
        self.folder = folder
        self.name = f"remit_load_{uuid.uuid4().hex[:10]}"
        self.url = ""
        self.conninfo = ""

    def __enter__(self) -> database:
        if self.engine_name == "sqlite":
            self.url = str(self.folder / "load.db")
            return self
        import psycopg
        from sqlalchemy.engine import make_url

        admin = make_url(POSTGRES_ADMIN)
        self.conninfo = admin_conninfo()
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')
        self.url = admin.set(database=self.name).render_as_string(hide_password=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine_name == "postgresql":
            import psycopg

            with psycopg.connect(self.conninfo, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            key_file(self.url).unlink(missing_ok=True)


def seeded(
    db: database, cache: SeedCache | None, raters: int, participants: int
) -> tuple[list[str], str]:
    """Fill ``db`` with the seeded trial (:func:`seed`), from ``cache`` when it holds one made
    today by this very code with as many raters and participants; return the study IDs and
    how they came (``seeded``, ``copied from the seed cache``)."""
    if cache is not None:
        found = cache.copy_into(db, raters, participants)
        if found is not None:
            return found, "copied from the seed cache"
    ids = seed(db.url, raters, participants)
    if cache is not None:
        cache.keep(db, raters, participants, ids)
    return ids, "seeded"


class SeedCache:
    """Seeded databases kept between runs, so that seeding (a third of a second per
    participant: every visit goes through the services) is paid once a day per engine.

    A seed is valid for the day it was made (its visit days count back from today), for the
    code that made it (:func:`code_fingerprint`: every file of the ``remit`` package and this
    script) and for its numbers of raters and participants; its name says all that. A SQLite
    seed is a file in ``folder``; a PostgreSQL seed is a template database on the server
    (``remit_load_seed_<day>_<key>``) copied with ``CREATE DATABASE … TEMPLATE``; ``folder``
    also holds, beside each, its study IDs and visit days. Seeds of earlier days are removed.
    The copy is the database a fresh seed makes: the timed phase starts from the same rows.
    """

    def __init__(self, folder: Path, engine_name: str) -> None:
        self.folder = folder
        self.engine_name = engine_name
        self.day = datetime.now(UTC).strftime("%Y%m%d")

    def name(self, raters: int, participants: int) -> str:
        digest = hashlib.sha256(f"{code_fingerprint()} {raters} {participants}".encode())
        return f"remit_load_seed_{self.day}_{digest.hexdigest()[:16]}"

    def key_file(self, db: database, name: str) -> Path:
        """The audit key ring of the seed ``name`` (the rows are chained with the key of the
        database that was seeded: each database has its own default key file)."""
        if self.engine_name == "sqlite":
            return self.folder / f"{name}.db.audit-key"
        from sqlalchemy.engine import make_url

        return key_file(make_url(db.url).set(database=name).render_as_string(False))

    def copy_into(self, db: database, raters: int, participants: int) -> list[str] | None:
        """Copy the seed into ``db`` and return its study IDs; ``None`` when there is none."""
        name = self.name(raters, participants)
        sidecar = self.folder / f"{self.engine_name}-{name}.json"
        if not sidecar.exists():
            return None
        kept = json.loads(sidecar.read_text())
        try:
            if self.engine_name == "sqlite":
                copy_sqlite(self.folder / f"{name}.db", Path(db.url))
            else:
                import psycopg

                with psycopg.connect(db.conninfo, autocommit=True) as connection:
                    connection.execute(f'DROP DATABASE "{db.name}"')
                    connection.execute(f'CREATE DATABASE "{db.name}" TEMPLATE "{name}"')
            shutil.copy2(self.key_file(db, name), key_file(db.url))
        except (OSError, sqlite3.Error, psycopg_error()) as error:
            print(f"seed cache: {name} not usable ({error}); seeding afresh", flush=True)
            if self.engine_name == "postgresql":
                import psycopg

                with psycopg.connect(db.conninfo, autocommit=True) as connection:
                    there = "SELECT 1 FROM pg_database WHERE datname = %s"
                    if connection.execute(there, (db.name,)).fetchone() is None:
                        connection.execute(f'CREATE DATABASE "{db.name}"')
            return None
        VISIT_DAYS.update(kept["visit_days"])
        ids: list[str] = kept["ids"]
        return ids

    def keep(self, db: database, raters: int, participants: int, ids: list[str]) -> None:
        """Keep the freshly seeded ``db`` (no connection open to it) as today's seed."""
        name = self.name(raters, participants)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prune()
        try:
            if self.engine_name == "sqlite":
                copy_sqlite(Path(db.url), self.folder / f"{name}.db")
            else:
                import psycopg

                with psycopg.connect(db.conninfo, autocommit=True) as connection:
                    connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{db.name}"')
            shutil.copy2(key_file(db.url), self.key_file(db, name))
        except (OSError, sqlite3.Error, psycopg_error()) as error:
            print(f"seed cache: could not keep {name} ({error})", flush=True)
            return
        sidecar = self.folder / f"{self.engine_name}-{name}.json"
        partial = sidecar.with_suffix(".partial")
        partial.write_text(json.dumps({"ids": ids, "visit_days": VISIT_DAYS}))
        partial.replace(sidecar)  # last: a seed without its sidecar is never used

    def prune(self) -> None:
        """Remove the seeds of earlier days (files, and template databases of this engine)."""
        today = f"remit_load_seed_{self.day}_"
        for old in self.folder.glob("*remit_load_seed_*"):
            if today not in old.name:
                old.unlink(missing_ok=True)
        if self.engine_name == "postgresql":
            import psycopg
            from sqlalchemy.engine import make_url

            with psycopg.connect(admin_conninfo(), autocommit=True) as connection:
                names = connection.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'remit_load_seed_%'"
                ).fetchall()
                for (old_name,) in names:
                    if not old_name.startswith(today):
                        connection.execute(f'DROP DATABASE IF EXISTS "{old_name}" WITH (FORCE)')
                        old_url = make_url(POSTGRES_ADMIN).set(database=old_name)
                        key_file(old_url.render_as_string(False)).unlink(missing_ok=True)


def key_file(url: str) -> Path:
    """The default audit key file of the database ``url`` (its rows are chained with it)."""
    from remit.store.audit_keys import default_key_file
    from remit.store.engine import database_url

    found = default_key_file(database_url(url))
    if found is None:
        raise ValueError(f"{url}: an in-memory database has no key file")
    return found


def admin_conninfo() -> str:
    """The libpq connection string of ``$REMIT_TEST_POSTGRES_URL`` (its admin database)."""
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_ADMIN).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def psycopg_error() -> type[Exception]:
    try:
        import psycopg
    except ImportError:
        return OSError
    return psycopg.Error


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to ``target`` (SQLite's online backup)."""
    if not source.exists():
        raise OSError(f"{source} is missing")
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


@functools.cache
def code_fingerprint() -> str:
    """A digest of every file of the ``remit`` package in use and of this script: any change
    to the code makes a new seed.

    >>> len(code_fingerprint())
    64
    """
    import remit

    digest = hashlib.sha256()
    package = Path(remit.__file__).parent
    for path in sorted([*package.rglob("*"), Path(__file__).resolve()]):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(path.anchor)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` from the third (the state) on: the command name in
    parentheses may hold spaces, so the line is split after its last ")". Raises ``OSError``
    where the process is gone (or there is no ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def tick_seconds(fields: list[str], first: int) -> float:
    """Two clock-tick fields of :func:`stat_fields` from ``first`` on, summed, in seconds
    (11: utime + stime; 13: cutime + cstime)."""
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, seconds) of process ``pid`` and its live descendants (the
    uvicorn workers), from ``/proc``; ``None`` where there is no ``/proc`` (not Linux).

    CPU per request is what a loaded machine distorts least: wall-clock figures of a machine
    shared with other work say more about the other work."""
    total, todo = 0.0, [pid]
    try:
        while todo:
            current = todo.pop()
            total += tick_seconds(stat_fields(current), 11)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(child) for child in children.read().split()]
    except (OSError, ValueError, IndexError):
        return None
    return total


def process_cpu(pid: int) -> float | None:
    """CPU time (user + system, seconds) of process ``pid`` alone; ``None`` when it is gone
    (or there is no ``/proc``)."""
    try:
        return tick_seconds(stat_fields(pid), 11)
    except (OSError, ValueError, IndexError):
        return None


#: The cluster's background processes, whose work (WAL writing and fsync of other
#: backends' commits, checkpoints, autovacuum) is shared by every database of the server.
SHARED_BACKENDS = (
    "walwriter", "checkpointer", "background writer", "autovacuum launcher",
    "autovacuum worker", "logical replication launcher",
)  # fmt: skip


class DatabaseCpu:
    """CPU time of the PostgreSQL processes serving one database, read from ``/proc`` for
    the process ids ``pg_stat_activity`` lists (the server runs on this machine): the client
    backends connected to ``name`` (the server workers' pools) and the cluster's shared
    background processes (:data:`SHARED_BACKENDS`; autovacuum workers of other databases
    left out). A backend that starts within the interval counts from its start; one that
    ends within it is counted up to the last time a :class:`WaitSampler` saw it (``lost``
    counts those it never saw).

    Also reads the database's counters (:data:`COUNTERS`)."""

    def __init__(self, conninfo: str, name: str) -> None:
        self.conninfo = conninfo
        self.name = name
        self.lost = 0

    def processes(self) -> dict[int, tuple[str, float]]:
        """``pid -> (kind, cpu seconds)`` of the processes serving the database now; kind is
        ``backend`` or ``shared``."""
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT pid, backend_type, datname FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid()"
            ).fetchall()
        found: dict[int, tuple[str, float]] = {}
        for pid, backend_type, datname in rows:
            if backend_type == "client backend" and datname == self.name:
                kind = "backend"
            elif backend_type in SHARED_BACKENDS and datname in (None, self.name):
                kind = "shared"
            else:
                continue
            cpu = process_cpu(pid)
            if cpu is not None:
                found[pid] = (kind, cpu)
        return found

    def counters(self) -> dict[str, float]:
        """The database's commits, rollbacks, rows inserted and connections opened
        (``pg_stat_database``), the cluster's WAL records, full-page images, bytes, writes
        and fsyncs (``pg_stat_wal``), and the CPU seconds of every backend of the cluster
        that ended so far (the postmaster's reaped children: a connection a pool opened and
        closed within the timed phase is seen nowhere else; other databases' too)."""
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            mine = connection.execute(
                "SELECT xact_commit, xact_rollback, tup_inserted, sessions "
                "FROM pg_stat_database WHERE datname = %s",
                (self.name,),
            ).fetchone() or (0, 0, 0, 0)
            wal = connection.execute(
                "SELECT wal_records, wal_fpi, wal_bytes, wal_write, wal_sync FROM pg_stat_wal"
            ).fetchone() or (0, 0, 0, 0, 0)
            postmaster = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"
            ).fetchone()
        ended = children_cpu(postmaster_of(postmaster[0])) if postmaster else None
        values = (*mine, *wal, 1000 * (ended or 0.0))
        return {name: float(value) for name, value in zip(COUNTERS, values, strict=True)}

    @staticmethod
    def spent(
        before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
    ) -> tuple[float, float, int]:
        """CPU seconds of the backends and of the shared processes between two
        :meth:`processes`, and how many processes of ``before`` were gone in ``after``.

        >>> DatabaseCpu.spent({1: ("backend", 2.0), 2: ("shared", 1.0), 3: ("backend", 5.0)},
        ...                   {1: ("backend", 3.5), 2: ("shared", 1.25), 4: ("backend", 0.5)})
        (2.0, 0.25, 1)
        """
        backends = shared = 0.0
        for pid, (kind, cpu) in after.items():
            used = cpu - before.get(pid, (kind, 0.0))[1]
            if kind == "backend":
                backends += used
            else:
                shared += used
        return backends, shared, len(set(before) - set(after))


class WaitSampler:
    """What the backends serving one database are doing, sampled every ``every`` seconds
    from ``pg_stat_activity`` in a thread of this process (its CPU counts as the client's):
    running (``active``, no wait event: on a CPU or waiting for one), waiting for a lock
    (``Lock:advisory`` is the audit chain's append lock), for the WAL (``IO:WALSync``: the
    commit's fsync), ``idle in transaction`` (waiting for the server worker's next
    statement), or ``idle`` in the pool. :meth:`averages` gives the mean number of backends
    in each state over the samples.

    It also notes each backend's CPU time at every sample (``seen``: pid → seconds), so that
    a backend that ends within the timed phase (a pool closing a connection) is counted up
    to its last sample instead of not at all (:meth:`DatabaseCpu.spent`)."""

    def __init__(self, conninfo: str, name: str, every: float = 0.1) -> None:
        import threading

        self.conninfo, self.name, self.every = conninfo, name, every
        self.counts: dict[str, int] = {}
        self.seen: dict[int, float] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wait-sampler", daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        import psycopg

        query = (
            "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            while not self._stop.wait(self.every):
                rows = connection.execute(query, (self.name,)).fetchall()
                self.samples += 1
                for pid, state, wait_type, wait in rows:
                    kind = classify_wait(state, wait_type, wait)
                    self.counts[kind] = self.counts.get(kind, 0) + 1
                    cpu = process_cpu(pid)
                    if cpu is not None:
                        self.seen[pid] = cpu

    def averages(self) -> str:
        """``state=mean backends …``, most frequent first.

        >>> w = WaitSampler("", "x")
        >>> w.samples, w.counts = 4, {"idle": 8, "running": 2, "Lock:advisory": 6}
        >>> w.averages()
        'backends (mean of 4 samples): idle=2.0 Lock:advisory=1.5 running=0.5'
        """
        shown = " ".join(
            f"{kind}={count / max(self.samples, 1):.1f}"
            for kind, count in sorted(self.counts.items(), key=lambda kv: -kv[1])
        )
        return f"backends (mean of {self.samples} samples): {shown}"


def classify_wait(state: str | None, wait_type: str | None, wait: str | None) -> str:
    """One backend's state in a :class:`WaitSampler` sample.

    >>> classify_wait("active", None, None), classify_wait("active", "Lock", "advisory")
    ('running', 'Lock:advisory')
    >>> classify_wait("idle in transaction", "Client", "ClientRead")
    'idle in transaction'
    """
    if state in ("idle", "idle in transaction"):
        return state
    if wait_type is None:
        return "running"
    return f"{wait_type}:{wait}"


#: What :meth:`DatabaseCpu.counters` reads, in order (``ended_backends_cpu_ms``: CPU
#: milliseconds of the cluster's backends that ended, :func:`children_cpu`).
COUNTERS = ("commits", "rollbacks", "rows_inserted", "connections", "wal_records", "wal_fpi",
            "wal_bytes", "wal_write", "wal_sync", "ended_backends_cpu_ms")  # fmt: skip


def postmaster_of(pid: int) -> int:
    """The parent process of ``pid`` (the postmaster of a PostgreSQL backend); ``pid`` itself
    when it cannot be read."""
    try:
        return int(stat_fields(pid)[1])
    except (OSError, ValueError, IndexError):
        return pid


def children_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of the ended children ``pid`` has reaped (``cutime`` and
    ``cstime`` of ``/proc/<pid>/stat``); ``None`` where it cannot be read."""
    try:
        return tick_seconds(stat_fields(pid), 13)
    except (OSError, ValueError, IndexError):
        return None


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
    parser.add_argument(
        "--seed-cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "remit-load-web",
        help="folder of the seeds kept between runs (today's, of this code; see SeedCache)",
    )
    parser.add_argument(
        "--fresh-seed", action="store_true", help="seed afresh and keep nothing between runs"
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
        print("  " + figures.split())
        if figures.counters:
            print("  " + figures.database_line())
        if figures.waits:
            print("  " + figures.waits)
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
