"""Blinding on the RCT example (SQLite and PostgreSQL): a blinded role's analysis data carry
the arm masked and no dose in mg, dose records are shown in blinded form, a dose check names no
number, the independent rater sees no dosing data; emergency unblinding by an investigator with
a reason reveals one participant's arm to them only, is audited, raises the alert that is
notified, is listed with the arm for the unblinded roles and flags the participant."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.support.forms import NORMAL_VITALS, at
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
from remit.errors import ConflictError, InputError, PermissionDeniedError
from remit.protocol import load_protocol
from remit.services.blinding import UNBLINDING_RULE, check_rater_may_see_dosing
from remit.store import EmergencyUnblinding

Rows = Callable[[], dict[str, int]]


@pytest.fixture
def rct(engine: Engine, tmp_path: Path, fast_password_hashing: None) -> OsloTrial:
    """The RCT example with a generated list and two dosed (randomised) participants."""
    key = sv.new_allocation_key_file(tmp_path / "allocation.key")
    trial = build_trial(
        sv.with_allocation_key(engine, key),
        protocol=load_protocol("mdma-mdd-rct-example"),
        sites=None,
        staff=RCT_STAFF,
    )
    sv.generate_list(trial.engine, _una(trial), n_per_stratum=8, seed=14)
    for _ in range(2):
        add_participant(trial, Participant(through="V5", dosing=True, site="OST"))
    return trial


def _una(trial: OsloTrial) -> sv.Actor:
    return trial.actors["unblinded_statistician"]


def _arms(trial: OsloTrial) -> dict[str, str]:
    return {a.participant_id: a.arm for a in sv.list_allocations(trial.engine, _una(trial))}


def test_blinded_roles_follow_the_protocol() -> None:
    rct, oslo = load_protocol("mdma-mdd-rct-example"), load_protocol("oslo-mdma-mdd")
    for role in ("investigator", "therapist", "independent_rater", "monitor", "statistician"):
        assert sv.blinded(rct, role)
        assert not sv.blinded(oslo, role)
    assert not sv.blinded(rct, "unblinded_statistician")


def test_blinded_analysis_data_mask_the_arm_and_the_doses(rct: OsloTrial) -> None:
    arms = _arms(rct)
    assert len(arms) == 2
    for role in ("investigator", "monitor", "statistician", "data_manager"):
        data = sv.build_trial_data(rct.engine, actor=rct.actors[role])
        people = data.participants.set_index("participant_id")
        assert set(people.loc[list(arms), "arm"]) == {sv.BLINDED}, role
        assert "unblinded_at" in data.participants.columns
        assert len(data.doses) > 0, role
        assert data.doses["dose_mg"].isna().all(), role
    # Remit itself (the unblinded analysis) is not blinded: doses keep their mg
    system = sv.build_trial_data(rct.engine, actor=sv.Actor.system("analysis"))
    assert system.doses["dose_mg"].notna().all()


def test_dose_records_are_shown_in_blinded_form(rct: OsloTrial) -> None:
    pid = next(iter(_arms(rct)))
    kit = sv.get_participant(rct.engine, rct.investigator, pid).kit
    day = sv.dosing_day(rct.engine, rct.investigator, pid, "V5")
    initial = next(d for d in day.doses if d.kind == "initial")
    assert initial.dose_mg is None
    assert initial.shown == f"kit {kit}, initial dose given"
    assert re.search(r"\d mg", initial.to_json()) is None


def test_the_independent_rater_sees_no_dosing_data(rct: OsloTrial) -> None:
    pid = next(iter(_arms(rct)))
    with pytest.raises(PermissionDeniedError, match="may not see dosing data"):
        sv.dosing_day(rct.engine, rct.actors["independent_rater"], pid, "V5")


def test_a_refused_dose_names_no_planned_number(rct: OsloTrial, rows: Rows) -> None:
    pid = add_participant(rct, Participant(through="V4", site="OST", confirm=True))
    kit = sv.get_participant(rct.engine, rct.investigator, pid).kit
    assert kit is not None
    day = visit_date(rct, pid, "V5")
    engine, inv, the = rct.engine, rct.investigator, rct.therapist
    sv.start_dosing_session(engine, inv, pid, "V5", started_at=at(day, 8, 30))
    dose0 = at(day, 9)
    sv.record_vitals(
        engine, the, pid, "V5", measured_at=dose0 - timedelta(minutes=15), values=NORMAL_VITALS
    )
    ready_for_dose(engine, rct.protocol, inv, the, pid, "V5", dose0 - timedelta(minutes=5))
    before = rows()
    with pytest.raises(InputError) as refused:
        sv.record_dose(engine, inv, pid, "V5", kind="initial", dose_mg=100, given_at=dose0)
    said = str(refused.value)
    assert f"kit {kit}: the initial dose differs from the planned initial dose" in said
    assert "80 mg" not in said
    assert " 0 mg" not in said
    assert "100 mg" not in said
    assert rows() == before


# --------------------------------------------------------------------------- emergency


def test_emergency_unblinding_is_refused_without_a_reason_or_the_role(
    rct: OsloTrial, rows: Rows
) -> None:
    pid = next(iter(_arms(rct)))
    before = rows()
    for reason in (None, "", "   "):
        with pytest.raises(InputError, match="reason for the emergency unblinding is empty"):
            sv.emergency_unblind(rct.engine, rct.investigator, pid, reason)
    for role in ("therapist", "independent_rater", "monitor", "statistician", "admin"):
        with pytest.raises(PermissionDeniedError):
            sv.emergency_unblind(rct.engine, rct.actors[role], pid, "anaphylaxis")
    with pytest.raises(PermissionDeniedError):  # holds the list: nothing to break
        sv.emergency_unblind(rct.engine, _una(rct), pid, "anaphylaxis")
    not_randomised = add_participant(rct, Participant(through="V3", site="OST"))
    after_add = rows()
    with pytest.raises(ConflictError, match="is not randomised"):
        sv.emergency_unblind(rct.engine, rct.investigator, not_randomised, "anaphylaxis")
    assert rows() == after_add
    assert after_add["emergency_unblinding"] == before["emergency_unblinding"] == 0


def test_emergency_unblinding_reveals_one_arm_is_audited_notified_and_flagged(
    rct: OsloTrial, rows: Rows
) -> None:
    arms = _arms(rct)
    pid, other = list(arms)
    before = rows()
    done = sv.emergency_unblind(rct.engine, rct.investigator, pid, "serotonin syndrome suspected")
    assert (done.participant_id, done.arm) == (pid, arms[pid])
    assert done.arm_label in {a.label for a in load_protocol("mdma-mdd-rct-example").arms}
    after = rows()
    assert after["emergency_unblinding"] == before["emergency_unblinding"] + 1
    assert after["alert"] == before["alert"] + 1
    with rct.engine.connect() as c:
        stored = c.execute(sa.select(EmergencyUnblinding)).one()
        alert = c.execute(
            sa.text("SELECT level, message FROM alert WHERE rule_id = :r"), {"r": UNBLINDING_RULE}
        ).one()
        audit = c.execute(
            sa.text(
                "SELECT new_value FROM audit_event "
                "WHERE table_name IN ('emergency_unblinding', 'alert')"
            )
        ).all()
    assert stored.reason == "serotonin syndrome suspected"
    assert alert.level == "urgent"
    assert pid in alert.message
    assert audit, "the unblinding is on the audit trail"
    for text in [alert.message, *(str(a.new_value) for a in audit)]:
        assert arms[pid] not in text.split()
        assert "PLACEBO" not in text

    # the unblinded roles list it with the arm; blinded roles may not list it
    listed = sv.list_unblindings(rct.engine, _una(rct))
    assert [(u.participant_id, u.arm, u.unblinded_by) for u in listed] == [
        (pid, arms[pid], rct.investigator.username)
    ]
    with pytest.raises(PermissionDeniedError):
        sv.list_unblindings(rct.engine, rct.investigator)

    # the analysis data flag the participant, for every reader; the arm stays masked
    data = sv.build_trial_data(rct.engine, actor=rct.actors["statistician"])
    people = data.participants.set_index("participant_id")
    assert not _missing(people.loc[pid, "unblinded_at"])
    assert _missing(people.loc[other, "unblinded_at"])
    assert people.loc[pid, "arm"] == sv.BLINDED


def test_the_analysis_by_arm_waits_for_the_database_lock(rct: OsloTrial) -> None:
    """Before the data manager's study lock the arms are refused for analysis (audited as
    ``read_refused``); after it they are read; a study unlocked again is refused again. An
    emergency unblinding of one participant needs no lock."""
    una, dag = _una(rct), rct.actors["data_manager"]
    with pytest.raises(ConflictError) as refused:
        sv.build_trial_data(rct.engine, actor=una, unblinded=True, purpose="interim look")
    said = str(refused.value)
    assert "before the database lock: the study has never been locked" in said
    assert "mdma-mdd-rct-example" in said
    assert "expected a study locked by the data manager" in said
    assert "lock the study" in said
    assert _unblinding_audit(rct) == [
        ("read_refused", una.username, "unblinded_statistician", "interim look")
    ]
    # a participant's lock is not the database lock
    pid = next(iter(_arms(rct)))
    sv.lock(rct.engine, dag, "participant", participant=pid, reason="participant done")
    with pytest.raises(ConflictError, match="never been locked"):
        sv.build_trial_data(rct.engine, actor=una, unblinded=True)
    # the emergency unblinding of one participant is not the analysis: no lock needed for it
    other = next(p for p in _arms(rct) if p != pid)
    done = sv.emergency_unblind(rct.engine, rct.investigator, other, "suspected overdose")
    assert done.arm in {"MDMA", "PLACEBO"}
    held = sv.lock(rct.engine, dag, "study", reason="database lock")
    data = sv.build_trial_data(rct.engine, actor=una, unblinded=True, purpose="final analysis")
    assert set(data.participants["arm"].dropna()) == set(_arms(rct).values())
    sv.unlock(rct.engine, dag, held.id, reason="a late correction")
    with pytest.raises(ConflictError, match=f"unlocked again on .* UTC \\(lock {held.id}\\)"):
        sv.build_trial_data(rct.engine, actor=una, unblinded=True, purpose="after unlock")
    assert [(a, r) for a, _, _, r in _unblinding_audit(rct)] == [
        ("read_refused", "interim look"),
        ("read_refused", "unblinded analysis data set"),
        ("read", "final analysis"),
        ("read_refused", "after unlock"),
    ]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _unblinding_audit(trial: OsloTrial) -> list[tuple[str, str, str, str]]:
    with trial.engine.connect() as c:
        found = c.execute(
            sa.text(
                "SELECT action, username, role, reason FROM audit_event "
                "WHERE table_name = 'randomisation_list' AND field = 'arm' ORDER BY id"
            )
        ).all()
    return [(r.action, r.username, r.role, r.reason) for r in found]


def test_unblinding_the_analysis_data_is_audited_and_a_refusal_too(
    rct: OsloTrial, tmp_path: Path
) -> None:
    una, stine = _una(rct), rct.actors["statistician"]
    sv.lock(rct.engine, rct.actors["data_manager"], "study", reason="database lock")
    data = sv.build_trial_data(rct.engine, actor=una, unblinded=True, purpose="final analysis")
    assert set(data.participants["arm"].dropna()) <= {"MDMA", "PLACEBO"}
    assert _unblinding_audit(rct) == [
        ("read", una.username, "unblinded_statistician", "final analysis")
    ]
    with rct.engine.connect() as c:
        value = c.execute(
            sa.text(
                "SELECT new_value FROM audit_event "
                "WHERE table_name = 'randomisation_list' AND action = 'read'"
            )
        ).scalar_one()
    assert json.loads(value) == {"analysis_data": "unblinded", "participants_with_arm": 2}
    # a blinded role: refused, nothing read, the attempt audited (default reason)
    with pytest.raises(PermissionDeniedError, match="may not build unblinded trial data"):
        sv.build_trial_data(rct.engine, actor=stine, unblinded=True)
    # the wrong key: refused inside the read, audited after its rollback
    other = sv.with_allocation_key(rct.engine, sv.new_allocation_key_file(tmp_path / "other.key"))
    with pytest.raises(InputError, match="not the key the randomisation list was sealed with"):
        sv.build_trial_data(other, actor=una, unblinded=True, purpose="wrong key")
    assert _unblinding_audit(rct)[1:] == [
        ("read_refused", stine.username, "statistician", "unblinded analysis data set"),
        ("read_refused", una.username, "unblinded_statistician", "wrong key"),
    ]
    # the blinded read is not an unblinding
    sv.build_trial_data(rct.engine, actor=stine)
    assert len(_unblinding_audit(rct)) == 3


# --------------------------------------------------------------------------- safety data


class _Sent:
    """A sender whose every message goes out."""

    channel = "email"

    def send(self, message: object) -> sv.SendResult:
        return sv.SendResult(True)

    def describe(self) -> str:
        return "test sender"


def test_the_independent_rater_reads_no_safety_data(rct: OsloTrial, rows: Rows) -> None:
    """``rater_sees_safety = false`` (the RCT example): the rater's reads of adverse events,
    medications, clinical results and the audit views and signing previews of vital signs are
    refused, each refusal audited as ``read_refused`` and nothing else stored; the alerts of
    vital signs and adverse events are left out of the rater's list and reach the
    investigator as before; a screen-failure reason and a missed visit's reason are masked."""
    engine, kari, rita = rct.engine, rct.investigator, rct.actors["independent_rater"]
    pid = next(iter(_arms(rct)))
    day = visit_date(rct, pid, "V3")
    ae = sv.record_adverse_event(
        engine, kari, pid, term="jaw clenching", onset_date=day, severity="mild",
        relatedness="probable",
    )  # fmt: skip
    vitals = sv.record_vitals(
        engine,
        kari,
        pid,
        "V3",
        measured_at=at(day, 11),
        values={**NORMAL_VITALS, "heart_rate": 137},
    )
    assert vitals.alerts
    sv.record_conmed(engine, kari, pid, name="Lemborexant", indication="insomnia")
    refusals: list[tuple[Callable[[], object], str, tuple[str, int]]] = [
        (lambda: sv.list_adverse_events(engine, rita, pid), "adverse events", ("adverse_event", 0)),
        (
            lambda: sv.list_conmeds(engine, rita, pid),
            "concomitant medications",
            ("concomitant_medication", 0),
        ),
        (lambda: sv.list_results(engine, rita, pid), "clinical results", ("clinical_result", 0)),
        (
            lambda: sv.audit_history(engine, rita, "adverse_event", ae.id),
            "adverse events",
            ("adverse_event", ae.id),
        ),
        (
            lambda: sv.signing_preview(engine, rita, "vital_sign", vitals.id),
            "vital signs",
            ("vital_sign", vitals.id),
        ),
        (
            lambda: sv.audit_history(engine, rita, "alert", vitals.alerts[0].id),
            "safety alerts",
            ("alert", vitals.alerts[0].id),
        ),
    ]
    for read, what, (table, record_id) in refusals:
        before = rows()
        with pytest.raises(
            PermissionDeniedError, match=f"hidden: the protocol blinds raters to {what}"
        ):
            read()
        after = rows()
        assert after.pop("audit_event") == before.pop("audit_event") + 1, what
        assert after == before, what
        last = sv.audit_log(engine)[-1]
        assert (last.action, last.username, last.table_name, last.record_id) == (
            "read_refused",
            "rita",
            table,
            record_id,
        )
    vital_alerts = {a.id for a in vitals.alerts}
    assert not vital_alerts & {a.id for a in sv.list_alerts(engine, rita)}
    assert vital_alerts <= {a.id for a in sv.list_alerts(engine, kari)}
    # the alerts are delivered as before; the rater's delivery log leaves them out
    sv.deliver_due(engine, _Sent(), now=vitals.alerts[0].raised_at + timedelta(minutes=1))
    told = {d.alert_id for d in sv.list_deliveries(engine, kari)}
    assert vital_alerts <= told
    assert not vital_alerts & {d.alert_id for d in sv.list_deliveries(engine, rita)}
    assert [a.term for a in sv.list_adverse_events(engine, kari, pid)][-1] == "jaw clenching"
    # free text that may quote a C-SSRS answer or an adverse event
    failed = add_participant(rct, Participant(through=None, confirm=False, site="OST"))
    sv.record_screen_failure(engine, kari, failed, code="other", text="C-SSRS item 4 positive")
    assert sv.get_participant(engine, rita, failed).status_reason == sv.SAFETY_HIDDEN
    assert "item 4" in (sv.get_participant(engine, kari, failed).status_reason or "")
    shown = {p.participant_id: p.status_reason for p in sv.list_participants(engine, rita)}
    assert shown[failed] == sv.SAFETY_HIDDEN
    audit = sv.audit_history(
        engine, rita, "participant", sv.get_participant(engine, kari, failed).id
    )
    assert "item 4" not in json.dumps([e.to_dict() for e in audit])
    assert "withdrawn" in {e.new_value for e in audit if e.field == "status"}  # the status stays
    last = sv.list_visits(engine, kari, pid)[-1]
    sv.mark_visit_missed(engine, kari, pid, last.visit_code, reason="serotonin toxicity")
    assert sv.list_visits(engine, rita, pid)[-1].deviation == sv.SAFETY_HIDDEN
    assert "serotonin" in (sv.list_visits(engine, kari, pid)[-1].deviation or "")


def test_a_protocol_may_let_the_rater_see_the_safety_data() -> None:
    rct = load_protocol("mdma-mdd-rct-example")
    rita = sv.Actor(user_id=3, username="rita", role="independent_rater")
    assert rct.blinding is not None
    assert sv.SafetyBlind.of(rct, rita).active
    seeing = rct.model_copy(
        update={"blinding": rct.blinding.model_copy(update={"rater_sees_safety": True})}
    )
    assert not sv.SafetyBlind.of(seeing, rita).active
    # the dosing day shows vital signs and adverse events: a rater blind to them does not see
    # it even when the protocol lets them see dosing data (a P041 finding besides)
    dosing = rct.model_copy(
        update={"blinding": rct.blinding.model_copy(update={"rater_sees_dosing": True})}
    )
    with pytest.raises(PermissionDeniedError, match="vital signs and adverse events"):
        check_rater_may_see_dosing(dosing, rita)
    both = {"rater_sees_dosing": True, "rater_sees_safety": True}
    both_seen = rct.model_copy(update={"blinding": rct.blinding.model_copy(update=both)})
    check_rater_may_see_dosing(both_seen, rita)  # allowed
    unblinded_rater = rct.model_copy(
        update={
            "blinding": rct.blinding.model_copy(
                update={"blinded_roles": ("investigator", "therapist")}
            )
        }
    )
    assert not sv.SafetyBlind.of(unblinded_rater, rita).active
    for role in ("investigator", "therapist", "monitor", "data_manager"):
        assert not sv.SafetyBlind.of(rct, sv.Actor(user_id=1, username="x", role=role)).active
