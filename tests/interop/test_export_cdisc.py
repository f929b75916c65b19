"""SDTM and ADaM exports: Dataset-JSON against the 1.1 schema, XPT read back with pyreadstat,
ADQS equal to what the analysis computes, define metadata, date shifting, no identity values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine
from tests.support.paths import STANDARDS
from tests.support.presets import IDENTITY

from remit.analysis import build_adqs, derive_endpoints
from remit.errors import InputError
from remit.interop import DateShift, ExportResult, export_trial
from remit.interop.dataset import Variable, make_dataset
from remit.interop.xpt import read_xpt
from remit.protocol import load_protocol
from remit.services import Actor, build_trial_data

SCHEMA = json.loads((STANDARDS / "dataset-json-1.1.schema.json").read_text())


@pytest.fixture(scope="module")
def exported(trial_db: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    from remit.store import make_engine

    engine = make_engine(trial_db)
    try:
        return export_trial(
            engine, tmp_path_factory.mktemp("export"), formats=("csv", "sdtm", "adam")
        )
    finally:
        engine.dispose()


def _json_files(result: ExportResult) -> list[Path]:
    return [
        result.out_dir / f
        for k in ("sdtm", "adam")
        for f in result.files[k]
        if f.endswith(".json") and not f.endswith("define.json")
    ]


@pytest.mark.export_format("sdtm", "adam")
def test_every_dataset_json_validates_against_the_schema(exported: ExportResult) -> None:
    files = _json_files(exported)
    names = {p.stem.upper() for p in files}
    assert {"DM", "EX", "EC", "QS", "AE", "VS", "DS", "DV", "SV", "TA", "TE", "TV"} <= names
    assert {"ADSL", "ADQS"} <= names
    validator = jsonschema.Draft201909Validator(SCHEMA)
    for path in files:
        doc = json.loads(path.read_text())
        errors = list(validator.iter_errors(doc))
        assert errors == [], f"{path.name}: {errors[0].message if errors else ''}"
        assert doc["records"] == len(doc["rows"])
        assert all(len(row) == len(doc["columns"]) for row in doc["rows"])


def test_the_schema_check_can_fail(exported: ExportResult) -> None:
    doc = json.loads(_json_files(exported)[0].read_text())
    del doc["itemGroupOID"]
    doc["columns"][0]["dataType"] = "text"
    assert len(list(jsonschema.Draft201909Validator(SCHEMA).iter_errors(doc))) == 2


def test_xpt_reads_back_equal_to_the_json(exported: ExportResult) -> None:
    for path in _json_files(exported):
        doc = json.loads(path.read_text())
        frame, labels = read_xpt(path.with_suffix(".xpt"))
        assert list(frame.columns) == [c["name"] for c in doc["columns"]]
        assert labels == {c["name"]: c["label"] for c in doc["columns"]}
        for i, col in enumerate(doc["columns"]):
            got = frame[col["name"]].tolist()
            want = [row[i] for row in doc["rows"]]
            if col["dataType"] in ("integer", "double"):
                assert frame[col["name"]].dtype == np.float64
                for g, w in zip(got, want, strict=True):
                    assert (w is None and math.isnan(g)) or g == w, (path.name, col["name"])
            elif col.get("targetDataType") == "integer":  # ADaM date: DATE9. number vs ISO
                iso = [None if pd.isna(g) else pd.Timestamp(g).date().isoformat() for g in got]
                assert iso == want, (path.name, col["name"])
            else:
                assert got == ["" if w is None else w for w in want], (path.name, col["name"])
                assert all(len(g.encode()) <= col["length"] for g in got)


def test_names_labels_and_lengths_follow_the_ig(exported: ExportResult) -> None:
    for path in _json_files(exported):
        doc = json.loads(path.read_text())
        assert len(doc["name"]) <= 8
        assert len(doc["label"]) <= 40
        for col in doc["columns"]:
            assert len(col["name"]) <= 8
            assert col["name"].isupper()
            assert len(col["label"]) <= 40
            if col["dataType"] == "string":
                assert 1 <= col["length"] <= 200


def _dataset(result: ExportResult, folder: str, name: str) -> pd.DataFrame:
    doc = json.loads((result.out_dir / folder / f"{name}.json").read_text())
    frame = pd.DataFrame(doc["rows"], columns=[c["name"] for c in doc["columns"]])
    return frame.astype(object).where(frame.notna(), None)


@pytest.mark.export_format("sdtm")
def test_sdtm_content(exported: ExportResult) -> None:
    protocol = load_protocol("oslo-mdma-mdd")
    ex = _dataset(exported, "sdtm", "ex")
    ec = _dataset(exported, "sdtm", "ec")
    # OSL-001 took four doses, OSL-002 one; OSL-002's supplemental dose was withheld
    assert ex.groupby("USUBJID").size().to_dict() == {
        "oslo-mdma-mdd-OSL-001": 4,
        "oslo-mdma-mdd-OSL-002": 1,
    }
    withheld = ec[ec["ECOCCUR"] == "N"]
    assert withheld[["USUBJID", "ECTPT", "ECREASOC"]].values.tolist() == [
        ["oslo-mdma-mdd-OSL-002", "SUPPLEMENTAL DOSE", "participant declined"]
    ]
    assert list(ex["EXSEQ"][ex["USUBJID"].str.endswith("001")]) == [1, 2, 3, 4]
    assert ex.loc[0, "EXSTDTC"] == "2023-03-14T09:00:00"
    assert ex.loc[0, "EXSTDY"] == 1
    assert ex.loc[0, "VISITNUM"] == protocol.visit_number("V5")
    vs = _dataset(exported, "sdtm", "vs")
    pre = vs[vs["VSTPT"] == "PRE-DOSE"]
    assert set(pre["VSELTM"]) == {"-PT15M"}
    assert set(pre["VSTPTNUM"]) == {-15}
    assert "PT1H" in set(vs["VSELTM"])
    qs = _dataset(exported, "sdtm", "qs")
    madrs = qs[(qs["QSTESTCD"] == "MADRTOT") & qs["USUBJID"].str.endswith("001")]
    # V3 at level 4 (9 × 4 + 1), V13 at level 1 with item 1 corrected to 3, FU7 at level 1
    assert madrs[["VISIT", "QSSTRESN", "QSDRVFL"]].values.tolist() == [
        ["BASELINE RATING", 37.0, "Y"],
        ["PRIMARY ENDPOINT", 12.0, "Y"],
        ["SEVEN-MONTH FOLLOW-UP", 10.0, "Y"],
    ]
    dm = _dataset(exported, "sdtm", "dm")
    assert dm["ARMNRS"].tolist() == [None, None, "SCREEN FAILURE"]
    ds = _dataset(exported, "sdtm", "ds")
    assert ("oslo-mdma-mdd-OSL-002", "moved abroad", "WITHDRAWAL BY SUBJECT") in set(
        map(tuple, ds[["USUBJID", "DSTERM", "DSDECOD"]].values.tolist())
    )
    tv = _dataset(exported, "sdtm", "tv")
    assert tv["VISITNUM"].tolist() == [protocol.visit_number(c) for c in protocol.visit_codes]


@pytest.mark.export_format("adam")
def test_adqs_equals_the_analysis(exported: ExportResult, trial_db: Path) -> None:
    from remit.store import make_engine

    engine = make_engine(trial_db)
    data = build_trial_data(engine, actor=Actor.system("tests"))
    engine.dispose()
    protocol = load_protocol("oslo-mdma-mdd")
    ours = _dataset(exported, "adam", "adqs")
    theirs = build_adqs(data, protocol)
    assert len(ours) == len(theirs)
    # BASE/CHG/PCHG come from the parameter's own baseline record: a C-SSRS since-last-visit
    # test (its own CDISC code) has none, where the analysis compares with the screening form
    keys = pd.Series(list(zip(ours["USUBJID"], ours["PARAMCD"], strict=True)))
    own_base = keys.isin(set(keys[ours["ABLFL"] == "Y"])).to_numpy()
    assert own_base.mean() > 0.5
    for col in ("AVAL", "BASE", "CHG", "PCHG", "AVISITN"):
        want = theirs[col].astype(float).where(own_base | (col in ("AVAL", "AVISITN")))
        np.testing.assert_array_equal(ours[col].astype(float), want)
    for col in ("ABLFL", "ANL01FL", "CRIT1FL", "CRIT2FL"):
        assert ours[col].tolist() == theirs[col].tolist()
    # the change the endpoints report for the primary endpoint is the ADQS CHG
    endpoints = derive_endpoints(data, protocol)
    change = endpoints.change.dropna(subset=["change"])
    assert len(change) >= 1
    for row in change.itertuples():
        if row.from_visit != load_protocol("oslo-mdma-mdd").endpoints[0].from_visit:
            continue
        hit = ours[
            (ours["SUBJID"] == row.participant_id)
            & (ours["PARAMCD"] == f"{row.scale.upper()[:4]}TOT")
            & (ours["AVISIT"] == row.to_visit)
            & (ours["ANL01FL"] == "Y")
        ]
        assert hit["CHG"].tolist() == [row.change]
        assert hit["BASE"].tolist() == [row.baseline]


def test_define_lists_every_dataset_and_variable(exported: ExportResult) -> None:
    meta = json.loads((exported.out_dir / "sdtm" / "define.json").read_text())
    names = [d["name"] for d in meta["datasets"]]
    assert names[:3] == ["DM", "EX", "EC"]
    qs = next(d for d in meta["datasets"] if d["name"] == "QS")
    assert qs["keys"] == ["STUDYID", "USUBJID", "QSSEQ"]
    assert {v["origin"] for v in qs["variables"]} >= {"Collected", "Derived", "Assigned"}
    page = (exported.out_dir / "adam" / "define.html").read_text()
    assert '<h2 id="ADQS">' in page
    assert "Change from Baseline" in page


@pytest.mark.export_format("csv")
def test_csv_one_file_per_form_and_dataset(exported: ExportResult) -> None:
    names = {Path(f).name for f in exported.files["csv"]}
    assert {"form_madrs.csv", "form_cssrs.csv", "analysis_adqs.csv", "scores.csv"} <= names
    madrs = pd.read_csv(exported.out_dir / "csv" / "form_madrs.csv")
    assert "item_apparent_sadness" in madrs.columns
    assert "total" in madrs.columns


def test_no_identity_value_in_any_file(exported: ExportResult) -> None:
    values = [v for person in IDENTITY.values() for v in person.values()]
    for path in exported.out_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for value in values:
                assert value.encode() not in content, f"{value!r} in {path}"


def test_date_shift_is_consistent_within_a_participant(
    trial_engine: Engine, tmp_path: Path
) -> None:
    shift = DateShift(days={"OSL-001": 10, "OSL-002": -3, "OSL-003": 5})
    plain = export_trial(trial_engine, tmp_path / "a", formats=("sdtm",))
    moved = export_trial(trial_engine, tmp_path / "b", formats=("sdtm",), date_shift=shift)
    a, b = _dataset(plain, "sdtm", "sv"), _dataset(moved, "sdtm", "sv")
    delta = (pd.to_datetime(b["SVSTDTC"]) - pd.to_datetime(a["SVSTDTC"])).dt.days
    assert delta.groupby(a["USUBJID"]).unique().map(list).to_dict() == {
        "oslo-mdma-mdd-OSL-001": [10],
        "oslo-mdma-mdd-OSL-002": [-3],
        "oslo-mdma-mdd-OSL-003": [5],
    }
    assert a["SVSTDY"].tolist() == b["SVSTDY"].tolist()
    seeded = DateShift(seed=7)
    assert seeded.offset("OSL-001") == DateShift(seed=7).offset("OSL-001") != 0


def test_madrs_in_rs_when_asked(trial_engine: Engine, tmp_path: Path) -> None:
    result = export_trial(trial_engine, tmp_path, formats=("sdtm",), clinician_domain="RS")
    rs = _dataset(result, "sdtm", "rs")
    qs = _dataset(result, "sdtm", "qs")
    assert "MADRS" in set(rs["RSCAT"])
    assert "MADRS" not in set(qs["QSCAT"])
    assert set(rs["DOMAIN"]) == {"RS"}
    # only CDISC clinical classifications move: C-SSRS is clinician-rated but a questionnaire
    assert set(rs["RSCAT"]) == {"MADRS"}
    assert "C-SSRS LIFETIME/RECENT VERSION" in set(qs["QSCAT"])
    assert set(rs["RSTESTCD"]) >= {"MADRS101", "MADRTOT"}


def test_bad_metadata_refused() -> None:
    with pytest.raises(InputError, match="label"):
        make_dataset("QS", "x" * 41, "SDTM", [], [])
    with pytest.raises(InputError, match="SAS-compatible"):
        make_dataset("QS", "Q", "SDTM", [Variable("QSTESTCODE", "x")], [])
    with pytest.raises(InputError, match="200"):
        make_dataset("QS", "Q", "SDTM", [Variable("QSORRES", "x")], [{"QSORRES": "a" * 201}])
    with pytest.raises(InputError, match="unknown export format"):
        export_trial(None, "x", formats=("sas7bdat",))  # type: ignore[arg-type]


def test_export_checks_the_actor(trial_engine: Engine, tmp_path: Path) -> None:
    from remit.errors import PermissionDeniedError
    from remit.store import Actor

    therapist = Actor(3, "tor", "therapist", 1)
    with pytest.raises(PermissionDeniedError):
        export_trial(trial_engine, tmp_path / "t", formats=("odm",), actor=therapist)
    statistician = Actor(7, "siri", "statistician", None)
    result = export_trial(trial_engine, tmp_path / "s", formats=("odm",), actor=statistician)
    assert result.participants == 3
