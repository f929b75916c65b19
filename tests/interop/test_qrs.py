"""CDISC QRS terminology of the shipped scales (:mod:`remit.interop.qrs`) and the CT package
the exports ship (:mod:`remit.interop.ct_build`)."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

from remit.errors import InputError
from remit.interop.codes import scale_codes
from remit.interop.ct import terminology
from remit.interop.ct_build import main, qrs_selection, read_package, subset
from remit.interop.dataset import Dataset, Variable, make_dataset
from remit.interop.qrs import check_qrs, clinical_classifications, qrs_category, qrs_test
from remit.interop.sdtm.findings import clinician_scales
from remit.scales import load_scale
from remit.scales.loader import SCALES_PATH_ENV

SCALES = ("madrs", "sds", "cssrs", "gad7", "isi", "psqi", "pcl5", "bdi2", "se_vas")


def _versions(scale: str) -> list[str | None]:
    definition = load_scale(scale)
    return list(definition.versions) if len(definition.versions) > 1 else [None]


def _parts(scale: str) -> list[tuple[str, str]]:
    return list(scale_codes(scale))


def test_every_shipped_term_has_a_c_code() -> None:
    ct = terminology()
    assert ct.version == "2025-03-28"
    for cid, codelist in ct.codelists.items():
        assert codelist.c_code, cid
        for term in codelist.terms:
            assert term.c_code, (cid, term.value)
            assert term.c_code.startswith("C"), (cid, term.value)
    # the codes the review found null, from the CT package
    assert ct["EPOCH"].term("FOLLOW-UP").c_code == "C202578"  # type: ignore[union-attr]
    assert ct["INTMODEL"].term("SINGLE GROUP").c_code == "C82640"  # type: ignore[union-attr]
    codes = {t.value: t.c_code for t in ct["TSPARMCD"].terms}
    assert codes["STRATFCT"] == "C16153"
    assert codes["ONGOSIND"] == "C204699"


@pytest.mark.parametrize("scale", SCALES)
def test_codes_and_names_are_one_to_one_per_category(scale: str) -> None:
    for version in _versions(scale):
        cat = qrs_category(scale, version)
        tests = [qrs_test(scale, version, p, k) for p, k in _parts(scale)]
        codes = [t.code for t in tests]
        names = [t.name for t in tests]
        assert len(set(codes)) == len(codes), (scale, version)
        assert len(set(names)) == len(names), (scale, version)
        assert all(len(c) <= 8 and c[0].isalpha() and c.isalnum() for c in codes), codes
        assert all(0 < len(n) <= 40 for n in names), names
        if cat.testcd_codelist:
            # a CDISC code is a term of the instrument's codelist with its paired name; a
            # sponsor code never takes the codelist's namespace
            ct = terminology()
            prefix = cat.testcd_codelist.removesuffix("TC")
            for t in tests:
                if t.cdisc:
                    assert ct[cat.testcd_codelist].term(t.code) is not None
                    assert ct[cat.test_codelist or ""].term(t.name) is not None
                else:
                    assert not t.code.startswith(prefix), t.code


def test_the_shipped_scales_follow_the_cdisc_categories() -> None:
    assert qrs_category("gad7", None).value == "GAD-7"
    assert qrs_category("gad7", None).c_code == "C103519"
    assert qrs_test("gad7", None, "items", "feeling_nervous").code == "GAD0101"
    assert qrs_test("gad7", None, "total", "total").code == "GAD0109"
    assert qrs_test("pcl5", None, "items", "sleep").code == "PCL0120"
    assert qrs_test("sds", None, "items", "not_working").code == "SDS0101A"
    assert qrs_category("madrs", None).value == "MADRS"
    assert qrs_category("madrs", None).codelist == "CCCAT"
    # MADRS: CDISC publishes the category only; the item codes are sponsor-defined
    sadness = qrs_test("madrs", None, "items", "apparent_sadness")
    assert (sadness.code, sadness.c_code, sadness.cdisc) == ("MADRS101", None, False)
    assert qrs_test("madrs", None, "items", "suicidal_thoughts").code == "MADRS110"
    assert qrs_test("bdi2", None, "items", "loss_of_interest_in_sex").code == "BD0121"
    assert qrs_category("isi", None).codelist is None
    assert qrs_category("se_vas", None).value == "SE-VAS"


def test_cssrs_lifetime_and_recent_answers_have_their_own_codes() -> None:
    baseline = qrs_category("cssrs", "baseline")
    assert (baseline.value, baseline.testcd_codelist) == (
        "C-SSRS LIFETIME/RECENT VERSION",
        "CSS11TC",
    )
    life = qrs_test("cssrs", "baseline", "items", "wish_to_be_dead_lifetime")
    recent = qrs_test("cssrs", "baseline", "items", "wish_to_be_dead")
    assert (life.code, life.name) == ("CSS1101A", "CSS11-Wish to be Dead-Life")
    assert (recent.code, recent.name) == ("CSS1101B", "CSS11-Wish to be Dead-P1M")
    attempt = qrs_test("cssrs", "baseline", "items", "actual_attempt")
    assert attempt.name == "CSS11-Actual Attempt-P3M"
    since = qrs_category("cssrs", "since_last_visit")
    assert since.value == "C-SSRS SINCE LAST VISIT"
    assert qrs_test("cssrs", "since_last_visit", "items", "wish_to_be_dead").code == "CSS0201"
    assert qrs_test("cssrs", "since_last_visit", "derived", "suicide").code == "CSS0221"


KEYS = {"category_codelist", "category", "codelist", "codes", "sponsor_prefix"}


def test_qrs_mapping_names_only_parts_the_scales_have() -> None:
    raw = tomllib.loads(
        files("remit.interop").joinpath("data", "qrs.toml").read_text(encoding="utf-8")
    )["scales"]
    for scale, entry in raw.items():
        parts = {f"{p}.{k}" for p, k in _parts(scale)}
        for version in entry.get("versions", {"": entry}).values():
            assert set(version) <= KEYS, (scale, set(version) - KEYS)
            unknown = set(version.get("codes", {})) - parts
            assert not unknown, (scale, unknown)


def test_rs_for_clinician_moves_only_clinical_classifications() -> None:
    # CDISC lists MADRS as a clinical classification and C-SSRS as a questionnaire
    assert clinician_scales(["madrs", "cssrs", "gad7", "se_vas"]) == {"madrs"}
    assert clinical_classifications(["cssrs"]) == set()
    assert clinical_classifications(["no_such_scale"]) == set()


def test_a_scale_without_qrs_terminology_gets_sponsor_values() -> None:
    # e.g. a scale imported from REDCap: its code as category, sponsor codes, no C-codes
    cat = qrs_category("phq9", None)
    assert (cat.value, cat.c_code, cat.codelist) == ("PHQ9", None, None)
    code = qrs_test("phq9", None, "items", "q1")
    assert (code.code, code.c_code, code.cdisc) == ("PHQ9Q1", None, False)


# ------------------------------------------------------------------ building from a package

HEADER = (
    "Code\tCodelist Code\tCodelist Extensible (Yes/No)\tCodelist Name\t"
    "CDISC Submission Value\tCDISC Synonym(s)\tCDISC Definition\tNCI Preferred Term\n"
)
PACKAGE = HEADER + (
    "C99079\t\tYes\tEpoch\tEPOCH\tEpoch\tdef\tCDISC SDTM Epoch Terminology\n"
    "C202578\tC99079\t\tEpoch\tFOLLOW-UP\tFollow-Up Epoch\tdef\tFollow-Up Epoch\n"
    "C202487\tC99079\t\tEpoch\tSCREENING\tScreening Epoch\tdef\tScreening Epoch\n"
    "C66742\t\tNo\tNo Yes Response\tNY\tNo Yes Response\tdef\tCDISC SDTM Yes No Terminology\n"
    "C49487\tC66742\t\tNo Yes Response\tN\tNo\tdef\tNo\n"
    "C49488\tC66742\t\tNo Yes Response\tY\tYes\tdef\tYes\n"
)


def test_ct_build_takes_codes_from_the_package(tmp_path: Path) -> None:
    path = tmp_path / "SDTM Terminology.txt"
    path.write_text(PACKAGE, encoding="utf-8")
    package = read_package(path)
    doc = subset(package, {"EPOCH": ["FOLLOW-UP"], "NY": ["Y"]}, "2025-03-28")
    epoch = doc["codelists"]["EPOCH"]
    assert (epoch["c_code"], epoch["extensible"]) == ("C99079", True)
    assert epoch["terms"] == [
        {"value": "FOLLOW-UP", "c_code": "C202578", "decode": "Follow-Up Epoch"}
    ]
    # a non-extensible codelist is shipped whole: the export enforces it
    assert [t["value"] for t in doc["codelists"]["NY"]["terms"]] == ["N", "Y"]
    with pytest.raises(InputError, match=r"EPOCH term 'RUN-IN'.*codelist ROUTE"):
        subset(package, {"EPOCH": ["RUN-IN"], "ROUTE": None}, "2025-03-28")
    bad = tmp_path / "bad.txt"
    bad.write_text("Code,Name\n", encoding="utf-8")
    with pytest.raises(InputError, match="not an NCI EVS CDISC terminology"):
        read_package(bad)


def test_ct_build_command_refuses_a_package_without_remit_terms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "SDTM Terminology.txt"
    path.write_text(PACKAGE, encoding="utf-8")
    out = tmp_path / "ct.json"
    assert main([str(path), "--version", "2099-01-01", "--out", str(out)]) == 2
    assert "lacks" in capsys.readouterr().err
    assert not out.exists()


def test_qrs_selection_names_the_instrument_codelists() -> None:
    qrs = {
        "scales": {
            "gad7": {"category_codelist": "QSCAT", "category": "GAD-7", "codelist": "GAD01"},
            "isi": {"category": "ISI"},
        }
    }
    assert qrs_selection(qrs) == {"QSCAT": ["GAD-7"], "GAD01TC": None, "GAD01TN": None}


def _qs(rows: list[dict[str, str]], name: str = "QS") -> Dataset:
    variables = [Variable(f"{name}{v}", v) for v in ("CAT", "TESTCD", "TEST")]
    records = [{name + k: v for k, v in r.items()} for r in rows]
    return make_dataset(name, "Q", "SDTM", variables, records)


def test_export_refuses_codes_outside_the_cdisc_qrs_codelists() -> None:
    good = {"CAT": "GAD-7", "TESTCD": "GAD0101", "TEST": "GAD01-Feeling Nervous Anxious or On Edge"}
    sponsor = {"CAT": "PCL-5", "TESTCD": "PCL5TOT", "TEST": "PCL5 total"}
    check_qrs([_qs([good, sponsor])])
    with pytest.raises(InputError, match=r"QS\.QSTESTCD holds 'GAD0199'.*C103467"):
        check_qrs([_qs([{**good, "TESTCD": "GAD0199"}])])
    with pytest.raises(InputError, match="not CDISC's 'GAD01-Feeling Nervous"):
        check_qrs([_qs([{**good, "TEST": "Feeling nervous"}])])
    cssrs = {"CAT": "C-SSRS SINCE LAST VISIT", "TESTCD": "CSS0201", "TEST": "CSS02-Wish to be Dead"}
    with pytest.raises(InputError, match="lists as a questionnaire"):
        check_qrs([_qs([cssrs], "RS")])
    check_qrs([_qs([{"CAT": "MADRS", "TESTCD": "MADRS101", "TEST": "Apparent sadness"}], "RS")])


def test_a_clinician_scale_without_cdisc_category_goes_to_rs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a scale of one's own, rated by a clinician, that CDISC has no category for
    source = files("remit.scales").joinpath("definitions", "madrs.toml").read_text("utf-8")
    own = source.replace('code = "madrs"', 'code = "ward_madrs"').replace(
        'short_name = "MADRS"', 'short_name = "WARD-MADRS"'
    )
    (tmp_path / "ward_madrs.toml").write_text(own, encoding="utf-8")
    monkeypatch.setenv(SCALES_PATH_ENV, str(tmp_path))
    assert qrs_category("ward_madrs", None).value == "WARD-MADRS"
    assert clinician_scales(["ward_madrs", "cssrs", "se_vas"]) == {"ward_madrs"}
    self_rated = own.replace('respondent = "clinician"', 'respondent = "self"')
    (tmp_path / "ward_self.toml").write_text(
        self_rated.replace('code = "ward_madrs"', 'code = "ward_self"'), encoding="utf-8"
    )
    assert clinician_scales(["ward_self"]) == set()
