"""ODM Transactional: the audit trail replayed as ODM transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from remit.interop.dateshift import DateShift
from remit.interop.odm.admin import add_admin_data
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
from remit.interop.odm.metadata import (
    COMMON_EVENTS,
    FIXED_FORMS,
    fixed_forms,
    is_repeating,
    study_metadata,
)
from remit.interop.odm.stream import Chunk, assemble
from remit.protocol import VITAL_SIGNS, Protocol
from remit.protocol.deviation import AUTOMATIC_CATEGORIES, DeviationSeverity, DeviationSource

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


#: Audited table → (form, {column: (item, ODM data type)}) of the RESULT, CONMED and
#: DEVIATION forms; ``visit_id`` is the VISIT item of a deviation (its visit code).
_RECORD_FIELDS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "clinical_result": (
        "RESULT",
        {
            "test_code": ("TEST_CODE", "text"),
            "value_number": ("VALUE", "float"),
            "value_text": ("VALUE", "text"),
            "unit": ("UNIT", "text"),
            "normal_low": ("NORMAL_LOW", "float"),
            "normal_high": ("NORMAL_HIGH", "float"),
            "interpretation": ("INTERPRETATION", "text"),
            "collected_at": ("COLLECTED_AT", "datetime"),
        },
    ),
    "concomitant_medication": (
        "CONMED",
        {name.lower(): (name, data_type) for name, data_type, _ in FIXED_FORMS["CONMED"]},
    ),
    "protocol_deviation": (
        "DEVIATION",
        {
            "category": ("CATEGORY", "text"),
            "major": ("SEVERITY", "text"),
            "visit_id": ("VISIT", "text"),
            "description": ("DESCRIPTION", "text"),
            "occurred_date": ("OCCURRED_DATE", "date"),
        },
    ),
}


def _record_items(
    e: Any, ctx: AuditContext, pid: str, shift: DateShift | None
) -> list[tuple[str, str, str | None]]:
    """The items one audit row of a result, medication or deviation changes."""
    form, fields = _RECORD_FIELDS[e.table_name]
    if e.field not in fields:
        return []
    name, data_type = fields[e.field]
    value = shift_value(e.new_value, e.field, pid, shift)
    if e.field == "major":
        value = DeviationSeverity.of(major=bool(value)).value
    elif e.field == "visit_id":
        value = ctx.visit_code(value)
    elif e.field == "taper_steps":
        steps = value or []
        value = (
            ";".join(
                f"{shift_value(s['date'], 'step_date', pid, shift)}={s['dose']}" for s in steps
            )
            or None
        )
    items = [(form, name, odm_value(value, data_type))]
    if e.field == "category":
        automatic = str(value) in AUTOMATIC_CATEGORIES
        source = DeviationSource.AUTOMATIC if automatic else DeviationSource.MANUAL
        items.append((form, "SOURCE", source.value))
    return items


def _checklist_items(
    e: Any, pid: str, shift: DateShift | None
) -> list[tuple[str, str, str | None]]:
    """The items one audit row of a pre-dose checklist completion changes."""
    if e.field in ("completed_at", "override_reason"):
        value = shift_value(e.new_value, e.field, pid, shift)
        data_type = "datetime" if e.field == "completed_at" else "text"
        return [("CHECKLIST", e.field.upper(), odm_value(value, data_type))]
    if e.field == "completed_by":
        by = None if e.new_value is None else oid("USR", str(e.new_value))
        return [("CHECKLIST", "COMPLETED_BY", by)]
    if e.field == "items":
        out: list[tuple[str, str, str | None]] = []
        for item in e.new_value or []:
            name = str(item.get("id", "")).upper()
            out.append(("CHECKLIST", f"{name}_STATUS", item.get("status")))
            out.append(("CHECKLIST", f"{name}_REASON", item.get("reason")))
        return out
    return []


def transactional_odm(
    entries: list[Any],
    protocol: Protocol,
    scales: Sequence[str],
    created: datetime,
    shift: DateShift | None = None,
    participants: set[str] | None = None,
    trail: Sequence[Any] | None = None,
) -> Any:
    """The audit trail as an ODM Transactional file (an lxml element), with the users and
    locations its audit records name as AdminData (from ``trail``, by default ``entries``).

    Repeat keys only where the standard has them: ``FormRepeatKey`` (the record ID) on
    repeating forms, ``StudyEventRepeatKey`` on the repeating events of adverse events,
    medications and deviations."""
    root, clinical, chunks = transactional_parts(
        entries, protocol, scales, created, shift, participants
    )
    assemble(clinical, chunks)
    add_admin_data(root, protocol, entries if trail is None else trail, created)
    return root


def transactional_parts(
    entries: list[Any],
    protocol: Protocol,
    scales: Sequence[str],
    created: datetime,
    shift: DateShift | None = None,
    participants: set[str] | None = None,
) -> tuple[Any, Any, Iterator[Chunk]]:
    """The transactional file as its frame (the root, with the study metadata), its
    ``<ClinicalData>`` and the chunks that fill it, one ``SubjectData`` per transaction (see
    :mod:`remit.interop.odm.stream`); ``<AdminData>`` is not added."""
    root = odm_root("Transactional", protocol, created)
    study_metadata(root, protocol, scales)
    clinical = clinical_data(root, protocol)
    return root, clinical, _transactions(entries, protocol, scales, shift, participants)


def _transactions(
    entries: list[Any],
    protocol: Protocol,
    scales: Sequence[str],
    shift: DateShift | None,
    participants: set[str] | None,
) -> Iterator[Chunk]:
    ctx = AuditContext(entries)
    types = {s: item_types(s) for s in scales}
    checklist_names = {n for n, _, _ in fixed_forms(protocol)["CHECKLIST"]}
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
        elif e.table_name in ("clinical_result", "dosing_checklist"):
            if e.table_name == "clinical_result":
                visit_id = rec.get("visit_id")
                items = _record_items(e, ctx, pid, shift)
            else:
                visit_id = sessions_visit.get(int(rec.get("dosing_session_id") or -1))
                items = [i for i in _checklist_items(e, pid, shift) if (i[1] in checklist_names)]
            event, repeat = ctx.visit_code(visit_id), e.record_id
        elif e.table_name in ("concomitant_medication", "protocol_deviation"):
            event = "CM" if e.table_name == "concomitant_medication" else "DV"
            repeat = e.record_id
            items = _record_items(e, ctx, pid, shift)
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
            if e.field == "seriousness_criteria":  # a list: as the snapshot writes it
                value = ";".join(str(c) for c in value or ()) or None
            items.append((form, name, odm_value(value, data_type)))
        else:
            continue
        if event is None or not items:
            continue
        n += 1
        when, site = audit_time(e, ctx, shift), ctx.sites.get(e.site_id or -1)
        yield Chunk(_transaction(e, pid, event, repeat, items, action, when, site))


def _transaction(
    e: Any,
    pid: str,
    event: str,
    repeat: int | None,
    items: list[tuple[str, str, str | None]],
    action: str,
    when: datetime,
    site: str | None,
) -> Callable[[Any], Any]:
    def build(parent: Any) -> Any:
        form = items[0][0]
        sd = el(parent, "SubjectData", SubjectKey=pid, TransactionType="Upsert")
        common = event in COMMON_EVENTS
        se = el(
            sd,
            "StudyEventData",
            StudyEventOID=oid("SE", event),
            StudyEventRepeatKey=repeat if common else None,
        )
        fd = el(
            se,
            "FormData",
            FormOID=oid("F", form),
            FormRepeatKey=repeat if not common and is_repeating(form) else None,
        )
        audit_record(fd, e, when, site, None, pid)
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
        return sd

    return build
