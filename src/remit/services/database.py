"""Opening, creating and migrating a trial database.

The outer layers (the CLI, the web app, simulation, imports and exports) reach the store only
through :mod:`remit.services`; these functions are what they need of it to get an engine.
``Engine`` is re-exported for their type annotations, so that none of them imports SQLAlchemy;
so are the store's ``head_revision()`` (the newest migration this version ships) and
``create_app_role(engine, role_name, password=None)`` (PostgreSQL: the login role the app
connects as, which may only append audit rows).

Typical use::

    from remit import services as sv

    engine = sv.create_database("trial.db")        # a new file, migrated to the newest schema
    sv.close_database(engine)
    engine = sv.open_database("trial.db")          # an existing one, refused unless current
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, select

from remit.services.records import _Record
from remit.store import (
    AllocationKey,
    AuditKeyRing,
    create_app_role,
    current_revision,
    head_revision,
    is_sqlite,
    make_engine,
    require_current,
    upgrade,
    with_allocation_key,
    with_audit_keys,
)
from remit.store.tables import Participant, UserAccount

__all__ = [
    "DatabaseCensus",
    "Engine",
    "close_database",
    "create_app_role",
    "create_database",
    "database_census",
    "database_revision",
    "head_revision",
    "open_database",
    "upgrade_database",
]


def open_database(
    url: str | Path,
    *,
    must_exist: bool = True,
    require_migrated: bool = True,
    audit_keys: AuditKeyRing | None = None,
    allocation_key: AllocationKey | None = None,
) -> Engine:
    """An engine on the database at ``url`` (a SQLite path or URL, or a PostgreSQL URL).

    ``must_exist`` refuses a SQLite file that is not there (instead of creating an empty one);
    ``require_migrated`` refuses a database whose schema is not at this version's newest
    migration (:class:`~remit.errors.StoreError` naming ``remit db upgrade``). Nothing connects
    until the engine is used, except for that check. Close it with :func:`close_database`.
    ``audit_keys`` is the key ring the audit chain is keyed with (read at the edge); without
    one the database's default key file is used (:func:`remit.store.default_key_file`).
    ``allocation_key`` seals and opens the randomisation list (read at the edge:
    :func:`remit.store.allocation_key_from_env`); without one, randomising is refused.
    """
    engine = with_audit_keys(make_engine(url, must_exist=must_exist), audit_keys)
    engine = with_allocation_key(engine, allocation_key)
    if require_migrated:
        try:
            require_current(engine)
        except BaseException:
            engine.dispose()
            raise
    return engine


def create_database(
    url: str | Path,
    *,
    durable: bool = True,
    audit_keys: AuditKeyRing | None = None,
    allocation_key: AllocationKey | None = None,
) -> Engine:
    """An engine on ``url`` with the tables created or migrated to the newest schema.

    A SQLite file is created when absent. ``durable=False`` writes a SQLite file with
    ``PRAGMA synchronous = OFF`` for as long as this engine lives (fast, but a crash may lose
    the file: for throw-away databases such as the demo); every later engine uses the store's
    settings (WAL, ``synchronous = FULL``). ``audit_keys`` and ``allocation_key`` as for
    :func:`open_database`.
    """
    engine = make_engine(url)
    if not durable and is_sqlite(engine):

        @event.listens_for(engine, "connect")
        def _fast_writes(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA synchronous = OFF")
            finally:
                cursor.close()

    engine = with_allocation_key(with_audit_keys(engine, audit_keys), allocation_key)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def close_database(engine: Engine, *, checkpoint: bool = False) -> None:
    """Close every connection of ``engine``.

    With ``checkpoint`` a SQLite database first copies its write-ahead log into the main file
    and truncates the log, so the file alone holds everything (to copy or send it).
    """
    try:
        if checkpoint and is_sqlite(engine):
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def upgrade_database(target: Engine | str | Path) -> str | None:
    """Create the tables or migrate them to the newest schema; the revision reached.

    Safe to repeat; one transaction, so a failed migration leaves the database as it was.
    """
    return upgrade(target)


def database_revision(target: Engine | str | Path) -> str | None:
    """The migration the database is at (``None`` for an empty database)."""
    return current_revision(target)


@dataclass(frozen=True)
class DatabaseCensus(_Record):
    """Who set the database up and how many participants it holds, real and simulated."""

    first_user: str | None
    participants: int
    simulated_participants: int

    @property
    def real_participants(self) -> int:
        """Participants who are not simulated."""
        return self.participants - self.simulated_participants


def database_census(engine: Engine) -> DatabaseCensus:
    """The first user (the admin ``remit init`` made) and the participant counts.

    A reading of the database as its owner (no acting user): for deciding, before anything
    else, whether a file is a previous demo that may be replaced.
    """
    with engine.connect() as connection:
        first = connection.scalar(select(UserAccount.username).order_by(UserAccount.id).limit(1))
        counts = dict(
            connection.execute(
                select(Participant.simulated, func.count()).group_by(Participant.simulated)
            ).all()
        )
    return DatabaseCensus(
        first_user=first,
        participants=sum(int(n) for n in counts.values()),
        simulated_participants=int(counts.get(True, 0)),
    )
