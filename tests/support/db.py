"""Database helpers for tests: rows per table, the audit trail's agreement with the tables,
cheap password hashing, migrated SQLite files to copy, throw-away PostgreSQL databases (the
server behind the ``db_url`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import (
    Column,
    ColumnDefault,
    Engine,
    MetaData,
    Table,
    event,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import make_url

from remit.services import close_database
from remit.store import compare_state, make_engine, upgrade, verify_audit_chain
from remit.store.audit import AuditRecord, UnitOfWork
from remit.store.canonical import REDACTED, canonical_json
from remit.store.tables import Base, ProtocolVersion, audited_tables

#: The authentication tables: the security log, login throttles, CLI tokens and web sessions
#: record every attempt, a refused one too (issue 13), so "nothing stored" compares the others.
AUTH_TABLES = frozenset(
    {
        "security_event",
        "login_throttle",
        "cli_token",
        "web_session",
        "login_address",
        "server_observation",
    }
)


def count_data(engine: Engine) -> dict[str, int]:
    """Rows per table, the authentication tables (:data:`AUTH_TABLES`) left out."""
    return {k: v for k, v in count_all(engine).items() if k not in AUTH_TABLES}


def copy_database(source: Path | str, target: Path | str) -> Path:
    """Copy the SQLite file ``source`` to ``target`` with its default audit key file
    (``<file>.audit-key``, :func:`remit.store.default_key_file`): a copy of a database keeps
    verifying, as a copy made with its key ring does in production."""
    source, target = Path(source), Path(target)
    shutil.copyfile(source, target)
    key = Path(f"{source}.audit-key")
    if key.exists():
        shutil.copyfile(key, Path(f"{target}.audit-key"))
    return target


def count_all(engine: Engine) -> dict[str, int]:
    """Rows per table (every table, audit trail included)."""
    with engine.connect() as connection:
        return {
            name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in Base.metadata.tables.items()
        }


def assert_trail_agrees(engine: Engine) -> None:
    """The audit hash chain verifies, and replaying the trail gives the tables as they are.

    Compared as ``remit audit verify`` compares them (:func:`remit.store.compare_state`): a
    column the trail never names is empty, as a column added by a later migration is in the
    rows written before it (participants of 0001 and the screening columns of 0012).
    """
    assert verify_audit_chain(engine).ok
    assert [d.summary() for d in compare_state(engine)] == []


@contextmanager
def engine_as_role(owner: Engine, db_url: str, role: str) -> Iterator[Engine]:
    """PostgreSQL: an engine on ``db_url`` whose connections act as the existing ``role``
    (``SET ROLE``); on leaving, the engine is disposed and the role dropped by ``owner``."""
    from sqlalchemy import event, text

    engine = make_engine(db_url)

    @event.listens_for(engine, "connect")
    def _as_role(dbapi_connection: object, _record: object) -> None:
        with dbapi_connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(f"SET ROLE {role}")
        dbapi_connection.commit()  # type: ignore[attr-defined]

    try:
        yield engine
    finally:
        engine.dispose()
        with owner.begin() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
        with owner.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text(f"DROP ROLE {role}")
            )


def tamper_sql(engine: Engine, statement: str, *, table: str = "audit_event") -> None:
    """Run ``statement`` behind the append-only triggers' back, as the SQLite file's writer or a
    PostgreSQL superuser/owner can: the SQLite triggers are dropped, the PostgreSQL ones
    disabled for this one transaction (they fire ALWAYS, so replica mode is not enough)."""
    from sqlalchemy import text

    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            for verb in ("update", "delete"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
            connection.execute(text(statement))
            return
        connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        connection.execute(text(statement))
        connection.execute(text(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only"))


@contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """Hash passwords with cheap argon2id parameters inside the block (test databases only).

    The hash records its parameters, so logins against such a database verify cheaply too.
    """
    from argon2 import PasswordHasher

    import remit.store.users as users

    kept = users._HASHER
    users._HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        users._HASHER = kept


@contextmanager
def migrated_sqlite(path: Path) -> Iterator[Engine]:
    """An engine on a new SQLite file at ``path`` migrated to head. On leaving the block the
    WAL is checkpointed into the file and the engine disposed, so the file can be copied."""
    engine = make_engine(path)
    try:
        upgrade(engine)
        yield engine
    finally:
        close_database(engine, checkpoint=True)


class PostgresServer:
    """Creates and drops throw-away databases named ``remit_test_<random>_<n>``."""

    def __init__(self, admin_url: str) -> None:
        url = make_url(admin_url)
        self.url = url.set(drivername="postgresql+psycopg")
        self.conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.prefix = f"remit_test_{uuid.uuid4().hex[:10]}"
        self.count = 0
        self.created: list[str] = []

    def _execute(self, statement: sql.Composable) -> None:
        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as connection:
            connection.execute(statement)

    def create(self, template: str | None = None) -> str:
        """Create a database (a copy of ``template`` if given); return its name."""
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        self._execute(statement)
        self.created.append(name)
        return name

    def empty(self, name: str) -> None:
        """Remove every row (the audit trail too) from database ``name``; keep the schema.

        Other sessions on it are ended first. ``session_replication_role = replica`` (superuser)
        skips the foreign keys; the append-only triggers fire ``ALWAYS`` (revision 0017), even
        in replica mode, so they are disabled for the deletes and enabled again after.
        """
        self._execute(
            sql.SQL(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = {} AND pid <> pg_backend_pid()"
            ).format(sql.Literal(name))
        )
        conninfo = make_url(self.url_of(name)).set(drivername="postgresql")
        with psycopg.connect(conninfo.render_as_string(hide_password=False)) as connection:
            tables = connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'"
            ).fetchall()
            sequences = connection.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
            ).fetchall()
            # DELETE on tiny tables is much cheaper than TRUNCATE (no new files to sync); in
            # replica mode neither the foreign keys nor the append-only triggers fire.
            always = connection.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgenabled = 'A' AND NOT t.tgisinternal"
            ).fetchall()
            connection.execute("SET session_replication_role = replica")
            for table, trigger in always:
                connection.execute(
                    sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
                        sql.Identifier(table), sql.Identifier(trigger)
                    )
                )
            for (table,) in tables:
                connection.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            for table, trigger in always:
                connection.execute(
                    sql.SQL("ALTER TABLE {} ENABLE ALWAYS TRIGGER {}").format(
                        sql.Identifier(table), sql.Identifier(trigger)
                    )
                )
            for (sequence,) in sequences:
                connection.execute(
                    sql.SQL("SELECT setval({}, 1, false)").format(sql.Literal(sequence))
                )

    def drop(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected."""
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if name in self.created:
            self.created.remove(name)

    def url_of(self, name: str) -> str:
        """SQLAlchemy URL of database ``name``."""
        return self.url.set(database=name).render_as_string(hide_password=False)


def insert_at_revision(uow: UnitOfWork, name: str, **values: Any) -> int:
    """Insert one row into table ``name`` of a database at an older revision, as the store of
    that revision did; return its id.

    Today's ORM classes name every column of today's schema, which an old schema may lack, so
    the row is written with SQLAlchemy Core and only the columns the table has now (read from
    the database), with today's types and Python defaults for those. Like the session hooks of
    :mod:`remit.store.audit`, a missing ``protocol_version_id`` is the unit of work's (else the
    newest stored), and one audit row per field but ``id`` (redacted columns as placeholders,
    ``participant_id`` from the row) goes on the unit of work's transaction.
    """
    uow.flush()  # earlier ORM writes first: their ids, and their audit rows before these
    connection = uow.session.connection()
    present = {column["name"] for column in inspect(connection).get_columns(name)}
    table = Table(
        name,
        MetaData(),
        *(
            Column(c.name, c.type, primary_key=c.primary_key)
            for c in Base.metadata.tables[name].columns
            if c.name in present
        ),
    )
    row = dict(values)
    for column in Base.metadata.tables[name].columns:
        default = column.default
        if column.name in present and column.name not in row and isinstance(default, ColumnDefault):
            row[column.name] = default.arg(None) if default.is_callable else default.arg
    if "protocol_version_id" in present and row.get("protocol_version_id") is None:
        row["protocol_version_id"] = uow.protocol_version_id or connection.scalar(
            select(func.max(ProtocolVersion.id))
        )
    new_id = int(connection.execute(insert(table).values(**row).returning(table.c.id)).scalar_one())
    stored = connection.execute(select(table).where(table.c.id == new_id)).mappings().one()
    redact = audited_tables()[name].__audit_redact__
    participant = new_id if name == "participant" else stored.get("participant_id")
    records = [
        AuditRecord("insert", name, new_id, participant, key, None,
                    canonical_json(REDACTED if key in redact and value is not None else value),
                    uow.reason)
        for key, value in stored.items()
        if key != "id"
    ]  # fmt: skip
    uow.append_audit(records)  # on the unit of work's chain, after its flushed changes' rows
    return new_id


def participant_at(engine: Engine, revision: str) -> tuple[int, int]:
    """Migrate ``engine`` to ``revision`` and add one study, protocol version, site and
    participant through the store of that revision; ``(participant id, protocol version id)``
    for the rows a migration test then writes in the old shape."""
    from remit.store import Actor, add_site, create_study, store_protocol_version, unit_of_work

    upgrade(engine, revision)
    with unit_of_work(engine, Actor.system()) as uow:
        study = create_study(uow, "OSL", "MDMA-assisted therapy for MDD")
        version = store_protocol_version(uow, study, name="oslo", version="1", text="x = 1\n")
        site = add_site(uow, study, "OST", "Oslo")
        person = insert_at_revision(uow, "participant", study_id="OSL-001", site_id=site.id)
        return person, version.id


def statements_sent(engine: Engine, read: Callable[[], Any]) -> int:
    """How many statements ``read`` sends (counted with ``before_cursor_execute``, which also
    sees the statements sent through the DB-API cursor by the capture path)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        read()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)
