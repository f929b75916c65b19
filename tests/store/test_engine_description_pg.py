"""PostgreSQL: the engine's cursors describe their results with plain DB-API tuples (name and
type OID, as psycopg's own ``Column`` gives them), which SQLAlchemy reads after every
statement; results read through SQLAlchemy are unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import Engine, text

pytestmark = pytest.mark.parametrize(
    "db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)

_QUERY = (
    "SELECT 1::integer AS n, 'å'::text AS \"Navn ø\", now() AS at, 1.5::numeric AS amount, "
    "'{\"a\": 1}'::json AS doc, NULL::boolean AS flag, 2"
)


def test_descriptions_are_tuples_of_psycopgs_names_and_types(engine: Engine) -> None:
    with engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        cursor.execute(_QUERY)
        lean = cursor.description
        plain = psycopg.Cursor(driver)  # psycopg's own cursor on the same connection
        plain.execute(_QUERY)
        assert plain.description is not None
        expected = [(c.name, c.type_code, None, None, None, None, None) for c in plain.description]
        assert lean == expected
        assert all(type(entry) is tuple for entry in lean)
        assert [entry[0] for entry in lean] == [
            "n",
            "Navn ø",
            "at",
            "amount",
            "doc",
            "flag",
            "?column?",
        ]
        cursor.execute("SELECT 1 WHERE false")  # no rows, but a result with columns
        assert cursor.description == [("?column?", 23, None, None, None, None, None)]
        cursor.execute("CREATE TEMPORARY TABLE t (x integer)")
        assert cursor.description is None
        cursor.execute("INSERT INTO t VALUES (1)")
        assert cursor.description is None
        cursor.execute("INSERT INTO t VALUES (2) RETURNING x")
        assert cursor.description == [("x", 23, None, None, None, None, None)]


def test_sqlalchemy_reads_the_same_rows_and_keys(engine: Engine) -> None:
    with engine.connect() as connection:
        result = connection.execute(text(_QUERY))
        keys = list(result.keys())
        row = result.one()
    assert keys == ["n", "Navn ø", "at", "amount", "doc", "flag", "?column?"]
    assert row.n == 1
    assert row._mapping["Navn ø"] == "å"
    assert isinstance(row.at, datetime)
    assert row.at.tzinfo is not None
    assert row.at <= datetime.now(UTC)
    assert row.amount == Decimal("1.5")
    assert row.doc == {"a": 1}
    assert row.flag is None
