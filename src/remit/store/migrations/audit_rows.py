"""The audit rows a migration writes when it moves rows itself (revisions 0002 and 0003).

Frozen with those migrations: what they write to a database must not change once released, so
this is not live store code (the session hooks of :mod:`remit.store.audit` write their own
rows). Change nothing here; a later migration that needs other rows gets its own helper. What
a migration shares with the live store is only what must stay the same for the chain to
verify: :class:`~remit.store.audit.AuditRecord`, :func:`~remit.store.audit.append_audit_records`
and the canonical JSON.
"""

from __future__ import annotations

from typing import Any

from remit.store.audit import AuditRecord
from remit.store.canonical import canonical_json


def field_records(
    action: str,
    table: str,
    record_id: int,
    participant_id: int | None,
    values: dict[str, Any],
    reason: str | None,
) -> list[AuditRecord]:
    """The audit rows of inserting (or deleting) a row with ``values``: one per field but
    ``id``, new (or old) value as canonical JSON, as the session hooks write them."""
    out = []
    for key, value in values.items():
        if key == "id":
            continue
        text = canonical_json(value)
        old, new = (text, None) if action == "delete" else (None, text)
        out.append(AuditRecord(action, table, record_id, participant_id, key, old, new, reason))
    return out
