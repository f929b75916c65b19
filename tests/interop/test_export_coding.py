"""Coded terms in SDTM: a MedDRA-coded AE carries its LLT, PT (AEDECOD), HLT, HLGT and primary
SOC (AEBODSYS) with codes; an uncoded AE keeps its verbatim with AEDECOD empty; a WHODrug-coded
medication has CMDECOD (the preferred name) and CMCLAS/CMCLASCD (its ATC class). The
dictionaries are tiny made-up test data, not MedDRA or WHODrug content."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.support import coding_dictionaries as cd
from tests.support.trial import trial_of

from remit import services as sv
from remit.interop import export_trial
from remit.services import coding


def _rows(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text())
    names = [c["name"] for c in doc["columns"]]
    return [dict(zip(names, row, strict=True)) for row in doc["rows"]]


@pytest.mark.export_format("sdtm")
def test_coded_terms_flow_to_ae_and_cm(trial_engine: Engine, tmp_path: Path) -> None:
    trial = trial_of(trial_engine)
    e, dm, inv = trial_engine, trial.data_manager, trial.investigator
    coding.load_meddra(e, dm, cd.meddra_files(tmp_path / "meddra"))
    coding.load_whodrug(e, dm, cd.whodrug_files(tmp_path / "whodrug"), version="TEST B3")
    for term in ("Head pain", "sore elbow"):
        sv.record_adverse_event(e, inv, "OSL-001", term=term, onset_date=date(2023, 3, 15),
                                severity="mild", relatedness="possible")  # fmt: skip
    sv.record_conmed(e, inv, "OSL-001", name="Calmatest", atc_code="N06AB06",
                     start_date=date(2020, 1, 1))  # fmt: skip
    sv.record_conmed(e, inv, "OSL-001", name="zopiclone", atc_code="N05CF01",
                     start_date=date(2020, 1, 1))  # fmt: skip
    coding.autocode(e, dm)  # the simulated trial's own AEs: none are in the tiny dictionary
    sdtm = export_trial(e, tmp_path / "out", formats=("sdtm",)).out_dir / "sdtm"
    ae = {r["AETERM"]: r for r in _rows(sdtm / "ae.json")}
    coded = ae["Head pain"]
    assert (coded["AELLT"], coded["AELLTCD"], coded["AEDECOD"], coded["AEPTCD"]) == (
        "Head pain", cd.LLT_HEAD_PAIN, "Headache", cd.PT_HEADACHE,
    )  # fmt: skip
    assert (coded["AEHLT"], coded["AEHLTCD"], coded["AEHLGT"], coded["AEHLGTCD"]) == (
        "Headaches NEC", cd.HLT_HEAD, "Headaches", cd.HLGT_HEAD,
    )  # fmt: skip
    assert (coded["AEBODSYS"], coded["AEBDSYCD"], coded["AESOC"], coded["AESOCCD"]) == (
        "Nervous system disorders", cd.SOC_NERV, "Nervous system disorders", cd.SOC_NERV,
    )  # fmt: skip
    uncoded = ae["sore elbow"]
    assert uncoded["AEDECOD"] is None
    assert uncoded["AEBODSYS"] is None
    assert all(r["AEDECOD"] != r["AETERM"].upper() for r in ae.values() if r["AEDECOD"])
    cm = {r["CMTRT"]: r for r in _rows(sdtm / "cm.json")}
    assert (cm["Calmatest"]["CMDECOD"], cm["Calmatest"]["CMCLAS"], cm["Calmatest"]["CMCLASCD"]) == (
        "TESTOXETINE", "Selective serotonin reuptake inhibitors (test)", "N06AB",
    )  # fmt: skip
    # uncoded: no CMDECOD; the class recorded with it and the protocol's prohibited class
    assert cm["zopiclone"]["CMDECOD"] is None
    assert cm["zopiclone"]["CMCLASCD"] == "N05CF"
