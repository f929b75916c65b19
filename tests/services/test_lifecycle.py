"""One Oslo participant from referral to the seven-month follow-up, through the services only,
on SQLite and PostgreSQL; then the audit trail replays to exactly the stored data."""

from __future__ import annotations

from datetime import date, timedelta

from tests.support.forms import at, fill, madrs
from tests.support.predose import ready_for_dose
from tests.support.trial import ELIGIBLE, OsloTrial

from remit import services as sv
from remit.store import replay_audit, snapshot_tables, verify_audit_chain

NORMAL = {"values": {"systolic_bp": 124, "diastolic_bp": 80, "heart_rate": 72, "temperature": 36.8}}


def _forms(oslo: OsloTrial, pid: str, visit: str, day: date) -> list[sv.AssessmentRecord]:
    """Every form the protocol plans at ``visit`` except dosing-day ratings, by the right role."""
    by_rater = {
        "independent_rater": oslo.rater,
        "investigator": oslo.investigator,
        "therapist": oslo.therapist,
        "self_report": oslo.therapist,
    }
    done = []
    for form in oslo.protocol.assessments_at(visit):
        if form.timing == "during_session":
            continue
        answers = madrs(3, 1) if form.scale == "madrs" else fill(form.scale, form.version)
        done.append(
            sv.record_assessment(
                oslo.engine,
                by_rater[form.rater],
                pid,
                visit,
                form.scale,
                answers,
                version=form.version,
                idempotency_key=f"{pid}-{visit}-{form.scale}",
                assessed_at=at(day, 10),
            )
        )
    return done


def _dosing_day(oslo: OsloTrial, pid: str, visit: str, day: date) -> None:
    inv, the = oslo.investigator, oslo.therapist
    planned = oslo.protocol.dosing_session(visit)
    assert planned is not None
    sv.start_dosing_session(oslo.engine, inv, pid, visit, started_at=at(day, 8, 30))
    sv.record_vitals(oslo.engine, the, pid, visit, measured_at=at(day, 8, 45), **NORMAL)
    dose0 = at(day, 9)
    ready_for_dose(oslo.engine, oslo.protocol, inv, oslo.therapist, pid, visit, at(day, 8, 55))
    initial = sv.record_dose(
        oslo.engine, inv, pid, visit, kind="initial", dose_mg=planned.initial_mg, given_at=dose0
    )
    assert initial.warnings == ()
    sv.record_vas(
        oslo.engine, the, pid, visit, "initial_dose", fill("se_vas", level=10), assessed_at=dose0
    )
    for minutes in planned.vitals.timepoints_min():
        sv.record_vitals(
            oslo.engine,
            the,
            pid,
            visit,
            measured_at=dose0 + timedelta(minutes=minutes),
            idempotency_key=f"{pid}-{visit}-vitals-{minutes}",
            **NORMAL,
        )
        if minutes == 120:
            sv.record_vas(
                oslo.engine,
                the,
                pid,
                visit,
                "before_supplemental",
                fill("se_vas", level=60),
                assessed_at=dose0 + timedelta(minutes=119),
            )
            supplemental = sv.record_dose(
                oslo.engine,
                inv,
                pid,
                visit,
                kind="supplemental",
                dose_mg=planned.supplemental_mg,
                given_at=dose0 + timedelta(minutes=121),
            )
            assert supplemental.warnings == ()
    sv.record_vas(
        oslo.engine,
        the,
        pid,
        visit,
        "end_of_session",
        fill("se_vas", level=20),
        assessed_at=dose0 + timedelta(minutes=470),
    )
    sv.sign_off_discharge(oslo.engine, inv, pid, visit, signed_at=dose0 + timedelta(minutes=475))
    ended = sv.end_dosing_session(oslo.engine, inv, pid, visit, ended_at=dose0 + timedelta(hours=8))
    assert (ended.follow_up_status, ended.follow_up_due_date) == ("scheduled", day + timedelta(1))


def test_one_participant_from_referral_to_fu7(oslo: OsloTrial) -> None:
    engine, inv, rater = oslo.engine, oslo.investigator, oslo.rater
    person = sv.screen_participant(
        engine,
        inv,
        sex="female",
        birth_year=1983,
        identity={"name": "Kari Nordmann"},
        idempotency_key="screen-1",
    )
    pid = person.participant_id
    assert pid == "OSL-001"
    referral = date(2023, 1, 2)
    sv.set_anchor_date(engine, inv, pid, "referral", referral)

    # every visit on its target date, the schedule recomputed from what happened
    days: dict[str, date] = {}
    for visit in oslo.protocol.visit_codes:
        planned = {v.visit_code: v for v in sv.list_visits(engine, inv, pid)}[visit]
        assert planned.target_date is not None, f"{visit} has no target after its anchor"
        day = planned.target_date
        days[visit] = day
        recorded = sv.record_visit(engine, inv, pid, visit, day, idempotency_key=f"visit-{visit}")
        assert recorded.window_status == "in_window"
        if visit == "SCR":
            # written informed consent first: nothing of the study is recorded before it
            consent = sv.record_consent(
                engine,
                inv,
                pid,
                version="1.0",
                components=["main"],
                consented_at=at(day, 7),
                idempotency_key="consent-1",
            )
            assert (consent.version, consent.obtained_by) == ("1.0", inv.username)
            _forms(oslo, pid, visit, day)  # the screening C-SSRS the eligibility reads
            eligibility = sv.check_eligibility(engine, inv, pid, ELIGIBLE)
            assert eligibility.eligible
            assert eligibility.status == "eligible"
        if visit == "V0":
            enrolled = sv.enrol(engine, inv, pid, enrolled_at=at(day, 9))
            assert (enrolled.status, enrolled.enrolled_by) == ("enrolled", inv.username)
        if visit != "SCR":
            _forms(oslo, pid, visit, day)
        if visit == "V4":
            confirmed = sv.confirm_enrolment(engine, inv, pid, confirmed_at=at(day, 16))
            assert confirmed.enrolment_confirmed_at == at(day, 16)
            assert confirmed.baseline_date == day
        if oslo.protocol.dosing_session(visit) is not None:
            _dosing_day(oslo, pid, visit, day)
        if visit == "V5":
            ae = sv.record_adverse_event(
                engine,
                oslo.therapist,
                pid,
                term="headache",
                onset_date=day,
                severity="mild",
                relatedness="possible",
                awareness_at=at(day, 15),
            )
            assert ae.alerts == ()
            changed = sv.update_adverse_event(
                engine,
                inv,
                ae.id,
                changes={"outcome": "recovered", "end_date": day + timedelta(1)},
                reason="resolved the next morning",
            )
            assert changed.outcome == "recovered"
        if visit == "V14":
            sv.change_status(engine, inv, pid, "in_follow_up")
    sv.change_status(engine, inv, pid, "completed")

    # an edit with a reason, then a signature that binds the edited content
    v13 = next(
        a for a in sv.list_assessments(engine, inv, pid, visit_code="V13") if a.scale == "madrs"
    )
    edited = sv.update_assessment(
        engine,
        rater,
        v13.id,
        {**v13.answers, "apparent_sadness": 2},
        expected_version=v13.version,
        reason="rater corrected item 1 after source check",
    )
    assert edited.version == v13.version + 1
    assert edited.total == v13.total - 1
    signature = sv.sign(
        engine,
        inv,
        "assessment",
        v13.id,
        password="correct horse battery staple",
        meaning="approved",
    )
    assert sv.get_assessment(engine, inv, v13.id).status == "signed"
    assert [ok for _, ok in sv.signatures_of(engine, inv, "assessment", v13.id)] == [True]
    assert signature.valid

    final = sv.get_participant(engine, inv, pid)
    assert final.status == "completed"
    assert final.baseline_date == days["V4"]
    visits = sv.list_visits(engine, inv, pid)
    assert [v.visit_code for v in visits] == list(oslo.protocol.visit_codes)
    assert all(v.actual_date == days[v.visit_code] for v in visits)
    forms = sv.list_assessments(engine, inv, pid)
    planned_forms = sum(len(oslo.protocol.assessments_at(v)) for v in oslo.protocol.visit_codes)
    # se_vas is planned once per dosing visit and rated at three timepoints
    assert len(forms) == planned_forms - 2 + 6
    assert sv.list_alerts(engine, inv) == []

    # the whole trial as the analysis contract
    data = sv.build_trial_data(engine, actor=oslo.statistician)
    assert data.participants.loc[0, "status"] == "completed"
    assert data.participants.loc[0, "age_years"] == 41
    madrs_rows = data.scores[data.scores["scale"] == "madrs"].set_index("visit_code")
    assert list(madrs_rows.index) == ["V3", "V13", "FU7"]
    assert madrs_rows.loc["V13", "total"] == edited.total
    assert madrs_rows.loc["FU7", "study_day"] == (days["FU7"] - days["V4"]).days == 210
    assert len(data.visits) == len(oslo.protocol.visit_codes)
    assert sorted(data.doses["dose_mg"]) == [40.0, 60.0, 80.0, 120.0]
    assert len(data.vitals) == 2 * (1 + 16)
    assert data.vitals["minutes_after_dose"].min() == -15
    assert len(data.scores[data.scores["scale"] == "se_vas"]) == 6
    assert list(data.adverse_events["outcome"]) == ["recovered"]
    assert not data.simulated

    # the audit trail alone rebuilds every audited table exactly, and its chain holds
    assert replay_audit(engine) == snapshot_tables(engine)
    assert verify_audit_chain(engine).ok
