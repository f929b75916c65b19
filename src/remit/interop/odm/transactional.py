"""ODM Transactional: the audit trail replayed as ODM transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from remit.interop.dateshift import DateShift
from remit.interop.odm.audit import (
    CLINICAL_TABLES,
    AuditContext,
    audit_record,
    audit_time,
    shift_value,
)
from remit.interop.odm.base import (
    clinical_data,
    el,
    item_types,
    odm_root,
    odm_time,
    odm_value,
    oid,
    vital_item_type,
)
from remit.interop.odm.metadata import FIXED_FORMS, study_metadata
from remit.protocol import VITAL_SIGNS, Protocol

_SIGN_ITEMS = {s.testcd for s in VITAL_SIGNS.values()}  # from vital_sign_value rows instead

#: Audited table → {column: (form, item, ODM data type)}: the visit date, and every item of
#: the DOSE, VITALS and AE forms of :data:`FIXED_FORMS` (an item is its column in capitals).
_TX_FIELDS = {
    "visit": {"actual_date": ("VISIT", "VISIT_DATE", "date")},
    **{
        table: {
            name.lower(): (form, name, data_type)
            for name, data_type, _ in FIXED_FORMS[form]
            if name not in _SIGN_ITEMS
        }
        for table, form in (("dose", "DOSE"), ("vital_sign", "VITALS"), ("adverse_event", "AE"))
    },
}


def transactional_odm(
    entries: list[Any],
    protocol: Protocol,
    scales: Sequence[str],
    created: datetime,
    shift: DateShift | None = None,
    participants: set[str] | None = None,
) -> Any:
    """The audit trail as an ODM Transactional file (an lxml element)."""
    root = odm_root("Transactional", protocol, created)
    study_metadata(root, protocol, scales)
    clinical = clinical_data(root, protocol)
    ctx = AuditContext(entries)
    types = {s: item_types(s) for s in scales}
    sessions_visit: dict[int, Any] = {}
    vital_values: dict[int, dict[str, Any]] = {}  # value row id → its reading and sign
    n = 0
    for e in entries:
        if e.table_name not in CLINICAL_TABLES:
            continue
        rec = ctx.apply(e)
        pid = ctx.study_id.get(e.participant_id) if e.participant_id is not None else None
        if pid is None or (participants is not None and pid not in participants):
            continue
        if e.table_name == "dosing_session" and e.field == "visit_id":
            sessions_visit[e.record_id] = e.new_value
        action = {"insert": "Insert", "update": "Update", "delete": "Remove"}.get(e.action)
        if action is None:
            continue
        items: list[tuple[str, str, str | None]] = []
        event: str | None
        repeat: int | None = None
        if e.table_name == "assessment":
            if e.field not in ("answers", "assessed_at", "scale_version", "timepoint"):
                continue
            scale = rec.get("scale")
            if scale not in types:
                continue
            visit_id = rec.get("visit_id") or sessions_visit.get(rec.get("dosing_session_id") or -1)
            event = ctx.visit_code(visit_id)
            form = str(scale)
            repeat = e.record_id
            if e.field == "answers":
                old = {} if e.old_value is None else dict(e.old_value)
                for code, value in (e.new_value or {}).items():
                    if action == "Update" and old.get(code) == value:
                        continue
                    items.append((form, code, odm_value(value, types[form].get(code, "text"))))
            else:
                name = {
                    "assessed_at": "ASSESSED_AT",
                    "scale_version": "VERSION",
                    "timepoint": "TIMEPOINT",
                }[e.field]
                value = shift_value(e.new_value, e.field, pid, shift)
                items.append(
                    (
                        form,
                        name,
                        None
                        if value is None
                        else (odm_time(value) if name == "ASSESSED_AT" else str(value)),
                    )
                )
        elif e.table_name == "vital_sign_value":
            # a sign's value is the item named by its VSTESTCD in the reading's VITALS form
            held = vital_values.setdefault(e.record_id, {})
            if e.field in ("vital_sign_id", "sign") and e.new_value is not None:
                held[e.field] = e.new_value
            sign = VITAL_SIGNS.get(str(held.get("sign")))
            if e.field != "value" or sign is None or held.get("vital_sign_id") is None:
                continue
            reading = ctx.records.get(("vital_sign", int(held["vital_sign_id"])), {})
            ds = reading.get("dosing_session_id")
            visit_id = reading.get("visit_id") or sessions_visit.get(int(ds) if ds else -1)
            event, repeat = ctx.visit_code(visit_id), int(held["vital_sign_id"])
            items.append(("VITALS", sign.testcd, odm_value(e.new_value, vital_item_type(sign))))
        elif e.table_name in _TX_FIELDS and e.field in _TX_FIELDS[e.table_name]:
            form, name, data_type = _TX_FIELDS[e.table_name][e.field]
            if e.table_name == "visit":
                event = rec.get("visit_code")
                if event not in protocol.visit_codes:
                    continue
            elif e.table_name == "adverse_event":
                event, repeat = "AE", e.record_id
            else:
                ds = rec.get("dosing_session_id")
                visit_id = rec.get("visit_id") or sessions_visit.get(int(ds) if ds else -1)
                event, repeat = ctx.visit_code(visit_id), e.record_id
            value = shift_value(e.new_value, e.field, pid, shift)
            items.append((form, name, odm_value(value, data_type)))
        else:
            continue
        if event is None or not items:
            continue
        n += 1
        sd = el(clinical, "SubjectData", SubjectKey=pid, TransactionType="Upsert")
        se = el(sd, "StudyEventData", StudyEventOID=oid("SE", event))
        fd = el(se, "FormData", FormOID=oid("F", items[0][0]), FormRepeatKey=repeat)
        audit_record(fd, e, audit_time(e, ctx, shift), ctx.sites.get(e.site_id or -1), None)
        ig = el(fd, "ItemGroupData", ItemGroupOID=oid("IG", items[0][0]))
        for form, name, value in items:
            if value is None and action == "Insert":
                continue
            el(
                ig,
                "ItemData",
                ItemOID=oid("IT", form, name),
                Value=value,
                TransactionType=action if value is not None else "Remove",
            )
    return root
