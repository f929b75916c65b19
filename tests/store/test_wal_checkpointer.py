"""A SQLite file's write-ahead log is checkpointed by a background thread, not in the commits
of the writers: the log stays bounded, nothing committed is lost, the thread stops with the
engine and never keeps a process alive."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from remit.store.engine import (
    CHECKPOINT_THREAD_NAME,
    SQLITE_WAL_AUTOCHECKPOINT_PAGES,
    make_engine,
    wal_checkpointer,
    write_engine,
)

#: A row of about two pages, so that each commit writes a few WAL frames.
BLOB = b"x" * 6000


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == CHECKPOINT_THREAD_NAME]


def _commit_rows(engine: Engine, commits: int) -> None:
    writer = write_engine(engine)
    with writer.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, b BLOB)")
    for _ in range(commits):
        with writer.begin() as connection:
            connection.execute(text("INSERT INTO t (b) VALUES (:b)"), {"b": BLOB})


def _wal_pages(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return max(0, (wal.stat().st_size - 32) // (4096 + 24)) if wal.exists() else 0


@pytest.fixture
def file_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(tmp_path / "wal.db")
    yield engine
    engine.dispose()


def test_the_background_thread_copies_the_log_as_the_writers_commit(
    file_engine: Engine,
) -> None:
    with file_engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
    assert pages == SQLITE_WAL_AUTOCHECKPOINT_PAGES
    checkpointer = wal_checkpointer(file_engine)
    assert checkpointer is not None
    assert wal_checkpointer(write_engine(file_engine)) is checkpointer
    _commit_rows(file_engine, 3 * checkpointer.every)
    assert checkpointer.running
    assert len(_threads()) >= 1
    file_engine.dispose()  # waits for the thread's last checkpoint
    assert not checkpointer.running
    assert checkpointer.checkpoints >= 1
    assert checkpointer.last is not None
    busy, log, copied = checkpointer.last
    assert (busy, copied) == (0, log)  # the last one copied the whole log


def test_the_log_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "bounded.db"
    engine = make_engine(path)
    try:
        checkpointer = wal_checkpointer(engine)
        assert checkpointer is not None
        commits = 600  # about 3 frames each: 1,800 frames without checkpoints
        _commit_rows(engine, commits)
        assert checkpointer.checkpoints >= 1
        # restarted by the writers' checkpoints: never far past their threshold
        assert _wal_pages(path) < SQLITE_WAL_AUTOCHECKPOINT_PAGES + 100
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == commits
    finally:
        engine.dispose()
    assert _wal_pages(path) == 0  # checkpointed (and removed) at the end


def test_a_backup_sees_every_committed_row_while_the_thread_runs(
    file_engine: Engine, tmp_path: Path
) -> None:
    checkpointer = wal_checkpointer(file_engine)
    assert checkpointer is not None
    _commit_rows(file_engine, 2 * checkpointer.every + 5)  # some rows still only in the log
    copy = sqlite3.connect(tmp_path / "copy.db")
    live = sqlite3.connect(file_engine.url.database or "")
    try:
        live.backup(copy)
        assert copy.execute("SELECT count(*) FROM t").fetchone()[0] == 2 * checkpointer.every + 5
    finally:
        live.close()
        copy.close()


def test_the_engine_writes_again_after_dispose(file_engine: Engine) -> None:
    checkpointer = wal_checkpointer(file_engine)
    assert checkpointer is not None
    _commit_rows(file_engine, checkpointer.every + 1)
    file_engine.dispose()
    assert not checkpointer.running
    _commit_rows(file_engine, checkpointer.every + 1)
    assert checkpointer.running  # started again by the commits
    with file_engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one()
    assert count == 2 * (checkpointer.every + 1)


def test_in_memory_databases_have_no_checkpointer() -> None:
    engine = make_engine("sqlite://")
    try:
        assert wal_checkpointer(engine) is None
    finally:
        engine.dispose()


def test_a_one_shot_process_exits_with_the_thread_running_and_loses_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cli.db"
    program = f"""
from sqlalchemy import text
from remit.store.engine import make_engine, wal_checkpointer, write_engine
engine = make_engine({str(path)!r})
writer = write_engine(engine)
with writer.begin() as c:
    c.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
for _ in range(100):
    with writer.begin() as c:
        c.execute(text("INSERT INTO t (b) VALUES (:b)"), {{"b": b"x" * 6000}})
assert wal_checkpointer(engine).running
print("written")
"""  # no dispose: the process ends with the thread alive and connections open
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "written"
    reader = sqlite3.connect(path)
    try:
        assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == 100
    finally:
        reader.close()
