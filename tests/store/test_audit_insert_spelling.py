"""The Core INSERT's audit rows (``UnitOfWork.insert``) spell each field without a call per
field (issue 16): the text is :func:`remit.store.audit._value`'s for a value of any type, a
redacted field is never spelled, and the records are the very :class:`AuditRecord` tuples the
named tuple's constructor makes; and canonical JSON, its encoder made once, is the text it was."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.store.test_audit_spelling_types import _any

from remit.store.audit import AuditContentWriter, AuditRecord, _new_record, _spelled, _value
from remit.store.canonical import REDACTED, canonical_json, to_json_value
from remit.store.tables import Assessment, ParticipantIdentity, UserAccount

_nested = st.recursive(
    _any, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_nested, min_size=1, max_size=20))
def test_each_field_is_spelled_as_value_spells_it(values: list[Any]) -> None:
    for model in (Assessment, UserAccount, ParticipantIdentity):
        keys = tuple(prop.key for prop in model.__mapper__.column_attrs)[: len(values)]
        row = dict(zip(keys, values, strict=False))
        assert _spelled(model, row, keys) == [(k, _value(model, k, row[k])) for k in keys]


def test_a_redacted_field_is_never_spelled() -> None:
    row = {"password_hash": "$argon2id$v=19$...", "username": "kari"}
    assert _spelled(UserAccount, row, ("password_hash", "username")) == [
        ("password_hash", canonical_json(REDACTED)),
        ("username", '"kari"'),
    ]
    assert _spelled(UserAccount, {"password_hash": None}, ("password_hash",)) == [
        ("password_hash", "null")
    ]


@given(values=st.tuples(*[_any] * 8))
def test_a_record_made_at_c_speed_is_the_named_tuple_s(values: tuple[Any, ...]) -> None:
    made = _new_record(AuditRecord, values)
    assert type(made) is AuditRecord
    # the very objects given (``is``: a NaN among them is not equal to itself)
    assert all(got is given for got, given in zip(made, AuditRecord(*values), strict=True))
    assert made.reason is values[7]
    assert made.new_value is values[6]


@settings(max_examples=300, deadline=None)
@given(value=_nested)
def test_canonical_json_is_what_json_dumps_writes_with_its_settings(value: Any) -> None:
    """canonical_json's encoder, made once, writes what ``json.dumps`` with the same settings
    wrote (it made the same encoder on each call)."""
    assert canonical_json(value) == json.dumps(
        to_json_value(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


@settings(max_examples=300, deadline=None)
@given(
    shared=st.lists(st.tuples(*[_any] * 5), min_size=1, max_size=3),
    rows=st.lists(
        st.tuples(st.integers(min_value=0, max_value=2), _any, _any, _any, _any),
        min_size=1,
        max_size=8,
    ),
)
def test_rows_sharing_a_change_s_values_are_spelled_as_canonical_json(
    shared: list[tuple[Any, ...]], rows: list[tuple[Any, ...]]
) -> None:
    """One writer spells the rows of an append: rows whose action, table, record,
    participant and reason are the very objects of the row before reuse their text (here
    in any order and of any type, 1 and True alike), each row still its canonical JSON."""
    actor = SimpleNamespace(user_id=7, username="ø", role="investigator", site_id=None)
    writer = AuditContentWriter("2026-03-02T09:30:00.000000Z", "f" * 32, actor)  # type: ignore[arg-type]
    for which, row_id, field, old, new in rows:
        action, table, record_id, participant, reason = shared[which % len(shared)]
        record = AuditRecord(action, table, record_id, participant, field, old, new, reason)
        assert writer.json(row_id, record) == canonical_json(writer.content(row_id, record))
