"""The audit writer's own spelling of a row's content covers str, int and None by their exact
type; a value of any other type (a bool, a float, an enum, a date) is converted as
canonical_json does, so the hashed text is canonical JSON whatever a caller passes."""

from __future__ import annotations

from datetime import UTC, date, timedelta, timezone
from enum import IntEnum, StrEnum
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from remit.store.audit import AuditContentWriter, AuditRecord, _value
from remit.store.canonical import REDACTED, canonical_json
from remit.store.tables import Participant, UserAccount


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


_any = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from([Colour.RED, Level.HIGH, date(2026, 3, 2)])
    | st.dates()
    | st.datetimes(
        timezones=st.none()
        | st.sampled_from(
            [UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=5, minutes=45))]
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(
    row_id=_any,
    action=_any,
    table_name=_any,
    record_id=_any,
    participant_id=_any,
    field=_any,
    old_value=_any,
    new_value=_any,
    reason=_any,
    user_id=_any,
    site_id=_any,
)
def test_the_row_content_is_canonical_json_for_values_of_any_type(
    row_id: Any,
    action: Any,
    table_name: Any,
    record_id: Any,
    participant_id: Any,
    field: Any,
    old_value: Any,
    new_value: Any,
    reason: Any,
    user_id: Any,
    site_id: Any,
) -> None:
    actor = SimpleNamespace(user_id=user_id, username="ø", role="investigator", site_id=site_id)
    writer = AuditContentWriter("2026-03-02T09:30:00.000000Z", "f" * 32, actor)  # type: ignore[arg-type]
    record = AuditRecord(
        action, table_name, record_id, participant_id, field, old_value, new_value, reason
    )
    assert writer.json(row_id, record) == canonical_json(writer.content(row_id, record))


@settings(max_examples=300, deadline=None)
@given(value=_any)
def test_a_fields_audited_value_is_its_canonical_json(value: Any) -> None:
    assert _value(Participant, "status", value) == canonical_json(value)


def test_a_redacted_fields_value_is_never_spelled() -> None:
    assert _value(UserAccount, "password_hash", "$argon2id$v=19$...") == canonical_json(REDACTED)
    assert _value(UserAccount, "password_hash", None) == "null"
