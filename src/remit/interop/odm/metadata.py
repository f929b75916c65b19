"""ODM study metadata from the protocol and the scale definitions: ``<Study>`` with its
events, forms, item groups, items and code lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remit.analysis import TrialData
from remit.errors import InputError, ScaleError
from remit.interop.odm.base import KIND_TYPES, all_items, el, odm_value, oid, vital_item_type
from remit.protocol import VITAL_SIGNS, Protocol
from remit.protocol.adverse_event import ActionTaken, AEOutcome, Relatedness, Severity
from remit.protocol.demographics import Characteristic, Ethnicity, Race
from remit.protocol.deviation import DeviationSeverity, DeviationSource
from remit.protocol.results import Interpretation, ItemStatus
from remit.protocol.status import DECIDED_DOSE_STATUSES, DoseKind, ParticipantStatus
from remit.scales import ItemDefinition, load_scale

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
        # one item per vital sign, named by its SDTM VSTESTCD
        *(
            (s.testcd, vital_item_type(s), f"{s.test} ({s.sdtm_unit})")
            for s in VITAL_SIGNS.values()
        ),
    ],
    "RESULT": [
        ("TEST_CODE", "text", "Test code of the protocol's [[results.tests]]"),
        ("VALUE", "text", "Result: a number, or one of the test's answers"),
        ("UNIT", "text", "Unit of a numeric result"),
        ("NORMAL_LOW", "float", "Lower end of the normal range"),
        ("NORMAL_HIGH", "float", "Upper end of the normal range"),
        ("INTERPRETATION", "text", "Interpretation (normal, low, high, negative, positive …)"),
        ("COLLECTED_AT", "datetime", "When the sample or tracing was taken (UTC)"),
    ],
    "CONMED": [
        ("NAME", "text", "Medication name"),
        ("ATC_CODE", "text", "ATC code"),
        ("DOSE", "text", "Dose"),
        ("ROUTE", "text", "Route"),
        ("INDICATION", "text", "Indication"),
        ("START_DATE", "date", "Start date"),
        ("STOP_DATE", "date", "Stop date (none while ongoing)"),
        ("TAPER_STEPS", "text", "Dated taper steps: YYYY-MM-DD=dose, separated by ';'"),
    ],
    "DEVIATION": [
        ("CATEGORY", "text", "Deviation category"),
        ("SEVERITY", "text", "minor or major"),
        ("SOURCE", "text", "automatic (recorded by Remit) or manual (logged by a person)"),
        ("VISIT", "text", "Visit code the deviation concerns"),
        ("DESCRIPTION", "text", "What happened"),
        ("OCCURRED_DATE", "date", "Day it happened"),
    ],
    "AE": [
        ("TERM", "text", "Reported term"),
        ("ONSET_DATE", "date", "Onset date"),
        ("SEVERITY", "text", "Severity"),
        ("SERIOUS", "boolean", "Serious"),
        ("RELATEDNESS", "text", "Relatedness"),
        ("OUTCOME", "text", "Outcome"),
        ("END_DATE", "date", "End (resolution) date"),
        ("ACTION_TAKEN", "text", "Action taken with the study treatment"),
        ("SERIOUSNESS_CRITERIA", "text", "Seriousness criteria of a serious event, by ';'"),
        ("DESCRIPTION", "text", "Description of the event"),
        ("AWARENESS_AT", "datetime", "When the site became aware of the event (UTC)"),
        ("BECAME_SERIOUS_AT", "datetime", "When the site learnt it had become serious (UTC)"),
        ("REPORTED_AT", "datetime", "When the serious event was reported (UTC)"),
    ],
}


#: Forms that may occur more than once in a visit (ODM ``Repeating="Yes"``: their FormData
#: carry a ``FormRepeatKey``; every other form carries none). Adverse events, medications and
#: deviations repeat as events (``SE.AE``, ``SE.CM``, ``SE.DV`` with a
#: ``StudyEventRepeatKey``), one non-repeating form in each.
REPEATING_FORMS = frozenset({"DOSE", "VITALS", "RESULT", "CHECKLIST", "se_vas"})


def is_repeating(form: str) -> bool:
    """Whether a form (OID suffix or scale code) repeats within a visit."""
    return form in REPEATING_FORMS


#: Measurement units: OID → symbol. Each item with a unit carries a ``MeasurementUnitRef``.
MEASUREMENT_UNITS: dict[str, str] = {
    oid("MU", "MG"): "mg",
    oid("MU", "MIN"): "min",
    **{oid("MU", s.testcd): s.sdtm_unit for s in VITAL_SIGNS.values()},
}

#: (form, item) → measurement unit OID.
ITEM_UNITS: dict[tuple[str, str], str] = {
    ("DOSE", "DOSE_MG"): oid("MU", "MG"),
    ("VITALS", "MINUTES_AFTER_DOSE"): oid("MU", "MIN"),
    **{("VITALS", s.testcd): oid("MU", s.testcd) for s in VITAL_SIGNS.values()},
}


def fixed_codelists(protocol: Protocol) -> dict[tuple[str, str], dict[str, str]]:
    """(form, item) → {value: decode} of the values an enumerated text item of a fixed form
    may take (each one an ODM ``CodeList``)."""
    lists: dict[tuple[str, str], list[str]] = {
        ("SUBJECT", "STATUS"): [s.value for s in ParticipantStatus],
        ("VISIT", "VISIT_STATUS"): ["missed"],
        ("DOSE", "KIND"): [k.value for k in DoseKind],
        ("DOSE", "STATUS"): sorted(s.value for s in DECIDED_DOSE_STATUSES),
        ("AE", "SEVERITY"): [s.value for s in Severity],
        ("AE", "RELATEDNESS"): [r.value for r in Relatedness],
        ("AE", "OUTCOME"): [o.value for o in AEOutcome],
        ("AE", "ACTION_TAKEN"): [a.value for a in ActionTaken],
        ("RESULT", "INTERPRETATION"): [i.value for i in Interpretation],
        ("DEVIATION", "SEVERITY"): [s.value for s in DeviationSeverity],
        ("DEVIATION", "SOURCE"): [s.value for s in DeviationSource],
    }
    statuses = [s.value for s in ItemStatus]
    for name, _, _ in checklist_items(protocol):
        if name.endswith("_STATUS"):
            lists[("CHECKLIST", name)] = statuses
    out = {key: {v: v.replace("_", " ") for v in values} for key, values in lists.items()}
    out[("SUBJECT", "ARM")] = {a.code: a.label for a in protocol.arms}
    if protocol.demographics.collects(Characteristic.RACE):
        out[("SUBJECT", "RACE")] = {r.value: r.value for r in Race}
    if protocol.demographics.collects(Characteristic.ETHNICITY):
        out[("SUBJECT", "ETHNICITY")] = {e.value: e.value for e in Ethnicity}
    return out


def _criterion_type(value: Any) -> str:
    first = value[0] if isinstance(value, tuple | list) and value else value
    if isinstance(first, bool):
        return "boolean"
    if isinstance(first, int | float):
        return "float"
    return "text"


def fixed_forms(protocol: Protocol) -> dict[str, list[tuple[str, str, str]]]:
    """The forms that are not scales: subject, eligibility data, the pre-dose checklist (its
    items from the protocol), visit, dose, vitals, result, medication, deviation, AE."""
    subject = [
        ("SITE", "text", "Site code"),
        ("SEX", "text", "Sex"),
        ("ARM", "text", "Arm code"),
        ("STATUS", "text", "Participant status"),
        ("STATUS_REASON", "text", "Reason for the status (withdrawal)"),
        ("SCREENED_AT", "datetime", "Screened (UTC)"),
        ("ENROLLED_AT", "datetime", "Enrolled (UTC)"),
        ("ENROLMENT_CONFIRMED_AT", "datetime", "Enrolment confirmed (UTC)"),
        ("SIMULATED", "boolean", "Simulated participant"),
    ] + [(f"ANCHOR_{e.code}".upper(), "date", e.label) for e in protocol.events]
    if protocol.demographics.collects(Characteristic.RACE):
        subject.append(("RACE", "text", "Race (CDISC RACE term)"))
    if protocol.demographics.collects(Characteristic.ETHNICITY):
        subject.append(("ETHNICITY", "text", "Ethnicity (CDISC ETHNIC term)"))
    if protocol.consent.required:  # the first informed consent (re-consents are not carried)
        subject += [
            ("CONSENT_VERSION", "text", "Consent form version"),
            ("CONSENT_COMPONENTS", "text", "Consent components agreed (comma-separated)"),
            ("CONSENTED_AT", "datetime", "Informed consent given (UTC)"),
        ]
    criteria: dict[str, tuple[str, str, str]] = {}
    for c in protocol.eligibility.criteria:
        criteria.setdefault(c.field, (c.field.upper(), _criterion_type(c.value), c.text[:200]))
    return {
        "SUBJECT": subject,
        "ELIGIBILITY": list(criteria.values()),
        "CHECKLIST": checklist_items(protocol),
    } | FIXED_FORMS


#: Study events that are not visits and repeat, one per record: event → its one form.
COMMON_EVENTS: dict[str, tuple[str, str]] = {
    "AE": ("Adverse events", "AE"),
    "CM": ("Concomitant medications", "CONMED"),
    "DV": ("Protocol deviations", "DEVIATION"),
}


def checklist_items(protocol: Protocol) -> list[tuple[str, str, str]]:
    """The items of the CHECKLIST form: when and by whom, the override reason, then for each
    item of the protocol's pre-dose checklists its status and (not applicable) reason."""
    out = [
        ("COMPLETED_AT", "datetime", "When the checklist was completed (UTC)"),
        ("COMPLETED_BY", "text", "Who completed it (user name in the source system)"),
        ("OVERRIDE_REASON", "text", "Investigator's reason to give over failing items"),
    ]
    seen: set[str] = set()
    for planned in protocol.dosing:
        for item in planned.checklist.items if planned.checklist is not None else ():
            if item.id in seen:
                continue
            seen.add(item.id)
            name = item.id.upper()
            out.append((f"{name}_STATUS", "text", f"{item.text[:150]}: status"))
            out.append((f"{name}_REASON", "text", f"{item.id}: why not applicable"))
    return out


#: Items every scale form carries besides its own items.
FORM_META = [
    ("VERSION", "text", "Scale version"),
    ("TIMEPOINT", "text", "Time point within the visit"),
    ("ASSESSED_AT", "datetime", "When the form was completed (UTC)"),
]


def _translated(parent: Any, tag: str, text: str) -> None:
    holder = el(parent, tag)
    t = el(holder, "TranslatedText", text)
    t.set("{http://www.w3.org/XML/1998/namespace}lang", "en")


def protocol_scales(protocol: Protocol, data: TrialData | None = None) -> list[str]:
    """The scales the protocol (and, when given, the data) use that have a definition."""
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


def _item_def(
    parent: Any, item_oid: str, name: str, data_type: str, label: str, unit: str | None = None
) -> Any:
    node = el(parent, "ItemDef", OID=item_oid, Name=name, DataType=data_type)
    if data_type == "text":
        node.set("Length", "200")
    _translated(node, "Question", label)
    if unit is not None:
        el(node, "MeasurementUnitRef", MeasurementUnitOID=unit)
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
    study = el(parent, "Study", OID=oid("ST", protocol.study.id))
    gv = el(study, "GlobalVariables")
    el(gv, "StudyName", protocol.study.short_title)
    el(gv, "StudyDescription", protocol.study.title)
    el(gv, "ProtocolName", protocol.study.id)
    basic = el(study, "BasicDefinitions")
    for unit_oid, symbol in MEASUREMENT_UNITS.items():
        mu = el(basic, "MeasurementUnit", OID=unit_oid, Name=symbol)
        _translated(mu, "Symbol", symbol)
    mdv = el(
        study,
        "MetaDataVersion",
        OID=oid("MDV", protocol.study.version),
        Name=f"{protocol.study.id} version {protocol.study.version}",
    )
    prot = el(mdv, "Protocol")
    events: list[tuple[str, str, str, Any]] = [(oid("SE", "SUBJECT"), "Subject", "Common", "")]
    events += [(oid("SE", v.code), v.label, "Scheduled", v) for v in protocol.visits]
    events += [
        (oid("SE", code), label, "Common", None) for code, (label, _) in COMMON_EVENTS.items()
    ]
    for n, (event_oid, _, _, _) in enumerate(events, start=1):
        el(prot, "StudyEventRef", StudyEventOID=event_oid, OrderNumber=n, Mandatory="No")
    for event_oid, label, kind, visit in events:
        se = el(
            mdv,
            "StudyEventDef",
            OID=event_oid,
            Name=label,
            Repeating="Yes" if visit is None else "No",
            Type=kind,
        )
        if visit == "":
            el(se, "FormRef", FormOID=oid("F", "SUBJECT"), Mandatory="Yes")
            el(se, "FormRef", FormOID=oid("F", "ELIGIBILITY"), Mandatory="No")
            continue
        if visit is None:
            form_of = {oid("SE", code): form for code, (_, form) in COMMON_EVENTS.items()}
            el(se, "FormRef", FormOID=oid("F", form_of[event_oid]), Mandatory="No")
            continue
        forms = ["VISIT"] + [a.scale for a in visit.assessments if a.scale in scales]
        forms.append("RESULT")
        planned = protocol.dosing_session(visit.code)
        if planned is not None:
            forms += ["DOSE", "VITALS"]
            if planned.checklist is not None:
                forms.append("CHECKLIST")
            if "se_vas" in scales and "se_vas" not in forms:
                forms.append("se_vas")
        for form in dict.fromkeys(forms):
            el(se, "FormRef", FormOID=oid("F", form), Mandatory="No")
    fixed = fixed_forms(protocol)
    forms = list(fixed) + list(scales)
    for form in forms:
        repeating = "Yes" if is_repeating(form) else "No"
        label = form.title() if form in fixed else load_scale(form).name
        fd = el(mdv, "FormDef", OID=oid("F", form), Name=label, Repeating=repeating)
        el(fd, "ItemGroupRef", ItemGroupOID=oid("IG", form), Mandatory="Yes")
    for form in forms:
        ig = el(mdv, "ItemGroupDef", OID=oid("IG", form), Name=form, Repeating="No")
        if form in fixed:
            names = [n for n, _, _ in fixed[form]]
        else:
            names = [n for n, _, _ in FORM_META] + [i.code for i in all_items(form)]
        for name in names:
            el(ig, "ItemRef", ItemOID=oid("IT", form, name), Mandatory="No")
    codelists: list[tuple[str, ItemDefinition]] = []
    enumerated = fixed_codelists(protocol)
    fixed_lists: list[tuple[str, str, dict[str, str]]] = []
    for form in forms:
        if form in fixed:
            for name, data_type, label in fixed[form]:
                node = _item_def(
                    mdv, oid("IT", form, name), name, data_type, label, ITEM_UNITS.get((form, name))
                )
                if (form, name) in enumerated:
                    cl = oid("CL", form, name)
                    el(node, "CodeListRef", CodeListOID=cl)
                    fixed_lists.append((cl, name, enumerated[(form, name)]))
            continue
        for name, data_type, label in FORM_META:
            _item_def(mdv, oid("IT", form, name), name, data_type, label)
        for item in all_items(form):
            node = _item_def(
                mdv, oid("IT", form, item.code), item.code, KIND_TYPES[item.kind], item.label
            )
            for comparator, bound in (("GE", item.min), ("LE", item.max)):
                if bound is not None:
                    rc = el(node, "RangeCheck", Comparator=comparator, SoftHard="Hard")
                    el(rc, "CheckValue", odm_value(bound, "float"))
            if _coded(item):
                cl = oid("CL", form, item.code)
                el(node, "CodeListRef", CodeListOID=cl)
                codelists.append((cl, item))
    for cl, name, values in fixed_lists:
        node = el(mdv, "CodeList", OID=cl, Name=name, DataType="text")
        for value, decode in values.items():
            _translated(el(node, "CodeListItem", CodedValue=value), "Decode", decode or value)
    for cl, item in codelists:
        data_type = "integer" if item.kind == "integer" else "text"
        node = el(mdv, "CodeList", OID=cl, Name=item.code, DataType=data_type)
        for value, label in item.options.items():
            cli = el(node, "CodeListItem", CodedValue=value)
            _translated(cli, "Decode", label or value)
