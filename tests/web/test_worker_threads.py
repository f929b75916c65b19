"""Issue 16: the web layer's worker threads (:mod:`remit.web.workers`) hand work off as the
executor did (a bounded number of threads, the others in line, the caller's context, results
and exceptions back, cancelled work not started, running work finished) at a fraction of the
Python calls."""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from remit.errors import ConflictError
from remit.web import workers
from remit.web.workers import WorkerThreads, in_worker_thread


def _run_apart(main: Callable[[], Any]) -> Any:
    """``asyncio.run(main())`` in a thread of its own (pytest's thread may have a loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result(timeout=30)


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkerThreads]:
    """The process's worker threads replaced by two (stopped after the test)."""
    pool = WorkerThreads(2, "test-web")
    monkeypatch.setattr(workers, "_workers", pool)
    yield pool
    pool.stop()


def test_at_most_size_threads_run_at_once_and_the_rest_wait_in_line(
    two_threads: WorkerThreads,
) -> None:
    release = threading.Event()
    started: list[str] = []
    guard = threading.Lock()

    def work(number: int) -> int:
        with guard:
            started.append(threading.current_thread().name)
        release.wait(10)
        return number

    async def main() -> list[int]:
        tasks = [asyncio.ensure_future(in_worker_thread(lambda n=n: work(n))) for n in range(5)]
        for _ in range(200):
            await asyncio.sleep(0.005)
            if len(started) == 2:
                break
        await asyncio.sleep(0.05)
        assert len(started) == 2  # the other three wait in line
        release.set()
        return list(await asyncio.gather(*tasks))

    assert _run_apart(main) == [0, 1, 2, 3, 4]
    assert sorted(set(started)) == ["test-web_0", "test-web_1"]
    assert len(started) == 5


def test_an_idle_thread_is_reused_rather_than_another_started(
    two_threads: WorkerThreads,
) -> None:
    async def main() -> list[str]:
        return [await in_worker_thread(lambda: threading.current_thread().name) for _ in range(4)]

    assert _run_apart(main) == ["test-web_0"] * 4


def test_the_work_gets_the_callers_context_and_gives_back_its_result_or_exception(
    two_threads: WorkerThreads,
) -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")

    def failing() -> None:
        raise ConflictError("taken", expected="another")

    async def main() -> tuple[str, BaseException | None]:
        request_id.set("r-7")
        seen = await in_worker_thread(request_id.get)
        try:
            await in_worker_thread(failing)
        except ConflictError as error:
            return seen, error
        return seen, None

    seen, error = _run_apart(main)
    assert seen == "r-7"
    assert isinstance(error, ConflictError)


def test_cancelled_work_is_not_started_and_running_work_runs_to_its_end(
    two_threads: WorkerThreads,
) -> None:
    release = threading.Event()
    ran: list[str] = []

    def blocking(name: str) -> str:
        release.wait(10)
        ran.append(name)
        return name

    async def main() -> None:
        busy = [asyncio.ensure_future(in_worker_thread(lambda n=n: blocking(n))) for n in "ab"]
        waiting = asyncio.ensure_future(in_worker_thread(lambda: blocking("c")))
        await asyncio.sleep(0.05)
        busy[0].cancel()  # running: it goes on, its result is dropped
        waiting.cancel()  # in line: it never starts
        await asyncio.sleep(0.05)
        release.set()
        assert await busy[1] == "b"
        with pytest.raises(asyncio.CancelledError):
            await busy[0]
        with pytest.raises(asyncio.CancelledError):
            await waiting

    _run_apart(main)
    two_threads.stop()  # waits for every thread's work
    assert sorted(ran) == ["a", "b"]


def test_stopping_waits_for_the_running_work_then_refuses_more() -> None:
    pool = WorkerThreads(1, "test-stop")
    done = threading.Event()

    def slow() -> None:
        threading.Event().wait(0.2)
        done.set()

    def job() -> None:
        slow()

    pool.submit(job)
    pool.stop()
    assert done.is_set()
    with pytest.raises(RuntimeError, match="stopped"):
        pool.submit(job)


def test_a_hand_off_costs_a_few_python_calls(two_threads: WorkerThreads) -> None:
    """asyncio's ``run_in_executor`` over a ``ThreadPoolExecutor`` made 97 Python calls per
    hand-off here (the loop's and the worker thread's together, the idle loop's turns
    included); this one 35."""
    calls = [0]
    counting = [False]

    def hook(_frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and counting[0]:
            calls[0] += 1

    def work() -> int:
        return 1

    async def main() -> int:
        await in_worker_thread(work)  # the thread started, outside the count
        counting[0] = True
        total = 0
        for _ in range(10):
            total += await in_worker_thread(work)
        counting[0] = False
        return total

    threading.setprofile(hook)  # (the pool's thread starts after this: it is counted)
    sys.setprofile(hook)
    try:
        assert _run_apart(main) == 10
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    assert calls[0] / 10 <= 50, calls[0] / 10


def test_a_forked_child_starts_its_own_threads() -> None:
    """The threads of the parent do not run in a child forked from it (a server forking its
    workers after a first request): the child's hand-offs still run."""

    async def handed(value: int) -> int:
        return await in_worker_thread(lambda: value)

    assert _run_apart(lambda: handed(1)) == 1  # the parent's threads run
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through its exit status)
        signal.alarm(20)
        try:
            os._exit(0 if asyncio.run(handed(41)) == 41 else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
