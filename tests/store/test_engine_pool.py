"""The PostgreSQL engine's pool: a connection the server ended is replaced at checkout without
a round trip per checkout, and the pool keeps its connections under a worker's load."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from tests.support.db import PostgresServer

from remit.store import make_engine
from remit.store.engine import POOL_SIZE

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create()
    yield postgres_server.url_of(name)
    postgres_server.drop(name)


def _terminate(server: PostgresServer, pid: int) -> None:
    with psycopg.connect(server.conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10  # only ends a hang: the backend exits at once
        while time.monotonic() < deadline:
            gone = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
            if gone.fetchone() is None:
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} did not end")


def test_a_pooled_connection_the_server_ended_is_replaced_at_checkout(
    postgres_server: PostgresServer, pg_url: str
) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as connection:
            first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # a restart of the server, an idle timeout or an administrator ends the backend
        _terminate(postgres_server, first)
        with engine.connect() as connection:
            second = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert connection.execute(text("SELECT 41 + 1")).scalar_one() == 42
        assert second != first
    finally:
        engine.dispose()


def test_every_pooled_connection_the_server_ended_is_replaced(
    postgres_server: PostgresServer, pg_url: str
) -> None:
    engine = make_engine(pg_url)
    try:
        held = [engine.connect() for _ in range(3)]
        pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in held]
        for connection in held:
            connection.close()
        for pid in pids:  # a restart ends them all
            _terminate(postgres_server, pid)
        for _ in range(3):
            with engine.connect() as connection:
                pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                assert pid not in pids
    finally:
        engine.dispose()


def test_a_checkout_sends_nothing_to_the_server(pg_url: str) -> None:
    """The liveness check is a look at the socket, not a ``SELECT 1`` round trip per
    checkout (SQLAlchemy's ``pool_pre_ping``): two per API request."""
    engine = make_engine(pg_url)
    pings = 0
    original = engine.dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        nonlocal pings
        pings += 1
        return original(dbapi_connection)  # type: ignore[arg-type]

    engine.dialect.do_ping = counting_ping  # type: ignore[method-assign]
    try:
        for _ in range(3):
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        assert pings == 0
    finally:
        engine.dispose()


def test_the_pool_keeps_a_connection_per_worker_thread(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        held = [engine.connect() for _ in range(POOL_SIZE)]
        pids = {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in held}
        for connection in held:
            connection.close()
        # all of them stay open for the next requests (none closed as "overflow")
        held = [engine.connect() for _ in range(POOL_SIZE)]
        again = {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in held}
        for connection in held:
            connection.close()
        assert again == pids
        assert len(pids) == POOL_SIZE
    finally:
        engine.dispose()
