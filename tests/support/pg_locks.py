"""Threads and PostgreSQL lock waits for the tests of concurrent writes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

#: How long a test waits for another thread to reach a point (a bound, not a measurement).
WAIT_S = 30.0


def in_thread(work: Callable[[], Any], results: dict[str, Any], name: str) -> threading.Thread:
    """Start ``work`` in a thread; its result (or the exception it raised) goes to
    ``results[name]``."""

    def run() -> None:
        try:
            results[name] = work()
        except BaseException as error:
            results[name] = error

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def backends_waiting_for_a_lock(engine: Engine, kind: str | None = None) -> int:
    """How many of the database's backends wait for a lock (of ``kind``: ``advisory``,
    ``transactionid`` …; any when ``None``)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    if kind is not None:
        query += " AND wait_event = :kind"
    with engine.connect() as connection:
        found = connection.execute(text(query), {"kind": kind}).scalar()
    return int(found or 0)


def wait_for_a_blocked_backend(engine: Engine, kind: str | None = None) -> None:
    """Return once a backend waits for a lock (of ``kind``); fail after :data:`WAIT_S`."""
    pause = threading.Event()
    for _ in range(int(WAIT_S * 20)):
        if backends_waiting_for_a_lock(engine, kind):
            return
        pause.wait(0.05)
    raise AssertionError(f"no backend waited for a lock within {WAIT_S} s")
