"""Migration 0028 drops the unique index of ``audit_event.row_hash``: every row is kept as it
was, the chain verifies, the table keeps its other indexes and stays append-only (its triggers
refuse UPDATE and DELETE after SQLite's rebuild of the table); downgrade puts the constraint
back. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DBAPIError
from tests.support.db import participant_at

from remit.store import downgrade, make_engine, upgrade, verify_audit_chain

CONSTRAINT = "uq_audit_event_row_hash"


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.exec_driver_sql("SELECT * FROM audit_event ORDER BY id")
        ]


def _unique_on_hash(engine: Engine) -> bool:
    """Whether anything keeps ``row_hash`` unique: a named constraint, or a unique index."""
    found = inspect(engine)
    constraints = found.get_unique_constraints("audit_event")
    indexes = found.get_indexes("audit_event")
    return any(c["column_names"] == ["row_hash"] for c in constraints) or any(
        i["unique"] and i["column_names"] == ["row_hash"] for i in indexes
    )


def _index_names(engine: Engine) -> set[str]:
    return {str(i["name"]) for i in inspect(engine).get_indexes("audit_event")}


def _assert_append_only(engine: Engine) -> None:
    for change in ("UPDATE audit_event SET reason = 'edited'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.exec_driver_sql(change)


def test_the_row_hash_index_goes_and_comes_back_with_every_row_kept(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        participant_at(engine, "0027")
        rows = _rows(engine)
        assert len(rows) >= 4  # the study, protocol, site and participant were audited
        assert _unique_on_hash(engine)
        indexes = _index_names(engine)
        assert {"ix_audit_event_record", "ix_audit_event_participant"} <= indexes

        upgrade(engine, "0028")
        assert not _unique_on_hash(engine)
        assert CONSTRAINT not in {
            c["name"] for c in inspect(engine).get_unique_constraints("audit_event")
        }
        assert {"ix_audit_event_record", "ix_audit_event_participant"} <= _index_names(engine)
        assert _rows(engine) == rows
        assert verify_audit_chain(engine).ok
        _assert_append_only(engine)
        assert _rows(engine) == rows

        downgrade(engine, "0027")
        assert _unique_on_hash(engine)
        assert _index_names(engine) == indexes
        assert _rows(engine) == rows
        assert verify_audit_chain(engine).ok
        _assert_append_only(engine)
    finally:
        engine.dispose()


def test_a_new_database_has_no_index_of_row_hashes_and_appends_as_before(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    try:
        participant_at(engine, "head")
        assert not _unique_on_hash(engine)
        with engine.connect() as connection:
            head = connection.execute(
                sa.text("SELECT max(id), count(*), count(DISTINCT row_hash) FROM audit_event")
            ).one()
        assert head[0] == head[1] == head[2]
        assert verify_audit_chain(engine).ok
        _assert_append_only(engine)
    finally:
        engine.dispose()
