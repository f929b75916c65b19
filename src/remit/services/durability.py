"""Is the database set up so that an acknowledged save survives a crash or a power cut?

``remit serve`` refuses a database whose settings can lose acknowledged data (issue 13):
PostgreSQL with ``synchronous_commit=off`` (the last commits are lost on a crash although the
user was told they were saved) or ``fsync=off`` (the whole cluster can be corrupted by a power
cut), SQLite with ``synchronous=OFF``. :func:`is_disk_full` tells a full disk from other
database errors (the web app answers it with 507).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from remit.store.engine import is_disk_full, is_pool_exhausted

__all__ = ["is_disk_full", "is_pool_exhausted", "unsafe_durability"]

#: PostgreSQL settings → values that lose acknowledged data, with why.
_PG_UNSAFE: dict[str, tuple[frozenset[str], str]] = {
    "synchronous_commit": (
        frozenset({"off"}),
        "a commit is acknowledged before it is on disk: a crash loses the last saves",
    ),
    "fsync": (
        frozenset({"off"}),
        "nothing is forced to disk: a power cut can corrupt the whole database",
    ),
}
#: SQLite ``PRAGMA synchronous`` values below FULL (2) and what they lose. Remit opens SQLite
#: with FULL; NORMAL is the common "faster" setting: in WAL mode a commit is acknowledged
#: before the WAL is synced, so a power cut or an OS crash can take the last acknowledged
#: commits (the database stays consistent); OFF can corrupt it.
_SQLITE_WEAK = {
    0: "synchronous=OFF (SQLite): a commit is acknowledged before it is on disk, "
    "a power cut loses or corrupts it",
    1: "synchronous=NORMAL (SQLite): a commit is acknowledged before the write-ahead log is "
    "synced, a power cut or OS crash can lose the last acknowledged saves",
}


def unsafe_durability(engine: Engine) -> list[str]:
    """The settings of ``engine``'s database that can lose acknowledged data, one line each
    (``setting=value: why``); empty when every commit is durable.

    Read on a new connection as the app would get it, so per-database and per-role settings
    (``ALTER DATABASE … SET synchronous_commit = off``) are seen.
    """
    found: list[str] = []
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            level = connection.exec_driver_sql("PRAGMA synchronous").scalar()
            if level in _SQLITE_WEAK:
                found.append(_SQLITE_WEAK[level])
            return found
        for name, (bad, why) in _PG_UNSAFE.items():
            value = str(connection.execute(text(f"SHOW {name}")).scalar()).lower()
            if value in bad:
                found.append(f"{name}={value} (PostgreSQL): {why}")
    return found
