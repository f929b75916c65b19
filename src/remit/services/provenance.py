"""Provenance of imported data: the source system's audit trail kept as history.

Data brought in from another system (an ODM snapshot) are written through the services, so
their audit rows name the importing user at the import time. What the source's audit trail
said — who did what, when, where and why — is kept next to them by
:func:`record_source_history`: one audit row per source audit record, table
:data:`~remit.store.SOURCE_AUDIT_TABLE`, about the participant, written as the importing user,
its ``reason`` the source's reason and its ``new_value`` the source's user, role, time,
location and record. These rows record history, not a row of a table: replaying the audit
trail (``remit audit verify``) passes them over, and they are append-only and hash-chained
like every audit row.

With ``imported`` the same transaction also keeps what the import wrote for the participant:
one row of the same table, ``field`` ``"imported"``, whose ``new_value`` holds the values of
every imported form (``{"<event>/<form>/<repeat>": {item: value}}``) — the common ancestor a
later import of a corrected file compares the source's and the trial's values with (a value
both sides changed since is a conflict).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from remit.errors import InputError
from remit.services.unit import writing
from remit.store import SOURCE_AUDIT_TABLE, Actor
from remit.store.vocab import AuditAction

__all__ = ["IMPORTED_FIELD", "SOURCE_AUDIT_TABLE", "record_source_history"]

#: The ``field`` of the row that keeps what an import wrote (the source's own audit records
#: are kept with ``field`` ``"source"``).
IMPORTED_FIELD = "imported"


def record_source_history(
    engine: Engine,
    actor: Actor,
    participant_id: str,
    records: Sequence[Mapping[str, Any]],
    *,
    source: str,
    imported: Mapping[str, Any] | None = None,
) -> int:
    """Keep the source's audit ``records`` of participant ``participant_id`` as history; the
    number kept.

    Each record is a mapping with ``id`` (the source's audit record number), ``user`` (the
    source's login name), ``at`` (ISO 8601 UTC) and optionally ``reason``, ``user_oid``,
    ``full_name``, ``roles``, ``location`` and ``record`` (what it changed); ``source`` names
    the file or system. Example::

        record_source_history(engine, kari, "OSL-001",
                              [{"id": 17, "user": "per", "at": "2023-03-14T09:00:00Z",
                                "reason": "rater corrected item 1", "record": "assessment/4"}],
                              source="odm_snapshot.xml")  # 1

    ``imported`` (optional): the forms' values as imported (JSON values), kept as one
    ``field="imported"`` row next to the history (see the module docstring); its keys other
    than ``forms`` (``subject_key``, ``study_oid``) are kept as they are.
    """
    if not source.strip():
        raise InputError("the source of the history is empty", expected="a file or system name")
    for r in records:
        missing = [k for k in ("id", "user", "at") if r.get(k) in (None, "")]
        if missing:
            raise InputError(
                f"a source audit record of {participant_id} lacks {', '.join(missing)}: {dict(r)}",
                expected="id, user and at on every source audit record",
            )
    with writing(engine, actor, "record_source_history", participant=participant_id) as w:
        for r in records:
            w.uow.record_event(
                AuditAction.INSERT,
                SOURCE_AUDIT_TABLE,
                int(r["id"]),
                participant_id=w.p.id,
                field="source",
                new_value={"source": source, "imported_as": w.p.study_id}
                | {k: v for k, v in r.items() if k != "reason"},
                reason=r.get("reason"),
            )
        if imported is not None:
            if not isinstance(imported.get("forms"), Mapping):
                raise InputError(
                    f"the imported values of {participant_id} have no forms",
                    expected='{"forms": {"<event>/<form>/<repeat>": {item: value}}, …}',
                )
            w.uow.record_event(
                AuditAction.INSERT,
                SOURCE_AUDIT_TABLE,
                0,
                participant_id=w.p.id,
                field=IMPORTED_FIELD,
                new_value={"source": source, "imported_as": w.p.study_id} | dict(imported),
                reason=f"imported from {source}",
            )
        return len(records)
