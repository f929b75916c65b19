"""The audit trail as ODM sees it: clinical tables, records as the trail leaves them,
``<AuditRecord>`` elements, date shifts of audit times and values."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from remit.interop.dateshift import DateShift
from remit.interop.odm.admin import location_oid, user_oid
from remit.interop.odm.base import el, odm_time
from remit.interop.odm.stream import printable

#: Tables whose audit rows are clinical data (the rest are set-up, users, identity).
CLINICAL_TABLES = (
    "participant",
    "participant_event",
    "eligibility_check",
    "visit",
    "assessment",
    "dosing_session",
    "dose",
    "vital_sign",
    "vital_sign_value",
    "adverse_event",
    "clinical_result",
    "dosing_checklist",
    "concomitant_medication",
    "protocol_deviation",
)


def audit_record(
    parent: Any,
    entry: Any,
    when: datetime,
    site: str | None,
    rid: str | None,
    subject: str | None = None,
) -> Any:
    """An ``<AuditRecord>`` of one audit row (user, location, time, reason, source).

    ``SourceID`` is ``table/record/field/action``, then ``/SubjectKey`` when the row is about
    a participant (so an import can keep each record as that subject's history)."""
    ar = el(parent, "AuditRecord", ID=rid)
    el(ar, "UserRef", UserOID=user_oid(entry.user_id))
    el(ar, "LocationRef", LocationOID=location_oid(site))
    el(ar, "DateTimeStamp", odm_time(when))
    if entry.reason:
        el(ar, "ReasonForChange", entry.reason)
    source = f"{entry.table_name}/{entry.record_id}/{entry.field or ''}/{entry.action}"
    el(ar, "SourceID", source if subject is None else f"{source}/{subject}")
    return ar


def audit_record_text(
    depth: int,
    users: dict[str, None],
    places: dict[str, None],
    entry: Any,
    when: datetime,
    site: str | None,
    rid: str | None,
    subject: str | None = None,
) -> bytes | None:
    """The text :func:`~remit.interop.odm.stream.plain_text` prints for the
    ``<AuditRecord>`` :func:`audit_record` builds (at indentation ``depth``), written
    directly; its user and location OIDs added to the two. ``None`` (nothing added) when a
    value needs lxml's own handling: then the chunk is built instead."""
    user = user_oid(entry.user_id)
    place = location_oid(site)
    source = f"{entry.table_name}/{entry.record_id}/{entry.field or ''}/{entry.action}"
    texts = [printable(user, True), printable(place, True), printable(odm_time(when), False)]
    if entry.reason:
        texts.append(printable(entry.reason, False))
    texts.append(printable(source if subject is None else f"{source}/{subject}", False))
    record_id = None if rid is None else printable(str(rid), True)
    if None in texts or (rid is not None and record_id is None):
        return None
    pad = "  " * depth
    inner = pad + "  "
    start = f"{pad}<AuditRecord>" if rid is None else f'{pad}<AuditRecord ID="{record_id}">'
    lines = [
        start,
        f'{inner}<UserRef UserOID="{texts[0]}"/>',
        f'{inner}<LocationRef LocationOID="{texts[1]}"/>',
        f"{inner}<DateTimeStamp>{texts[2]}</DateTimeStamp>",
    ]
    if entry.reason:
        lines.append(f"{inner}<ReasonForChange>{texts[3]}</ReasonForChange>")
    lines.append(f"{inner}<SourceID>{texts[-1]}</SourceID>")
    lines.append(f"{pad}</AuditRecord>\n")
    users.setdefault(user)
    places.setdefault(place)
    return "\n".join(lines).encode("utf-8")


class AuditContext:
    """Participant study IDs and visit codes from the audit trail itself."""

    def __init__(self, entries: list[Any]) -> None:
        self.study_id: dict[int, str] = {}
        self.records: dict[tuple[str, int], dict[str, Any]] = {}
        self.sites: dict[int, str] = {}
        for e in entries:
            if e.table_name == "site" and e.field == "code":
                self.sites[e.record_id] = str(e.new_value)
            if e.table_name == "participant" and e.field == "study_id":
                self.study_id[e.record_id] = str(e.new_value)

    def apply(self, e: Any) -> dict[str, Any]:
        """Apply one audit row to its record; return the record as it now stands."""
        rec = self.records.setdefault((e.table_name, e.record_id), {})
        if e.field is not None:
            rec[e.field] = e.new_value
        return rec

    def visit_code(self, visit_id: Any) -> str | None:
        """The visit code of a visit record ID (None when unknown)."""
        if visit_id is None:
            return None
        v = self.records.get(("visit", int(visit_id)))
        return None if v is None else v.get("visit_code")


def audit_time(entry: Any, ctx: AuditContext, shift: DateShift | None) -> datetime:
    """When an audit row was written, moved by its participant's date shift (if any)."""
    when: datetime = entry.occurred_at
    if shift is not None and entry.participant_id in ctx.study_id:
        when = when + timedelta(days=shift.offset(ctx.study_id[entry.participant_id]))
    return when


def shift_value(value: Any, field: str, pid: str | None, shift: DateShift | None) -> Any:
    """A date (``*_date``) or time (``*_at``) field's value moved by the participant's shift."""
    if shift is None or pid is None or value is None:
        return value
    if field.endswith("_date") or field.endswith("_at"):
        ts = pd.Timestamp(value) + pd.Timedelta(days=shift.offset(pid))
        return ts.strftime("%Y-%m-%d") if field.endswith("_date") else odm_time(ts)
    return value


def audit_state(entries: Iterable[Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """Every record as the audit trail leaves it: ``{(table, id): {field: value}}``."""
    ctx = AuditContext(list(entries))
    for e in entries:
        if e.action == "delete":
            ctx.records.pop((e.table_name, e.record_id), None)
        elif e.action in ("insert", "update"):
            ctx.apply(e)
    return ctx.records
