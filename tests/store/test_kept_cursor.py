"""The statements :func:`remit.store.cursor.on_cursor` runs share one DB-API cursor per
connection (issue 16: psycopg builds a cursor's adapters anew for each new cursor): the same
cursor serves every statement of a connection, across transactions and pool check-outs; a
failed statement closes it and the next statement gets a new one, which works; and a
connection the pool replaces gets a cursor of its own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from remit.store.cursor import _CURSOR_KEY, on_cursor


def _kept(connection: Any) -> Any:
    entry = connection.connection.info.get(_CURSOR_KEY)
    return None if entry is None else entry[1]


def _one(engine: Engine, connection: Any, value: int) -> int:
    sql = "SELECT ?" if engine.dialect.name == "sqlite" else "SELECT %s::integer"
    rows, _ = on_cursor(connection, sql, (value,), fetch=True)
    return int(rows[0][0])


def test_one_cursor_serves_every_statement_of_a_connection(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.begin()  # as a unit of work's statements run, in a transaction
        assert _one(engine, connection, 1) == 1
        first = _kept(connection)
        assert first is not None
        assert _one(engine, connection, 2) == 2
        assert _kept(connection) is first
        connection.commit()
        connection.begin()
        assert _one(engine, connection, 3) == 3  # the next transaction
        assert _kept(connection) is first
        dbapi = connection.connection.dbapi_connection
    with engine.connect() as connection:  # the pool hands out the same connection again
        if connection.connection.dbapi_connection is dbapi:
            assert _one(engine, connection, 4) == 4
            assert _kept(connection) is first


def test_a_failed_statement_leaves_a_new_cursor_for_the_next(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.begin()
        assert _one(engine, connection, 1) == 1
        before = _kept(connection)
        with pytest.raises(DBAPIError):
            on_cursor(connection, "SELECT * FROM no_such_table", ())
        assert _kept(connection) is None  # forgotten, and closed
        with pytest.raises(Exception, match="closed"):
            before.execute("SELECT 1")
        connection.rollback()
        connection.begin()
        assert _one(engine, connection, 5) == 5
        after = _kept(connection)
        assert after is not None
        assert after is not before


def test_a_replaced_connection_gets_a_cursor_of_its_own(engine: Engine) -> None:
    with engine.connect() as connection:
        assert _one(engine, connection, 1) == 1
        before = _kept(connection)
        connection.invalidate()  # the pool closes it and connects anew on next use
        assert _one(engine, connection, 6) == 6
        after = _kept(connection)
        assert after is not before
        assert connection.connection.info[_CURSOR_KEY][0] is connection.connection.dbapi_connection
