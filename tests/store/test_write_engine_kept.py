"""The write engine is made once per engine (issue 16) and stays what a new one would be: made
again when the engine's execution options or echo flag change, seeing listeners added to the
engine later, writing with ``BEGIN IMMEDIATE``, and not keeping the engine alive."""

from __future__ import annotations

import gc
import sqlite3
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text

from remit.store.cursor import on_cursor
from remit.store.engine import _NULL_ADAPTER, WRITE_OPTION, make_engine, write_engine


def _engine(tmp_path: Path) -> Any:
    return create_engine(f"sqlite:///{tmp_path / 'w.db'}")


def test_the_write_engine_is_made_once(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    first = write_engine(engine)
    assert write_engine(engine) is first
    assert first.get_execution_options()[WRITE_OPTION] is True
    assert WRITE_OPTION not in engine.get_execution_options()
    engine.dispose()


def test_changed_execution_options_or_echo_make_a_new_one(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    first = write_engine(engine)
    engine.update_execution_options(remit_test_option=7)
    second = write_engine(engine)
    assert second is not first
    assert second.get_execution_options()["remit_test_option"] == 7
    assert second.get_execution_options()[WRITE_OPTION] is True
    engine.echo = True
    third = write_engine(engine)
    assert third is not second
    assert third.echo is True
    assert write_engine(engine) is third
    engine.dispose()


def test_a_listener_added_to_the_engine_later_sees_the_writes(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    kept = write_engine(engine)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with write_engine(engine).begin() as connection:
        connection.execute(text("SELECT 1"))
    assert write_engine(engine) is kept
    assert "SELECT 1" in seen
    engine.dispose()


def test_a_disposed_engine_s_write_engine_uses_its_new_pool(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    kept = write_engine(engine)
    engine.dispose()
    assert kept.pool is engine.pool
    with kept.begin() as connection:
        assert connection.execute(text("SELECT 2")).scalar() == 2
    engine.dispose()


def test_the_kept_write_engine_does_not_keep_the_engine_alive(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    write_engine(engine)
    gone = weakref.ref(engine)
    engine.dispose()
    del engine
    gc.collect()
    assert gone() is None


def test_a_none_binds_as_null_through_the_adapter(tmp_path: Path) -> None:
    """A SQLite engine gives sqlite3 an adapter for None (the NULLs of a form's write bind at
    once, issue 16); what is stored is the very NULL."""
    engine = make_engine(tmp_path / "n.db")
    assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)] is _NULL_ADAPTER
    assert _NULL_ADAPTER(None) is None
    with write_engine(engine).begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (a, b)")
        on_cursor(connection, "INSERT INTO t VALUES (?, ?)", (None, 1))
        connection.execute(text("INSERT INTO t VALUES (:a, :b)"), {"a": None, "b": 2})
        rows = connection.exec_driver_sql("SELECT typeof(a), a IS NULL, b FROM t").all()
    assert [tuple(r) for r in rows] == [("null", 1, 1), ("null", 1, 2)]
    engine.dispose()
