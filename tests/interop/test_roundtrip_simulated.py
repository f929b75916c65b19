"""Export → ``import_odm`` into a fresh database reproduces a simulated trial's clinical data
(every frame of :func:`remit.services.build_trial_data`), missed visit included. The trial is
the small simulated one shared by the suite (``simulated_missing_v13``, four enrolled, two
screen failures, a missed V13)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from lxml import etree
from tests.support.db import copy_database
from tests.support.paths import STANDARDS

from remit.interop import export_trial
from remit.interop.odm_import import import_odm
from remit.protocol import load_protocol
from remit.services import Actor, build_trial_data
from remit.simulate import create_demo_database
from remit.store import make_engine, verify_audit_chain

#: Sort keys that make two frames comparable whatever order the records were entered in.
ORDER = {
    "participants": ["participant_id"],
    "visits": ["participant_id", "visit_code"],
    "scores": ["participant_id", "assessed_at", "scale", "timepoint"],
    "doses": ["participant_id", "session_number", "kind"],
    "vitals": ["participant_id", "measured_at"],
    "adverse_events": ["participant_id", "onset_date", "term"],
    "alerts": ["participant_id", "rule_id", "level"],
    "deviations": ["participant_id", "occurred_date", "category", "description"],
    "conmeds": ["participant_id", "name", "start_date"],
    "results": ["participant_id", "collected_at", "test_code"],
    "checklists": ["participant_id", "completed_at"],
}


def _sorted(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if name == "alerts":
        # the import raises the alerts again, now; acknowledging and closing them is work done
        # in the source system, which ODM clinical data does not carry
        frame = frame.drop(columns=["raised_at", "status", "acknowledged_at", "closed_at"])
    if name == "conmeds":
        # the record's own id: the import records each participant's medications in turn,
        # the simulation recorded them as the participants came
        frame = frame.drop(columns=["conmed_id"])
    return frame.sort_values(ORDER[name], kind="mergesort").reset_index(drop=True)


def test_simulated_trial_round_trip(simulated_missing_v13: Path, tmp_path: Path) -> None:
    protocol = load_protocol("oslo-mdma-mdd")
    copy_database(simulated_missing_v13, tmp_path / "source.db")
    source = make_engine(tmp_path / "source.db", must_exist=True)
    before = build_trial_data(source, actor=Actor.system("tests"))
    assert "missed" in set(before.visits["window_status"])
    assert len(before.alerts) > 0
    # every simulated form carries its visit's clinical time, never the day the test ran
    assert (before.scores["assessed_at"].dt.year < 2025).all()
    assert len(before.conmeds) > 0
    # results and pre-dose checklists go before the doses they clear
    assert len(before.results) > 0
    assert set(before.checklists["visit_code"]) == set(before.doses["visit_code"])
    result = export_trial(source, tmp_path / "out", formats=("odm",))
    schema = etree.XMLSchema(etree.parse(str(STANDARDS / "odm-1.3.2" / "ODM1-3-2.xsd")))
    for f in result.files["odm"]:
        assert schema.validate(etree.parse(str(result.out_dir / f))), schema.error_log
    target = create_demo_database(tmp_path / "target.db", protocol)
    imported = import_odm(target.engine, result.out_dir / "odm" / "odm_snapshot.xml", target.staff)
    assert set(imported.subjects) == set(before.participants["participant_id"])
    after = build_trial_data(target.engine, actor=Actor.system("tests"))
    # the medications (taper steps included) and both kinds of deviation are compared too:
    # logged ones come from the file, Remit's own are made again by the services, never twice
    assert set(before.deviations["category"]) & {"informed_consent", "procedure"}
    for name, frame in before.frames().items():
        pd.testing.assert_frame_equal(
            _sorted(frame, name), _sorted(after.frames()[name], name), check_dtype=False, obj=name
        )
    assert set(after.alerts["status"]) == {"open"}
    assert after.simulated
    assert verify_audit_chain(target.engine).ok
    source.dispose()
    target.engine.dispose()
