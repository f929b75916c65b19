"""Serious adverse events make the ODM round trip: export, then import into a fresh database.

The import refused every serious AE: the ODM AE form carried ``SERIOUS`` but not the
seriousness criteria a serious event must name (``record_adverse_event`` refuses "serious AE
… without seriousness criteria"), and neither the time the site became aware of it (where
its reporting clock starts), the time it became serious, when it was reported, nor its
description. The form now carries them (ODM 1.3.2 valid, snapshot and transactional), and
the import records each event as it happened: a serious event with its criteria and
awareness time (its SAE alert due when the source's was); an event made serious later first
as the non-serious event it was, then upgraded from the time it became serious (a fatal one
with the outcome fatal and the date of death); a reported SAE marked reported at its time,
which closes its alert as in the source. The events, their SAE clocks and the SAE alerts
are the same on both sides (target database on SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree
from sqlalchemy import Engine
from tests.support.paths import STANDARDS
from tests.support.presets import ENTRY_ROLES
from tests.support.trial import build_trial

from remit import services as sv
from remit.errors import InputError
from remit.interop import export_trial
from remit.interop.odm_import import BECAME_SERIOUS_REASON, import_odm
from remit.services import Actor, build_trial_data

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
SYSTEM = Actor.system("tests")
DESCRIPTION = "admitted overnight for observation after suicidal ideation"


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def plant(engine: Engine) -> dict[str, int]:
    """Three serious events on the small trial: OSL-001's recorded serious and reported,
    OSL-002's made serious a day later and never reported (its alert open, overdue),
    OSL-003's made serious and fatal."""
    visits = build_trial_data(engine, actor=SYSTEM).visits
    v3 = visits[visits["visit_code"] == "SCR"].set_index("participant_id")["actual_date"]
    day = {pid: pd.Timestamp(v3[pid]).date() for pid in ("OSL-001", "OSL-002", "OSL-003")}
    first = sv.record_adverse_event(
        engine, SYSTEM, "OSL-001", term="suicidal ideation", onset_date=day["OSL-001"],
        severity="severe", relatedness="unlikely", serious=True,
        seriousness_criteria=["hospitalisation", "important_medical_event"],
        outcome="recovered", end_date=day["OSL-001"] + timedelta(days=3),
        awareness_at=_at(day["OSL-001"], 18), description=DESCRIPTION,
        action_taken="dose_not_changed",
    )  # fmt: skip
    sv.mark_sae_reported(engine, SYSTEM, first.id, reported_at=_at(day["OSL-001"], 22))
    second = sv.record_adverse_event(
        engine, SYSTEM, "OSL-002", term="hypertension", onset_date=day["OSL-002"],
        severity="moderate", relatedness="probable", outcome="not_recovered",
        awareness_at=_at(day["OSL-002"], 14),
    )  # fmt: skip
    sv.update_adverse_event(
        engine, SYSTEM, second.id,
        changes={"serious": True, "seriousness_criteria": ["hospitalisation"]},
        reason="admitted to hospital", became_serious_at=_at(day["OSL-002"] + timedelta(days=1), 9),
    )  # fmt: skip
    third = sv.record_adverse_event(
        engine, SYSTEM, "OSL-003", term="cardiac arrhythmia", onset_date=day["OSL-003"],
        severity="severe", relatedness="possible", outcome="not_recovered",
        awareness_at=_at(day["OSL-003"], 11),
    )  # fmt: skip
    sv.update_adverse_event(
        engine, SYSTEM, third.id,
        changes={"serious": True, "seriousness_criteria": ["death"], "outcome": "fatal",
                 "end_date": day["OSL-003"] + timedelta(days=2)},
        reason="died", became_serious_at=_at(day["OSL-003"] + timedelta(days=2), 7),
    )  # fmt: skip
    return {"OSL-001": first.id, "OSL-002": second.id, "OSL-003": third.id}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(STANDARDS / "odm-1.3.2" / "ODM1-3-2.xsd")))


def _events(engine: Engine) -> list[dict[str, object]]:
    """Every adverse event as the investigator reads it, without its record ids."""
    out = []
    for pid in ("OSL-001", "OSL-002", "OSL-003"):
        for ae in sv.list_adverse_events(engine, SYSTEM, pid):
            row = ae.to_dict()
            row.pop("id")
            row["alerts"] = [
                (a["rule_id"], a["level"], a["due_at"], a["status"], a["message"])
                for a in row["alerts"]
            ]
            out.append(row)
    return out


def _sae_alerts(engine: Engine) -> list[tuple[object, ...]]:
    return sorted(
        (a.participant_id, a.rule_id, a.level, a.due_at, a.status, a.closed_at)
        for a in sv.list_alerts(engine, SYSTEM)
        if a.rule_id == "sae"
    )


def test_serious_adverse_events_make_the_round_trip(
    trial_engine: Engine, engine: Engine, tmp_path: Path, schema: etree.XMLSchema
) -> None:
    plant(trial_engine)
    before = _events(trial_engine)
    assert sum(bool(e["serious"]) for e in before) == 3
    result = export_trial(trial_engine, tmp_path / "out", formats=("odm",))
    snapshot = result.out_dir / "odm" / "odm_snapshot.xml"
    for variant in ("snapshot", "transactional"):
        doc = etree.parse(str(result.out_dir / "odm" / f"odm_{variant}.xml"))
        assert schema.validate(doc), schema.error_log
        criteria = doc.xpath(
            "//odm:ItemData[@ItemOID='IT.AE.SERIOUSNESS_CRITERIA']/@Value", namespaces=NS
        )
        assert "hospitalisation;important_medical_event" in criteria, variant
        assert doc.xpath("//odm:ItemData[@ItemOID='IT.AE.BECAME_SERIOUS_AT']", namespaces=NS)
    trial = build_trial(engine, staff={"imp": [(role, "OST") for role in ENTRY_ROLES]})
    actors = {role: trial.actors[role] for role in ENTRY_ROLES}
    imported = import_odm(engine, snapshot, actors)
    assert imported.counts["adverse_events"] == len(before)
    after = _events(engine)
    assert after == before
    assert _sae_alerts(engine) == _sae_alerts(trial_engine)
    statuses = {a[0]: a[4] for a in _sae_alerts(engine)}
    assert statuses == {"OSL-001": "closed", "OSL-002": "open", "OSL-003": "open"}
    frame = build_trial_data(engine, actor=SYSTEM).adverse_events
    source = build_trial_data(trial_engine, actor=SYSTEM).adverse_events
    clock = ["participant_id", "term", "awareness_at", "report_due_at", "reported_at", "outcome"]
    assert frame[clock].astype(str).values.tolist() == source[clock].astype(str).values.tolist()
    # the upgrade is on the audit trail with its reason, by the importing user
    reasons = {e.reason for e in sv.audit_log(engine, table="adverse_event") if e.reason}
    assert BECAME_SERIOUS_REASON in reasons
    # importing the same file again changes nothing
    again = import_odm(engine, snapshot, actors)
    assert again.counts["adverse_events"] == 0
    assert _events(engine) == before


def test_a_file_without_the_criteria_is_refused_with_nothing_written(
    trial_engine: Engine, engine: Engine, tmp_path: Path
) -> None:
    """A file written before the AE form carried the criteria (here: the items taken out)
    holds serious events without them: refused, naming the subject and the reason, before
    anything is written."""
    plant(trial_engine)
    result = export_trial(trial_engine, tmp_path / "out", formats=("odm",))
    doc = etree.parse(str(result.out_dir / "odm" / "odm_snapshot.xml"))
    for node in doc.xpath("//odm:ItemData[@ItemOID='IT.AE.SERIOUSNESS_CRITERIA']", namespaces=NS):
        node.getparent().remove(node)
    old = tmp_path / "old.xml"
    doc.write(str(old))
    trial = build_trial(engine, staff={"imp": [(role, "OST") for role in ENTRY_ROLES]})
    actors = {role: trial.actors[role] for role in ENTRY_ROLES}
    with pytest.raises(InputError, match=r"OSL-001 does not fit.*without seriousness criteria"):
        import_odm(engine, old, actors)
    assert sv.list_participants(engine, SYSTEM) == []
