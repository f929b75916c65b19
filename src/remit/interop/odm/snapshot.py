"""ODM Snapshot: the clinical data as they stand, then the audit trail as AuditRecords."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.analysis import TrialData
from remit.interop.dataset import frame_rows, is_missing
from remit.interop.dateshift import DateShift
from remit.interop.odm.admin import add_admin_data
from remit.interop.odm.audit import (
    CLINICAL_TABLES,
    AuditContext,
    audit_record,
    audit_record_text,
    audit_state,
    audit_time,
    shift_value,
)
from remit.interop.odm.base import (
    clinical_data,
    el,
    item_types,
    odm_root,
    odm_value,
    oid,
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


@dataclass
class Form:
    """One ``FormData``: subject, event, form, repeat key and (item, ODM value) pairs."""

    subject: str
    event: str
    form: str
    repeat: int | None
    items: list[tuple[str, str | None]]


#: The trial-data column of a fixed form's item whose column is not its name in lower case.
_COLUMNS = {s.testcd: s.code for s in VITAL_SIGNS.values()}

State = Mapping[tuple[str, int], Mapping[str, Any]]


def _missed_reasons(state: State) -> dict[tuple[str, str], str]:
    """``(study ID, visit code) → reason`` of the visits marked missed."""
    ids = {i: str(r["study_id"]) for (t, i), r in state.items() if t == "participant"}
    out = {}
    for (table, _), r in state.items():
        if table == "visit" and r.get("status") == "missed" and r.get("participant_id") in ids:
            code = str(r.get("visit_code"))
            text = str(r.get("deviation") or "")
            out[(ids[r["participant_id"]], code)] = text.removeprefix(f"visit {code} missed: ")
    return out


def _adverse_events(state: State) -> dict[str, list[Mapping[str, Any]]]:
    """Each participant's adverse events as the audit trail leaves them, in record order (the
    order of the ``adverse_events`` frame): their seriousness criteria, description and SAE
    times, which the frame does not hold."""
    ids = {i: str(r["study_id"]) for (t, i), r in state.items() if t == "participant"}
    out: dict[str, list[Mapping[str, Any]]] = {}
    for (table, _), r in sorted(state.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if table == "adverse_event" and r.get("participant_id") in ids:
            out.setdefault(ids[r["participant_id"]], []).append(r)
    return out


def _snapshot_forms(
    data: TrialData,
    scales: Sequence[str],
    missed: Mapping[tuple[str, str], str],
    aes: Mapping[str, list[Mapping[str, Any]]] | None = None,
    shift: DateShift | None = None,
) -> list[Form]:
    out: list[Form] = []
    types = {s: item_types(s) for s in scales}
    for r in frame_rows(data.visits):
        where = (str(r.participant_id), str(r.visit_code))
        visit_items: list[tuple[str, str | None]]
        if not is_missing(r.actual_date):
            visit_items = [("VISIT_DATE", odm_value(r.actual_date, "date"))]
        elif r.window_status == "missed":
            visit_items = [("VISIT_STATUS", "missed"), ("MISSED_REASON", missed.get(where))]
        else:
            continue
        out.append(Form(where[0], where[1], "VISIT", None, visit_items))
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
            ("ASSESSED_AT", odm_value(r.assessed_at, "datetime")),
        ] + [(code, odm_value(v, t.get(code, "text"))) for code, v in r.items.items()]
        out.append(
            Form(key[0], key[1], str(r.scale), counter[key] if r.scale == "se_vas" else None, items)
        )
    for name, frame in (("DOSE", data.doses), ("VITALS", data.vitals)):
        n: dict[tuple[str, str], int] = {}
        for r in frame_rows(frame):
            key2 = (str(r.participant_id), str(r.visit_code))
            n[key2] = n.get(key2, 0) + 1
            out.append(Form(key2[0], key2[1], name, n[key2], _fixed_items(name, r)))
    n_common: dict[tuple[str, str], int] = {}
    for event, frame in (
        ("AE", data.adverse_events),
        ("CM", data.conmeds),
        ("DV", data.deviations),
    ):
        form = COMMON_EVENTS[event][1]
        for r in frame_rows(frame):
            if is_missing(r.participant_id):
                continue  # a study-wide deviation belongs to no subject
            pid = str(r.participant_id)
            n_common[(pid, event)] = n_common.get((pid, event), 0) + 1
            items = _common_items(form, r)
            if event == "AE":
                items = _ae_items(items, r, (aes or {}).get(pid, []), n_common[(pid, event)], shift)
            out.append(Form(pid, event, form, n_common[(pid, event)], items))
    return out


#: The items of the AE form read from the audit trail's record, not from the frame.
_AE_RECORD_ITEMS = (
    "SERIOUSNESS_CRITERIA",
    "DESCRIPTION",
    "AWARENESS_AT",
    "BECAME_SERIOUS_AT",
    "REPORTED_AT",
)


def _ae_items(
    items: list[tuple[str, str | None]],
    r: Any,
    records: Sequence[Mapping[str, Any]],
    n: int,
    shift: DateShift | None,
) -> list[tuple[str, str | None]]:
    """The AE form's items with those the frame does not hold filled from the ``n``-th
    adverse event of the participant as the audit trail leaves it (the same event: the frame
    lists them in record order; its term is checked)."""
    record = records[n - 1] if n <= len(records) else None
    if record is None or record.get("term") != r.term:
        return items
    pid = str(r.participant_id)
    criteria = record.get("seriousness_criteria") or []
    values: dict[str, str | None] = {
        "SERIOUSNESS_CRITERIA": ";".join(str(c) for c in criteria) or None,
        "DESCRIPTION": record.get("description"),
    }
    for name in ("AWARENESS_AT", "BECAME_SERIOUS_AT", "REPORTED_AT"):
        field = name.lower()
        values[name] = odm_value(shift_value(record.get(field), field, pid, shift), "datetime")
    return [(name, values.get(name, value)) for name, value in items]


def _common_items(form: str, r: Any) -> list[tuple[str, str | None]]:
    """The items of an AE, CONMED or DEVIATION form from a trial-data row."""
    if form == "CONMED":
        steps = r.taper_steps if isinstance(r.taper_steps, dict) else {}
        taper = ";".join(f"{odm_value(day, 'date')}={dose}" for day, dose in sorted(steps.items()))
        values = {
            "NAME": r.name,
            "ATC_CODE": r.atc_code,
            "DOSE": r.dose,
            "ROUTE": r.route,
            "INDICATION": r.indication,
            "START_DATE": r.start_date,
            "STOP_DATE": r.stop_date,
            "TAPER_STEPS": taper or None,
        }
    elif form == "DEVIATION":
        automatic = str(r.category) in AUTOMATIC_CATEGORIES
        values = {
            "CATEGORY": r.category,
            "SEVERITY": DeviationSeverity.of(major=bool(r.major)).value,
            "SOURCE": (DeviationSource.AUTOMATIC if automatic else DeviationSource.MANUAL).value,
            "VISIT": None if is_missing(r.visit_code) else r.visit_code,
            "DESCRIPTION": r.description,
            "OCCURRED_DATE": r.occurred_date,
        }
    else:
        return _fixed_items(form, r)
    return [(name, odm_value(values[name], t)) for name, t, _ in FIXED_FORMS[form]]


def _result_and_checklist_forms(
    state: State, protocol: Protocol, shift: DateShift | None, only: set[str]
) -> list[Form]:
    """RESULT forms (clinical results) and CHECKLIST forms (pre-dose checklist completions)
    at their visits, from the records as the audit trail leaves them."""
    study_ids = {i: str(r["study_id"]) for (t, i), r in state.items() if t == "participant"}
    codes = {i: r.get("visit_code") for (t, i), r in state.items() if t == "visit"}
    session_visit = {i: r.get("visit_id") for (t, i), r in state.items() if t == "dosing_session"}
    checklist = {n for n, _, _ in fixed_forms(protocol)["CHECKLIST"]}
    found: list[tuple[str, str, str, Any, list[tuple[str, str | None]]]] = []
    for (table, _rid), r in sorted(state.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if table not in ("clinical_result", "dosing_checklist"):
            continue
        pid = study_ids.get(int(r["participant_id"]))
        if pid is None or pid not in only:
            continue
        items: list[tuple[str, str | None]]
        if table == "clinical_result":
            visit_id = r.get("visit_id")
            number = r.get("value_number")
            when = shift_value(r.get("collected_at"), "collected_at", pid, shift)
            items = [
                ("TEST_CODE", r.get("test_code")),
                (
                    "VALUE",
                    odm_value(number, "float") if number is not None else r.get("value_text"),
                ),
                ("UNIT", r.get("unit")),
                ("NORMAL_LOW", odm_value(r.get("normal_low"), "float")),
                ("NORMAL_HIGH", odm_value(r.get("normal_high"), "float")),
                ("INTERPRETATION", r.get("interpretation")),
                ("COLLECTED_AT", odm_value(when, "datetime")),
            ]
            form = "RESULT"
        else:
            visit_id = session_visit.get(int(r["dosing_session_id"]))
            when = shift_value(r.get("completed_at"), "completed_at", pid, shift)
            by = r.get("completed_by")
            items = [
                ("COMPLETED_AT", odm_value(when, "datetime")),
                ("COMPLETED_BY", None if by is None else oid("USR", str(by))),
                ("OVERRIDE_REASON", r.get("override_reason")),
            ]
            for item in r.get("items") or []:
                name = str(item.get("id", "")).upper()
                if f"{name}_STATUS" not in checklist:
                    continue  # an item of an older protocol version
                items.append((f"{name}_STATUS", item.get("status")))
                items.append((f"{name}_REASON", item.get("reason")))
            form = "CHECKLIST"
        event = codes.get(int(visit_id)) if visit_id is not None else None
        if event is None or event not in protocol.visit_codes:
            continue
        found.append((pid, str(event), form, when, items))
    out: list[Form] = []
    counter: dict[tuple[str, str, str], int] = {}
    for pid, event, form, _, items in sorted(found, key=lambda f: (f[0], f[1], f[2], str(f[3]))):
        key = (pid, event, form)
        counter[key] = counter.get(key, 0) + 1
        out.append(Form(pid, event, form, counter[key], items))
    return out


def _fixed_items(form: str, r: Any) -> list[tuple[str, str | None]]:
    """The items of a fixed form (as :data:`FIXED_FORMS` declares them) from a trial-data row
    (an AE's items the frame does not hold are empty: :func:`_ae_items` fills them)."""
    column = {name: _COLUMNS.get(name, name.lower()) for name, _, _ in FIXED_FORMS[form]}
    return [
        (name, None)
        if form == "AE" and name in _AE_RECORD_ITEMS and not hasattr(r, column[name])
        else (name, odm_value(getattr(r, column[name]), data_type))
        for name, data_type, _ in FIXED_FORMS[form]
    ]


def _subject_forms(
    state: State,
    protocol: Protocol,
    shift: DateShift | None,
    only: set[str] | None = None,
) -> list[Form]:
    sites = {i: r.get("code") for (t, i), r in state.items() if t == "site"}
    fixed = fixed_forms(protocol)
    events = {e.code for e in protocol.events}
    out: list[Form] = []
    study_ids = {i: str(r["study_id"]) for (t, i), r in state.items() if t == "participant"}
    anchors: dict[int, dict[str, Any]] = {}
    eligibility: dict[int, tuple[int, dict[str, Any]]] = {}
    consents: dict[int, tuple[str, int, Mapping[str, Any]]] = {}
    for (table, rid), r in state.items():
        if table == "consent":
            owner, first = int(r["participant_id"]), (str(r.get("consented_at")), rid, r)
            if owner not in consents or first[:2] < consents[owner][:2]:
                consents[owner] = first
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
            "SCREENED_AT": shift_value(r.get("screened_at"), "screened_at", pid, shift),
            "ENROLLED_AT": shift_value(r.get("enrolled_at"), "enrolled_at", pid, shift),
            "ENROLMENT_CONFIRMED_AT": shift_value(
                r.get("enrolment_confirmed_at"), "enrolment_confirmed_at", pid, shift
            ),
            "SIMULATED": r.get("simulated"),
            "RACE": r.get("race"),
            "ETHNICITY": r.get("ethnicity"),
        }
        for code, day in anchors.get(rid, {}).items():
            values[f"ANCHOR_{code}".upper()] = shift_value(day, "anchor_date", pid, shift)
        if rid in consents:
            given = consents[rid][2]
            values["CONSENT_VERSION"] = given.get("version")
            values["CONSENT_COMPONENTS"] = ",".join(given.get("components") or [])
            values["CONSENTED_AT"] = shift_value(
                given.get("consented_at"), "consented_at", pid, shift
            )
        types = {n: t for n, t, _ in fixed["SUBJECT"]}
        out.append(
            Form(
                pid,
                "SUBJECT",
                "SUBJECT",
                None,
                [(n, odm_value(v, types[n])) for n, v in values.items() if n in types],
            )
        )
        if rid in eligibility:
            data = eligibility[rid][1]
            items = [
                (name, odm_value(data.get(name.lower()), t)) for name, t, _ in fixed["ELIGIBILITY"]
            ]
            out.append(Form(pid, "SUBJECT", "ELIGIBILITY", None, items))
    return out


def form_xml(parent: Any, f: Form, transaction: str | None = None) -> Any:
    """The ``<FormData>`` of a form under ``parent`` (with ``TransactionType`` when given)."""
    repeat = f.repeat if is_repeating(f.form) else None  # a key only on a repeating form
    fd = el(parent, "FormData", FormOID=oid("F", f.form), FormRepeatKey=repeat)
    ig = el(fd, "ItemGroupData", ItemGroupOID=oid("IG", f.form))
    for name, value in f.items:
        if value is None and transaction is None:
            continue
        el(
            ig,
            "ItemData",
            ItemOID=oid("IT", f.form, name),
            Value=value,
            TransactionType=transaction,
        )
    return fd


def snapshot_odm(
    data: TrialData,
    entries: list[Any],
    protocol: Protocol,
    scales: Sequence[str],
    created: datetime,
    shift: DateShift | None = None,
    trail: Sequence[Any] | None = None,
) -> Any:
    """The data as they stand, plus the audit trail as AuditRecords (an lxml element), with
    the users and locations they name as AdminData (read from ``trail``, the whole audit trail,
    by default ``entries``). :func:`snapshot_parts` gives the same file in parts."""
    root, clinical, chunks = snapshot_parts(data, entries, protocol, scales, created, shift)
    assemble(clinical, chunks)
    add_admin_data(root, protocol, entries if trail is None else trail, created)
    return root


def snapshot_parts(
    data: TrialData,
    entries: list[Any],
    protocol: Protocol,
    scales: Sequence[str],
    created: datetime,
    shift: DateShift | None = None,
) -> tuple[Any, Any, Iterator[Chunk]]:
    """The snapshot file as its frame (the root, with the study metadata), its
    ``<ClinicalData>`` and the chunks that fill it: one per subject, then the audit records
    (see :mod:`remit.interop.odm.stream`); ``<AdminData>`` is not added."""
    root = odm_root("Snapshot", protocol, created)
    study_metadata(root, protocol, scales)
    clinical = clinical_data(root, protocol)
    known = set(data.participants["participant_id"].astype(str))
    state = audit_state(entries)  # the trail replayed once, for both kinds of form
    forms = _snapshot_forms(data, scales, _missed_reasons(state), _adverse_events(state), shift)
    forms += _subject_forms(state, protocol, shift, known)
    forms += _result_and_checklist_forms(state, protocol, shift, known)
    order = {code: i + 1 for i, code in enumerate(protocol.visit_codes)}
    order["SUBJECT"] = 0
    for code in COMMON_EVENTS:
        order[code] = len(order)
    by_subject: dict[str, list[Form]] = {}
    for f in forms:
        by_subject.setdefault(f.subject, []).append(f)

    def subject(pid: str, subject_forms: list[Form]) -> Callable[[Any], Any]:
        def build(parent: Any) -> Any:
            sd = el(parent, "SubjectData", SubjectKey=pid)
            events: dict[str, list[Form]] = {}
            for f in subject_forms:
                events.setdefault(f.event, []).append(f)
            for event in sorted(events, key=lambda c: order.get(c, 999)):
                if event in COMMON_EVENTS:
                    for f in events[event]:
                        se = el(
                            sd,
                            "StudyEventData",
                            StudyEventOID=oid("SE", event),
                            StudyEventRepeatKey=f.repeat,
                        )
                        form_xml(se, f)
                    continue
                se = el(sd, "StudyEventData", StudyEventOID=oid("SE", event))
                for f in events[event]:
                    form_xml(se, f)
            return sd

        return build

    def record(e: Any, ctx: AuditContext, who: str | None) -> Chunk:
        when = audit_time(e, ctx, shift)
        site = ctx.sites.get(e.site_id or -1)
        rid = f"AR.{e.id}"
        return Chunk(
            lambda parent: audit_record(parent, e, when, site, rid, who),
            "AuditRecords",
            lambda depth, users, places: audit_record_text(
                depth, users, places, e, when, site, rid, who
            ),
        )

    def chunks() -> Iterator[Chunk]:
        for pid in sorted(known):
            yield Chunk(subject(pid, by_subject.pop(pid, [])))
        ctx = AuditContext(entries)
        yield Chunk(None, "AuditRecords")
        for e in entries:
            if e.table_name not in CLINICAL_TABLES:
                continue
            who = ctx.study_id.get(e.participant_id) if e.participant_id is not None else None
            if who is not None and who not in known:
                continue
            yield record(e, ctx, who)

    return root, clinical, chunks()
