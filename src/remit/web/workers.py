"""The web layer's worker threads: blocking work (a session lookup, a service call) handed
off from the event loop and awaited there (:func:`in_worker_thread`).

Every form submission makes one such hand-off, so its cost counts (issue 16). Starlette's
``run_in_threadpool`` (anyio's worker threads: a capacity limiter, a cancel scope and event
loop lookups) cost 39-50 us a hand-off; asyncio's ``run_in_executor`` over a
``ThreadPoolExecutor`` half that, still many Python calls: its ``Future`` is Python code
that takes a condition variable for each of a dozen steps, then is chained to an asyncio
future by callbacks. :class:`WorkerThreads` hands the work to its threads through a C queue
and gives the result straight to the awaiting asyncio future on its loop
(``call_soon_threadsafe``): 35 Python calls per hand-off instead of 97, the event loop's own
turns included (tests/web/test_worker_threads.py).

It keeps what the executor did: at most :data:`WORKER_THREADS` run at once, started when
needed and named ``remit-web_0``, ``remit-web_1`` …; the others wait in line; the caller's
context variables are the work's; its result, or its exception, comes back to the caller.
Work whose caller was cancelled before it started is not run; work already running runs to
its end (a service call commits or rolls back whole), also when the process exits: the
threads finish what they were given before the interpreter shuts down. A process forked
from one whose threads had started starts threads of its own.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Worker threads at most. Fewer than anyio's default of 40 (the pool Starlette's
#: ``run_in_threadpool`` uses): a request's blocking work takes milliseconds, and each thread
#: beyond what the cores and the database can serve only waits for the GIL and makes the
#: others wait for it, the thread holding PostgreSQL's audit lock among them. Two PostgreSQL
#: workers entered 300.1 and 289.9 forms/s with 4 threads per process, 264.5-284.0 with 8 and
#: 223.2-256.0 with 40, with less CPU per form in the server and the database each time
#: (``benchmarks/load_web.py --engine postgresql --workers 2``, 50 raters, issue 16). On
#: SQLite the forms are written by the writer thread (:func:`writer_thread`) whatever this is.
WORKER_THREADS = 4
#: The most worker threads a process may be given (:func:`use_worker_threads`).
MAX_WORKER_THREADS = 256
#: The name of the threads (``remit-web_0``, ``remit-web_1`` …).
WORKER_THREAD_NAME = "remit-web"

#: What a job gives back once done: the loop to call back, and the call, made once the
#: thread counts as idle again (so that the next hand-off of the same caller finds it idle).
Reply = tuple[asyncio.AbstractEventLoop, Callable[..., None], tuple[Any, ...]]
#: A job: the work, giving its reply (``None``: nothing to reply).
Job = Callable[[], Reply | None]


class WorkerThreads:
    """Up to ``size`` threads named ``name_0``, ``name_1`` … running the jobs given to
    :meth:`submit`, in the order given; a thread is started when a job comes and no started
    one is idle."""

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: Threads done with their work and not yet given more (an over-count while work
        #: waits in line, when no thread may be started anyway).
        self._idle = 0
        self._stopped = False

    def submit(self, job: Job) -> None:
        """Run ``job()`` in one of the threads (it must not raise), then its reply on its
        loop (``loop.call_soon_threadsafe(callback, *args)``; none when the loop is closed)."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("the worker threads have stopped: the process is exiting")
            if self._idle:
                self._idle -= 1
            elif len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._serve, name=f"{self.name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)

    def _serve(self) -> None:
        jobs, lock = self._jobs, self._lock
        while (job := jobs.get()) is not None:
            reply = job()
            with lock:
                self._idle += 1
            if reply is not None:
                loop, callback, args = reply
                try:  # (not contextlib.suppress: three calls more per job)  # noqa: SIM105
                    loop.call_soon_threadsafe(callback, *args)
                except RuntimeError:  # the loop is closed: nobody waits for the reply any more
                    pass

    def stop(self) -> None:
        """Let every thread finish the work given to it, then end them (at the process's
        exit: the threads are daemons, so that idle ones do not keep it alive, and a daemon
        is not waited for)."""
        with self._lock:
            self._stopped = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()


#: The name of the one thread that writes forms to a SQLite database (:func:`in_worker_thread`
#: with ``writer``).
WRITER_THREAD_NAME = "remit-writer"

_workers: WorkerThreads | None = None
_writer: WorkerThreads | None = None
_workers_guard = threading.Lock()


def _started(kept: str, size: int, thread_name: str) -> WorkerThreads:
    """The process's threads kept in the module global ``kept``, made on first use (with
    ``size`` threads named ``thread_name_N``); they finish their work at the process's exit."""
    found: WorkerThreads | None = globals()[kept]
    if found is None:
        with _workers_guard:
            found = globals()[kept]
            if found is None:
                found = globals()[kept] = WorkerThreads(size, thread_name)
                atexit.register(found.stop)
    return found


#: How many worker threads this process runs at most (:func:`use_worker_threads`).
_size = WORKER_THREADS


def worker_threads() -> WorkerThreads:
    """The process's worker threads, started on first use (every app and event loop of the
    process shares them, as anyio's threads are shared)."""
    return _started("_workers", _size, WORKER_THREAD_NAME)


def use_worker_threads(count: int) -> None:
    """Run at most ``count`` worker threads in this process (``remit serve --threads``;
    default :data:`WORKER_THREADS`): more when slow pages (reports, exports) should not hold
    up other requests, at some CPU per request under load. Threads already running stay; a
    smaller count starts no new ones beyond it."""
    global _size
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"worker threads must be a whole number, not {count!r}")
    if not 1 <= count <= MAX_WORKER_THREADS:
        raise ValueError(f"worker threads must be 1 to {MAX_WORKER_THREADS}, not {count}")
    with _workers_guard:
        _size = count
        if _workers is not None:
            _workers.size = count


def writer_thread() -> WorkerThreads:
    """The process's writer thread (one), started on first use.

    SQLite has one writer at a time: the process queues its writers on a lock
    (:func:`remit.store.engine.one_writer`), so threads beyond one add nothing to the writes
    of forms and cost them much (issue 16). The thread holding the lock gives up the GIL at
    every SQLite call and waits for it again behind the threads still reading sessions and
    checking input; and each write began on whichever pooled connection came first, whose
    page cache SQLite had dropped because another connection had written since (a connection
    keeps its cache only while no other one writes). One thread writing, on the connection
    it used last (SQLite's pool hands out the connection checked in last,
    :func:`remit.store.engine.make_engine`), keeps both: about 300 forms/s where 40 threads
    gave 220 on this project's 2-core benchmark machine (``benchmarks/load_web.py``)."""
    return _started("_writer", 1, WRITER_THREAD_NAME)


def _forget_in_child() -> None:
    """In a child process forked from one with worker threads: none of them run there, so
    the child starts its own on first use."""
    global _workers, _writer, _workers_guard
    _workers, _writer, _workers_guard = None, None, threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the loop: the work's outcome to its caller, unless the caller was cancelled."""
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def in_worker_thread(work: Callable[[], T], *, writer: bool = False) -> asyncio.Future[T]:
    """``work()`` in a worker thread (with the caller's context variables), to await on the
    running event loop: what Starlette's ``run_in_threadpool`` does, at a fraction of its cost
    (see the module). The work is handed off at once; the future returned gives its result
    (a future, not a coroutine: one frame less to resume when the work is done). With
    ``writer`` it runs in the writer thread (:func:`writer_thread`), after the work handed to
    it before: for work that writes to a SQLite database.

    A request cancelled while its work runs (the server stopping) gets the cancellation at
    once where anyio waited for the work first: either way the work runs to its end in its
    thread and nothing is answered."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    run = contextvars.copy_context().run

    def job() -> Reply | None:
        if future.cancelled():  # (a read of the future's state: the caller left before)
            return None
        try:
            return loop, _settle, (future, run(work), None)
        except BaseException as error:  # (the caller's to handle, as with the executor)
            return loop, _settle, (future, None, error)

    if writer:
        (_writer or writer_thread()).submit(job)
    else:
        (_workers or worker_threads()).submit(job)
    return future
