"""Shared pieces of the reliability battery (``bench_crash``, ``bench_disk_full``,
``bench_concurrent_edits``, ``bench_fuzz_api``): a throw-away trial database (SQLite file or
PostgreSQL database) with its own audit key ring, ``remit serve`` as a real process on a free
port of 127.0.0.1, API logins, ``remit audit verify`` and the lines that say on what machine
and under what load the figures were measured.

Not a test module: the scripts import it (``python benchmarks/bench_x.py`` puts this folder on
``sys.path``); ``tests/services/test_battery.py`` tests its pure helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from load_web import SCALES as SCALES  # the visits and forms of the load benchmark
from load_web import VISITS as VISITS
from load_web import answers as load_answers
from load_web import form_body as form_body
from load_web import form_slots as load_slots
from load_web import walk

PASSWORD = "correct horse battery staple"
POSTGRES_ADMIN = os.environ.get(
    "REMIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: Seconds to wait for a starting server before calling it a hang (a busy machine is slow).
START_CEILING_S = 120.0


# --- where and under what load -------------------------------------------------------------


def environment_lines(url: str | None = None) -> list[str]:
    """Machine, cores, load average, Python, SQLite and (for ``url``) PostgreSQL versions."""
    lines = [
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}",
    ]
    if hasattr(os, "getloadavg"):
        lines.append("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if url is not None and url.startswith("postgresql"):
        lines.append(f"postgresql: {postgres_version(url)}")
    return lines


def postgres_version(url: str) -> str:
    """The server's ``SHOW server_version`` and its durability settings."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar_one()
            sync = connection.execute(text("SHOW synchronous_commit")).scalar_one()
            fsync = connection.execute(text("SHOW fsync")).scalar_one()
    finally:
        engine.dispose()
    return f"{version} (synchronous_commit={sync}, fsync={fsync})"


def print_environment(url: str | None = None) -> None:
    for line in environment_lines(url):
        print(line, flush=True)


# --- a throw-away database with its own key ring --------------------------------------------


class ThrowAwayDatabase:
    """A fresh database URL for one run: a SQLite file in ``folder``, or a PostgreSQL database
    on the server of ``$REMIT_TEST_POSTGRES_URL`` that is dropped afterwards; and its audit
    key ring ``folder/audit.key`` (never in the database)."""

    def __init__(self, engine_name: str, folder: Path, *, sqlite_path: Path | None = None) -> None:
        if engine_name not in ("sqlite", "postgresql"):
            raise ValueError(f"engine {engine_name!r}: expected sqlite or postgresql")
        self.engine_name = engine_name
        self.folder = folder
        self.sqlite_path = sqlite_path or folder / "trial.db"
        self.name = f"remit_bench_{uuid.uuid4().hex[:10]}"
        self.key_file = folder / "audit.key"
        self.url = ""

    def __enter__(self) -> ThrowAwayDatabase:
        from remit import services as sv

        self.folder.mkdir(parents=True, exist_ok=True)
        sv.rotate_key_file(self.key_file)  # a new ring, mode 0600
        if self.engine_name == "sqlite":
            self.url = str(self.sqlite_path)
            return self
        import psycopg
        from sqlalchemy.engine import make_url

        admin = make_url(POSTGRES_ADMIN)
        self.conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')
        self.url = admin.set(database=self.name).render_as_string(hide_password=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine_name == "postgresql":
            import psycopg

            with psycopg.connect(self.conninfo, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def engine(self) -> Any:
        """An engine keyed with this database's ring (dispose it)."""
        from remit import services as sv

        return sv.open_database(self.url, audit_keys=sv.load_key_ring(self.key_file))


def seed(
    db: ThrowAwayDatabase,
    raters: int,
    participants: int,
    staff: Sequence[tuple[str, str, str | None]] = (),
) -> list[str]:
    """Create the Oslo trial at site OST, ``raters`` independent-rater accounts
    (``rater000``…), the ``staff`` accounts ``(username, role, site code or None)`` and
    ``participants`` participants walked through the schedule (:func:`load_web.walk`: forms
    are posted with :func:`form_body`); return their study IDs."""
    from remit import services as sv
    from remit.protocol import load_protocol
    from remit.services import Actor

    engine = sv.create_database(db.url, audit_keys=sv.load_key_ring(db.key_file))
    try:
        trial = sv.create_trial(
            engine,
            load_protocol("oslo-mdma-mdd"),
            sites=["OST"],
            admin_username="ada",
            admin_password=PASSWORD,
        )
        admin = Actor(trial.admin.id, "ada", "admin", None)
        for i in range(raters):
            sv.add_user(
                engine,
                admin,
                rater_name(i),
                PASSWORD,
                [("independent_rater", None)],
                must_change_password=False,  # simulated raters: no person logs in with it
            )
        for username, role, site in staff:
            sv.add_user(
                engine, admin, username, PASSWORD, [(role, site)], must_change_password=False
            )
        seeder = sv.add_user(
            engine, admin, "seed-investigator", PASSWORD, [("investigator", "OST")],
            must_change_password=False,
        )  # fmt: skip
        investigator = Actor(seeder.id, "seed-investigator", "investigator", 1)
        ids = [
            sv.screen_participant(engine, investigator, site="OST", simulated=True).participant_id
            for _ in range(participants)
        ]
        for pid in ids:
            walk(engine, investigator, pid)  # through the schedule: every form may be entered
    finally:
        sv.close_database(engine)
    return ids


def rater_name(number: int) -> str:
    """The username of simulated rater ``number``.

    >>> rater_name(7)
    'rater007'
    """
    return f"rater{number:03d}"


def form_slots(ids: Sequence[str], rng: random.Random) -> list[tuple[str, str, str]]:
    """Every (participant, visit, scale) a rater may enter for ``ids``, shuffled by ``rng``
    (the load benchmark's :func:`load_web.form_slots`)."""
    return load_slots(list(ids), rng)


def answers(scale: str, rng: random.Random) -> dict[str, object]:
    """Valid random answers to every numeric, yes/no and choice item of ``scale`` (the load
    benchmark's :func:`load_web.answers`), without suicidal thoughts on the MADRS."""
    out = load_answers(scale, rng)
    if scale == "madrs":
        out["suicidal_thoughts"] = 0  # no suicidal thoughts: the battery measures saves, not alerts
    return out


# --- remit serve as a process ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RemitServer:
    """``remit serve --db URL`` in its own process (its own session, so a SIGKILL takes it
    alone) on a free port of 127.0.0.1, keyed with the database's ring; :meth:`kill` sends
    SIGKILL, :meth:`start` starts it again on the same port."""

    def __init__(self, db: ThrowAwayDatabase, log: Path) -> None:
        self.db = db
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def command(self) -> list[str]:
        remit = Path(sys.executable).with_name("remit")
        return [
            str(remit), "serve", "--db", self.db.url, "--port", str(self.port),
            "--audit-key", str(self.db.key_file), "--deliver-every", "60",
        ]  # fmt: skip

    def start(self, *, wait: bool = True) -> None:
        env = dict(os.environ, REMIT_SECRET_KEY="battery")
        env.pop("REMIT_DATABASE_URL", None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_CEILING_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"remit serve stopped; see {self.log_path}")
            try:
                if httpx.get(f"{self.base}/login", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(
            f"remit serve did not answer within {START_CEILING_S:.0f} s (the ceiling of the "
            f"wait: a hang, not slowness); see {self.log_path}"
        )

    def kill(self) -> None:
        """SIGKILL the server (no cleanup of any kind runs)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Stop the server as Ctrl+C does."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> RemitServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def api_token(base: str, username: str, password: str = PASSWORD) -> str:
    """A bearer token of ``username`` (``POST /api/v1/auth/login``)."""
    response = httpx.post(
        f"{base}/api/v1/auth/login",
        json={"username": username, "password": password},
        timeout=60,
    )
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


# --- checks at the end ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditVerdict:
    """What ``remit audit verify`` said."""

    exit_code: int
    ok: bool
    summary: str

    def line(self) -> str:
        return f"{'passed' if self.ok and self.exit_code == 0 else 'FAILED'}: {self.summary}"


def audit_verify(db: ThrowAwayDatabase) -> AuditVerdict:
    """Run ``remit audit verify --json`` on the database with its key ring."""
    remit = Path(sys.executable).with_name("remit")
    done = subprocess.run(
        [str(remit), "audit", "verify", "--db", db.url, "--audit-key", str(db.key_file), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        found = json.loads(done.stdout)
    except json.JSONDecodeError:
        return AuditVerdict(done.returncode, False, (done.stdout + done.stderr).strip()[-500:])
    return AuditVerdict(done.returncode, bool(found.get("ok")), verdict_summary(found))


def verdict_summary(found: dict[str, Any]) -> str:
    """One line of ``remit audit verify --json`` output: the counts it reports.

    >>> verdict_summary({"ok": True, "rows": 12, "first_bad_row": None})
    'ok=True rows=12'
    """
    shown = {k: v for k, v in found.items() if isinstance(v, bool | int | str) and v is not None}
    return " ".join(f"{k}={v}" for k, v in shown.items())


def rows_without_audit(db: ThrowAwayDatabase) -> int:
    """Rows of audited tables that have no ``insert`` audit row."""
    from sqlalchemy import select

    from remit.store.tables import AuditEvent, audited_tables

    engine = db.engine()
    missing = 0
    try:
        with engine.connect() as connection:
            for name, cls in audited_tables().items():
                ids = set(connection.execute(select(cls.__table__.c.id)).scalars())
                audited = set(
                    connection.execute(
                        select(AuditEvent.record_id).where(
                            AuditEvent.table_name == name, AuditEvent.action == "insert"
                        )
                    ).scalars()
                )
                missing += len(ids - audited)
    finally:
        engine.dispose()
    return missing


def sqlite_integrity(path: str) -> str:
    """``PRAGMA integrity_check`` of a SQLite file."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def keep_or_remove(folder: Path, keep: bool) -> None:
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
