"""SDTM DV: the automatic and the logged deviations of participants, one row each, coded by
category, with severity in DVCAT and the linked visit; study-wide ones are not in DV."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import Engine
from tests.support.paths import STANDARDS
from tests.support.trial import enrolled, trial_of, visit_date

from remit import services as sv
from remit.interop import export_trial
from remit.interop.sdtm.events import DEVIATION_SEVERITY_TERMS, DEVIATION_TERMS
from remit.protocol import load_protocol
from remit.protocol.deviation import CATEGORY_LABELS, DeviationSeverity

SCHEMA = json.loads((STANDARDS / "dataset-json-1.1.schema.json").read_text())


def test_every_category_and_severity_has_its_term() -> None:
    assert set(DEVIATION_TERMS) == set(CATEGORY_LABELS)
    assert tuple(DEVIATION_SEVERITY_TERMS) == tuple(DeviationSeverity)


@pytest.mark.export_format("sdtm")
def test_dv_holds_automatic_and_logged_deviations(trial_engine: Engine, tmp_path: Path) -> None:
    trial = trial_of(trial_engine)
    late_pid = enrolled(trial, "V0")
    late = visit_date(trial, late_pid, "V1") + timedelta(days=20)
    sv.record_visit(
        trial_engine, trial.investigator, late_pid, "V1", late, window_reason="participant ill"
    )
    sv.record_deviation(
        trial_engine,
        trial.data_manager,
        "OSL-001",
        category="excluded_medication",
        description="took sertraline 50 mg during the washout",
        severity="major",
        occurred_date=date(2023, 3, 10),
        visit_code="V4",
    )
    sv.record_deviation(
        trial_engine,
        trial.data_manager,
        None,
        category="other",
        description="monitoring visit postponed",
        occurred_date=date(2023, 3, 1),
    )

    result = export_trial(trial_engine, tmp_path, formats=("sdtm",))
    doc = json.loads((result.out_dir / "sdtm" / "dv.json").read_text())
    assert list(jsonschema.Draft201909Validator(SCHEMA).iter_errors(doc)) == []
    names = [c["name"] for c in doc["columns"]]
    rows = [dict(zip(names, row, strict=True)) for row in doc["rows"]]
    protocol = load_protocol("oslo-mdma-mdd")
    study = protocol.study.id
    assert [
        (r["USUBJID"], r["DVSEQ"], r["DVDECOD"], r["DVCAT"], r["VISITNUM"], r["DVSTDTC"])
        for r in rows
    ] == [
        (f"{study}-OSL-001", 1, "EXCLUDED CONCOMITANT MEDICATION", "MAJOR",
         protocol.visit_number("V4"), "2023-03-10"),
        (f"{study}-{late_pid}", 1, "VISIT OUT OF WINDOW", "MINOR",
         protocol.visit_number("V1"), late.isoformat()),
    ]  # fmt: skip
    assert rows[0]["DVTERM"] == "took sertraline 50 mg during the washout"
    assert rows[0]["EPOCH"] == "TREATMENT"
    assert rows[0]["VISIT"] == protocol.visit("V4").label.upper()
    # OSL-001 was first dosed on 2023-03-14: four days before is study day -4
    assert rows[0]["DVSTDY"] == -4
    assert rows[1]["DVTERM"].startswith("visit V1 ")
    assert (result.out_dir / "sdtm" / "dv.xpt").exists()
