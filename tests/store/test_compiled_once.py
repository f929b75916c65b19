"""The statements compiled once per dialect (issue 16) are kept by the dialect's id with a
weak reference to it: a dialect gets its own compiled statements, another dialect at a reused
id (its predecessor gone) never gets the predecessor's, and a dialect gone takes its entry."""

from __future__ import annotations

import gc

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from remit.store import cursor
from remit.store.cursor import compiled_once
from remit.store.tables import Site

_QUERY = select(Site.code).where(Site.id == bindparam("site_id"))


def test_each_dialect_has_its_own_compiled_statement() -> None:
    lite, pg = sqlite.dialect(), postgresql.dialect()  # type: ignore[no-untyped-call]
    first = compiled_once(lite, _QUERY)
    assert compiled_once(lite, _QUERY) is first  # kept
    other = compiled_once(pg, _QUERY)
    assert other is not first
    assert "?" in first.sql
    assert "%(site_id)s" in other.sql


def test_a_dialect_at_a_reused_id_is_compiled_for_itself() -> None:
    lite, pg = sqlite.dialect(), postgresql.dialect()  # type: ignore[no-untyped-call]
    stale = compiled_once(lite, _QUERY)
    # what a dialect gone, its id now the PostgreSQL one's, would leave behind
    cursor._COMPILED[id(pg)] = cursor._COMPILED[id(lite)]
    found = compiled_once(pg, _QUERY)
    assert found is not stale
    assert "%(site_id)s" in found.sql


def test_a_dialect_gone_takes_its_entry() -> None:
    lite = sqlite.dialect()  # type: ignore[no-untyped-call]
    compiled_once(lite, _QUERY)
    key = id(lite)
    assert key in cursor._COMPILED
    del lite
    gc.collect()
    assert key not in cursor._COMPILED or cursor._COMPILED[key][0]() is not None
