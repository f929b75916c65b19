"""ODM 1.3.2 exports validate against the XML Schema and carry the data and the audit trail."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from lxml import etree
from tests.support.paths import STANDARDS
from tests.support.presets import IDENTITY, import_target

from remit.interop import DateShift, ExportResult, export_trial

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(STANDARDS / "odm-1.3.2" / "ODM1-3-2.xsd")))


@pytest.fixture(scope="module")
def odm(trial_db: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    from remit.store import make_engine

    engine = make_engine(trial_db)
    try:
        return export_trial(engine, tmp_path_factory.mktemp("odm"), formats=("odm",))
    finally:
        engine.dispose()


def _doc(result: ExportResult, variant: str) -> etree._ElementTree:
    return etree.parse(str(result.out_dir / "odm" / f"odm_{variant}.xml"))


@pytest.mark.export_format("odm")
def test_both_variants_validate(odm: ExportResult, schema: etree.XMLSchema) -> None:
    for variant, file_type in (("snapshot", "Snapshot"), ("transactional", "Transactional")):
        doc = _doc(odm, variant)
        assert schema.validate(doc), f"{variant}: {schema.error_log}"
        assert doc.getroot().get("FileType") == file_type


def test_the_schema_check_can_fail(odm: ExportResult, schema: etree.XMLSchema) -> None:
    doc = _doc(odm, "snapshot")
    doc.getroot().set("FileType", "Partial")
    assert not schema.validate(doc)


def test_metadata_from_protocol_and_scales(odm: ExportResult) -> None:
    doc = _doc(odm, "snapshot")
    events = doc.xpath("//odm:StudyEventDef/@OID", namespaces=NS)
    assert events[:4] == ["SE.SUBJECT", "SE.PHONE", "SE.SCR", "SE.V0"]
    assert "SE.FU7" in events
    madrs = doc.xpath("//odm:ItemDef[@OID='IT.MADRS.APPARENT_SADNESS']", namespaces=NS)[0]
    checks = {
        rc.get("Comparator"): rc.findtext("odm:CheckValue", namespaces=NS)
        for rc in madrs.findall("odm:RangeCheck", NS)
    }
    assert checks == {"GE": "0", "LE": "6"}
    # PCL-5 style anchors for every value make a code list; MADRS (anchors 0, 2, 4, 6) does not
    lists = doc.xpath("//odm:CodeList/@OID", namespaces=NS)
    assert "CL.MADRS.APPARENT_SADNESS" not in lists
    refs = doc.xpath("//odm:ItemDef/odm:CodeListRef", namespaces=NS)
    assert len(doc.xpath("//odm:CodeList", namespaces=NS)) >= 1
    assert sorted({r.get("CodeListOID") for r in refs}) == sorted(lists)
    assert "CL.PCL5.FLASHBACKS" in lists  # integer 0-4, every value labelled
    assert "CL.BDI2.CHANGES_IN_APPETITE" in lists  # a choice item (1a, 1b …)
    gad = doc.xpath("//odm:CodeList[@OID='CL.GAD7.FEELING_NERVOUS']", namespaces=NS)[0]
    assert gad.get("DataType") == "integer"
    assert gad.xpath("odm:CodeListItem/@CodedValue", namespaces=NS) == ["0", "1", "2", "3"]


def test_snapshot_data_and_audit_records(odm: ExportResult) -> None:
    doc = _doc(odm, "snapshot")
    subjects = doc.xpath("//odm:SubjectData/@SubjectKey", namespaces=NS)
    assert subjects == ["OSL-001", "OSL-002", "OSL-003"]
    value = doc.xpath(
        "//odm:SubjectData[@SubjectKey='OSL-001']/odm:StudyEventData[@StudyEventOID='SE.V13']"
        "/odm:FormData[@FormOID='F.MADRS']//odm:ItemData[@ItemOID='IT.MADRS.APPARENT_SADNESS']"
        "/@Value",
        namespaces=NS,
    )
    assert value == ["3"]  # the corrected value
    withheld = doc.xpath(
        "//odm:SubjectData[@SubjectKey='OSL-002']//odm:ItemData[@ItemOID='IT.DOSE.STATUS']/@Value",
        namespaces=NS,
    )
    assert withheld == ["given", "withheld"]
    reasons = doc.xpath(
        "//odm:AuditRecords/odm:AuditRecord/odm:ReasonForChange/text()", namespaces=NS
    )
    assert "rater corrected item 1 after source check" in reasons


def test_transactional_replays_the_change(odm: ExportResult) -> None:
    doc = _doc(odm, "transactional")
    updates = doc.xpath(
        "//odm:ItemData[@TransactionType='Update' and @ItemOID='IT.MADRS.APPARENT_SADNESS']",
        namespaces=NS,
    )
    assert len(updates) == 1
    assert updates[0].get("Value") == "3"
    form = updates[0].getparent().getparent()
    assert form.findtext("odm:AuditRecord/odm:ReasonForChange", namespaces=NS) == (
        "rater corrected item 1 after source check"
    )
    inserts = doc.xpath(
        "//odm:SubjectData[@SubjectKey='OSL-001']//odm:ItemData"
        "[@TransactionType='Insert' and @ItemOID='IT.MADRS.APPARENT_SADNESS']/@Value",
        namespaces=NS,
    )
    assert inserts == ["4", "1", "1"]  # V3, V13 (before the correction), FU7


def test_no_identity_and_shifted_dates(
    trial_db: Path, tmp_path: Path, schema: etree.XMLSchema
) -> None:
    from remit.store import make_engine

    engine = make_engine(trial_db)
    try:
        result = export_trial(
            engine,
            tmp_path,
            formats=("odm",),
            date_shift=DateShift(days={"OSL-001": 10, "OSL-002": 1, "OSL-003": 1}),
        )
    finally:
        engine.dispose()
    values = [v for person in IDENTITY.values() for v in person.values()]
    for path in (tmp_path / "odm").iterdir():
        text = path.read_bytes()
        assert not [v for v in values if v.encode() in text]
        assert schema.validate(etree.parse(str(path)))
    doc = _doc(result, "snapshot")
    dose = doc.xpath(
        "//odm:SubjectData[@SubjectKey='OSL-001']//odm:ItemData[@ItemOID='IT.DOSE.GIVEN_AT']/@Value",
        namespaces=NS,
    )
    assert dose[0] == "2023-03-24T09:00:00Z"  # 2023-03-14 plus 10 days
    assert b"2023-03-14T09:00" not in (tmp_path / "odm" / "odm_transactional.xml").read_bytes()


def _fresh(tmp_path: Path) -> tuple[object, dict[str, object]]:
    """A fresh database with the Oslo protocol and one user holding the three entry roles."""
    return import_target(tmp_path / "fresh.db")  # type: ignore[return-value]


@pytest.mark.export_format("odm")
def test_round_trip_reproduces_the_clinical_data(
    odm: ExportResult, trial_db: Path, tmp_path: Path
) -> None:
    from remit.interop.odm_import import import_odm
    from remit.services import Actor, build_trial_data
    from remit.store import make_engine, verify_audit_chain

    source = make_engine(trial_db)
    before = build_trial_data(source, actor=Actor.system("tests"))
    source.dispose()
    engine, actors = _fresh(tmp_path)
    result = import_odm(engine, odm.out_dir / "odm" / "odm_snapshot.xml", actors)  # type: ignore[arg-type]
    assert result.subjects == {"OSL-001": "OSL-001", "OSL-002": "OSL-002", "OSL-003": "OSL-003"}
    after = build_trial_data(engine, actor=Actor.system("tests"))  # type: ignore[arg-type]
    for name, frame in before.frames().items():
        other = after.frames()[name]
        if name == "alerts":  # raised now, not then: compare what was raised
            frame, other = frame.drop(columns="raised_at"), other.drop(columns="raised_at")
        pd.testing.assert_frame_equal(
            frame.reset_index(drop=True), other.reset_index(drop=True), check_dtype=False, obj=name
        )
    assert verify_audit_chain(engine).ok  # type: ignore[arg-type]


def _edited(odm: ExportResult, tmp_path: Path, xpath: str, attribute: str, value: str) -> Path:
    doc = _doc(odm, "snapshot")
    node = doc.xpath(xpath, namespaces=NS)[0]
    node.set(attribute, value)
    path = tmp_path / "edited.xml"
    doc.write(str(path))
    return path


@pytest.mark.parametrize(
    ("xpath", "attribute", "value", "message"),
    [
        (
            "//odm:SubjectData[@SubjectKey='OSL-002']//odm:FormData[@FormOID='F.MADRS']"
            "//odm:ItemData[@ItemOID='IT.MADRS.APPARENT_SADNESS']",
            "Value",
            "9",
            r"subject OSL-002, event V3, form F.MADRS, item IT.MADRS.APPARENT_SADNESS",
        ),
        (
            "//odm:SubjectData[@SubjectKey='OSL-002']//odm:FormData[@FormOID='F.MADRS']"
            "//odm:ItemData[@ItemOID='IT.MADRS.APPARENT_SADNESS']",
            "ItemOID",
            "IT.MADRS.MOOD_SWINGS",
            r"item IT.MADRS.MOOD_SWINGS: the item is not in the form",
        ),
        (
            "//odm:SubjectData[@SubjectKey='OSL-002']/odm:StudyEventData[@StudyEventOID='SE.V3']",
            "StudyEventOID",
            "SE.WEEK3",
            r"study event SE.WEEK3 is not a visit",
        ),
        (
            "//odm:SubjectData[@SubjectKey='OSL-001']//odm:ItemData[@ItemOID='IT.DOSE.GIVEN_AT']",
            "Value",
            "yesterday",
            r"item IT.DOSE.GIVEN_AT: value 'yesterday' is not a valid datetime",
        ),
    ],
    ids=["out-of-range", "unknown-item", "unknown-visit", "bad-time"],
)
def test_import_refuses_what_does_not_fit_and_writes_nothing(
    odm: ExportResult, tmp_path: Path, xpath: str, attribute: str, value: str, message: str
) -> None:
    from tests.support.db import count_all

    from remit.errors import InputError
    from remit.interop.odm_import import import_odm

    path = _edited(odm, tmp_path, xpath, attribute, value)
    engine, actors = _fresh(tmp_path)
    before = count_all(engine)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=message):
        import_odm(engine, path, actors)  # type: ignore[arg-type]
    assert count_all(engine) == before  # type: ignore[arg-type]


def test_import_refuses_a_transactional_file(odm: ExportResult, tmp_path: Path) -> None:
    from remit.errors import InputError
    from remit.interop.odm_import import import_odm

    engine, actors = _fresh(tmp_path)
    with pytest.raises(InputError, match="FileType Snapshot"):
        import_odm(engine, odm.out_dir / "odm" / "odm_transactional.xml", actors)  # type: ignore[arg-type]


def test_a_service_refusal_is_found_before_anything_is_written(
    odm: ExportResult, tmp_path: Path
) -> None:
    from tests.support.db import count_all

    from remit.errors import InputError
    from remit.interop.odm_import import import_odm

    # the supplemental dose of OSL-002's session is withheld; OSL-001's second session gets a
    # supplemental dose 10 minutes after the initial one: outside the protocol's offer window
    path = _edited(
        odm,
        tmp_path,
        "(//odm:SubjectData[@SubjectKey='OSL-001']//odm:ItemData[@ItemOID='IT.DOSE.GIVEN_AT'])[4]",
        "Value",
        "2023-04-11T09:10:00Z",
    )
    engine, actors = _fresh(tmp_path)
    before = count_all(engine)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"subject OSL-001 does not fit: .*supplemental"):
        import_odm(engine, path, actors)  # type: ignore[arg-type]
    assert count_all(engine) == before  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", ["snapshot", "transactional"])
def test_admin_data_resolves_every_user_and_location(odm: ExportResult, variant: str) -> None:
    doc = _doc(odm, variant)
    users = set(doc.xpath("//odm:AdminData/odm:User/@OID", namespaces=NS))
    locations = set(doc.xpath("//odm:AdminData/odm:Location/@OID", namespaces=NS))
    user_refs = set(doc.xpath("//odm:AuditRecord/odm:UserRef/@UserOID", namespaces=NS))
    location_refs = set(doc.xpath("//odm:LocationRef/@LocationOID", namespaces=NS))
    assert user_refs
    assert location_refs
    assert user_refs <= users, user_refs - users
    assert location_refs <= locations, location_refs - locations
    logins = set(doc.xpath("//odm:AdminData/odm:User/odm:LoginName/text()", namespaces=NS))
    assert "USR.0" not in users
    assert "" not in logins
    assert doc.xpath("//odm:Location[@OID='LOC.OST']/@LocationType", namespaces=NS) == ["Site"]


@pytest.mark.parametrize("variant", ["snapshot", "transactional"])
def test_repeat_keys_only_on_repeating_forms_and_events(odm: ExportResult, variant: str) -> None:
    doc = _doc(odm, variant)
    repeating_forms = set(doc.xpath("//odm:FormDef[@Repeating='Yes']/@OID", namespaces=NS))
    repeating_events = set(doc.xpath("//odm:StudyEventDef[@Repeating='Yes']/@OID", namespaces=NS))
    forms = doc.xpath("//odm:FormData", namespaces=NS)
    events = doc.xpath("//odm:StudyEventData", namespaces=NS)
    assert forms
    assert events
    for fd in forms:
        keyed = fd.get("FormRepeatKey") is not None
        assert keyed == (fd.get("FormOID") in repeating_forms), etree.tostring(fd)[:200]
    for se in events:
        keyed = se.get("StudyEventRepeatKey") is not None
        assert keyed == (se.get("StudyEventOID") in repeating_events), se.get("StudyEventOID")
    assert "F.MADRS" not in repeating_forms
    assert "F.DOSE" in repeating_forms


def test_units_and_codelists_of_fixed_forms(odm: ExportResult) -> None:
    doc = _doc(odm, "snapshot")
    units = {
        mu.get("OID"): mu.findtext("odm:Symbol/odm:TranslatedText", namespaces=NS)
        for mu in doc.xpath("//odm:BasicDefinitions/odm:MeasurementUnit", namespaces=NS)
    }
    refs = {
        ref.getparent().get("OID"): ref.get("MeasurementUnitOID")
        for ref in doc.xpath("//odm:ItemDef/odm:MeasurementUnitRef", namespaces=NS)
    }
    assert units[refs["IT.DOSE.DOSE_MG"]] == "mg"
    assert units[refs["IT.VITALS.SYSBP"]] == "mmHg"
    assert set(refs.values()) <= set(units)
    assert "IT.MADRS.APPARENT_SADNESS" not in refs
    listed = {
        cl.get("OID"): cl.xpath("odm:CodeListItem/@CodedValue", namespaces=NS)
        for cl in doc.xpath("//odm:CodeList", namespaces=NS)
    }
    assert listed["CL.DOSE.STATUS"] == ["given", "withheld"]
    assert "not_related" in listed["CL.AE.RELATEDNESS"]
    ref = doc.xpath("//odm:ItemDef[@OID='IT.AE.SEVERITY']/odm:CodeListRef", namespaces=NS)
    assert ref[0].get("CodeListOID") == "CL.AE.SEVERITY"
    # every coded value in the data is in its item's code list
    lists_of = {
        node.getparent().get("OID"): listed[node.get("CodeListOID")]
        for node in doc.xpath("//odm:ItemDef/odm:CodeListRef", namespaces=NS)
    }
    for item in doc.xpath("//odm:ItemData", namespaces=NS):
        allowed = lists_of.get(item.get("ItemOID"))
        if allowed is not None:
            assert item.get("Value") in allowed, (item.get("ItemOID"), item.get("Value"))


def test_importing_the_same_file_twice_adds_no_participant(
    odm: ExportResult, tmp_path: Path
) -> None:
    from tests.support.db import count_all

    from remit.interop.odm_import import import_odm

    path = odm.out_dir / "odm" / "odm_snapshot.xml"
    engine, actors = _fresh(tmp_path)
    first = import_odm(engine, path, actors)  # type: ignore[arg-type]
    assert len(first.subjects) == 3
    assert first.unchanged == ()
    after_first = count_all(engine)  # type: ignore[arg-type]
    second = import_odm(engine, path, actors)  # type: ignore[arg-type]
    assert second.subjects == {}
    assert second.unchanged == ("OSL-001", "OSL-002", "OSL-003")
    assert "0 new, 0 changed, 3 unchanged" in second.summary()
    after_second = count_all(engine)  # type: ignore[arg-type]
    assert after_second["participant"] == after_first["participant"] == 3
    assert after_second["assessment"] == after_first["assessment"]


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("StudyOID", "ST.OTHER", r"study ST.OTHER; this database holds study ST.OSLO-MDMA-MDD"),
        ("MetaDataVersionOID", "MDV.9.9", r"metadata version MDV.9.9 .*MDV.1.0"),
    ],
    ids=["study", "metadata-version"],
)
def test_import_refuses_another_study_or_metadata_version(
    odm: ExportResult, tmp_path: Path, attribute: str, value: str, message: str
) -> None:
    from tests.support.db import count_all

    from remit.errors import InputError
    from remit.interop.odm_import import import_odm

    path = _edited(odm, tmp_path, "//odm:ClinicalData", attribute, value)
    engine, actors = _fresh(tmp_path)
    before = count_all(engine)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=message):
        import_odm(engine, path, actors)  # type: ignore[arg-type]
    assert count_all(engine) == before  # type: ignore[arg-type]


def test_import_refuses_a_subject_key_repeated_in_the_file(
    odm: ExportResult, tmp_path: Path
) -> None:
    from tests.support.db import count_all

    from remit.errors import InputError
    from remit.interop.odm_import import import_odm

    path = _edited(
        odm, tmp_path, "//odm:SubjectData[@SubjectKey='OSL-002']", "SubjectKey", "OSL-001"
    )
    engine, actors = _fresh(tmp_path)
    before = count_all(engine)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"SubjectKey 'OSL-001' occurs twice"):
        import_odm(engine, path, actors)  # type: ignore[arg-type]
    after = count_all(engine)  # type: ignore[arg-type]
    assert after == before
    assert after["participant"] == 0


def test_import_refuses_a_change_that_is_not_an_answer_of_a_scale_form(
    odm: ExportResult, tmp_path: Path
) -> None:
    from tests.support.db import count_all

    from remit.errors import InputError
    from remit.interop.odm_import import import_odm

    engine, actors = _fresh(tmp_path)
    import_odm(engine, odm.out_dir / "odm" / "odm_snapshot.xml", actors)  # type: ignore[arg-type]
    before = count_all(engine)  # type: ignore[arg-type]
    # the MADRS form's time changed in the source (a minute later): not an answer
    doc = _doc(odm, "snapshot")
    [node] = doc.xpath(
        "//odm:SubjectData[@SubjectKey='OSL-002']//odm:FormData[@FormOID='F.MADRS']"
        "//odm:ItemData[@ItemOID='IT.MADRS.ASSESSED_AT']",
        namespaces=NS,
    )[:1]
    stamp = pd.Timestamp(node.get("Value")) + pd.Timedelta(minutes=1)
    node.set("Value", stamp.strftime("%Y-%m-%dT%H:%M:%SZ"))
    path = tmp_path / "edited.xml"
    doc.write(str(path))
    with pytest.raises(
        InputError,
        match=r"subject OSL-002: is already in this database with other data \(.*"
        r"item IT.MADRS.ASSESSED_AT.*only the answers of a visit's scale form are imported",
    ):
        import_odm(engine, path, actors)  # type: ignore[arg-type]
    after = count_all(engine)  # type: ignore[arg-type]
    # the comparison read the trial (and logged that read); no clinical data were written
    assert after.pop("identity_access_log") >= before.pop("identity_access_log")
    assert after["audit_event"] == before["audit_event"]
    assert after == before


def test_after_export_and_import_the_audit_history_shows_the_original_users(
    odm: ExportResult, tmp_path: Path
) -> None:
    from remit.interop.odm_import import import_odm
    from remit.services import audit_log
    from remit.store import SOURCE_AUDIT_TABLE, verify_audit

    engine, actors = _fresh(tmp_path)
    result = import_odm(engine, odm.out_dir / "odm" / "odm_snapshot.xml", actors)  # type: ignore[arg-type]
    kept = result.counts["source_audit_records"]
    rows = audit_log(engine, "OSL-001", table=SOURCE_AUDIT_TABLE)  # type: ignore[arg-type]
    history = [e for e in rows if e.field == "source"]
    # and one row keeping what the import wrote (the common ancestor of a later import)
    [imported] = [e for e in rows if e.field == "imported"]
    assert imported.new_value["subject_key"] == "OSL-001"
    assert "V3/MADRS/" in imported.new_value["forms"]
    assert kept > 0
    assert len(history) <= kept
    original = {e.new_value["user"] for e in history}
    assert {"kari", "rita", "tor"} <= original  # the source's users, not the importer
    assert {e.username for e in history} == {"imp"}  # the import itself: the importing user
    corrected = [e for e in history if e.reason == "rater corrected item 1 after source check"]
    assert corrected  # one source row per field the correction changed
    assert {e.new_value["user"] for e in corrected} == {"rita"}
    change = next(
        e.new_value for e in corrected if e.new_value["record"].endswith("/answers/update")
    )
    assert change["roles"] == ["independent_rater"]
    assert change["at"].endswith("Z")
    assert change["record"].startswith("assessment/")
    assert change["location"] == "Østfold Hospital Trust"
    # the imported data themselves are audited as entered by the importing user, now
    data_rows = audit_log(engine, "OSL-001", table="assessment")  # type: ignore[arg-type]
    assert data_rows
    assert {e.username for e in data_rows} == {"imp"}
    assert verify_audit(engine).ok  # type: ignore[arg-type]  # history rows replay as nothing
    # a second import keeps no second copy of the history
    import_odm(engine, odm.out_dir / "odm" / "odm_snapshot.xml", actors)  # type: ignore[arg-type]
    assert len(audit_log(engine, "OSL-001", table=SOURCE_AUDIT_TABLE)) == len(rows)  # type: ignore[arg-type]


def test_a_subject_imported_under_another_study_id_is_found_again(
    odm: ExportResult, tmp_path: Path
) -> None:
    from remit.interop.odm_import import import_odm

    text = (odm.out_dir / "odm" / "odm_snapshot.xml").read_text(encoding="utf-8")
    text = text.replace('SubjectKey="OSL-', 'SubjectKey="SRC-')
    text = text.replace("/OSL-0", "/SRC-0")  # the subject named at the end of each SourceID
    path = tmp_path / "renamed.xml"
    path.write_text(text, encoding="utf-8")
    engine, actors = _fresh(tmp_path)
    first = import_odm(engine, path, actors)  # type: ignore[arg-type]
    assert first.subjects == {"SRC-001": "OSL-001", "SRC-002": "OSL-002", "SRC-003": "OSL-003"}
    second = import_odm(engine, path, actors)  # type: ignore[arg-type]
    assert second.subjects == {}
    assert second.unchanged == ("SRC-001", "SRC-002", "SRC-003")
