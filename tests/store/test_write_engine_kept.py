"""The write engine is made once per engine (issue 16) and stays what a new one would be: made
again when the engine's execution options or echo flag change, seeing listeners added to the
engine later, writing with ``BEGIN IMMEDIATE``, and not keeping the engine alive."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text

from remit.store.engine import WRITE_OPTION, write_engine


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
