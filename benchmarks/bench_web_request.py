"""The web layer's CPU per API form submission: in process, or through uvicorn.

Usage::

    python benchmarks/bench_web_request.py [--participants 40] [--raters 8] [--concurrency 8]
        [--seed-db PATH] [--loop asyncio|uvloop] [--threads N]
        [--server [--server-loop asyncio|uvloop] [--server-http h11|httptools]
                  [--server-access-log]]
        [--stub-service [--requests 3000]] [--count-calls]

Builds an Oslo trial in a SQLite file (:mod:`battery`; ``--seed-db PATH`` keeps the seeded file
there and reuses it on the next run, copied, so that runs before and after a change enter the
same forms) and the app (:func:`remit.web.app.create_app`). In process (the default) it drives
the app as an ASGI server would, without sockets or HTTP parsing; with ``--server`` it serves
the app with uvicorn in another process on a free port of 127.0.0.1 (``--server-loop``,
``--server-http``) and posts over loopback TCP. Either way ``--raters`` bearer tokens log in
(``POST /api/v1/auth/login``), one form warms the caches, then ``--concurrency`` clients submit
forms (``POST /api/v1/assessments`` with an ``Idempotency-Key``) until every form of the
participants is entered.

It prints the CPU per request of the process serving (from ``/proc`` with ``--server``), the
CPU spent inside :func:`remit.services.record_assessment` (each call's thread CPU clock) and
their difference: the web layer's own cost (HTTP parsing with ``--server``, routing,
dependencies, the session lookup, body validation, the worker-thread hand-offs, the response,
the middlewares), with the SQL statements per request outside the service. Every answer must be
201 with its ETag and every form stored once. ``--stub-service`` answers every submission after
the first with the first one's record without running the service (``--requests`` of them),
so that the whole cost is the web layer's: the steadiest figure on a shared machine. Profile
with ``py-spy record -- python benchmarks/bench_web_request.py …``. Machine and load are printed
first; CPU figures are what a loaded machine distorts least, but still inflates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import battery


class AsgiClient:
    """Calls an ASGI app directly with one complete request; returns status, headers, body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        raw = [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())]
        if body:
            raw.append((b"content-type", b"application/json"))
        raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # a client that stays connected
            return {"type": "http.disconnect"}

        status = 0
        out_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers.update((k.decode(), v.decode()) for k, v in message["headers"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, out_headers, b"".join(chunks)


def seeded(path: Path | None, participants: int, raters: int, folder: Path) -> Path:
    """A seeded SQLite trial file (and its ``audit.key`` beside it) copied into ``folder``."""
    if path is None or not path.exists():
        target = path or folder / "seed.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        with battery.ThrowAwayDatabase("sqlite", target.parent, sqlite_path=target) as db:
            started = time.monotonic()
            battery.seed(db, raters, participants)
            print(f"seeded {participants} participants in {time.monotonic() - started:.1f} s")
        shutil.copy(target.parent / "audit.key", target.with_suffix(".key"))
        path = target
    copy = folder / "trial.db"
    shutil.copy(path, copy)
    shutil.copy(path.with_suffix(".key"), folder / "audit.key")
    return copy


def form_bodies(engine: Any) -> list[bytes]:
    """The JSON body of every form a rater may enter for the seeded participants, shuffled."""
    with engine.connect() as connection:
        ids = [
            pid
            for (pid,) in connection.exec_driver_sql(
                "SELECT study_id FROM participant ORDER BY study_id"
            )
        ]
        days = {
            (pid, visit): day
            for pid, visit, day in connection.exec_driver_sql(
                "SELECT p.study_id, v.visit_code, v.actual_date FROM visit v "
                "JOIN participant p ON p.id = v.participant_id"
            )
        }
    rng = random.Random(2)
    return [
        json.dumps(
            {"participant_id": pid, "visit_code": visit, "scale": scale,
             "answers": battery.answers(scale, rng),
             "assessed_at": f"{days[pid, visit]}T10:00:00+00:00"}
        ).encode()
        for pid, visit, scale in battery.form_slots(ids, random.Random(1))
    ]  # fmt: skip


class ServiceMeter:
    """CPU spent inside :func:`remit.services.record_assessment` (each call's thread CPU
    clock) and the SQL statements of ``engine`` issued outside it (SQLAlchemy's, and the
    session lookup's SELECT, which goes to the DB-API cursor directly). With ``stub`` every call
    after the first returns the first call's record without running the service: what is
    left of a request's cost is the web layer's alone."""

    def __init__(self, engine: Any, stub: bool = False) -> None:
        from sqlalchemy import event

        from remit import services as sv
        from remit.store import web_sessions

        self.cpu = 0.0
        self.statements = 0
        self._lock = threading.Lock()
        self._inside = threading.local()
        real = sv.record_assessment
        kept: list[Any] = []

        def timed(*a: Any, **k: Any) -> Any:
            if stub and kept:
                return kept[0]
            start = time.thread_time()
            self._inside.on = True
            try:
                kept.append(real(*a, **k))
                return kept[-1]
            finally:
                self._inside.on = False
                spent = time.thread_time() - start
                with self._lock:
                    self.cpu += spent

        def count(*_: Any) -> None:
            if not getattr(self._inside, "on", False):
                with self._lock:
                    self.statements += 1

        read_session = web_sessions._read_session

        def lookup(*a: Any, **k: Any) -> Any:
            count()
            return read_session(*a, **k)

        sv.record_assessment = timed  # type: ignore[assignment]
        web_sessions._read_session = lookup
        event.listen(engine, "before_cursor_execute", count)

    def reset(self) -> None:
        with self._lock:
            self.cpu, self.statements = 0.0, 0


class CallCounter:
    """Python function calls (profile ``call`` events, every thread) while :attr:`on`, and
    those inside :func:`remit.services.record_assessment` (``meter``'s): a measure of a
    request's work that does not depend on the machine's load. Installed before the app and
    its worker threads start (``threading.setprofile`` reaches threads started later)."""

    def __init__(self, meter: ServiceMeter) -> None:
        self.on = False
        self.meter = meter
        self.counts: list[list[int]] = []
        self._local = threading.local()

    def install(self) -> None:
        threading.setprofile(self._hook)
        sys.setprofile(self._hook)

    def _hook(self, _frame: Any, event: str, _arg: Any) -> None:
        if event != "call" or not self.on:
            return
        mine = getattr(self._local, "counts", None)
        if mine is None:
            mine = self._local.counts = [0, 0]
            self.counts.append(mine)
        mine[0] += 1
        if getattr(self.meter._inside, "on", False):
            mine[1] += 1

    def totals(self) -> tuple[int, int]:
        return sum(c[0] for c in self.counts), sum(c[1] for c in self.counts)


def _jobs(bodies: list[bytes], args: argparse.Namespace) -> Iterator[bytes]:
    """The bodies to send: each form once, or with ``--stub-service`` ``--requests`` of them
    (forms repeat: the stub stores nothing)."""
    if args.stub_service:
        return itertools.islice(itertools.cycle(bodies), args.requests)
    return iter(list(reversed(bodies)))


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": f"bench-{uuid.uuid4().hex}"}


def _login_body(number: int) -> bytes:
    return json.dumps(
        {"username": battery.rater_name(number), "password": battery.PASSWORD}
    ).encode()


async def in_process(
    app: Any,
    bodies: list[bytes],
    args: argparse.Namespace,
    meter: ServiceMeter,
    counter: CallCounter | None = None,
) -> dict[str, Any]:
    """Drive ``app`` directly (no sockets, no HTTP parsing)."""
    if args.threads:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = args.threads
    client = AsgiClient(app)
    tokens = []
    for i in range(args.raters):
        status, _, body = await client.request("POST", "/api/v1/auth/login", _login_body(i))
        if status != 200:
            raise RuntimeError(f"login: {status} {body[:200]!r}")
        tokens.append(json.loads(body)["token"])
    # one form first: warms the per-process caches as a running server has them
    status, _, body = await client.request(
        "POST", "/api/v1/assessments", bodies.pop(), _headers(tokens[0])
    )
    if status != 201:
        raise RuntimeError(f"warm-up: {status} {body[:300]!r}")
    meter.reset()
    latencies: list[float] = []
    failures = 0
    jobs = _jobs(bodies, args)

    async def rater(number: int) -> None:
        nonlocal failures
        token = tokens[number % len(tokens)]
        for body in jobs:
            started = time.perf_counter()
            status, headers, answer = await client.request(
                "POST", "/api/v1/assessments", body, _headers(token)
            )
            latencies.append(time.perf_counter() - started)
            if status != 201 or "etag" not in headers or "location" not in headers:
                failures += 1
                print(f"{status} {answer[:300]!r}", file=sys.stderr)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    if counter is not None:
        counter.on = True
    await asyncio.gather(*(rater(i) for i in range(args.concurrency)))
    if counter is not None:
        counter.on = False
    return {"cpu": time.process_time() - cpu0, "wall": time.perf_counter() - wall0,
            "latencies": latencies, "failures": failures, "service": meter.cpu,
            "statements": meter.statements}  # fmt: skip


def serve_child(
    url: str,
    key_file: str,
    port: int,
    loop: str,
    http: str,
    out: str,
    stub: bool,
    access_log: bool = False,
) -> None:
    """The server of ``--server``: the app under uvicorn with a :class:`ServiceMeter`;
    SIGUSR1 resets the meter, and its figures are written to ``out`` when the server stops."""
    import signal

    import uvicorn

    from remit import services as sv
    from remit.web.app import create_app

    engine = sv.open_database(url, audit_keys=sv.load_key_ring(key_file))
    meter = ServiceMeter(engine, stub)
    signal.signal(signal.SIGUSR1, lambda *_: meter.reset())
    app = create_app(engine, secret_key="bench")
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, loop=loop, http=http,
        log_level="info" if access_log else "warning", access_log=access_log,
    )  # fmt: skip
    try:
        uvicorn.Server(config).run()
    finally:  # uvicorn raises the SIGINT that stopped it again once it has stopped
        Path(out).write_text(json.dumps({"service": meter.cpu, "statements": meter.statements}))


async def through_server(
    folder: Path, bodies: list[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    """Drive the app under uvicorn in another process over loopback TCP; the server's CPU is
    read from ``/proc`` around the timed phase."""
    import signal
    import subprocess

    import httpx
    from load_web import cpu_seconds

    port = battery.free_port()
    out = folder / "meter.json"
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", str(folder / "trial.db"), str(folder / "audit.key"),
         str(port), args.server_loop, args.server_http, str(out), str(int(args.stub_service)),
         str(int(args.server_access_log))],
        stdout=subprocess.DEVNULL if args.server_access_log else None,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            for _ in range(1200):
                try:
                    if (await client.get("/login")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            tokens = []
            for i in range(args.raters):
                login = await client.post("/api/v1/auth/login", content=_login_body(i),
                                          headers={"content-type": "application/json"})  # fmt: skip
                login.raise_for_status()
                tokens.append(login.json()["token"])
            json_type = {"content-type": "application/json"}
            warm = await client.post(
                "/api/v1/assessments", content=bodies.pop(), headers=_headers(tokens[0]) | json_type
            )
            if warm.status_code != 201:
                raise RuntimeError(f"warm-up: {warm.status_code} {warm.text[:300]}")
        child.send_signal(signal.SIGUSR1)
        await asyncio.sleep(0.2)
        latencies: list[float] = []
        failures = 0
        jobs = _jobs(bodies, args)

        async def rater(number: int) -> None:
            nonlocal failures
            token = tokens[number % len(tokens)]
            async with httpx.AsyncClient(base_url=base, timeout=120) as client:
                for body in jobs:
                    started = time.perf_counter()
                    answer = await client.post(
                        "/api/v1/assessments", content=body,
                        headers={**_headers(token), "content-type": "application/json"},
                    )  # fmt: skip
                    latencies.append(time.perf_counter() - started)
                    if answer.status_code != 201 or "etag" not in answer.headers:
                        failures += 1
                        print(f"{answer.status_code} {answer.text[:300]}", file=sys.stderr)

        cpu0, wall0 = cpu_seconds(child.pid) or 0.0, time.perf_counter()
        await asyncio.gather(*(rater(i) for i in range(args.concurrency)))
        cpu = (cpu_seconds(child.pid) or 0.0) - cpu0
        wall = time.perf_counter() - wall0
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
    meter = json.loads(out.read_text())
    return {"cpu": cpu, "wall": wall, "latencies": latencies, "failures": failures, **meter}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=40)
    parser.add_argument("--raters", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed-db", type=Path, default=None)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                        help="the event loop of the in-process run")  # fmt: skip
    parser.add_argument("--server", action="store_true",
                        help="through uvicorn over loopback TCP instead of in process")  # fmt: skip
    parser.add_argument("--server-loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--server-http", choices=("h11", "httptools"), default="h11")
    parser.add_argument("--stub-service", action="store_true",
                        help="after the first form, answer every submission with its record "
                        "without running the service: the web layer's cost alone")  # fmt: skip
    parser.add_argument("--requests", type=int, default=3000,
                        help="submissions with --stub-service")  # fmt: skip
    parser.add_argument("--threads", type=int, default=0,
                        help="worker threads of the in-process run (0: anyio's 40)")  # fmt: skip
    parser.add_argument("--server-access-log", action="store_true",
                        help="uvicorn's access log on, as remit serve --access-log "
                        "(its lines are formatted and written to /dev/null)")  # fmt: skip
    parser.add_argument("--count-calls", action="store_true",
                        help="in process: count the Python calls per request (slow; the "
                        "CPU figures are then the profiler's)")  # fmt: skip
    parser.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, key, port, loop, http, out, stub, access_log = args.child
        with contextlib.suppress(KeyboardInterrupt):  # the SIGINT that stopped it
            serve_child(url, key, int(port), loop, http, out, stub == "1", access_log == "1")
        return 0

    from sqlalchemy import func, select

    from remit import services as sv
    from remit.store.tables import Assessment
    from remit.web.app import create_app

    battery.print_environment()
    folder = Path(tempfile.mkdtemp(prefix="remit-webreq-"))
    url = str(seeded(args.seed_db, args.participants, args.raters, folder))
    engine = sv.open_database(url, audit_keys=sv.load_key_ring(folder / "audit.key"))
    bodies = form_bodies(engine)
    if args.server:
        mode = f"server loop={args.server_loop} http={args.server_http}"
        mode += " service stubbed" if args.stub_service else ""
        found = asyncio.run(through_server(folder, bodies, args))
    else:
        mode = f"in process loop={args.loop}"
        mode += " service stubbed" if args.stub_service else ""
        meter = ServiceMeter(engine, args.stub_service)
        counter = CallCounter(meter) if args.count_calls else None
        if counter is not None:
            counter.install()
        app = create_app(engine, secret_key="bench")
        if args.loop == "uvloop":
            import uvloop

            found = uvloop.run(in_process(app, bodies, args, meter, counter))
        else:
            found = asyncio.run(in_process(app, bodies, args, meter, counter))
        if counter is not None:
            sys.setprofile(None)
            threading.setprofile(None)
            found["calls"] = counter.totals()
    with engine.connect() as connection:
        stored = connection.execute(
            select(func.count())
            .select_from(Assessment)
            .where(Assessment.idempotency_key.like("bench-%"))
        ).scalar_one()
    sv.close_database(engine)
    n, failures = len(found["latencies"]), found["failures"]
    if stored != (1 if args.stub_service else n + 1):  # and the warm-up form
        print(f"stored {stored} forms for {n + 1} acknowledged", file=sys.stderr)
        failures += 1
    cpu, service = found["cpu"], found["service"]
    print(
        f"{mode}: requests={n} failures={failures} concurrency={args.concurrency} "
        f"wall={found['wall']:.1f}s ({n / found['wall']:.0f}/s) "
        f"median={1000 * statistics.median(found['latencies']):.1f}ms"
    )
    print(
        f"CPU {1000 * cpu / n:.2f} ms/request; in record_assessment {1000 * service / n:.2f} ms; "
        f"web layer {1000 * (cpu - service) / n:.2f} ms; "
        f"SQL statements outside the service {found['statements'] / n:.2f}/request"
    )
    if "calls" in found:
        total, inside = found["calls"]
        print(
            f"Python calls per request: {total / n:.0f}; in record_assessment "
            f"{inside / n:.0f}; web layer {(total - inside) / n:.0f}"
        )
    shutil.rmtree(folder, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
