"""Statements of the write path run through the DB-API cursor, compiled once per dialect.

SQLAlchemy's execution, result and ORM loading objects cost several times the statement
itself on SQLite (issue 16). The reads every write runs (:func:`remit.store.queries.hot_rows`),
the INSERTs of a form, its idempotency key and its alerts (:meth:`remit.store.UnitOfWork.insert`)
and the audit trail's own statements (:mod:`remit.store.audit`) go to the driver's cursor
directly, with what SQLAlchemy would have done kept: the statement compiled by SQLAlchemy (once
per dialect), each parameter and result column through its type's own conversion, the
engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners called (statement
counts stay honest), the statement logged when the engine echoes, and a DB-API error raised as
SQLAlchemy's ``DBAPIError`` (a dropped connection invalidated).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

#: A function converting a value (a column type's bind or result processor).
Convert = Callable[[Any], Any]


class CompiledOnce:
    """A statement compiled once for one dialect: its SQL text, its bound parameters in the
    order the driver takes them (with their defaults, e.g. a ``LIMIT``'s, and their types'
    bind conversion) and, for a statement returning rows, each result column's conversion
    (the column types' own: aware UTC times, JSON, SQLite's 0/1 as booleans).

    ``column_keys``: for an INSERT, the columns it is given values for (the others are left
    out of the statement, as SQLAlchemy leaves them when executing it with those values)."""

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        self.statement = statement
        compiled = cast(
            SQLCompiler,
            statement.compile(
                dialect=dialect, column_keys=None if column_keys is None else list(column_keys)
            ),
        )
        self.sql = compiled.string
        self.positional = compiled.positional
        binds = compiled.binds
        names = list(compiled.positiontup or ()) if compiled.positional else list(binds)
        self.params: list[tuple[str, str, Any, Convert | None]] = []
        escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        for name in names:
            bind = binds[name]
            key = str(bind.key)
            default = None if bind.callable is not None or bind.required else bind.value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self.params.append((escaped.get(name, name), key, default, processor))
        returned: Any = getattr(statement, "selected_columns", None)
        if returned is None:  # an INSERT: its RETURNING columns, if any
            returned = getattr(statement, "_returning", ())
        self.convert: list[Convert | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned
        ]
        #: the result columns with a conversion, by position
        self.converting = [(i, c) for i, c in enumerate(self.convert) if c is not None]

    def bound(self, given: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The parameters as the driver takes them, from the values ``given`` by name."""
        get = given.get
        values = [
            get(key, default) if processor is None else processor(get(key, default))
            for _name, key, default, processor in self.params
        ]
        if self.positional:
            return values
        return {param[0]: value for param, value in zip(self.params, values, strict=True)}

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        """A row as the column types give their values."""
        if not self.converting:
            return tuple(raw)
        values = list(raw)
        for i, convert in self.converting:
            values[i] = convert(values[i])
        return tuple(values)


#: The statements compiled for each dialect, by the dialect's id: with a weak reference to it
#: (an id is reused once its dialect is gone: the entry is then another dialect's, and goes
#: with it). A plain dictionary: a weak-keyed one costs a Python call per look-up.
_COMPILED: dict[int, tuple[weakref.ref[Dialect], dict[Any, CompiledOnce]]] = {}


def _statements_of(dialect: Dialect) -> dict[Any, CompiledOnce]:
    entry = _COMPILED.get(id(dialect))
    if entry is not None and entry[0]() is dialect:
        return entry[1]
    key = id(dialect)
    found: dict[Any, CompiledOnce] = {}

    def forget(gone: weakref.ref[Dialect]) -> None:
        if (kept := _COMPILED.get(key)) is not None and kept[0] is gone:
            del _COMPILED[key]

    _COMPILED[key] = (weakref.ref(dialect, forget), found)
    return found


def compiled_once(
    dialect: Dialect,
    statement: ClauseElement,
    column_keys: Sequence[str] | None = None,
) -> CompiledOnce:
    """``statement`` (built once, at import or in a per-table plan: it is known by its
    identity) compiled for ``dialect``, from the cache after the first time."""
    entry = _COMPILED.get(id(dialect))
    found = entry[1] if entry is not None and entry[0]() is dialect else _statements_of(dialect)
    key = (id(statement), None if column_keys is None else tuple(column_keys))
    query = found.get(key)
    if query is None or query.statement is not statement:
        query = found[key] = CompiledOnce(statement, dialect, column_keys)
    return query


def on_cursor(
    connection: Connection,
    sql: str,
    parameters: Sequence[Any] | Mapping[str, Any],
    *,
    fetch: bool = False,
) -> tuple[list[Any], Any]:
    """Run ``sql`` with ``parameters`` (already in the driver's style and conversions) on a
    cursor of ``connection``'s DB-API connection, in its transaction; return the rows
    (``fetch``; else none) and the cursor's ``lastrowid``. The engine's cursor listeners are
    called and a driver error is raised as SQLAlchemy's ``DBAPIError``, as for the statements
    SQLAlchemy runs itself."""
    dialect = connection.dialect
    dispatch = connection.dispatch
    if connection.engine.echo:
        log_statement(connection.engine, sql, parameters)
    cursor = _kept_cursor(connection)
    try:
        for listener in dispatch.before_cursor_execute:
            listener(connection, cursor, sql, parameters, None, False)
        try:
            cursor.execute(sql, parameters)
            rows = list(cursor.fetchall()) if fetch else []
        except dialect.loaded_dbapi.Error as error:
            lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
            if lost:
                connection.invalidate(error)
            raise DBAPIError.instance(
                sql,
                parameters,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=dialect,
            ) from error
        for listener in dispatch.after_cursor_execute:
            listener(connection, cursor, sql, parameters, None, False)
        return rows, getattr(cursor, "lastrowid", None)  # psycopg has none
    except BaseException:
        _forget_cursor(connection, cursor)
        raise


def log_statement(engine: Engine, sql: str, parameters: Any) -> None:
    """Log a statement sent to the driver past SQLAlchemy's execution, to the engine's own
    logger (``sqlalchemy.engine.Engine``) as SQLAlchemy logs its statements when the engine
    echoes (``make_engine(..., echo=True)``), so that an echo shows every statement sent."""
    logger = engine.logger
    logger.info(sql)
    logger.info("[remit: sent by the driver] %r", parameters)


#: The key, in the pool's information about a DB-API connection, of the cursor that
#: :func:`on_cursor` keeps for it (with the connection it was made on).
_CURSOR_KEY = "remit.cursor"


def _kept_cursor(connection: Connection) -> Any:
    """The DB-API cursor :func:`on_cursor` runs its statements on for ``connection``'s DB-API
    connection: made once per connection and kept in the pool's information about it (which
    the pool clears when it replaces the connection), instead of one cursor made and closed
    per statement (psycopg builds a cursor's adapters anew each time: a Python call tree per
    statement). A connection is used by one thread at a time, and every statement's rows are
    read whole before the next runs, so one cursor serves them all."""
    pooled = connection.connection
    dbapi = pooled.dbapi_connection
    info = pooled.info
    kept = info.get(_CURSOR_KEY)
    if kept is not None and kept[0] is dbapi:
        return kept[1]
    cursor = dbapi.cursor()  # type: ignore[union-attr]
    info[_CURSOR_KEY] = (dbapi, cursor)
    return cursor


def _forget_cursor(connection: Connection, cursor: Any) -> None:
    """After a failed statement: close ``cursor`` and make the next statement use a new one,
    so nothing of a failure is carried into a later statement."""
    try:
        info = connection.connection.info
        kept = info.get(_CURSOR_KEY)
        if kept is not None and kept[1] is cursor:
            del info[_CURSOR_KEY]
        cursor.close()
    except Exception:  # the connection may be gone (invalidated): nothing is left to close
        pass


def run_compiled(
    connection: Connection, query: CompiledOnce, params: Mapping[str, Any], *, fetch: bool
) -> tuple[list[tuple[Any, ...]], Any]:
    """Run ``query`` with ``params`` (by name) through :func:`on_cursor`: its rows as the
    column types give them (``fetch``) and the cursor's ``lastrowid``."""
    rows, last = on_cursor(connection, query.sql, query.bound(params), fetch=fetch)
    return [query.row(row) for row in rows], last
