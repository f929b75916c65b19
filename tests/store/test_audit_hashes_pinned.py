"""The bytes the audit chain hashes are pinned: a known append stores known hashes.

The append path spells each row's canonical JSON and signs it with shortcuts of its own (see
:class:`remit.store.audit.AuditContentWriter`); a change of one byte of what is hashed (a key's
order, an escape, a number's spelling, the key, the previous hash) would leave every new chain
self-consistent, so ``remit audit verify`` of a new database would not see it, yet the rows
written before the change would no longer verify. These hashes were computed by the append
path before it was made faster; the append must keep producing exactly them, on SQLite and on
PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from remit.store import Actor
from remit.store import audit as audit_module
from remit.store.audit import AuditContentWriter, AuditRecord, append_audit_records
from remit.store.audit_keys import AuditKeyRing, with_audit_keys
from remit.store.canonical import canonical_json
from remit.store.tables import AuditEvent

RING = AuditKeyRing((("k0", bytes(range(32))), ("k1", bytes(range(100, 132)))))
AT = datetime(2026, 3, 2, 9, 30, 0, 123456, tzinfo=UTC)
HEAD = (4100, "ab" * 32)

#: Two appends of one transaction: every kind of value a row's content holds.
FIRST = (
    Actor(7, "rater000", "independent_rater", 3),
    [
        AuditRecord("insert", "assessment", 91, 55, "scale", None, '"MADRS"', None),
        AuditRecord("insert", "assessment", 91, 55, "total", None, "34", None),
        AuditRecord("insert", "assessment", 91, 55, "answers", None, '{"1":3,"2":4}', None),
        AuditRecord("insert", "assessment", 91, 55, "note", None, None, None),
        AuditRecord(
            "update", "assessment", 91, 55, "status", '"draft"', '"completed"', "signed off"
        ),
        AuditRecord(
            "update", "participant", 2**31 - 1, None, "initials", '"Ø.Å"', '"Œ\\"x\\n"', "ø"
        ),
        AuditRecord("read", "participant", 0, -1, None, None, None, "line\nbreak\t\u2028 \x1f"),
    ],
)
SECOND = (
    Actor(None, "sys ø\U0001f600", "system", None),
    [AuditRecord("delete", "alert", 5, 9, "level", '"red"', None, None)],
)
TRANSACTION = "0123456789abcdef0123456789abcdef"

PINNED = [
    (4101, "5c4c907e5b498a2de18a74d4473fcb6485771b4c6fe5ea7ec1a065a48ef0e104"),
    (4102, "85fa61e864c005d8ac4cc88b79e6ba25f519a678f616f56f57a839bc250ba745"),
    (4103, "dc4db9bdbcf75a9ff3d4f12d5d0aea66b0b43d9616e9bd558db582d891dd2d93"),
    (4104, "c507e5e778fae8eac854ff176114fe5ab902a9f964ed3c8b67fc2333cdb926b3"),
    (4105, "29ec362fe879bb946fdee1617616f9974eb1ffe4b5d38a192c71264cbefb8de5"),
    (4106, "8496d57a261ecf2ade0ab5d5472517ad248bb67ace606883b74b85e94e9c67d7"),
    (4107, "6d399f279e068d38231be91cd8f6ed302e315770b7def2e1e35419bc30e0e0ad"),
    (4108, "542ceb43479fa40f15cb7948583ec75a2428d667ff37facded336386ec08172e"),
]


def _stored(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, str]]:
    monkeypatch.setattr(audit_module, "utc_now", lambda: AT)
    keyed = with_audit_keys(engine, RING)
    with keyed.begin() as connection:
        head = append_audit_records(connection, *_args(FIRST), head=HEAD)
        assert head is not None
        last = append_audit_records(connection, *_args(SECOND), head=head)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(AuditEvent.id, AuditEvent.prev_hash, AuditEvent.row_hash)
            .where(AuditEvent.id > HEAD[0])
            .order_by(AuditEvent.id)
        ).all()
    assert last == (rows[-1][0], rows[-1][2])
    return [(r[0], r[1], r[2]) for r in rows]


def _args(append: tuple[Actor, list[AuditRecord]]) -> tuple[Actor, str, list[AuditRecord]]:
    return append[0], TRANSACTION, append[1]


def test_a_known_append_stores_the_pinned_hashes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _stored(engine, monkeypatch)
    assert [(row_id, row_hash) for row_id, _, row_hash in stored] == PINNED
    previous = [HEAD[1], *(row_hash for _, row_hash in PINNED[:-1])]
    assert [prev_hash for _, prev_hash, _ in stored] == previous


def test_each_row_stores_its_values_exactly_as_given(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL unpacks the rows from one JSON parameter on the server: every text (quotes,
    # escapes, line separators, control characters, emoji) and every integer (the largest
    # 32-bit one, 0, -1) must come back as given, or the chain would not verify
    _stored(engine, monkeypatch)
    expected = []
    for actor, records in (FIRST, SECOND):
        fixed = (TRANSACTION, actor.user_id, actor.username, actor.role, actor.site_id)
        expected += [(AT, *fixed, *record) for record in records]
    columns = [
        getattr(AuditEvent, name)
        for name in ("occurred_at", "transaction_id", "user_id", "username", "role", "site_id")
    ]
    columns += [getattr(AuditEvent, name) for name in AuditRecord._fields]
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(*columns).where(AuditEvent.id > HEAD[0]).order_by(AuditEvent.id)
        ).all()
    assert [tuple(row) for row in rows] == expected


def test_the_pinned_hashes_are_those_of_the_reference_spelling() -> None:
    # the slow way, by the definition: HMAC-SHA256 with the newest key of
    # prev_hash + canonical_json(content), content as audit_content builds it
    prev_hash, row_id = HEAD[1], HEAD[0]
    expected = []
    for actor, records in (FIRST, SECOND):
        writer = AuditContentWriter("2026-03-02T09:30:00.123456Z", TRANSACTION, actor)
        for record in records:
            row_id += 1
            content = writer.content(row_id, record)
            assert writer.json(row_id, record) == canonical_json(content)
            prev_hash = RING.row_hash(len(RING.keys) - 1, prev_hash, content)
            expected.append((row_id, prev_hash))
    assert expected == PINNED
