"""Engine factory: SQLite (the embedded default) or PostgreSQL, chosen by the URL.

SQLite is opened in WAL mode with ``synchronous=FULL`` (an acknowledged commit survives a power
cut), foreign keys on and a busy timeout. pysqlite's own transaction handling is switched off
(SQLAlchemy's documented recipe) so that Remit emits ``BEGIN`` itself: ``BEGIN IMMEDIATE`` for
engines marked for writing (see :func:`write_engine`), which takes the write lock at the start of
the transaction instead of failing half-way with "database is locked".
"""

from __future__ import annotations

import atexit
import errno
import functools
import os
import select
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import Pool

from remit.errors import InputError
from remit.store.cursor import on_cursor

#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
WRITE_OPTION = "remit_write"

#: Milliseconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(url_or_path: str | Path) -> URL:
    """Turn a SQLite path or a database URL into a SQLAlchemy :class:`~sqlalchemy.engine.URL`.

    A plain path (no ``://``) means a SQLite file; ``postgresql://`` and ``postgres://`` are
    given the psycopg 3 driver.
    """
    text = str(url_or_path).strip()
    if not text:
        raise InputError(
            "no database given",
            expected="a SQLite file path or a URL such as postgresql://user@host/dbname",
            hint="pass --db or set REMIT_DATABASE_URL",
        )
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text).expanduser().resolve()))
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    try:
        url = make_url(text)
    except ArgumentError as error:
        raise InputError(
            f"database URL {text!r} cannot be read ({error})",
            expected="sqlite:///path/to/file.db or postgresql://user@host:5432/dbname",
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        if url.drivername in ("postgresql", "postgresql+psycopg2"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    if backend == "sqlite":
        return url
    raise InputError(
        f"database URL {text!r} names the {backend!r} backend",
        expected="SQLite (a file path or sqlite:///…) or PostgreSQL (postgresql://…)",
    )


def make_engine(url: str | Path | URL, *, echo: bool = False, must_exist: bool = False) -> Engine:
    """Create an engine for a SQLite path/URL or a PostgreSQL URL; nothing connects yet.

    Parameters
    ----------
    url
        ``trial.db``, ``sqlite:///trial.db``, ``postgresql://user@host/db`` or
        ``postgresql+psycopg://…``.
    echo
        Log every SQL statement (for debugging).
    must_exist
        Refuse a SQLite file that does not exist yet (instead of creating an empty one).
    """
    resolved = url if isinstance(url, URL) else database_url(url)
    if resolved.get_backend_name() == "sqlite":
        file = resolved.database
        if must_exist and file not in (None, "", ":memory:") and not Path(file).exists():
            raise InputError(
                f"there is no SQLite database at {file}",
                expected="the path of an existing Remit database",
                hint="check the path, or create one with `remit db upgrade --db PATH`",
            )
        in_memory = file in (None, "", ":memory:")
        engine = create_engine(
            resolved,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            # a file's pool keeps its connections as PostgreSQL's does (see POOL_SIZE): an
            # overflow connection opened and closed per request under load ran the four
            # PRAGMAs of _configure_sqlite and opened the WAL each time. It hands out the
            # connection checked in last (LIFO): a SQLite connection drops its page cache when
            # another connection has written since its last transaction, so the writes that
            # follow one another (one writer at a time, remit.web.workers.writer_thread) find
            # their pages in memory on the connection that wrote last, instead of reading
            # them again on one the queue would give in turn (issue 16)
            **(
                {}
                if in_memory
                else {"pool_size": POOL_SIZE, "max_overflow": 0, "pool_use_lifo": True}
            ),
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(
        resolved,
        echo=echo,
        pool_size=POOL_SIZE,
        max_overflow=0,
        connect_args={**POSTGRES_CONNECT_ARGS, "cursor_factory": lean_description_cursor()},
    )
    event.listen(engine, "checkout", _refuse_dead_connection)
    return engine


#: Connections a process keeps open to a database (PostgreSQL, or a SQLite file), and at most
#: opens. No overflow beyond it: an overflow connection is closed when it is returned while the
#: pool holds enough idle ones, so under a varying load the pool kept opening and closing
#: connections: on PostgreSQL each a new server process (a fork, authentication, cold caches)
#: and prepared statements lost, on SQLite the file opened and configured again.
#: A request that finds every connection busy waits for one (up to ``pool_timeout``, 30 s;
#: then it is answered "busy, try again", see :func:`is_pool_exhausted`).
POOL_SIZE = 15

#: psycopg 3 settings of every PostgreSQL connection: a statement run ``prepare_threshold``
#: times on a connection is prepared on the server (psycopg's default, 5, said explicitly:
#: without preparing, the database's CPU per form doubled, 2.5 → 5.8 ms, parse and plan
#: every time; 0, preparing at once, saved nothing measurable). TCP keepalives let the kernel
#: notice a database host that vanished without closing the connection (a crash, a cut
#: network), which :func:`_refuse_dead_connection` then sees (ignored on Unix sockets).
POSTGRES_CONNECT_ARGS: dict[str, Any] = {
    "prepare_threshold": 5,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


@functools.cache
def lean_description_cursor() -> type:
    """psycopg's cursor, with a ``description`` of plain DB-API 7-tuples ``(name, type_code,
    None, None, None, None, None)`` instead of one ``psycopg.Column`` object per column.

    SQLAlchemy reads ``cursor.description`` after every statement (whether rows came back;
    their names and types, where its cached result metadata does not already know them).
    psycopg builds a ``Column`` per column each time (the name decoded, the type looked up in
    the connection's type registry, five more calls): on PostgreSQL about 75 columns per saved
    form, a third of the Python calls the write path makes beyond SQLite's. The tuple keeps
    what SQLAlchemy reads (the name and the type's OID); the sizes, precision and scale are
    ``None``, as DB-API allows. Made once (psycopg is imported only for PostgreSQL)."""
    import psycopg
    from psycopg.pq import ExecStatus

    # the statuses of a result with rows (TUPLES_CHUNK: psycopg 3.2 on)
    kinds = ("TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK")
    rows = frozenset(getattr(ExecStatus, kind) for kind in kinds if hasattr(ExecStatus, kind))

    class LeanDescriptionCursor(psycopg.Cursor[Any]):
        @property
        def description(self) -> list[tuple[Any, ...]] | None:  # type: ignore[override]
            res = self.pgresult
            if res is None or not (res.nfields or res.status in rows):
                return None  # as psycopg's: no result, or one without rows
            encoding = self.connection.info.encoding
            described = []
            for index in range(res.nfields):
                name = res.fname(index)
                text = name.decode(encoding) if name else f"column_{index + 1}"
                described.append((text, res.ftype(index), None, None, None, None, None))
            return described

    return LeanDescriptionCursor


def _refuse_dead_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout: refuse a connection the server has ended, so the pool replaces it.

    An idle pooled connection has nothing to read; if its socket is readable (end of file, or
    the server's last "terminating connection" message) or in error, the server has closed
    it: a restart, an administrator, an idle timeout, a dead peer seen by keepalive. Raising
    :class:`~sqlalchemy.exc.DisconnectionError` makes the pool open a new connection for the
    checkout. This replaces ``pool_pre_ping``, which sent ``SELECT 1`` (a round trip to the
    server) at every checkout, two per API request: a look at the socket costs one ``poll``
    system call. A connection that dies after the check fails its statement as before: the
    transaction is not committed, nothing is stored, the request is answered with an error."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection was closed")
    if _readable(dbapi_connection.fileno()):
        raise DisconnectionError("the server ended the connection while it was idle in the pool")


def _readable(fd: int) -> bool:
    """Whether ``fd`` has something to read or an error, without waiting."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    readable, _, errored = select.select([fd], [], [fd], 0)  # Windows: no poll()
    return bool(readable or errored)


def write_engine(engine: Engine) -> Engine:
    """The same engine, marked so that its SQLite transactions start with ``BEGIN IMMEDIATE``.

    Made once per engine and kept on it (every write transaction asks for it; making one
    costs a logger and a dispatcher): made again when the engine's own execution options or
    its echo flag changed since, which a copy takes at its making (its events, pool and
    dialect are the engine's own at any time)."""
    kept = engine.__dict__.get(_WRITE_ENGINE)
    if kept is not None and kept[0] is engine._execution_options and kept[1] == engine.echo:
        return kept[2]  # type: ignore[no-any-return]
    made = engine.execution_options(**{WRITE_OPTION: True})
    # on the engine itself, not in a map by engine: the copy refers to the engine, so a map
    # would keep every engine (and its pool) alive; this cycle goes with the engine
    engine.__dict__[_WRITE_ENGINE] = (engine._execution_options, engine.echo, made)
    return made


#: Where :func:`write_engine` keeps an engine's write engine.
_WRITE_ENGINE = "_remit_write_engine"


#: One write lock per SQLite connection pool (so per database opened in this process).
_WRITERS: weakref.WeakKeyDictionary[Pool, threading.RLock] = weakref.WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


@contextmanager
def one_writer(engine: Engine) -> Iterator[None]:
    """Hold this process's write lock of a SQLite database for one write transaction.

    SQLite has one writer at a time; writers that collide wait in SQLite's busy handler, which
    sleeps in growing steps instead of waking when the lock is free, so the process queues its
    own writers here. The lock covers the transaction only: callers authenticate the user and
    read and validate the request before they open one, so a client that is slow to send (or
    never sends) its request body holds no lock. PostgreSQL writes concurrently: no lock.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    pool = engine.pool
    lock = _WRITERS.get(pool)
    if lock is None:  # the pool's first writer (a lock made only then, under the guard)
        with _WRITERS_GUARD:
            lock = _WRITERS.setdefault(pool, threading.RLock())
    with lock:
        yield


#: SQLSTATE of PostgreSQL's "disk full" (class 53, insufficient resources).
_PG_DISK_FULL = "53100"


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) says the disk or the database is full: SQLite's
    "database or disk is full", PostgreSQL's ``disk_full``, or an ``OSError`` ENOSPC/EDQUOT."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if getattr(current, "sqlstate", None) == _PG_DISK_FULL:
            return True
        if "database or disk is full" in str(current):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


#: SQLSTATEs of a PostgreSQL transaction stopped because it collided with another one (class
#: 40, transaction rollback): a deadlock the server broke, a serialisation failure.
_PG_COLLISIONS = frozenset({"40P01", "40001"})


def is_transaction_collision(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) is PostgreSQL stopping this transaction because it
    collided with another (``deadlock_detected`` or ``serialization_failure``): the server
    rolled it back, so nothing of it is stored, and the same request sent again can succeed."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) in _PG_COLLISIONS:
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


def is_pool_exhausted(error: BaseException) -> bool:
    """Whether ``error`` says every database connection of this process was in use for the
    pool's whole timeout (SQLAlchemy's ``QueuePool limit ... reached``): the request got no
    connection, so nothing of it was stored, and it can be sent again."""
    return isinstance(error, PoolTimeoutError)


def is_sqlite(engine: Engine | Connection) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


#: Write commits between two background checkpoints of a SQLite file's write-ahead log (a
#: form's transaction writes about 60 pages: about 500 pages per checkpoint).
WAL_CHECKPOINT_COMMITS = 8

#: WAL pages past which a committing connection checkpoints (``PRAGMA wal_autocheckpoint``,
#: SQLite's default said explicitly). That checkpoint is what bounds the log: after it the
#: next writer starts the log again from its beginning (a checkpoint in another connection
#: cannot: a writer always began its transaction before it ended). The background
#: checkpointer has by then copied nearly every page, so it is short.
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 1000

#: Name of the background checkpointer's thread.
CHECKPOINT_THREAD_NAME = "remit-wal-checkpoint"


class WalCheckpointer:
    """Copies a SQLite file's write-ahead log into the database file off the request path.

    SQLite checkpoints in the connection whose commit takes the log past
    :data:`SQLITE_WAL_AUTOCHECKPOINT_PAGES`: every ~16th form's commit copied ~1000 pages into
    the database and waited for the database file's fsync (7-9 ms), while holding the
    process's write lock (:func:`one_writer`), so every writer waited for it. This daemon
    thread, woken every :data:`WAL_CHECKPOINT_COMMITS` commits, runs
    ``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own: it waits for no lock,
    blocks no reader or writer and runs without the GIL (in SQLite's C code), so the
    committing connection's checkpoint finds nearly every page copied and synced already.

    The log's bound is SQLite's own (the committing connection's checkpoint still runs, and
    restarts the log); durability is not touched: a commit is durable when its WAL frames are
    synced (``synchronous=FULL``), checkpointed or not, and a checkpoint interrupted by a crash
    is redone from the log by the next connection. If the thread cannot run, the writers
    checkpoint as before. The thread starts at the first commits, stops with
    ``engine.dispose()`` (after a last checkpoint) and at interpreter exit; being a daemon it
    never keeps a process alive.
    """

    def __init__(self, database: str, every: int | None = None) -> None:
        self.database = database
        self.every = every or WAL_CHECKPOINT_COMMITS
        #: Checkpoints run, and the last one's ``(busy, log pages, checkpointed pages)``.
        self.checkpoints = 0
        self.last: tuple[int, int, int] | None = None
        self._commits = 0
        self._wake = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = False
        _CHECKPOINTERS.add(self)

    def committed(self) -> None:
        """A transaction is committing: wake the thread every :attr:`every` commits."""
        self._commits += 1
        if self._commits >= self.every:
            self._commits = 0
            if not self.running:
                self._start()
            self._wake.set()

    @property
    def running(self) -> bool:
        """Whether the thread runs (in this process)."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    def _start(self) -> None:
        with self._guard:
            if self.running:
                return
            self._stopping = False
            self._wake = threading.Event()
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, args=(self._wake,), name=CHECKPOINT_THREAD_NAME, daemon=True
            )
            self._thread.start()

    def _run(self, wake: threading.Event) -> None:
        try:
            connection = self._connect()
        except sqlite3.Error:
            return  # (e.g. the file was removed): the writers' own checkpoints bound the log
        try:
            while True:
                wake.wait()
                wake.clear()
                if self._stopping:
                    break
                self._checkpoint(connection)
            self._checkpoint(connection)  # stopping: what was committed until now
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.database,
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.execute("PRAGMA synchronous = FULL")  # the database file is synced too
        return connection

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:
            # (e.g. the file was removed): the writers' own checkpoints still bound the log
            return
        self.last = (int(row[0]), int(row[1]), int(row[2]))
        self.checkpoints += 1

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread after a last checkpoint (``engine.dispose()`` and exit call it)."""
        with self._guard:
            thread = self._thread
            if thread is None or self._pid != os.getpid():
                return
            self._stopping = True
            self._wake.set()
        if thread is threading.current_thread():
            return  # (a finaliser run by the thread itself): it ends after this checkpoint
        thread.join(timeout)
        with self._guard:
            if self._thread is thread and not thread.is_alive():
                self._thread = None


_CHECKPOINTERS: weakref.WeakSet[WalCheckpointer] = weakref.WeakSet()


@atexit.register
def _stop_checkpointers() -> None:
    for checkpointer in list(_CHECKPOINTERS):
        checkpointer.stop(timeout=10.0)


def wal_checkpointer(engine: Engine) -> WalCheckpointer | None:
    """The background checkpointer of ``engine`` (a SQLite file's), else ``None``."""
    base = engine
    while isinstance(proxied := getattr(base, "_proxied", None), Engine):
        base = proxied  # an engine with other execution options shares its original's
    return _CHECKPOINTER_OF.get(base)


_CHECKPOINTER_OF: weakref.WeakKeyDictionary[Engine, WalCheckpointer] = weakref.WeakKeyDictionary()


#: The adapter :func:`_configure_sqlite` gives the sqlite3 module for ``None``: ``None`` back,
#: at C speed (an empty dictionary's ``get``).
_NULL_ADAPTER: Callable[[None], None] = dict[None, None]().get


def _configure_sqlite(engine: Engine) -> None:
    # sqlite3 binds an int, float or str as it is, but looks for an adapter for anything else,
    # None too: without one it asks for ``__adapt__`` and ``__conform__``, two attribute
    # errors spelled out, before it binds the NULL; with an adapter giving None back it binds
    # the very NULL at once (a form's write binds a hundred NULLs, issue 16). Process-wide
    # and the same NULL for every connection: registered again, nothing changes.
    sqlite3.register_adapter(type(None), _NULL_ADAPTER)
    database = engine.url.database
    checkpointer = None
    if database not in (None, "", ":memory:") and not database.startswith("file:"):
        checkpointer = _CHECKPOINTER_OF[engine] = WalCheckpointer(database)
        # an engine dropped without dispose(): its thread ends too (without waiting for it)
        weakref.finalize(engine, checkpointer.stop, 0.0)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see the "begin" listener below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        # through the DB-API cursor as the write path's statements (remit.store.cursor: the
        # cursor listeners called, a driver error raised as SQLAlchemy's): SQLAlchemy's own
        # execution of this one statement cost as much as the rest of the transaction's start
        on_cursor(connection, "BEGIN IMMEDIATE" if write else "BEGIN", ())

    if checkpointer is not None:
        event.listen(engine, "commit", lambda _connection: checkpointer.committed())
        event.listen(engine, "engine_disposed", lambda _engine: checkpointer.stop())
