"""A SQLite file's pool keeps its connections under a worker's load, as PostgreSQL's does:
none is opened, configured (the PRAGMAs) and closed again per request."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event

from remit.store import make_engine
from remit.store.engine import POOL_SIZE


def test_a_sqlite_file_pool_keeps_a_connection_per_worker_thread(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "trial.db")
    opened: list[object] = []
    event.listen(
        engine, "connect", lambda dbapi_connection, _record: opened.append(dbapi_connection)
    )
    try:
        for _ in range(3):
            held = [engine.connect() for _ in range(POOL_SIZE)]
            for connection in held:
                connection.close()
        assert len(opened) == POOL_SIZE  # the first round opened them; the others reused them
        assert engine.pool.size() == POOL_SIZE
    finally:
        engine.dispose()


def test_an_in_memory_database_keeps_its_own_pool() -> None:
    engine = make_engine("sqlite://")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        engine.dispose()
