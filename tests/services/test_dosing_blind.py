"""The independent rater blind to dosing reads no dosing session at the service level.

A dosing session's free text quotes MDMA's effects: the session's notes ("bruxism"), the
discharge sign-off's note ("vomited"), the follow-up call's note, a withheld dose's reason,
the pre-dose checklist's items. The dosing-day page refused them to the rater, but
:func:`remit.services.list_dosing_sessions` returned the notes to any caller (the CLI, a
script), and the audit histories of the session and its doses, the checklist and the queries
on a session showed them too. On the RCT example (``rater_sees_dosing`` and
``rater_sees_safety`` false) every one of those reads is now refused to the rater with the
refusal on the audit trail (``read_refused``) or, for the list of queries, leaves the record
out; the investigator reads every planted word as before (SQLite and PostgreSQL).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.support.forms import NORMAL_VITALS, at, fill
from tests.support.predose import ready_for_dose
from tests.support.trial import (
    RCT_STAFF,
    OsloTrial,
    Participant,
    add_participant,
    build_trial,
    visit_date,
)

from remit import services as sv
from remit.errors import PermissionDeniedError
from remit.protocol import load_protocol

SESSION_NOTE = "bruxism all afternoon, jaw clenching"
DISCHARGE_NOTE = "vomited twice, BP 150/95 at discharge"
CALL_NOTE = "insomnia overnight, bruxism persists"
WITHHELD = "nausea: vomited after the initial dose"
QUERY = "the notes say bruxism: is an adverse event recorded?"
PLANTED = re.compile(r"(?i)bruxism|vomited|jaw clenching|insomnia|nausea|150/95")


@dataclass(frozen=True)
class Planted:
    trial: OsloTrial
    pid: str
    session_id: int
    dose_ids: tuple[int, ...]
    query_id: int
    checklist_id: int
    vas_id: int


def plant(trial: OsloTrial) -> Planted:
    """One randomised participant's dosing day V5 with the planted notes, and a monitor's
    query on the session quoting them."""
    engine, inv, the = trial.engine, trial.investigator, trial.therapist
    pid = add_participant(trial, Participant(through="V4", site="OST", confirm=True))
    day = visit_date(trial, pid, "V5")
    sv.start_dosing_session(engine, inv, pid, "V5", started_at=at(day, 8, 30))
    dose0 = at(day, 9)
    sv.record_vitals(
        engine, the, pid, "V5", measured_at=dose0 - timedelta(minutes=15), values=NORMAL_VITALS
    )
    checklist = ready_for_dose(
        engine, trial.protocol, inv, the, pid, "V5", dose0 - timedelta(minutes=5)
    )
    assert checklist.completion_id is not None
    planned = trial.protocol.dosing_session("V5")
    assert planned is not None
    initial = sv.record_dose(
        engine, inv, pid, "V5", kind="initial", dose_mg=planned.initial_mg, given_at=dose0
    )
    vas = sv.record_vas(
        engine, the, pid, "V5", "initial_dose", fill("se_vas", level=10), assessed_at=dose0
    )
    withheld = sv.record_dose(
        engine, inv, pid, "V5", kind="supplemental", dose_mg=planned.supplemental_mg,
        status="withheld", withheld_reason=WITHHELD,
    )  # fmt: skip
    end = dose0 + timedelta(hours=8)
    sv.record_vitals(
        engine, the, pid, "V5", measured_at=end - timedelta(minutes=10), values=NORMAL_VITALS
    )
    sv.sign_off_discharge(
        engine, inv, pid, "V5", signed_at=end - timedelta(minutes=5), note=DISCHARGE_NOTE
    )
    ended = sv.end_dosing_session(engine, inv, pid, "V5", ended_at=end, notes=SESSION_NOTE)
    sv.record_follow_up_call(
        engine, the, pid, "V5", status="done", called_at=end + timedelta(hours=16), note=CALL_NOTE
    )
    query = sv.open_query(
        engine, trial.actors["monitor"], "dosing_session", ended.id, field="notes", text=QUERY
    )
    return Planted(
        trial, pid, ended.id, (initial.id, withheld.id), query.id, checklist.completion_id, vas.id
    )


@pytest.fixture
def planted(engine: Engine, tmp_path: Path, fast_password_hashing: None) -> Planted:
    key = sv.new_allocation_key_file(tmp_path / "allocation.key")
    trial = build_trial(
        sv.with_allocation_key(engine, key),
        protocol=load_protocol("mdma-mdd-rct-example"),
        sites=None,
        staff=RCT_STAFF,
    )
    sv.generate_list(trial.engine, trial.actors["unblinded_statistician"], n_per_stratum=4, seed=5)
    return plant(trial)


def _reads(s: Planted, actor: sv.Actor) -> dict[str, Callable[[], object]]:
    """Every read of the planted dosing day a caller of the services may make."""
    engine, pid = s.trial.engine, s.pid
    day = visit_date(s.trial, pid, "V5")
    reads: dict[str, Callable[[], object]] = {
        "list_dosing_sessions": lambda: sv.list_dosing_sessions(engine, actor, pid),
        "dosing_day": lambda: sv.dosing_day(engine, actor, pid, "V5"),
        "checklist_status": lambda: sv.checklist_status(
            engine, actor, pid, "V5", at=at(day, 8, 55)
        ),
        "audit dosing_session": lambda: sv.audit_history(
            engine, actor, "dosing_session", s.session_id
        ),
        "audit dosing_checklist": lambda: sv.audit_history(
            engine, actor, "dosing_checklist", s.checklist_id
        ),
    }
    for dose_id in s.dose_ids:
        reads[f"audit dose {dose_id}"] = lambda d=dose_id: sv.audit_history(  # type: ignore[misc]
            engine, actor, "dose", d
        )
    return reads


def test_the_rater_reads_no_dosing_notes_and_each_refusal_is_audited(planted: Planted) -> None:
    rita = planted.trial.rater
    engine = planted.trial.engine
    said: dict[str, str] = {}
    for name, read in _reads(planted, rita).items():
        with pytest.raises(PermissionDeniedError) as refused:
            read()
        said[name] = str(refused.value)
    hits = {name: text for name, text in said.items() if PLANTED.search(text)}
    assert hits == {}
    for name in ("list_dosing_sessions", "dosing_day", "checklist_status"):
        assert "may not see dosing data" in said[name], (name, said[name])
    assert "hidden: the protocol blinds raters to dosing sessions" in said["audit dosing_session"]
    # the queries on the session are left out of the rater's list, and cannot be answered
    assert planted.query_id not in {q.id for q in sv.list_queries(engine, rita)}
    with pytest.raises(PermissionDeniedError, match="blinds raters to dosing sessions"):
        sv.answer_query(engine, rita, planted.query_id, "no idea")
    refused = {
        (e.table_name, e.record_id)
        for e in sv.audit_log(engine)
        if e.action == "read_refused" and e.username == rita.username
    }
    assert refused >= {
        ("dosing_session", 0),
        ("dosing_checklist", 0),
        ("dosing_session", planted.session_id),
        ("dosing_checklist", planted.checklist_id),
        *(("dose", d) for d in planted.dose_ids),
    }


def test_the_investigator_still_reads_every_planted_note(planted: Planted) -> None:
    kari = planted.trial.investigator
    (found,) = sv.list_dosing_sessions(planted.trial.engine, kari, planted.pid)
    assert (found.notes, found.discharge_note, found.follow_up_note) == (
        SESSION_NOTE,
        DISCHARGE_NOTE,
        CALL_NOTE,
    )
    shown = {name: repr(read()) for name, read in _reads(planted, kari).items()}
    for words in (SESSION_NOTE, DISCHARGE_NOTE, CALL_NOTE):
        assert words in shown["audit dosing_session"], words
    assert WITHHELD in shown["dosing_day"]
    assert WITHHELD in shown[f"audit dose {planted.dose_ids[1]}"]
    assert "urine_drug_screen" in shown["checklist_status"]
    assert planted.query_id in {q.id for q in sv.list_queries(planted.trial.engine, kari)}


def test_an_open_label_rater_reads_the_dosing_sessions(
    engine: Engine, fast_password_hashing: None
) -> None:
    """The Oslo protocol has no [blinding]: nothing changes for its rater."""
    trial = build_trial(engine)
    pid = add_participant(trial, Participant(through="V5", dosing=True, site="OST"))
    rater_read = sv.list_dosing_sessions(engine, trial.rater, pid)
    assert rater_read == sv.list_dosing_sessions(engine, trial.investigator, pid)
    assert len(rater_read) == 1


def test_the_rater_is_refused_the_checklist_on_the_command_line(tmp_path: Path) -> None:
    """``remit dose checklist`` (its only read of a dosing day) as the rater: a one-line
    refusal; the investigator reads the checklist."""
    from tests.web.test_rater_blind import rct_trial
    from typer.testing import CliRunner

    from remit.cli.app import app as cli

    trial = rct_trial(tmp_path)
    pid = sv.list_allocations(trial.engine, trial.actors["unblinded_statistician"])[-1]
    when = at(visit_date(trial, pid.participant_id, "V5"), 8, 55).isoformat()
    command = ["dose", "checklist", "--participant", pid.participant_id, "--visit", "V5"]
    command += ["--at", when, "--db", str(tmp_path / "rct.db")]
    refused = CliRunner().invoke(cli, [*command, "--user", "rita"])
    assert refused.exit_code != 0
    assert "may not see dosing data" in refused.output
    assert "urine_drug_screen" not in refused.output
    read = CliRunner().invoke(cli, [*command, "--user", "kari"])
    assert read.exit_code == 0, read.output
    assert "urine_drug_screen" in read.output


def test_a_blinded_role_reads_no_dose_in_mg_in_its_audit_history(planted: Planted) -> None:
    """The RCT's investigators are blind to the arm: a dose's audit history shows its mg as
    ``BLINDED`` (a placebo kit's 0 mg would name the arm), as the dose records do; the
    unblinded statistician reads the mg."""
    engine, (initial, _) = planted.trial.engine, planted.dose_ids
    kari, una = planted.trial.investigator, planted.trial.actors["unblinded_statistician"]

    def mg(actor: sv.Actor) -> list[object]:
        return [
            e.new_value
            for e in sv.audit_history(engine, actor, "dose", initial)
            if e.field == "dose_mg" or e.field is None
        ]

    planned = planted.trial.protocol.dosing_session("V5")
    assert planned is not None
    assert mg(una) == [float(planned.initial_mg)]
    assert mg(kari) == [sv.BLINDED]


def test_a_blinded_protocols_dose_deviation_names_the_kit_not_the_mg(planted: Planted) -> None:
    """A dose taking the session total above the cap, given on an investigator's override: in
    a blinded protocol the deviation (read by the blinded investigators on the dosing day and
    in the deviation lists) names the kit, not the dose or the total in mg."""
    trial = planted.trial
    pid = add_participant(trial, Participant(through="V4", site="OST", confirm=True))
    kit = sv.get_participant(trial.engine, trial.investigator, pid).kit
    dose_id, description = _over_the_cap(trial, pid)
    assert description.startswith(f"dose {dose_id}: kit {kit}, supplemental dose given")
    assert "above the cap of 180 mg" in description
    assert re.search(r"\b(120|200)(\.0)? ?mg", description) is None, description


def _amended(trial: OsloTrial, old: str, new: str) -> None:
    """Store an amendment of the trial's protocol replacing ``old`` by ``new`` (in force for
    the next read)."""
    from sqlalchemy import select

    from remit.store import store_protocol_version, unit_of_work
    from remit.store.tables import Study

    text = trial.protocol.text
    assert text.count(old) == 1, old
    with unit_of_work(trial.engine, sv.Actor.system()) as uow:
        study = uow.session.scalars(select(Study)).one()
        store_protocol_version(
            uow, study, name=trial.protocol.study.id, version="amended", text=text.replace(old, new)
        )


def test_a_rater_seeing_safety_but_blind_to_dosing_is_refused_the_dosing_histories(
    planted: Planted,
) -> None:
    """``rater_sees_safety = true`` with ``rater_sees_dosing = false``: the safety blind is
    off, yet the audit histories of the dosing session, its doses and the pre-dose checklist
    (notes, withheld reasons, the dose in mg) are refused to the rater, each refusal audited;
    the investigator reads them as before."""
    _amended(planted.trial, "rater_sees_safety = false", "rater_sees_safety = true")
    engine, rita, kari = planted.trial.engine, planted.trial.rater, planted.trial.investigator
    histories = {
        name: read for name, read in _reads(planted, rita).items() if name.startswith("audit")
    }
    assert len(histories) == 4
    for name, read in histories.items():
        with pytest.raises(PermissionDeniedError, match="may not see dosing data") as refused:
            read()
        assert PLANTED.search(str(refused.value)) is None, name
    refused_rows = {
        (e.table_name, e.record_id, e.reason)
        for e in sv.audit_log(engine)
        if e.action == "read_refused" and e.username == rita.username
    }
    why = "the protocol's [blinding] keeps the independent rater blind to dosing"
    assert refused_rows == {
        ("dosing_session", planted.session_id, why),
        ("dosing_checklist", planted.checklist_id, why),
        *(("dose", d, why) for d in planted.dose_ids),
    }
    shown = repr(sv.audit_history(engine, kari, "dosing_session", planted.session_id))
    assert SESSION_NOTE in shown


def test_a_rater_seeing_safety_but_blind_to_dosing_gets_no_query_on_the_dosing_day(
    planted: Planted,
) -> None:
    """``rater_sees_safety = true`` with ``rater_sees_dosing = false``: the monitor's query on
    the dosing session (its text quotes the session's notes) is left out of the rater's list
    and answering it is refused, the refusal audited, nothing stored; the investigator reads
    and answers it."""
    _amended(planted.trial, "rater_sees_safety = false", "rater_sees_safety = true")
    engine, rita, kari = planted.trial.engine, planted.trial.rater, planted.trial.investigator
    assert planted.query_id not in {q.id for q in sv.list_queries(engine, rita)}
    assert PLANTED.search(repr(sv.list_queries(engine, rita))) is None
    with pytest.raises(PermissionDeniedError, match="may not see dosing data") as refused:
        sv.answer_query(engine, rita, planted.query_id, "no AE recorded")
    assert PLANTED.search(str(refused.value)) is None
    refusals = [
        (e.table_name, e.record_id, e.participant_id is not None)
        for e in sv.audit_log(engine)
        if e.action == "read_refused" and e.username == rita.username
    ]
    assert refusals == [("dosing_session", planted.session_id, True)]
    (theirs,) = [q for q in sv.list_queries(engine, kari) if q.id == planted.query_id]
    assert theirs.text == QUERY
    assert theirs.status == "open"  # nothing of the refused answer stored
    answered = sv.answer_query(engine, kari, planted.query_id, "AE 'bruxism' recorded")
    assert answered.status == "answered"


def test_the_rater_blind_to_dosing_does_not_learn_of_the_session_vas(planted: Planted) -> None:
    """The subjective-effects VAS is rated during the dosing session: the rater blind to
    dosing does not see that it exists (left out of their list of forms; the form itself and
    its audit history refused, each refusal audited); their other forms are listed, and the
    investigator reads the VAS as before."""
    engine, pid = planted.trial.engine, planted.pid
    rita, kari = planted.trial.rater, planted.trial.investigator
    theirs = sv.list_assessments(engine, rita, pid)
    assert theirs, "the rater still sees the participant's other forms"
    assert planted.vas_id not in {a.id for a in theirs}
    assert "se_vas" not in {a.scale for a in theirs}
    assert sv.list_assessments(engine, rita, pid, visit_code="V5") == [
        a for a in theirs if a.visit_code == "V5"
    ]
    with pytest.raises(PermissionDeniedError, match="may not see dosing data"):
        sv.get_assessment(engine, rita, planted.vas_id)
    with pytest.raises(PermissionDeniedError, match="may not see dosing data"):
        sv.audit_history(engine, rita, "assessment", planted.vas_id)
    refused = [
        e
        for e in sv.audit_log(engine)
        if e.action == "read_refused"
        and e.username == rita.username
        and (e.table_name, e.record_id) == ("assessment", planted.vas_id)
    ]
    assert len(refused) == 2
    shown = {a.id: a for a in sv.list_assessments(engine, kari, pid)}
    assert shown[planted.vas_id].timepoint == "initial_dose"
    assert {a.id for a in theirs} == set(shown) - {planted.vas_id}
    assert sv.get_assessment(engine, kari, planted.vas_id).scale == "se_vas"
    assert sv.audit_history(engine, kari, "assessment", planted.vas_id)


def _over_the_cap(trial: OsloTrial, pid: str) -> tuple[int, str]:
    """The V5 of ``pid`` as the blinded investigator enters it from the kit's label: 80 mg,
    then 120 mg on an override (above the 180 mg cap); the dose id and the deviation's text."""
    engine, inv, the = trial.engine, trial.investigator, trial.therapist
    day = visit_date(trial, pid, "V5")
    sv.start_dosing_session(engine, inv, pid, "V5", started_at=at(day, 8, 30))
    dose0 = at(day, 9)
    ready_for_dose(engine, trial.protocol, inv, the, pid, "V5", dose0 - timedelta(minutes=5))
    why = "investigator's decision"
    sv.record_dose(
        engine, inv, pid, "V5", kind="initial", dose_mg=80, given_at=dose0, override_reason=why
    )
    sv.record_vitals(
        engine, the, pid, "V5", measured_at=dose0 + timedelta(minutes=105), values=NORMAL_VITALS
    )
    dose = sv.record_dose(
        engine, inv, pid, "V5", kind="supplemental", dose_mg=120,
        given_at=dose0 + timedelta(minutes=119), override_reason=why,
    )  # fmt: skip
    assert dose.deviations == ("dose_above_cap",)
    (deviation,) = [
        d
        for d in sv.dosing_day(engine, inv, pid, "V5").deviations
        if d.category == "dose_above_cap"
    ]
    return dose.id, deviation.description


def test_the_dose_above_cap_deviation_is_the_same_in_both_arms(planted: Planted) -> None:
    """The cap is checked on the mg the blinded investigator records from the kit's label
    (the session's nominal dose, a randomised participant's arm being sealed), not on what
    the kit holds: a placebo kit's session goes "above the cap" exactly as an MDMA kit's
    does, so the deviation's existence and wording (kit, not mg) name no arm, and the
    investigators who must act on it keep reading it."""
    trial = planted.trial
    una = trial.actors["unblinded_statistician"]
    arm_of: dict[str, str] = {}
    for _ in range(8):  # blocks of 4 and 6: both arms come within a block
        if len(arm_of) == 2:
            break
        pid = add_participant(trial, Participant(through="V4", site="OST", confirm=True))
        (a,) = [a for a in sv.list_allocations(trial.engine, una) if a.participant_id == pid]
        arm_of.setdefault(a.arm, pid)  # the first participant of each arm
    said = {}
    for arm, pid in arm_of.items():
        kit = sv.get_participant(trial.engine, trial.investigator, pid).kit
        dose_id, text = _over_the_cap(trial, pid)
        said[arm] = text.replace(f"dose {dose_id}:", "dose D:").replace(f"kit {kit}", "kit K")
    assert set(said) == {"MDMA", "PLACEBO"}
    assert said["MDMA"] == said["PLACEBO"], said
