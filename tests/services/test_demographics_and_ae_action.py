"""Race and ethnicity are taken at registration only when the protocol collects them (CDISC
terms, audited; refused otherwise with nothing stored) and reach SDTM DM and ADaM ADSL; the
action taken with the study treatment is recorded and changed on an adverse event with the
ACN words and reaches AE.AEACN with its end date (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine
from tests.support.trial import OsloTrial, Participant, add_participant, build_trial

from remit import services as sv
from remit.errors import InputError
from remit.interop.adam import build_adam
from remit.interop.ct import check_terminology, terminology
from remit.interop.define_xml import DefineStudy, define_xml
from remit.interop.sdtm import build_sdtm
from remit.interop.sdtm.events import AE_ACTIONS
from remit.protocol import load_protocol
from remit.protocol.adverse_event import ActionTaken
from remit.protocol.demographics import Ethnicity, Race

NS = {"o": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}


@pytest.fixture
def rct(engine: Engine, fast_password_hashing: None) -> OsloTrial:
    return build_trial(engine, protocol=load_protocol("mdma-mdd-rct-example"), sites=None)


@pytest.fixture
def oslo(engine: Engine, fast_password_hashing: None) -> OsloTrial:
    return build_trial(engine)


def _count(trial: OsloTrial) -> int:
    return len(sv.list_participants(trial.engine, trial.investigator))


def test_the_vocabularies_are_the_cdisc_codelists() -> None:
    ct = terminology()
    assert {r.value for r in Race} <= ct["RACE"].values
    assert {e.value for e in Ethnicity} <= ct["ETHNIC"].values
    assert set(AE_ACTIONS) == {a.value for a in ActionTaken}
    assert set(AE_ACTIONS.values()) == ct["ACN"].values
    assert not ct["ACN"].extensible
    assert not ct["RACE"].extensible


def test_race_and_ethnicity_are_taken_when_the_protocol_collects_them(rct: OsloTrial) -> None:
    inv = rct.investigator
    person = sv.screen_participant(
        rct.engine, inv, site="OST", sex="female", birth_year=1980, race="white",
        ethnicity="Not Hispanic or Latino",
    )  # fmt: skip
    assert (person.race, person.ethnicity) == ("WHITE", "NOT HISPANIC OR LATINO")
    history = sv.audit_history(rct.engine, inv, "participant", person.id)
    assert [e.new_value for e in history if e.field == "race"] == ["WHITE"], history
    before = _count(rct)
    with pytest.raises(InputError, match="race 'CAUCASIAN' is unknown") as refused:
        sv.screen_participant(rct.engine, inv, site="OST", race="Caucasian")
    assert "NOT REPORTED" in str(refused.value.expected)
    assert _count(rct) == before
    declined = sv.screen_participant(rct.engine, inv, site="OST", race="not reported")
    assert (declined.race, declined.ethnicity) == ("NOT REPORTED", None)

    data = sv.build_trial_data(rct.engine, actor=sv.Actor.system("test"))
    protocol = sv.trial_protocol(rct.engine)
    dm = build_sdtm(data, protocol)["DM"]
    by_subject = dm.frame.set_index("SUBJID")
    assert by_subject.loc[person.participant_id, "RACE"] == "WHITE"
    assert by_subject.loc[person.participant_id, "ETHNIC"] == "NOT HISPANIC OR LATINO"
    assert by_subject.loc[declined.participant_id, "RACE"] == "NOT REPORTED"
    assert {v.name: v.comment for v in dm.variables}["RACE"] == ""
    adsl = build_adam(data, protocol)["ADSL"].frame.set_index("SUBJID")
    assert adsl.loc[person.participant_id, "RACE"] == "WHITE"
    check_terminology([dm])


def test_a_protocol_that_does_not_collect_race_refuses_it_and_says_so(oslo: OsloTrial) -> None:
    before = _count(oslo)
    with pytest.raises(InputError, match="does not collect race"):
        sv.screen_participant(oslo.engine, oslo.investigator, race="WHITE")
    with pytest.raises(InputError, match="does not collect ethnicity"):
        sv.screen_participant(oslo.engine, oslo.investigator, ethnicity="UNKNOWN")
    assert _count(oslo) == before
    add_participant(oslo, Participant(through="V0"))
    data = sv.build_trial_data(oslo.engine, actor=sv.Actor.system("test"))
    sdtm = build_sdtm(data, sv.trial_protocol(oslo.engine))
    assert sdtm["DM"].frame["RACE"].isna().all()
    assert sdtm["DM"].frame["ETHNIC"].isna().all()
    doc = etree.fromstring(
        define_xml(
            {"DM": sdtm["DM"]}, "SDTM", DefineStudy("S", "T", "1", datetime(2024, 1, 1, tzinfo=UTC))
        )
    )
    item = doc.find(".//o:ItemDef[@OID='IT.DM.RACE']", NS)
    assert item is not None
    oid = item.get("{http://www.cdisc.org/ns/def/v2.1}CommentOID")
    comment = doc.find(f".//def:CommentDef[@OID='{oid}']", NS)
    assert comment is not None
    assert "Not collected" in "".join(comment.itertext())


def test_action_taken_is_recorded_changed_and_exported(oslo: OsloTrial, tmp_path: Path) -> None:
    pid = add_participant(oslo, Participant(through="V5", dosing=True))
    day = date(2023, 3, 20)
    with pytest.raises(InputError, match="action taken with the treatment 'stopped'"):
        sv.record_adverse_event(
            oslo.engine, oslo.therapist, pid, term="nausea", onset_date=day,
            severity="mild", relatedness="possible", action_taken="stopped",
        )  # fmt: skip
    assert sv.list_adverse_events(oslo.engine, oslo.investigator, pid) == []
    ae = sv.record_adverse_event(
        oslo.engine, oslo.therapist, pid, term="nausea", onset_date=day, severity="mild",
        relatedness="possible", action_taken="drug_interrupted",
    )  # fmt: skip
    assert ae.action_taken == "drug_interrupted"
    changed = sv.update_adverse_event(
        oslo.engine, oslo.investigator, ae.id,
        changes={"action_taken": "drug_withdrawn", "outcome": "recovered", "end_date": day},
        reason="source document: treatment stopped",
    )  # fmt: skip
    assert (changed.action_taken, changed.end_date) == ("drug_withdrawn", day)
    with pytest.raises(InputError, match="unknown"):
        sv.update_adverse_event(
            oslo.engine, oslo.investigator, ae.id, changes={"action_taken": "DRUG WITHDRAWN"},
            reason="typo",
        )  # fmt: skip
    history = sv.audit_history(oslo.engine, oslo.investigator, "adverse_event", ae.id)
    assert any(e.field == "action_taken" and e.new_value == "drug_withdrawn" for e in history), (
        history
    )
    data = sv.build_trial_data(oslo.engine, actor=sv.Actor.system("test"))
    ae_ds = build_sdtm(data, sv.trial_protocol(oslo.engine))["AE"]
    row = ae_ds.frame[ae_ds.frame["AETERM"] == "nausea"].iloc[0]
    assert (row.AEACN, row.AEOUT, row.AEENDTC) == (
        "DRUG WITHDRAWN",
        "RECOVERED/RESOLVED",
        "2023-03-20",
    )
    assert row.EPOCH == "TREATMENT"
    doc = etree.fromstring(
        define_xml(
            {"AE": ae_ds}, "SDTM", DefineStudy("S", "T", "1", datetime(2024, 1, 1, tzinfo=UTC))
        )
    )
    ref = doc.find(".//o:ItemDef[@OID='IT.AE.AEACN']/o:CodeListRef", NS)
    assert ref is not None
    assert ref.get("CodeListOID") == "CL.ACN"
    codelist = doc.find(".//o:CodeList[@OID='CL.ACN']", NS)
    assert codelist is not None
    assert codelist.find("o:Alias", NS).get("Name") == "C66767"


def test_dm_arm_reasons_reference_dates_and_death(oslo: OsloTrial) -> None:
    treated = add_participant(oslo, Participant(through="V5", dosing=True))
    waiting = add_participant(oslo, Participant(through="V4"))
    screening = sv.screen_participant(oslo.engine, oslo.investigator).participant_id
    day = date(2023, 4, 2)
    sv.record_adverse_event(
        oslo.engine, oslo.investigator, treated, term="cardiac arrest", onset_date=day,
        end_date=day, severity="severe", relatedness="possible", serious=True,
        seriousness_criteria=["death"], outcome="fatal", action_taken="not_applicable",
    )  # fmt: skip
    data = sv.build_trial_data(oslo.engine, actor=sv.Actor.system("test"))
    dm = build_sdtm(data, sv.trial_protocol(oslo.engine))["DM"].frame.set_index("SUBJID")
    dosed = dm.loc[treated]
    assert (dosed.ARMCD, dosed.ACTARMCD, dosed.ARMNRS) == ("MDMA", "MDMA", None)
    assert (dosed.DTHFL, dosed.DTHDTC) == ("Y", "2023-04-02")
    assert dosed.RFSTDTC is not None
    assert dosed.RFPENDTC >= dosed.RFENDTC
    assigned = dm.loc[waiting]
    assert (assigned.ARMCD, assigned.ACTARMCD, assigned.ARMNRS) == (
        "MDMA",
        None,
        "ASSIGNED, NOT TREATED",
    )
    assert [assigned[v] for v in ("RFSTDTC", "RFENDTC", "RFXSTDTC", "RFXENDTC")] == [None] * 4
    assert assigned.RFPENDTC is not None
    assert (assigned.DTHFL, assigned.DTHDTC) == (None, None)
    unassigned = dm.loc[screening]
    assert (unassigned.ARMCD, unassigned.ACTARMCD, unassigned.ARMNRS) == (
        None,
        None,
        "NOT ASSIGNED",
    )
