"""define.xml 2.1 of the SDTM and ADaM exports: valid against the Define-XML 2.1.0 schema,
complete (every dataset, variable, codelist, method and value-level entry referenced exists),
CDISC codelists with their C-codes and the CT version, rendered to HTML by the stylesheet;
the TS dataset; controlled terminology enforced at export."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tests.support.paths import STANDARDS

from remit import services as sv
from remit.errors import InputError
from remit.interop import ExportResult, export_trial
from remit.interop.ct import check_terminology, country_alpha3, terminology
from remit.interop.dataset import Variable, make_dataset
from remit.interop.define_xml import method_for
from remit.interop.xpt import read_xpt
from remit.store import actor_for

DEFINE_SCHEMA = (
    STANDARDS / "define-xml-2.1" / "schema" / "cdisc-definexml-2.1.0" / "define2-1-0.xsd"
)
NS = {
    "o": "http://www.cdisc.org/ns/odm/v1.3",
    "def": "http://www.cdisc.org/ns/def/v2.1",
    "xlink": "http://www.w3.org/1999/xlink",
}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DEFINE_SCHEMA)))


@pytest.fixture(scope="module")
def exported(trial_db: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    from remit.store import make_engine

    engine = make_engine(trial_db)
    try:
        return export_trial(engine, tmp_path_factory.mktemp("define"), formats=("sdtm", "adam"))
    finally:
        engine.dispose()


def _define(exported: ExportResult, folder: str) -> etree._ElementTree:
    return etree.parse(str(exported.out_dir / folder / "define.xml"))


@pytest.mark.export_format("sdtm", "adam")
@pytest.mark.parametrize("folder", ["sdtm", "adam"])
def test_define_xml_validates_against_the_schema(
    exported: ExportResult, schema: etree.XMLSchema, folder: str
) -> None:
    doc = _define(exported, folder)
    assert schema.validate(doc), schema.error_log
    assert f"{folder}/define.xml" in exported.files[folder]
    assert f"{folder}/define2-1.xsl" in exported.files[folder]


def test_the_define_schema_check_can_fail(exported: ExportResult, schema: etree.XMLSchema) -> None:
    doc = _define(exported, "sdtm")
    item = doc.find(".//o:ItemDef", NS)
    del item.attrib["DataType"]
    assert not schema.validate(doc)
    doc = _define(exported, "sdtm")
    doc.find(".//o:ItemRef", NS).set("Mandatory", "Maybe")
    assert not schema.validate(doc)


@pytest.mark.parametrize("folder", ["sdtm", "adam"])
def test_every_reference_resolves(exported: ExportResult, folder: str) -> None:
    doc = _define(exported, folder)
    oids = {e.get("OID") for e in doc.iter() if e.get("OID")}
    refs = {
        "ItemOID": [e.get("ItemOID") for e in doc.iterfind(".//o:ItemRef", NS)],
        "CodeListOID": [e.get("CodeListOID") for e in doc.iterfind(".//o:CodeListRef", NS)],
        "MethodOID": [e.get("MethodOID") for e in doc.iter() if e.get("MethodOID")],
        "ValueListOID": [e.get("ValueListOID") for e in doc.iterfind(".//def:ValueListRef", NS)],
        "WhereClauseOID": [
            e.get("WhereClauseOID") for e in doc.iterfind(".//def:WhereClauseRef", NS)
        ],
    }
    for kind, wanted in refs.items():
        assert wanted, kind
        assert set(wanted) <= oids, (kind, sorted(set(wanted) - oids)[:5])
    # each dataset's leaf is the XPT file written beside define.xml
    for leaf in doc.iterfind(".//o:ItemGroupDef/def:leaf", NS):
        href = leaf.get(f"{{{NS['xlink']}}}href")
        assert (exported.out_dir / folder / href).is_file()


@pytest.mark.export_format("sdtm")
def test_every_dataset_and_variable_is_described(exported: ExportResult) -> None:
    doc = _define(exported, "sdtm")
    groups = {g.get("Name"): g for g in doc.iterfind(".//o:ItemGroupDef", NS)}
    xpts = sorted(Path(f).stem.upper() for f in exported.files["sdtm"] if f.endswith(".xpt"))
    assert sorted(groups) == xpts
    assert "TS" in groups
    qs = groups["QS"]
    assert qs.get(f"{{{NS['def']}}}Structure") == "One record per item per form"
    assert qs.find("def:Class", NS).get("Name") == "FINDINGS"
    keys = {r.get("ItemOID"): r.get("KeySequence") for r in qs.iterfind("o:ItemRef", NS)}
    assert keys["IT.QS.QSSEQ"] == "3"
    origins = {
        i.get("OID"): i.find("def:Origin", NS).get("Type") for i in doc.iterfind(".//o:ItemDef", NS)
    }
    assert origins["IT.QS.QSORRES"] == "Collected"
    assert origins["IT.QS.QSDY"] == "Derived"
    assert origins["IT.DM.STUDYID"] == "Assigned"


def test_ct_version_and_c_codes(exported: ExportResult) -> None:
    doc = _define(exported, "sdtm")
    ct = doc.find(".//def:Standard[@Type='CT']", NS)
    assert ct.get("Version") == terminology().version == "2025-03-28"
    sex = doc.find(".//o:CodeList[@OID='CL.SEX']", NS)
    assert sex.find("o:Alias", NS).get("Name") == "C66731"
    f = sex.find("o:CodeListItem[@CodedValue='F']", NS)
    assert f.find("o:Alias", NS).get("Name") == "C16576"
    assert sex.get(f"{{{NS['def']}}}StandardOID") == "STD.CT"
    country = doc.find(".//o:CodeList[@OID='CL.ISO3166']/o:ExternalCodeList", NS)
    assert country.get("Dictionary") == "ISO 3166-1 Alpha-3"
    # test codes: CDISC QRS terms carry their C-code, sponsor-defined ones are marked extended
    # and have no C-code (never an empty Alias)
    testcd = doc.find(".//o:CodeList[@OID='CL.QS.QSTESTCD']", NS)
    assert testcd.get(f"{{{NS['def']}}}IsNonStandard") == "Yes"
    gad = testcd.find("o:CodeListItem[@CodedValue='GAD0101']", NS)
    assert gad.find("o:Alias", NS).get("Name") == "C103565"
    assert gad.findtext("o:Decode/o:TranslatedText", namespaces=NS).startswith("GAD01-")
    assert gad.get(f"{{{NS['def']}}}ExtendedValue") is None
    sponsor = testcd.find("o:CodeListItem[@CodedValue='MADRS101']", NS)
    assert sponsor.get(f"{{{NS['def']}}}ExtendedValue") == "Yes"
    assert sponsor.find("o:Alias", NS) is None
    assert all(a.get("Name") for a in doc.iterfind(".//o:Alias", NS))
    category = doc.find(".//o:CodeList[@OID='CL.QS.QSCAT']", NS)
    cssrs = category.find("o:CodeListItem[@CodedValue='C-SSRS LIFETIME/RECENT VERSION']", NS)
    assert cssrs.find("o:Alias", NS).get("Name") == "C117996"
    # the codes the review found missing: EPOCH FOLLOW-UP and TS parameters
    epoch = doc.find(".//o:CodeList[@OID='CL.EPOCH']/o:CodeListItem[@CodedValue='FOLLOW-UP']", NS)
    assert epoch is None or epoch.find("o:Alias", NS).get("Name") == "C202578"
    parm = doc.find(".//o:CodeList[@OID='CL.TSPARMCD']/o:CodeListItem[@CodedValue='STRATFCT']", NS)
    assert parm.find("o:Alias", NS).get("Name") == "C16153"


def test_value_level_metadata_per_test_code(exported: ExportResult) -> None:
    doc = _define(exported, "sdtm")
    vl = doc.find(".//def:ValueListDef[@OID='VL.VS.VSORRES']", NS)
    wheres = [r.find("def:WhereClauseRef", NS).get("WhereClauseOID") for r in vl]
    assert wheres == [f"WC.VS.VSTESTCD.{c}" for c in ("DIABP", "PULSE", "SYSBP", "TEMP")]
    wc = doc.find(".//def:WhereClauseDef[@OID='WC.VS.VSTESTCD.TEMP']/o:RangeCheck", NS)
    assert wc.get(f"{{{NS['def']}}}ItemOID") == "IT.VS.VSTESTCD"
    assert wc.findtext("o:CheckValue", namespaces=NS) == "TEMP"
    qs = doc.find(".//def:ValueListDef[@OID='VL.QS.QSSTRESN']", NS)
    assert len(qs) == len(set(_xpt(exported, "qs")["QSTESTCD"]))
    adam = _define(exported, "adam")
    aval = adam.find(".//def:ValueListDef[@OID='VL.ADQS.AVAL']", NS)
    assert len(aval) == len(set(_xpt(exported, "adqs", "adam")["PARAMCD"]))
    item = adam.find(".//o:ItemDef[@OID='IT.ADQS.AVAL.MADRTOT']", NS)
    assert item.get("DataType") in ("integer", "float")
    assert "MADRS" in item.findtext("o:Description/o:TranslatedText", namespaces=NS)


def _xpt(exported: ExportResult, name: str, folder: str = "sdtm") -> pd.DataFrame:
    return read_xpt(exported.out_dir / folder / f"{name}.xpt")[0]


@pytest.mark.parametrize("folder", ["sdtm", "adam"])
def test_every_derived_variable_has_a_method(exported: ExportResult, folder: str) -> None:
    doc = _define(exported, folder)
    for group in doc.iterfind(".//o:ItemGroupDef", NS):
        for ref in group.iterfind("o:ItemRef", NS):
            item = doc.find(f".//o:ItemDef[@OID='{ref.get('ItemOID')}']", NS)
            if item.find("def:Origin", NS).get("Type") == "Derived":
                assert ref.get("MethodOID"), ref.get("ItemOID")
                name = item.get("Name")
                assert method_for(group.get("Name"), name), name
    methods = {m.get("OID") for m in doc.iterfind(".//o:MethodDef", NS)}
    assert methods


@pytest.mark.parametrize("folder", ["sdtm", "adam"])
def test_the_stylesheet_renders_html(exported: ExportResult, folder: str) -> None:
    xslt = etree.XSLT(etree.parse(str(exported.out_dir / folder / "define2-1.xsl")))
    page = str(xslt(_define(exported, folder)))
    assert "<html" in page
    for name in ("DM", "QS", "TS") if folder == "sdtm" else ("ADSL", "ADQS"):
        assert name in page
    assert "C66731" in page or folder == "adam"


def test_ts_holds_every_parameter_without_inventing(exported: ExportResult) -> None:
    ts = _xpt(exported, "ts")
    codes = set(ts["TSPARMCD"])
    required = {
        "SSTDTC", "SPONSOR", "TITLE", "TPHASE", "TTYPE", "STYPE", "ADDON", "AGEMIN", "AGEMAX",
        "SEXPOP", "PLANSUB", "RANDOM", "INDIC", "TRT", "PCLAS", "REGID", "SDMDUR", "TBLIND",
        "TCNTRL", "DCUTDTC", "ACTSUB", "HLTSUBJI", "FCNTRY", "ONGOSIND", "NARMS", "STRATFCT",
        "OBJPRIM", "OUTMSPRI", "SENDTC", "LENGTH", "CURTRT", "COMPTRT",
    }  # fmt: skip
    assert required <= codes
    value = ts["TSVAL"].fillna("").astype(str).str.len() > 0
    nullf = ts["TSVALNF"].fillna("").astype(str).str.len() > 0
    assert (value ^ nullf).all()  # exactly one of TSVAL / TSVALNF
    row = ts.set_index("TSPARMCD")
    assert row.loc["FCNTRY", "TSVAL"] == "NOR"
    assert row.loc["TPHASE", "TSVALCD"] == "C15601"
    assert row.loc["TBLIND", "TSVAL"] == "OPEN LABEL"
    assert row.loc["AGEMIN", "TSVAL"] == "P18Y"
    assert row.loc["AGEMAX", "TSVALNF"] == "PINF"
    assert row.loc["TTYPE", "TSVALNF"] == "UNK"  # the protocol file does not say
    assert row.loc["PLANSUB", "TSVAL"] == "12"
    assert row.loc["DCUTDTC", "TSVAL"] == exported.created_at.strftime("%Y-%m-%d")
    assert row.loc["SPONSOR", "TSVAL"] == "Østfold Hospital Trust"


def test_non_extensible_codelist_refused_with_a_clear_error() -> None:
    ae = make_dataset(
        "AE",
        "Adverse Events",
        "SDTM",
        [Variable("USUBJID", "Unique Subject Identifier"), Variable("AEOUT", "Outcome")],
        [{"USUBJID": "S-1", "AEOUT": "RECOVERED"}],
    )
    with pytest.raises(InputError) as caught:
        check_terminology([ae])
    message = str(caught.value)
    assert "AE.AEOUT" in message
    assert "'RECOVERED'" in message
    assert "C66768" in message
    assert "RECOVERED/RESOLVED" in message
    # an extensible codelist accepts a sponsor term
    vs = make_dataset(
        "VS", "Vital Signs", "SDTM", [Variable("VSTESTCD", "Test")], [{"VSTESTCD": "BMI"}]
    )
    check_terminology([vs])


def test_country_codes() -> None:
    assert country_alpha3("NO") == "NOR"
    assert country_alpha3("gb") == "GBR"
    assert country_alpha3("USA") == "USA"
    with pytest.raises(InputError, match="'XX'"):
        country_alpha3("XX")
    dm = make_dataset(
        "DM", "Demographics", "SDTM", [Variable("COUNTRY", "Country")], [{"COUNTRY": "NO"}]
    )
    with pytest.raises(InputError, match=r"DM\.COUNTRY holds 'NO'"):
        check_terminology([dm])


def test_a_long_ae_term_exports_with_suppae(
    trial_engine: Engine, tmp_path: Path, schema: etree.XMLSchema
) -> None:
    term = "Panic attack during the dosing session" + " with palpitations and tremor" * 10
    with Session(trial_engine) as session:
        investigator = actor_for(session, "kari")
    sv.record_adverse_event(
        trial_engine,
        investigator,
        "OSL-001",
        term=term,
        onset_date=date.today(),
        severity="mild",
        relatedness="not_related",
    )
    result = export_trial(trial_engine, tmp_path / "out", formats=("sdtm",))
    assert "sdtm/suppae.xpt" in result.files["sdtm"]
    ae = read_xpt(tmp_path / "out" / "sdtm" / "ae.xpt")[0]
    supp = read_xpt(tmp_path / "out" / "sdtm" / "suppae.xpt")[0]
    parent = ae[ae["AETERM"].str.startswith("Panic attack")].iloc[0]
    mine = supp[
        (supp["IDVARVAL"] == str(int(parent["AESEQ"]))) & supp["QNAM"].str.startswith("AETERM")
    ]
    assert parent["AETERM"] + "".join(mine.sort_values("QNAM")["QVAL"]) == term
    doc = etree.parse(str(tmp_path / "out" / "sdtm" / "define.xml"))
    assert schema.validate(doc), schema.error_log
    group = doc.find(".//o:ItemGroupDef[@OID='IG.SUPPAE']", NS)
    assert group.find("def:Class", NS).get("Name") == "RELATIONSHIP"


def test_not_done_items_say_why(exported: ExportResult) -> None:
    qs = _xpt(exported, "qs")
    cssrs = qs[qs["QSCAT"].str.startswith("C-SSRS") & (qs["QSSTAT"] == "NOT DONE")]
    reasons = set(cssrs["QSREASND"])
    # C-SSRS asks questions 3-5 only after a yes to question 2: the rest are not asked
    assert "NOT ASKED (SKIP LOGIC OF THE FORM)" in reasons
    assert reasons <= {
        "NOT ASKED (SKIP LOGIC OF THE FORM)",
        "LEFT BLANK ON THE FORM",
        "NOT DERIVABLE FROM THE ANSWERS GIVEN",
    }
    assert (qs.loc[qs["QSSTAT"] != "NOT DONE", "QSREASND"].fillna("") == "").all()
