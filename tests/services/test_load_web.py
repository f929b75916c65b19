"""The load benchmark's own pieces (``benchmarks/load_web.py``): the seeded rater accounts
log in with a full argon2id verification, the walked participants have every visit on its
target day, and the simulated rater counts what the server acknowledged, retried and refused.
The benchmark itself is run by hand (docs/security.md, Figures); no test times anything."""

from __future__ import annotations

import asyncio
import doctest
import importlib
import random
import sys
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_apart(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` in a thread of its own: once a browser test has run in this test
    process, the session's Playwright (``browser`` in tests/conftest.py) keeps an event loop
    running in the main thread, where ``asyncio.run`` refuses to start another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def lw() -> Iterator[ModuleType]:
    """``load_web``, imported as the scripts import it."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("load_web")
    finally:
        sys.path.remove(str(BENCHMARKS))
        sys.modules.pop("load_web", None)


def test_the_doctests_of_the_load_benchmark_pass(lw: ModuleType) -> None:
    failed, tried = doctest.testmod(lw, optionflags=doctest.ELLIPSIS)
    assert failed == 0
    assert tried >= 2


def test_the_summary_line_puts_the_client_cpu_beside_the_server_cpu(lw: ModuleType) -> None:
    figures = lw.Figures("sqlite", 50, 20.0, requests=6000, acknowledged=6000)
    figures.server_cpu_s, figures.client_cpu_s = 30.0, 1.2
    line = figures.line()
    assert "server-cpu=30.0s (5.00 ms/request) client-cpu=1.2s (0.20 ms/request)" in line
    assert "300.0 forms/s" in line


def test_seeded_raters_log_in_with_a_production_hash_and_a_real_verification(
    lw: ModuleType, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from remit import services as sv
    from remit.errors import PermissionDeniedError
    from remit.store import make_engine
    from remit.store.tables import UserAccount
    from remit.store.users import is_production_hash

    url = str(tmp_path / "load.db")
    ids = lw.seed(url, 3, 1)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            hashes = dict(
                connection.execute(
                    select(UserAccount.username, UserAccount.password_hash).where(
                        UserAccount.username.like("rater%")
                    )
                ).all()
            )
        assert sorted(hashes) == ["rater000", "rater001", "rater002"]
        assert all(is_production_hash(h) for h in hashes.values())
        actor = sv.login(engine, "rater002", lw.PASSWORD)
        assert (actor.username, actor.role) == ("rater002", "independent_rater")
        with pytest.raises(PermissionDeniedError):
            sv.login(engine, "rater001", lw.PASSWORD + "!")
        # each account was added in its own audited unit of work
        assert sv.verify_audit(engine).ok
        # the walked participant had every visit, each on its target day
        investigator = sv.login(engine, "kari-seed", lw.PASSWORD)
        visits = sv.list_visits(engine, investigator, ids[0])
        assert len(visits) > 10
        assert all(v.actual_date is not None for v in visits)
        assert all(v.actual_date == v.target_date for v in visits)
        assert {v.visit_code: str(v.actual_date) for v in visits} == lw.VISIT_DAYS
    finally:
        engine.dispose()


class FakeApi:
    """``POST /api/v1/assessments`` as the server answers it: 201 with one id per
    ``Idempotency-Key`` (the same id for a retry, unless ``new_id_on_retry``), and 409 for
    the form slots of ``refused`` participants."""

    def __init__(self, refused: set[str], *, new_id_on_retry: bool = False) -> None:
        self.refused = refused
        self.new_id_on_retry = new_id_on_retry
        self.ids: dict[str, int] = {}
        self.requests = 0

    async def assessments(self, request: object) -> object:
        from aiohttp import web

        assert isinstance(request, web.Request)
        self.requests += 1
        assert request.headers["Authorization"] == "Bearer token-7"
        body = await request.json()
        if body["participant_id"] in self.refused:
            return web.json_response({"detail": "already entered"}, status=409)
        key = request.headers["Idempotency-Key"]
        if key not in self.ids or self.new_id_on_retry:
            self.ids[key] = self.requests
        return web.json_response({"id": self.ids[key]}, status=201)


async def run_rater(
    lw: ModuleType, api: FakeApi, slots: list[tuple[str, str, str]]
) -> tuple[Any, dict[str, int]]:
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/api/v1/assessments", api.assessments)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    figures = lw.Figures("sqlite", 1, 30.0)
    acked: dict[str, int] = {}
    try:
        await lw.rater(
            7, "token-7", f"http://127.0.0.1:{port}", slots, 1e12, figures, acked, 0.5, 0.0
        )
    finally:
        await runner.cleanup()
    return figures, acked


@pytest.fixture
def visit_days(lw: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    for visit in lw.VISITS:
        monkeypatch.setitem(lw.VISIT_DAYS, visit, "2025-03-01")


@pytest.mark.usefixtures("visit_days")
def test_a_rater_counts_acknowledged_forms_retries_and_refusals(lw: ModuleType) -> None:
    slots = lw.form_slots(["OST-0001", "OST-0002"], random.Random(2))
    api = FakeApi(refused={"OST-0002"})
    figures, acked = run_apart(run_rater(lw, api, list(slots)))
    per_participant = len(lw.VISITS) * len(lw.SCALES)
    assert figures.ran_out_of_forms
    assert figures.acknowledged == len(acked) == per_participant
    assert figures.retries >= 1  # half the forms are sent twice (seeded)
    assert figures.retries == figures.retries_same_id
    assert figures.requests == api.requests == len(figures.latencies_ms)
    assert figures.requests == per_participant + figures.retries + figures.errors["HTTP 409"]
    assert figures.errors["HTTP 409"] >= per_participant
    assert set(figures.errors) == {"HTTP 409"}
    assert sorted(acked.values()) == sorted({api.ids[key] for key in acked})


@pytest.mark.usefixtures("visit_days")
def test_a_retry_answered_with_another_id_is_counted_as_a_mismatch(lw: ModuleType) -> None:
    slots = lw.form_slots(["OST-0001"], random.Random(2))
    figures, _ = run_apart(run_rater(lw, FakeApi(set(), new_id_on_retry=True), list(slots)))
    assert figures.retries >= 1
    assert figures.retries_same_id == 0
    assert not figures.errors


@pytest.mark.usefixtures("visit_days")
def test_a_server_that_does_not_answer_is_an_error_by_kind(lw: ModuleType) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    figures = lw.Figures("sqlite", 1, 30.0)
    slots = lw.form_slots(["OST-0001"], random.Random(2))[:3]
    run_apart(lw.rater(0, "t", f"http://127.0.0.1:{port}", slots, 1e12, figures, {}, 0.0, 0.0))
    assert figures.errors == {"ClientConnectorError": 3}
    assert figures.requests == figures.acknowledged == 0


def test_a_seed_is_kept_and_copied_the_same_day_and_no_other(
    lw: ModuleType, db_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from remit import services as sv
    from remit.store import make_engine

    if db_backend == "postgresql":
        request.getfixturevalue("postgres_server")  # skipped without a server
    cache = lw.SeedCache(tmp_path / "cache", db_backend)
    name = cache.name(2, 1)
    assert name != cache.name(3, 1) != cache.name(2, 2)
    assert name.startswith(f"remit_load_seed_{cache.day}_")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    try:
        with lw.database(db_backend, tmp_path / "a") as first:
            ids, how = lw.seeded(first, cache, 2, 1)
            assert how == "seeded"
            days = dict(lw.VISIT_DAYS)
        lw.VISIT_DAYS.clear()
        with lw.database(db_backend, tmp_path / "b") as second:
            assert cache.copy_into(second, 3, 1) is None  # another number of raters
            copied, how = lw.seeded(second, cache, 2, 1)
            assert (copied, how) == (ids, "copied from the seed cache")
            assert days == lw.VISIT_DAYS
            engine = make_engine(second.url)
            try:
                assert sv.verify_audit(engine).ok
                assert sv.login(engine, "rater001", lw.PASSWORD).username == "rater001"
                investigator = sv.login(engine, "kari-seed", lw.PASSWORD)
                visits = sv.list_visits(engine, investigator, ids[0])
                assert all(v.actual_date is not None for v in visits)
            finally:
                engine.dispose()
    finally:
        if db_backend == "postgresql":
            import psycopg
            from sqlalchemy.engine import make_url

            with psycopg.connect(lw.admin_conninfo(), autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            template = make_url(lw.POSTGRES_ADMIN).set(database=name)
            lw.key_file(template.render_as_string(False)).unlink(missing_ok=True)


def test_the_seeds_of_earlier_days_are_removed(lw: ModuleType, tmp_path: Path) -> None:
    cache = lw.SeedCache(tmp_path, "sqlite")
    old = [
        tmp_path / "remit_load_seed_20000101_ab.db",
        tmp_path / "sqlite-remit_load_seed_20000101_ab.json",
    ]
    today = [tmp_path / f"remit_load_seed_{cache.day}_ab.db", tmp_path / "unrelated.txt"]
    for path in old + today:
        path.write_text("x")
    cache.prune()
    assert [p.exists() for p in old] == [False, False]
    assert [p.exists() for p in today] == [True, True]


def test_raters_log_in_a_few_at_a_time_each_with_its_own_password_check(
    lw: ModuleType,
) -> None:
    from aiohttp import web

    seen: list[str] = []
    busy = {"now": 0, "most": 0}

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        busy["now"] += 1
        busy["most"] = max(busy["most"], busy["now"])
        await asyncio.sleep(0.02)  # an argon2id verification takes a while
        busy["now"] -= 1
        if body["password"] != lw.PASSWORD:
            return web.json_response({"detail": "wrong"}, status=401)
        seen.append(body["username"])
        return web.json_response({"token": f"token-{body['username']}"})

    async def main() -> list[str]:
        app = web.Application()
        app.router.add_post("/api/v1/auth/login", login)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            tokens: list[str] = await lw.log_in_all(
                f"http://127.0.0.1:{runner.addresses[0][1]}", 10
            )
            return tokens
        finally:
            await runner.cleanup()

    tokens = run_apart(main())
    assert tokens == [f"token-rater{i:03d}" for i in range(10)]
    assert sorted(seen) == [f"rater{i:03d}" for i in range(10)]
    assert 1 < busy["most"] <= lw.LOGINS_AT_ONCE


def test_the_database_cpu_is_read_for_the_backends_of_the_benchmark_database(
    lw: ModuleType, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from remit.store import make_engine

    request.getfixturevalue("postgres_server")  # skipped without a server
    with lw.database("postgresql", tmp_path) as db:
        engine = make_engine(db.url)
        try:
            with engine.connect() as connection:
                pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                watch = lw.DatabaseCpu(db.conninfo, db.name)
                before, counters = watch.processes(), watch.counters()
                assert before[pid][0] == "backend"
                assert any(kind == "shared" for kind, _ in before.values())
                # the backend's CPU for a query is counted for it
                connection.execute(text("SELECT count(*) FROM generate_series(1, 3000000)"))
                after = watch.processes()
            backends, _shared, lost = watch.spent(before, after)
            assert backends > 0.05
            assert lost == 0
            assert set(watch.counters()) == set(counters) == set(lw.COUNTERS)
        finally:
            engine.dispose()
