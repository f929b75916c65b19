"""ODM 1.3.2 exports validate against the XML Schema and carry the data and the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from tests.interop.conftest import STANDARDS
from tests.interop.trial import IDENTITY

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
    assert events[:3] == ["SE.PHONE", "SE.SCR", "SE.V0"]
    assert "SE.FU7" in events
    madrs = doc.xpath("//odm:ItemDef[@OID='IT.MADRS.APPARENT_SADNESS']", namespaces=NS)[0]
    checks = {
        rc.get("Comparator"): rc.findtext("odm:CheckValue", namespaces=NS)
        for rc in madrs.findall("odm:RangeCheck", NS)
    }
    assert checks == {"GE": "0", "LE": "6"}
    assert doc.xpath("count(//odm:CodeList)", namespaces=NS) >= 1


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
