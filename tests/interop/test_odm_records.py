"""ODM carries clinical results, pre-dose checklist completions, concomitant medications and
the deviation log, and ``import_odm`` replays them through the services in order: results,
then the checklist, then the initial dose. Remit's own deviations are not replayed from the
file (the services make them again from the data)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from tests.support.db import copy_database, count_all
from tests.support.paths import STANDARDS
from tests.support.presets import import_target

from remit import services as sv
from remit.errors import InputError
from remit.interop import ExportResult, export_trial
from remit.interop.odm_import import import_odm
from remit.services import Actor, build_trial_data
from remit.store import make_engine

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
SYSTEM = Actor.system("tests")


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(STANDARDS / "odm-1.3.2" / "ODM1-3-2.xsd")))


@pytest.fixture(scope="module")
def exported(trial_db: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    """The small trial plus, for OSL-001, a stopped SSRI with its taper steps and a logged
    deviation; exported as ODM."""
    folder = tmp_path_factory.mktemp("odm-records")
    copy_database(trial_db, folder / "source.db")
    engine = make_engine(folder / "source.db", must_exist=True)
    try:
        sv.record_conmed(
            engine, SYSTEM, "OSL-001", name="sertraline", atc_code="N06AB06", dose="100 mg",
            route="oral", indication="depression", start_date=date(2020, 5, 1),
            stop_date=date(2023, 1, 10),
            taper_steps=[("2022-12-27", "50 mg"), ("2023-01-03", "25 mg")],
        )  # fmt: skip
        sv.record_deviation(
            engine, SYSTEM, "OSL-001", category="procedure", severity="major",
            description="MADRS at V5 rated by the therapist", occurred_date=date(2023, 3, 14),
            visit_code="V5",
        )  # fmt: skip
        return export_trial(engine, folder / "out", formats=("odm",))
    finally:
        engine.dispose()


def _doc(result: ExportResult, variant: str) -> etree._ElementTree:
    return etree.parse(str(result.out_dir / "odm" / f"odm_{variant}.xml"))


def _values(doc: etree._ElementTree, subject: str, item: str) -> list[str]:
    return list(
        doc.xpath(
            f"//odm:SubjectData[@SubjectKey='{subject}']//odm:ItemData[@ItemOID='{item}']/@Value",
            namespaces=NS,
        )
    )


def test_both_files_carry_the_four_kinds_of_record(
    exported: ExportResult, schema: etree.XMLSchema
) -> None:
    for variant in ("snapshot", "transactional"):
        doc = _doc(exported, variant)
        assert schema.validate(doc), schema.error_log
        tests = _values(doc, "OSL-001", "IT.RESULT.TEST_CODE")
        assert {"urine_drug_screen", "pregnancy_test"} <= set(tests), variant
        assert len(_values(doc, "OSL-001", "IT.CHECKLIST.COMPLETED_AT")) == 2, variant
        assert "pass" in _values(doc, "OSL-001", "IT.CHECKLIST.FASTING_STATUS"), variant
        assert _values(doc, "OSL-001", "IT.CONMED.TAPER_STEPS") == [
            "2022-12-27=50 mg;2023-01-03=25 mg"
        ], variant
        assert _values(doc, "OSL-001", "IT.DEVIATION.CATEGORY") == ["procedure"], variant
        assert "manual" in _values(doc, "OSL-001", "IT.DEVIATION.SOURCE"), variant
    snapshot = _doc(exported, "snapshot")
    # results and checklists sit at their visits, medications and deviations in SE.CM / SE.DV
    checklist_events = snapshot.xpath(
        "//odm:SubjectData[@SubjectKey='OSL-001']/odm:StudyEventData"
        "[odm:FormData/@FormOID='F.CHECKLIST']/@StudyEventOID",
        namespaces=NS,
    )
    assert checklist_events == ["SE.V5", "SE.V9"]
    assert snapshot.xpath("//odm:StudyEventDef[@OID='SE.CM' and @Repeating='Yes']", namespaces=NS)
    assert _values(snapshot, "OSL-001", "IT.DEVIATION.VISIT") == ["V5"]


def test_import_replays_them_and_skips_remits_own_deviations(
    exported: ExportResult, tmp_path: Path
) -> None:
    # an automatic deviation in the file (as another export would carry one): the import
    # leaves it to the services, which find no reason for it in these data
    doc = _doc(exported, "snapshot")
    subject = doc.xpath("//odm:SubjectData[@SubjectKey='OSL-001']", namespaces=NS)[0]
    dv = etree.SubElement(
        subject, f"{{{NS['odm']}}}StudyEventData", StudyEventOID="SE.DV", StudyEventRepeatKey="9"
    )
    fd = etree.SubElement(dv, f"{{{NS['odm']}}}FormData", FormOID="F.DEVIATION", FormRepeatKey="9")
    ig = etree.SubElement(fd, f"{{{NS['odm']}}}ItemGroupData", ItemGroupOID="IG.DEVIATION")
    for name, value in (
        ("CATEGORY", "visit_out_of_window"),
        ("SEVERITY", "minor"),
        ("SOURCE", "automatic"),
        ("DESCRIPTION", "visit V3 out of window"),
        ("OCCURRED_DATE", "2023-03-01"),
    ):
        etree.SubElement(
            ig, f"{{{NS['odm']}}}ItemData", ItemOID=f"IT.DEVIATION.{name}", Value=value
        )
    path = tmp_path / "with-automatic.xml"
    doc.write(str(path))
    engine, actors = import_target(tmp_path / "target.db")
    try:
        result = import_odm(engine, path, actors)
        assert result.counts["results"] > 0
        assert result.counts["checklists"] == 3  # OSL-001 twice, OSL-002 once
        assert result.counts["conmeds"] == 1
        assert result.counts["deviations"] == 1
        after = build_trial_data(engine, actor=SYSTEM)
        assert list(after.deviations["category"]) == ["procedure"]
        assert after.deviations["visit_code"].tolist() == ["V5"]
        assert bool(after.deviations["major"].iloc[0])
        med = after.conmeds.iloc[0]
        assert (med["name"], med["prohibited"]) == ("sertraline", "SSRIs")
        assert med["taper_steps"] == {"2022-12-27": "50 mg", "2023-01-03": "25 mg"}
        doses = after.doses
        first = doses[(doses["participant_id"] == "OSL-001") & (doses["kind"] == "initial")]
        given = first["given_at"].iloc[0].to_pydatetime()
        # the completion replayed from the file clears the checklist at the initial dose
        assert sv.checklist_status(engine, SYSTEM, "OSL-001", "V5", at=given).complete
    finally:
        engine.dispose()


def _without(exported: ExportResult, tmp_path: Path, xpath: str) -> Path:
    doc = _doc(exported, "snapshot")
    for node in doc.xpath(xpath, namespaces=NS):
        node.getparent().remove(node)
    path = tmp_path / "edited.xml"
    doc.write(str(path))
    return path


def _set(exported: ExportResult, tmp_path: Path, xpath: str, value: str) -> Path:
    doc = _doc(exported, "snapshot")
    doc.xpath(xpath, namespaces=NS)[0].set("Value", value)
    path = tmp_path / "edited.xml"
    doc.write(str(path))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            # no checklist completion in the file: the initial dose is refused, as by hand
            lambda e, t: _without(
                e,
                t,
                "//odm:SubjectData[@SubjectKey='OSL-001']//odm:FormData[@FormOID='F.CHECKLIST']",
            ),
            r"subject OSL-001 does not fit: .*checklist",
        ),
        (
            # the urine drug screen of the first dosing day is positive: the checklist fails
            lambda e, t: _set(
                e,
                t,
                "//odm:SubjectData[@SubjectKey='OSL-001']/odm:StudyEventData[@StudyEventOID='SE.V5']"
                "//odm:ItemGroupData[odm:ItemData[@ItemOID='IT.RESULT.TEST_CODE' and "
                "@Value='urine_drug_screen']]/odm:ItemData[@ItemOID='IT.RESULT.VALUE']",
                "positive",
            ),
            r"subject OSL-001 does not fit: .*urine_drug_screen",
        ),
        (
            lambda e, t: _set(
                e,
                t,
                "(//odm:SubjectData[@SubjectKey='OSL-001']//odm:ItemData"
                "[@ItemOID='IT.DEVIATION.CATEGORY'])[1]",
                "gossip",
            ),
            r"subject OSL-001 does not fit: .*deviation category",
        ),
        (
            # the headache resolved, but the file gives no end date: refused as on entry
            lambda e, t: _set(
                e,
                t,
                "//odm:SubjectData[@SubjectKey='OSL-001']//odm:ItemData[@ItemOID='IT.AE.OUTCOME']",
                "recovered",
            ),
            r"subject OSL-001 does not fit: .*outcome recovered but no end date",
        ),
    ],
    ids=["checklist-missing", "positive-screen", "bad-deviation-category", "ae-ended-no-date"],
)
def test_a_refused_record_writes_nothing(
    exported: ExportResult, tmp_path: Path, edit: object, message: str
) -> None:
    path = edit(exported, tmp_path)  # type: ignore[operator]
    engine, actors = import_target(tmp_path / "target.db")
    try:
        before = count_all(engine)
        with pytest.raises(InputError, match=message):
            import_odm(engine, path, actors)
        assert count_all(engine) == before
    finally:
        engine.dispose()
