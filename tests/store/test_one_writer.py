"""The SQLite write lock of the process is held for a unit of work's transaction only, by one
writer at a time, and released however the transaction ends (issue 13 part 3)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text
from tests.support.waiting import wait_until

from remit.errors import InputError
from remit.store import Actor, unit_of_work
from remit.store.engine import one_writer


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_a_second_writer_waits_for_the_first_and_a_failure_releases_the_lock(
    engine: Engine,
) -> None:
    first_in, first_go, second_in = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with unit_of_work(engine, Actor.system()) as uow:
            uow.session.execute(text("SELECT 1"))
            first_in.set()
            first_go.wait(120)

    def second() -> None:
        with unit_of_work(engine, Actor.system()) as uow:
            uow.session.execute(text("SELECT 1"))
            second_in.set()

    a = threading.Thread(target=first)
    a.start()
    wait_until(first_in.is_set, "the first writer to open its transaction")
    b = threading.Thread(target=second)
    b.start()
    # queued in the process, not in SQLite's busy handler: it cannot be in while the first is
    assert not second_in.wait(0.3)
    first_go.set()
    wait_until(second_in.is_set, "the second writer to open its transaction")
    a.join()
    b.join()

    with pytest.raises(InputError), unit_of_work(engine, Actor.system()):
        raise InputError("a refused input")
    done = threading.Event()

    def after_failure() -> None:
        with one_writer(engine):
            done.set()

    t = threading.Thread(target=after_failure)
    t.start()
    wait_until(done.is_set, "the lock to be free after a failed unit of work")
    t.join()


@pytest.mark.parametrize("db_backend", ["postgresql"])
@pytest.mark.postgres
def test_postgresql_writers_take_no_process_lock(engine: Engine) -> None:
    done = threading.Event()

    def other() -> None:
        with one_writer(engine):
            done.set()

    with one_writer(engine):
        t = threading.Thread(target=other)
        t.start()
        wait_until(done.is_set, "a writer in another thread while this one writes")
    t.join()
