"""CDISC ODM 1.3.2 XML: study metadata from the protocol and the scale definitions, clinical
data, and the audit trail as ODM AuditRecords; snapshot and transactional files.

* Snapshot (``FileType="Snapshot"``): the data as they stand (from
  :func:`remit.services.build_trial_data`), then ``<AuditRecords>`` with one ``AuditRecord``
  per audit row of the clinical tables (who, where, when, why; ``SourceID`` names the table,
  record, field and action).
* Transactional (``FileType="Transactional"``): the audit trail replayed as ODM transactions —
  every insert and change of a visit date, form answer, dose, vital sign or adverse event as an
  ``ItemData`` with ``TransactionType`` and its own ``AuditRecord``.

Identity data are never read: the audit rows of ``participant_identity`` (and of users and
roles) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree  # type: ignore[import-untyped]

from remit.analysis import TrialData
from remit.errors import InputError, ScaleError
from remit.interop.dataset import frame_rows, is_missing
from remit.interop.dateshift import DateShift, shift_trial_data
from remit.protocol import Protocol
from remit.scales import ItemDefinition, load_scale
from remit.services import Actor, Engine, audit_log, build_trial_data

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
_N = f"{{{ODM_NS}}}"

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
    "adverse_event",
)

_KIND_TYPES = {
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
    "choice": "text",
    "time": "text",
    "text": "text",
}

#: Fixed forms: OID suffix → [(item name, ODM data type, label)].
FIXED_FORMS: dict[str, list[tuple[str, str, str]]] = {
    "VISIT": [
        ("VISIT_DATE", "date", "Date of the visit"),
        ("VISIT_STATUS", "text", "missed, when the visit did not take place"),
        ("MISSED_REASON", "text", "Why the visit was missed"),
    ],
    "DOSE": [
        ("KIND", "text", "Initial or supplemental"),
        ("DOSE_MG", "float", "Dose (mg)"),
        ("STATUS", "text", "Given or withheld"),
        ("GIVEN_AT", "datetime", "When the dose was taken (UTC)"),
        ("WITHHELD_REASON", "text", "Why the dose was withheld"),
    ],
    "VITALS": [
        ("MEASURED_AT", "datetime", "Time of measurement (UTC)"),
        ("MINUTES_AFTER_DOSE", "integer", "Minutes after the initial dose"),
        ("SYSBP", "integer", "Systolic blood pressure (mmHg)"),
        ("DIABP", "integer", "Diastolic blood pressure (mmHg)"),
        ("PULSE", "integer", "Heart rate (beats/min)"),
        ("TEMP", "float", "Temperature (C)"),
    ],
    "AE": [
        ("TERM", "text", "Reported term"),
        ("ONSET_DATE", "date", "Onset date"),
        ("SEVERITY", "text", "Severity"),
        ("SERIOUS", "boolean", "Serious"),
        ("RELATEDNESS", "text", "Relatedness"),
        ("OUTCOME", "text", "Outcome"),
    ],
}


def _criterion_type(value: Any) -> str:
    first = value[0] if isinstance(value, tuple | list) and value else value
    if isinstance(first, bool):
        return "boolean"
    if isinstance(first, int | float):
        return "float"
    return "text"


def fixed_forms(protocol: Protocol) -> dict[str, list[tuple[str, str, str]]]:
    """The forms that are not scales: subject, eligibility data, visit, dose, vitals, AE."""
    subject = [
        ("SITE", "text", "Site code"),
        ("SEX", "text", "Sex"),
        ("ARM", "text", "Arm code"),
        ("STATUS", "text", "Participant status"),
        ("STATUS_REASON", "text", "Reason for the status (withdrawal)"),
        ("SCREENED_AT", "datetime", "Screened (UTC)"),
        ("ENROLLED_AT", "datetime", "Enrolled (UTC)"),
        ("SIMULATED", "boolean", "Simulated participant"),
    ] + [(f"ANCHOR_{e.code}".upper(), "date", e.label) for e in protocol.events]
    criteria: dict[str, tuple[str, str, str]] = {}
    for c in protocol.eligibility.criteria:
        criteria.setdefault(c.field, (c.field.upper(), _criterion_type(c.value), c.text[:200]))
    return {"SUBJECT": subject, "ELIGIBILITY": list(criteria.values())} | FIXED_FORMS


#: Items every scale form carries besides its own items.
FORM_META = [
    ("VERSION", "text", "Scale version"),
    ("TIMEPOINT", "text", "Time point within the visit"),
    ("ASSESSED_AT", "datetime", "When the form was completed (UTC)"),
]


def _el(parent: Any, tag: str, text: str | None = None, **attrs: Any) -> Any:
    node = etree.SubElement(
        parent, _N + tag, {k: str(v) for k, v in attrs.items() if v is not None}
    )
    if text is not None:
        node.text = text
    return node


def _translated(parent: Any, tag: str, text: str) -> None:
    holder = _el(parent, tag)
    t = _el(holder, "TranslatedText", text)
    t.set("{http://www.w3.org/XML/1998/namespace}lang", "en")


def _odm_time(value: Any) -> str:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    ts = ts.tz_convert("UTC")
    fraction = f".{ts.microsecond:06d}" if ts.microsecond else ""  # keep what was stored
    return ts.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _odm_value(value: Any, data_type: str) -> str | None:
    if is_missing(value):
        return None
    if data_type == "boolean" or isinstance(value, bool):
        return "1" if bool(value) else "0"
    if data_type == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if data_type == "datetime":
        return _odm_time(value)
    if data_type == "integer":
        return str(int(value))
    if data_type == "float" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def all_items(scale: str) -> list[ItemDefinition]:
    """Every item of a scale across its versions (first occurrence of each code)."""
    definition = load_scale(scale)
    found: dict[str, ItemDefinition] = {}
    for version in definition.versions:
        for item in definition.items_for(version):
            found.setdefault(item.code, item)
    for item in definition.items:
        found.setdefault(item.code, item)
    return list(found.values())


def oid(*parts: str) -> str:
    """An OID from parts (``IT.MADRS.APPARENT_SADNESS``)."""
    return ".".join(p.upper().replace(" ", "_") for p in parts)


def _scales(protocol: Protocol, data: TrialData | None = None) -> list[str]:
    found = [a.scale for v in protocol.visits for a in v.assessments]
    found += [s for d in protocol.dosing for s in (["se_vas"] if d.vas_timepoints else [])]
    if data is not None:
        found += list(data.scores["scale"].astype(str))
    out = []
    for s in dict.fromkeys(found):
        try:
            load_scale(s)
        except (ScaleError, InputError, OSError):
            continue
        out.append(s)
    return out


def _item_def(parent: Any, item_oid: str, name: str, data_type: str, label: str) -> Any:
    node = _el(parent, "ItemDef", OID=item_oid, Name=name, DataType=data_type)
    if data_type == "text":
        node.set("Length", "200")
    _translated(node, "Question", label)
    return node


def _coded(item: ItemDefinition) -> bool:
    """Whether the item's options list every allowed value (a choice item; an integer item
    whose anchors cover its whole range), so they make an ODM CodeList."""
    if item.kind == "choice":
        return bool(item.options)
    if item.kind != "integer" or not item.options or item.min is None or item.max is None:
        return False
    try:
        codes = sorted(int(v) for v in item.options)
    except ValueError:
        return False
    return codes == list(range(int(item.min), int(item.max) + 1))


def study_metadata(parent: Any, protocol: Protocol, scales: Sequence[str]) -> None:
    """``<Study>`` with GlobalVariables, BasicDefinitions and one MetaDataVersion."""
    study = _el(parent, "Study", OID=oid("ST", protocol.study.id))
    gv = _el(study, "GlobalVariables")
    _el(gv, "StudyName", protocol.study.short_title)
    _el(gv, "StudyDescription", protocol.study.title)
    _el(gv, "ProtocolName", protocol.study.id)
    mdv = _el(
        study,
        "MetaDataVersion",
        OID=oid("MDV", protocol.study.version),
        Name=f"{protocol.study.id} version {protocol.study.version}",
    )
    prot = _el(mdv, "Protocol")
    events: list[tuple[str, str, str, Any]] = [(oid("SE", "SUBJECT"), "Subject", "Common", "")]
    events += [(oid("SE", v.code), v.label, "Scheduled", v) for v in protocol.visits]
    events.append((oid("SE", "AE"), "Adverse events", "Common", None))
    for n, (event_oid, _, _, _) in enumerate(events, start=1):
        _el(prot, "StudyEventRef", StudyEventOID=event_oid, OrderNumber=n, Mandatory="No")
    for event_oid, label, kind, visit in events:
        se = _el(
            mdv,
            "StudyEventDef",
            OID=event_oid,
            Name=label,
            Repeating="Yes" if visit is None else "No",
            Type=kind,
        )
        if visit == "":
            _el(se, "FormRef", FormOID=oid("F", "SUBJECT"), Mandatory="Yes")
            _el(se, "FormRef", FormOID=oid("F", "ELIGIBILITY"), Mandatory="No")
            continue
        if visit is None:
            _el(se, "FormRef", FormOID=oid("F", "AE"), Mandatory="No")
            continue
        forms = ["VISIT"] + [a.scale for a in visit.assessments if a.scale in scales]
        if protocol.dosing_session(visit.code) is not None:
            forms += ["DOSE", "VITALS"]
            if "se_vas" in scales and "se_vas" not in forms:
                forms.append("se_vas")
        for form in dict.fromkeys(forms):
            _el(se, "FormRef", FormOID=oid("F", form), Mandatory="No")
    fixed = fixed_forms(protocol)
    forms = list(fixed) + list(scales)
    for form in forms:
        repeating = "Yes" if form in ("DOSE", "VITALS", "AE") or form == "se_vas" else "No"
        label = form.title() if form in fixed else load_scale(form).name
        fd = _el(mdv, "FormDef", OID=oid("F", form), Name=label, Repeating=repeating)
        _el(fd, "ItemGroupRef", ItemGroupOID=oid("IG", form), Mandatory="Yes")
    for form in forms:
        ig = _el(mdv, "ItemGroupDef", OID=oid("IG", form), Name=form, Repeating="No")
        if form in fixed:
            names = [n for n, _, _ in fixed[form]]
        else:
            names = [n for n, _, _ in FORM_META] + [i.code for i in all_items(form)]
        for name in names:
            _el(ig, "ItemRef", ItemOID=oid("IT", form, name), Mandatory="No")
    codelists: list[tuple[str, ItemDefinition]] = []
    for form in forms:
        if form in fixed:
            for name, data_type, label in fixed[form]:
                _item_def(mdv, oid("IT", form, name), name, data_type, label)
            continue
        for name, data_type, label in FORM_META:
            _item_def(mdv, oid("IT", form, name), name, data_type, label)
        for item in all_items(form):
            node = _item_def(
                mdv, oid("IT", form, item.code), item.code, _KIND_TYPES[item.kind], item.label
            )
            for comparator, bound in (("GE", item.min), ("LE", item.max)):
                if bound is not None:
                    rc = _el(node, "RangeCheck", Comparator=comparator, SoftHard="Hard")
                    _el(rc, "CheckValue", _odm_value(bound, "float"))
            if _coded(item):
                cl = oid("CL", form, item.code)
                _el(node, "CodeListRef", CodeListOID=cl)
                codelists.append((cl, item))
    for cl, item in codelists:
        data_type = "integer" if item.kind == "integer" else "text"
        node = _el(mdv, "CodeList", OID=cl, Name=item.code, DataType=data_type)
        for value, label in item.options.items():
            cli = _el(node, "CodeListItem", CodedValue=value)
            _translated(cli, "Decode", label or value)


@dataclass
class _Form:
    subject: str
    event: str
    form: str
    repeat: int | None
    items: list[tuple[str, str | None]]


def _missed_reasons(entries: list[Any]) -> dict[tuple[str, str], str]:
    """``(study ID, visit code) → reason`` of the visits marked missed."""
    state = audit_state(entries)
    ids = {i: str(r["study_id"]) for (t, i), r in state.items() if t == "participant"}
    out = {}
    for (table, _), r in state.items():
        if table == "visit" and r.get("status") == "missed" and r.get("participant_id") in ids:
            code = str(r.get("visit_code"))
            text = str(r.get("deviation") or "")
            out[(ids[r["participant_id"]], code)] = text.removeprefix(f"visit {code} missed: ")
    return out


def _snapshot_forms(
    data: TrialData, scales: Sequence[str], missed: Mapping[tuple[str, str], str]
) -> list[_Form]:
    out: list[_Form] = []
    types = {s: {i.code: _KIND_TYPES[i.kind] for i in all_items(s)} for s in scales}
    for r in frame_rows(data.visits):
        where = (str(r.participant_id), str(r.visit_code))
        visit_items: list[tuple[str, str | None]]
        if not is_missing(r.actual_date):
            visit_items = [("VISIT_DATE", _odm_value(r.actual_date, "date"))]
        elif r.window_status == "missed":
            visit_items = [("VISIT_STATUS", "missed"), ("MISSED_REASON", missed.get(where))]
        else:
            continue
        out.append(_Form(where[0], where[1], "VISIT", None, visit_items))
    counter: dict[tuple[str, str, str], int] = {}
    for r in frame_rows(data.scores.sort_values("assessed_at", kind="mergesort")):
        if is_missing(r.visit_code) or r.scale not in types:
            continue
        key = (str(r.participant_id), str(r.visit_code), str(r.scale))
        counter[key] = counter.get(key, 0) + 1
        t = types[str(r.scale)]
        items = [
            ("VERSION", None if is_missing(r.version) else str(r.version)),
            ("TIMEPOINT", None if is_missing(r.timepoint) else str(r.timepoint)),
            ("ASSESSED_AT", _odm_value(r.assessed_at, "datetime")),
        ] + [(code, _odm_value(v, t.get(code, "text"))) for code, v in r.items.items()]
        out.append(
            _Form(
                key[0], key[1], str(r.scale), counter[key] if r.scale == "se_vas" else None, items
            )
        )
    for name, frame, build in (
        ("DOSE", data.doses, _dose_items),
        ("VITALS", data.vitals, _vitals_items),
    ):
        n: dict[tuple[str, str], int] = {}
        for r in frame_rows(frame):
            key2 = (str(r.participant_id), str(r.visit_code))
            n[key2] = n.get(key2, 0) + 1
            out.append(_Form(key2[0], key2[1], name, n[key2], build(r)))
    n_ae: dict[str, int] = {}
    for r in frame_rows(data.adverse_events):
        pid = str(r.participant_id)
        n_ae[pid] = n_ae.get(pid, 0) + 1
        out.append(
            _Form(
                pid,
                "AE",
                "AE",
                n_ae[pid],
                [
                    ("TERM", str(r.term)),
                    ("ONSET_DATE", _odm_value(r.onset_date, "date")),
                    ("SEVERITY", _odm_value(r.severity, "text")),
                    ("SERIOUS", _odm_value(bool(r.serious), "boolean")),
                    ("RELATEDNESS", _odm_value(r.relatedness, "text")),
                    ("OUTCOME", _odm_value(r.outcome, "text")),
                ],
            )
        )
    return out


def audit_state(entries: Iterable[Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """Every record as the audit trail leaves it: ``{(table, id): {field: value}}``."""
    ctx = _AuditContext(list(entries))
    for e in entries:
        if e.action == "delete":
            ctx.records.pop((e.table_name, e.record_id), None)
        elif e.action in ("insert", "update"):
            ctx.apply(e)
    return ctx.records


def _subject_forms(
    entries: list[Any],
    protocol: Protocol,
    shift: DateShift | None,
    only: set[str] | None = None,
) -> list[_Form]:
    state = audit_state(entries)
    sites = {i: r.get("code") for (t, i), r in state.items() if t == "site"}
    fixed = fixed_forms(protocol)
    events = {e.code for e in protocol.events}
    out: list[_Form] = []
    study_ids = {i: str(r["study_id"]) for (t, i), r in state.items() if t == "participant"}
    anchors: dict[int, dict[str, Any]] = {}
    eligibility: dict[int, tuple[int, dict[str, Any]]] = {}
    for (table, rid), r in state.items():
        # event dates (anchors): their own table; stores before it kept them as visit rows
        if table == "participant_event" and r.get("event_code") in events:
            anchors.setdefault(int(r["participant_id"]), {})[str(r["event_code"])] = r.get(
                "event_date"
            )
        elif table == "visit" and r.get("visit_code") in events:
            anchors.setdefault(int(r["participant_id"]), {})[str(r["visit_code"])] = r.get(
                "actual_date"
            )
        if table == "eligibility_check" and isinstance(r.get("data"), dict):
            owner = int(r["participant_id"])
            if owner not in eligibility or eligibility[owner][0] < rid:
                eligibility[owner] = (rid, r["data"])
    for rid, pid in sorted(study_ids.items(), key=lambda kv: kv[1]):
        if only is not None and pid not in only:
            continue
        r = state[("participant", rid)]
        values = {
            "SITE": sites.get(int(r["site_id"])) if r.get("site_id") is not None else None,
            "SEX": r.get("sex"),
            "ARM": r.get("arm"),
            "STATUS": r.get("status"),
            "STATUS_REASON": r.get("status_reason"),
            "SCREENED_AT": _shift_value(r.get("screened_at"), "screened_at", pid, shift),
            "ENROLLED_AT": _shift_value(r.get("enrolled_at"), "enrolled_at", pid, shift),
            "SIMULATED": r.get("simulated"),
        }
        for code, day in anchors.get(rid, {}).items():
            values[f"ANCHOR_{code}".upper()] = _shift_value(day, "anchor_date", pid, shift)
        types = {n: t for n, t, _ in fixed["SUBJECT"]}
        out.append(
            _Form(
                pid,
                "SUBJECT",
                "SUBJECT",
                None,
                [(n, _odm_value(v, types[n])) for n, v in values.items() if n in types],
            )
        )
        if rid in eligibility:
            data = eligibility[rid][1]
            items = [
                (name, _odm_value(data.get(name.lower()), t)) for name, t, _ in fixed["ELIGIBILITY"]
            ]
            out.append(_Form(pid, "SUBJECT", "ELIGIBILITY", None, items))
    return out


def _dose_items(r: Any) -> list[tuple[str, str | None]]:
    return [
        ("KIND", str(r.kind)),
        ("DOSE_MG", _odm_value(r.dose_mg, "float")),
        ("STATUS", str(r.status)),
        ("GIVEN_AT", _odm_value(r.given_at, "datetime")),
        ("WITHHELD_REASON", _odm_value(r.withheld_reason, "text")),
    ]


def _vitals_items(r: Any) -> list[tuple[str, str | None]]:
    return [
        ("MEASURED_AT", _odm_value(r.measured_at, "datetime")),
        ("MINUTES_AFTER_DOSE", _odm_value(r.minutes_after_dose, "integer")),
        ("SYSBP", _odm_value(r.systolic_bp, "integer")),
        ("DIABP", _odm_value(r.diastolic_bp, "integer")),
        ("PULSE", _odm_value(r.heart_rate, "integer")),
        ("TEMP", _odm_value(r.temperature, "float")),
    ]


def _form_xml(parent: Any, f: _Form, transaction: str | None = None) -> Any:
    fd = _el(parent, "FormData", FormOID=oid("F", f.form), FormRepeatKey=f.repeat)
    ig = _el(fd, "ItemGroupData", ItemGroupOID=oid("IG", f.form))
    for name, value in f.items:
        if value is None and transaction is None:
            continue
        _el(
            ig,
            "ItemData",
            ItemOID=oid("IT", f.form, name),
            Value=value,
            TransactionType=transaction,
        )
    return fd


def _clinical(root: Any, protocol: Protocol) -> Any:
    return _el(
        root,
        "ClinicalData",
        StudyOID=oid("ST", protocol.study.id),
        MetaDataVersionOID=oid("MDV", protocol.study.version),
    )


def _audit_record(
    parent: Any, entry: Any, when: datetime, site: str | None, rid: str | None
) -> Any:
    ar = _el(parent, "AuditRecord", ID=rid)
    _el(ar, "UserRef", UserOID=oid("USR", str(entry.user_id or 0)))
    _el(ar, "LocationRef", LocationOID=oid("LOC", site or "STUDY"))
    _el(ar, "DateTimeStamp", _odm_time(when))
    if entry.reason:
        _el(ar, "ReasonForChange", entry.reason)
    _el(ar, "SourceID", f"{entry.table_name}/{entry.record_id}/{entry.field or ''}/{entry.action}")
    return ar


def _root(file_type: str, protocol: Protocol, created: datetime) -> Any:
    return etree.Element(
        _N + "ODM",
        nsmap={None: ODM_NS},
        FileType=file_type,
        FileOID=oid("ODM", protocol.study.id, file_type, created.strftime("%Y%m%dT%H%M%S")),
        CreationDateTime=_odm_time(created),
        ODMVersion="1.3.2",
        Originator="Remit",
        SourceSystem="Remit",
        Granularity="All",
    )


class _AuditContext:
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
        rec = self.records.setdefault((e.table_name, e.record_id), {})
        if e.field is not None:
            rec[e.field] = e.new_value
        return rec

    def visit_code(self, visit_id: Any) -> str | None:
        if visit_id is None:
            return None
        v = self.records.get(("visit", int(visit_id)))
        return None if v is None else v.get("visit_code")


def _when(entry: Any, ctx: _AuditContext, shift: DateShift | None) -> datetime:
    when: datetime = entry.occurred_at
    if shift is not None and entry.participant_id in ctx.study_id:
        when = when + timedelta(days=shift.offset(ctx.study_id[entry.participant_id]))
    return when


def _shift_value(value: Any, field: str, pid: str | None, shift: DateShift | None) -> Any:
    if shift is None or pid is None or value is None:
        return value
    if field.endswith("_date") or field.endswith("_at"):
        ts = pd.Timestamp(value) + pd.Timedelta(days=shift.offset(pid))
        return ts.strftime("%Y-%m-%d") if field.endswith("_date") else _odm_time(ts)
    return value


_TX_FIELDS = {
    "visit": {"actual_date": ("VISIT", "VISIT_DATE", "date")},
    "dose": {
        "kind": ("DOSE", "KIND", "text"),
        "dose_mg": ("DOSE", "DOSE_MG", "float"),
        "status": ("DOSE", "STATUS", "text"),
        "given_at": ("DOSE", "GIVEN_AT", "datetime"),
        "withheld_reason": ("DOSE", "WITHHELD_REASON", "text"),
    },
    "vital_sign": {
        "measured_at": ("VITALS", "MEASURED_AT", "datetime"),
        "minutes_after_dose": ("VITALS", "MINUTES_AFTER_DOSE", "integer"),
        "systolic": ("VITALS", "SYSBP", "integer"),
        "diastolic": ("VITALS", "DIABP", "integer"),
        "heart_rate": ("VITALS", "PULSE", "integer"),
        "temperature": ("VITALS", "TEMP", "float"),
    },
    "adverse_event": {
        "term": ("AE", "TERM", "text"),
        "onset_date": ("AE", "ONSET_DATE", "date"),
        "severity": ("AE", "SEVERITY", "text"),
        "serious": ("AE", "SERIOUS", "boolean"),
        "relatedness": ("AE", "RELATEDNESS", "text"),
        "outcome": ("AE", "OUTCOME", "text"),
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
    root = _root("Transactional", protocol, created)
    study_metadata(root, protocol, scales)
    clinical = _clinical(root, protocol)
    ctx = _AuditContext(entries)
    types = {s: {i.code: _KIND_TYPES[i.kind] for i in all_items(s)} for s in scales}
    sessions_visit: dict[int, Any] = {}
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
                    items.append((form, code, _odm_value(value, types[form].get(code, "text"))))
            else:
                name = {
                    "assessed_at": "ASSESSED_AT",
                    "scale_version": "VERSION",
                    "timepoint": "TIMEPOINT",
                }[e.field]
                value = _shift_value(e.new_value, e.field, pid, shift)
                items.append(
                    (
                        form,
                        name,
                        None
                        if value is None
                        else (_odm_time(value) if name == "ASSESSED_AT" else str(value)),
                    )
                )
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
            value = _shift_value(e.new_value, e.field, pid, shift)
            items.append((form, name, _odm_value(value, data_type)))
        else:
            continue
        if event is None or not items:
            continue
        n += 1
        sd = _el(clinical, "SubjectData", SubjectKey=pid, TransactionType="Upsert")
        se = _el(sd, "StudyEventData", StudyEventOID=oid("SE", event))
        fd = _el(se, "FormData", FormOID=oid("F", items[0][0]), FormRepeatKey=repeat)
        _audit_record(fd, e, _when(e, ctx, shift), ctx.sites.get(e.site_id or -1), None)
        ig = _el(fd, "ItemGroupData", ItemGroupOID=oid("IG", items[0][0]))
        for form, name, value in items:
            if value is None and action == "Insert":
                continue
            _el(
                ig,
                "ItemData",
                ItemOID=oid("IT", form, name),
                Value=value,
                TransactionType=action if value is not None else "Remove",
            )
    return root


def snapshot_odm(
    data: TrialData,
    entries: list[Any],
    protocol: Protocol,
    scales: Sequence[str],
    created: datetime,
    shift: DateShift | None = None,
) -> Any:
    """The data as they stand, plus the audit trail as AuditRecords (an lxml element)."""
    root = _root("Snapshot", protocol, created)
    study_metadata(root, protocol, scales)
    clinical = _clinical(root, protocol)
    forms = _snapshot_forms(data, scales, _missed_reasons(entries))
    forms += _subject_forms(
        entries, protocol, shift, set(data.participants["participant_id"].astype(str))
    )
    order = {code: i + 1 for i, code in enumerate(protocol.visit_codes)}
    order["SUBJECT"] = 0
    order["AE"] = len(order)
    by_subject: dict[str, list[_Form]] = {}
    for f in forms:
        by_subject.setdefault(f.subject, []).append(f)
    for pid in sorted(data.participants["participant_id"].astype(str)):
        sd = _el(clinical, "SubjectData", SubjectKey=pid)
        events: dict[str, list[_Form]] = {}
        for f in by_subject.get(pid, []):
            events.setdefault(f.event, []).append(f)
        for event in sorted(events, key=lambda c: order.get(c, 999)):
            if event == "AE":
                for f in events[event]:
                    se = _el(
                        sd,
                        "StudyEventData",
                        StudyEventOID=oid("SE", "AE"),
                        StudyEventRepeatKey=f.repeat,
                    )
                    _form_xml(se, f)
                continue
            se = _el(sd, "StudyEventData", StudyEventOID=oid("SE", event))
            for f in events[event]:
                _form_xml(se, f)
    ctx = _AuditContext(entries)
    records = _el(clinical, "AuditRecords")
    known = set(data.participants["participant_id"].astype(str))
    for e in entries:
        if e.table_name not in CLINICAL_TABLES:
            continue
        who = ctx.study_id.get(e.participant_id) if e.participant_id is not None else None
        if who is not None and who not in known:
            continue
        _audit_record(
            records, e, _when(e, ctx, shift), ctx.sites.get(e.site_id or -1), f"AR.{e.id}"
        )
    return root


def write_odm_files(
    engine: Engine,
    protocol: Protocol,
    directory: str | Path,
    *,
    variants: Iterable[str] = ("snapshot", "transactional"),
    date_shift: DateShift | None = None,
    created_at: datetime | None = None,
    participants: set[str] | None = None,
    actor: Actor | None = None,
) -> list[Path]:
    """Write ``odm_snapshot.xml`` and/or ``odm_transactional.xml`` into ``directory``."""
    wanted = list(variants)
    bad = [v for v in wanted if v not in ("snapshot", "transactional")]
    if bad:
        raise InputError(f"unknown ODM variant(s) {bad}", expected="snapshot, transactional")
    created = (created_at or datetime.now(UTC)).astimezone(UTC)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    data = build_trial_data(engine, actor=actor or Actor.system("remit-export"))
    known = set(data.participants["participant_id"].astype(str))
    participants = known if participants is None else participants & known
    if date_shift is not None:
        data = shift_trial_data(data, date_shift)
    entries = [
        e for e in audit_log(engine) if e.table_name in CLINICAL_TABLES or e.table_name == "site"
    ]
    scales = _scales(protocol, data)
    written = []
    for variant in wanted:
        if variant == "snapshot":
            root = snapshot_odm(data, entries, protocol, scales, created, date_shift)
            # participants the actor may not see (another site) never reach the file
        else:
            root = transactional_odm(entries, protocol, scales, created, date_shift, participants)
        path = d / f"odm_{variant}.xml"
        etree.ElementTree(root).write(
            str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True
        )
        written.append(path)
    return written
