"""SDTM CM: recorded medications, a taper as one record per dose period, start and end relative
to the reference period, ongoing medications; in XPT, Dataset-JSON (schema-valid), define.json
and the CSV frames; date shifting moves the taper's dates with the rest."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pytest
from sqlalchemy import Engine
from tests.support.paths import STANDARDS
from tests.support.trial import trial_of

from remit import services as sv
from remit.interop import DateShift, export_trial
from remit.interop.sdtm.medications import split_dose
from remit.protocol import load_protocol

SCHEMA = json.loads((STANDARDS / "dataset-json-1.1.schema.json").read_text())
STUDY = load_protocol("oslo-mdma-mdd").study.id


def _rows(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text())
    assert list(jsonschema.Draft201909Validator(SCHEMA).iter_errors(doc)) == []
    names = [c["name"] for c in doc["columns"]]
    return [dict(zip(names, row, strict=True)) for row in doc["rows"]]


def _medications(engine: Engine) -> None:
    """OSL-001 (first dosed 2023-03-14): a tapered SSRI, an ongoing hypnotic, paracetamol
    during treatment, and an SNRI tapered to a zero step."""
    trial = trial_of(engine)
    inv = trial.investigator
    ssri = sv.record_conmed(engine, inv, "OSL-001", name="sertraline", atc_code="N06AB06",
                            dose="100 mg", route="oral", indication="depression",
                            start_date=date(2020, 5, 1))  # fmt: skip
    sv.edit_conmed(engine, inv, ssri.id, reason="taper agreed",
                   taper_steps=[("2023-02-10", "50 mg"), ("2023-02-17", "25 mg")])  # fmt: skip
    sv.stop_conmed(engine, inv, ssri.id, stop_date=date(2023, 2, 23))
    sv.record_conmed(engine, inv, "OSL-001", name="zopiclone", atc_code="N05CF01",
                     dose="3.75 mg", route="oral", indication="insomnia",
                     start_date=date(2022, 6, 1))  # fmt: skip
    sv.record_conmed(engine, inv, "OSL-001", name="paracetamol", atc_code="N02BE01",
                     dose="1 g as needed", route="oral", start_date=date(2023, 3, 15),
                     stop_date=date(2023, 3, 16))  # fmt: skip
    sv.record_conmed(engine, inv, "OSL-001", name="venlafaxine", atc_code="N06AX16",
                     dose="75 mg", start_date=date(2022, 1, 1), stop_date=date(2023, 2, 1),
                     taper_steps=[("2023-01-20", "37.5 mg"), ("2023-02-01", "0 mg")])  # fmt: skip


@pytest.mark.export_format("sdtm")
def test_cm_holds_each_medication_and_each_taper_period(
    trial_engine: Engine, tmp_path: Path
) -> None:
    _medications(trial_engine)
    result = export_trial(trial_engine, tmp_path, formats=("sdtm", "csv"))
    sdtm = result.out_dir / "sdtm"
    cm = _rows(sdtm / "cm.json")
    sv_rows = [r for r in _rows(sdtm / "sv.json") if r["USUBJID"] == f"{STUDY}-OSL-001"]
    last_visit = max(r["SVSTDTC"] for r in sv_rows)
    got = [
        (r["CMSEQ"], r["CMTRT"], r["CMSPID"], r["CMDOSE"], r["CMDOSTXT"], r["CMDOSU"],
         r["CMSTDTC"], r["CMENDTC"], r["CMSTRF"], r["CMENRF"], r["CMENRTPT"], r["CMENTPT"])
        for r in cm
    ]  # fmt: skip
    assert got == [
        (1, "sertraline", None, 100.0, None, "mg", "2020-05-01", "2023-02-09", "BEFORE",
         "BEFORE", None, None),
        (2, "sertraline", "TAPER STEP 1", 50.0, None, "mg", "2023-02-10", "2023-02-16",
         "BEFORE", "BEFORE", None, None),
        (3, "sertraline", "TAPER STEP 2", 25.0, None, "mg", "2023-02-17", "2023-02-23",
         "BEFORE", "BEFORE", None, None),
        # the zero step ends the venlafaxine: no record of its own
        (4, "venlafaxine", None, 75.0, None, "mg", "2022-01-01", "2023-01-19", "BEFORE",
         "BEFORE", None, None),
        (5, "venlafaxine", "TAPER STEP 1", 37.5, None, "mg", "2023-01-20", "2023-01-31",
         "BEFORE", "BEFORE", None, None),
        (6, "zopiclone", None, 3.75, None, "mg", "2022-06-01", None, "BEFORE", None,
         "ONGOING", last_visit),
        (7, "paracetamol", None, None, "1 g as needed", None, "2023-03-15", "2023-03-16",
         "DURING", "DURING", None, None),
    ]  # fmt: skip
    by_trt = {r["CMTRT"]: r for r in cm}
    assert {r["USUBJID"] for r in cm} == {f"{STUDY}-OSL-001"}
    # a taper's records share a group; an untapered medication has none
    assert {r["CMGRPID"] for r in cm if r["CMTRT"] == "sertraline"} == {
        by_trt["sertraline"]["CMGRPID"]
    }
    assert by_trt["zopiclone"]["CMGRPID"] is None
    assert by_trt["sertraline"]["CMCLASCD"] == "N06AB"
    assert by_trt["sertraline"]["CMCLAS"] == "SSRIs"  # the protocol's prohibited class
    assert by_trt["zopiclone"]["CMCLAS"] is None  # allowed: no class name without a dictionary
    assert by_trt["sertraline"]["CMROUTE"] == "ORAL"
    assert by_trt["sertraline"]["CMINDC"] == "depression"
    # study days from the first dose 2023-03-14 (day 1), no day 0
    assert by_trt["paracetamol"]["CMSTDY"] == 2
    assert [r["CMENDY"] for r in cm if r["CMTRT"] == "sertraline"][-1] == -19
    # the other formats and the metadata carry it too
    assert (sdtm / "cm.xpt").stat().st_size > 0
    define = json.loads((sdtm / "define.json").read_text())
    cm_meta = next(d for d in define["datasets"] if d["name"] == "CM")
    assert cm_meta["records"] == 7
    assert cm_meta["keys"] == ["STUDYID", "USUBJID", "CMSEQ"]
    frame = pd.read_csv(result.out_dir / "csv" / "conmeds.csv")
    assert sorted(frame["name"]) == ["paracetamol", "sertraline", "venlafaxine", "zopiclone"]
    steps = frame.loc[frame["name"] == "sertraline", "taper_steps"].iloc[0]
    assert json.loads(steps) == {"2023-02-10": "50 mg", "2023-02-17": "25 mg"}


@pytest.mark.export_format("sdtm")
def test_a_date_shift_moves_the_taper_dates_with_the_other_dates(
    trial_engine: Engine, tmp_path: Path
) -> None:
    _medications(trial_engine)
    plain = export_trial(trial_engine, tmp_path / "plain", formats=("sdtm",))
    shifted = export_trial(
        trial_engine,
        tmp_path / "shifted",
        formats=("sdtm",),
        date_shift=DateShift(days={"OSL-001": 10, "OSL-002": 3, "OSL-003": -5}),
    )
    before = _rows(plain.out_dir / "sdtm" / "cm.json")
    after = _rows(shifted.out_dir / "sdtm" / "cm.json")
    assert len(before) == len(after) == 7

    def moved(value: str | None) -> str | None:
        return (
            None if value is None else (date.fromisoformat(value) + timedelta(days=10)).isoformat()
        )

    for b, a in zip(before, after, strict=True):
        assert (a["CMSTDTC"], a["CMENDTC"]) == (moved(b["CMSTDTC"]), moved(b["CMENDTC"]))
        # intervals within the participant, and so study days, do not change
        assert (a["CMSTDY"], a["CMENDY"], a["CMSPID"]) == (b["CMSTDY"], b["CMENDY"], b["CMSPID"])


@pytest.mark.export_format("sdtm")
def test_a_trial_without_medications_has_an_empty_valid_cm(
    trial_engine: Engine, tmp_path: Path
) -> None:
    result = export_trial(trial_engine, tmp_path, formats=("sdtm",))
    assert _rows(result.out_dir / "sdtm" / "cm.json") == []


def test_a_dose_splits_into_amount_and_unit_only_when_it_is_both() -> None:
    assert split_dose("37.5 mg") == (37.5, "mg", None)
    assert split_dose("0,5 mg") == (0.5, "mg", None)
    assert split_dose("two tablets") == (None, None, "two tablets")
    assert split_dose("  ") == (None, None, None)


def test_the_conmeds_frame_reads_back_from_a_trial_data_bundle(
    trial_engine: Engine, tmp_path: Path
) -> None:
    from remit.analysis import TrialData

    _medications(trial_engine)
    data = sv.build_trial_data(trial_engine, actor=sv.Actor.system("tests"))
    assert len(data.conmeds) == 4
    sertraline = data.conmeds[data.conmeds["name"] == "sertraline"].iloc[0]
    assert sertraline["prohibited"] == "SSRIs"
    assert sertraline["taper_steps"] == {"2023-02-10": "50 mg", "2023-02-17": "25 mg"}
    back = TrialData.from_directory(data.to_directory(tmp_path / "bundle"))
    assert back.snapshot_sha256() == data.snapshot_sha256()
