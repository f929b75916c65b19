"""Locks, queries, signatures, out-of-window visits, the schedule and build_trial_data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.support.db import count_all
from tests.support.forms import at, madrs
from tests.support.trial import (
    ELIGIBLE,
    PASSWORD,
    REFERRAL,
    OsloTrial,
    Participant,
    add_participant,
    consent,
    enrolled,
    screening_form,
    visit_date,
    walk_screening,
)

from remit import services as sv
from remit.errors import InputError, LockedError, PermissionDeniedError
from remit.services.access import ACCESS, access_matrix_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "services.md"


@pytest.fixture
def db_backend() -> str:
    """These data-management tests run on SQLite only (the lifecycle, safety and refusal tests
    cover both engines) to keep the suite fast."""
    return "sqlite"


def test_participant_and_study_locks(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V3")
    e = oslo.engine
    lock = sv.lock(e, oslo.data_manager, "participant", participant=pid, reason="V3 cleaned")
    before = count_all(e)
    with pytest.raises(LockedError, match="locked"):
        sv.record_assessment(e, oslo.rater, pid, "V3", "madrs", madrs())
    assert count_all(e) == before
    with pytest.raises(PermissionDeniedError):
        sv.unlock(e, oslo.investigator, lock.id, reason="need to enter")
    sv.unlock(e, oslo.data_manager, lock.id, reason="late MADRS to enter")
    assert sv.record_assessment(e, oslo.rater, pid, "V3", "madrs", madrs()).total == 28
    with pytest.raises(PermissionDeniedError):
        sv.lock(e, oslo.investigator, "study")
    sv.lock(e, oslo.data_manager, "study", reason="database lock")
    with pytest.raises(LockedError, match="the study is locked"):
        sv.record_visit(e, oslo.investigator, pid, "V4", visit_date(oslo, pid, "V4"))


def test_query_thread_on_a_form_item(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V3")
    e = oslo.engine
    form = sv.record_assessment(e, oslo.rater, pid, "V3", "madrs", madrs())
    with pytest.raises(InputError, match="has no field"):
        sv.open_query(e, oslo.monitor, "assessment", form.id, field="answers.nonsense", text="?")
    q = sv.open_query(
        e, oslo.monitor, "assessment", form.id, field="answers.apparent_sadness", text="Source?"
    )
    assert q.status == "open"
    q = sv.answer_query(e, oslo.rater, q.id, "matches the source notes")
    assert q.status == "answered"
    q = sv.close_query(e, oslo.monitor, q.id, "thanks")
    assert (q.status, len(q.messages)) == ("closed", 2)
    assert [x.id for x in sv.list_queries(e, oslo.data_manager, status="closed")] == [q.id]


def test_a_later_edit_voids_a_signature_and_a_wrong_password_signs_nothing(
    oslo: OsloTrial,
) -> None:
    pid = enrolled(oslo, "V5")
    e, inv = oslo.engine, oslo.investigator
    ae = sv.record_adverse_event(
        e,
        inv,
        pid,
        term="nausea",
        onset_date=visit_date(oslo, pid, "V5"),
        severity="mild",
        relatedness="probable",
    )
    before = count_all(e)
    with pytest.raises(PermissionDeniedError, match="password does not match"):
        sv.sign(
            e,
            inv,
            "adverse_event",
            ae.id,
            password="wrong password!!",
            meaning="approved",
        )
    assert count_all(e) == before
    signed = sv.sign(e, inv, "adverse_event", ae.id, password=PASSWORD, meaning="approved")
    assert [ok for _, ok in sv.signatures_of(e, inv, "adverse_event", ae.id)] == [True]
    sv.update_adverse_event(
        e,
        inv,
        ae.id,
        changes={"outcome": "recovered", "end_date": visit_date(oslo, pid, "V5")},
        reason="follow-up",
    )
    [(after, matches)] = sv.signatures_of(e, inv, "adverse_event", ae.id)
    assert after.id == signed.id
    assert not after.valid
    assert not matches
    assert "follow-up" in (after.void_reason or "")


def test_out_of_window_visit_is_recorded_with_a_deviation(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    e, inv = oslo.engine, oslo.investigator
    v6 = {v.visit_code: v for v in sv.list_visits(e, inv, pid)}["V6"]
    assert v6.window_end_date is not None
    late_date = v6.window_end_date + timedelta(days=3)
    with pytest.raises(InputError, match="a reason for the date outside it"):
        sv.record_visit(e, inv, pid, "V6", late_date)
    late = sv.record_visit(e, inv, pid, "V6", late_date, window_reason="participant ill")
    assert late.window_status == "late"
    assert late.deviation == (
        "visit V6 out of window: 3 days after the window closed; reason: participant ill"
    )
    data = sv.build_trial_data(e, actor=oslo.statistician)
    assert data.visits.set_index("visit_code").loc["V6", "window_status"] == "late"


def test_anchor_changes_need_a_reason_and_never_move_visits_that_happened(
    oslo: OsloTrial,
) -> None:
    pid = enrolled(oslo, "PHONE")
    e, inv = oslo.engine, oslo.investigator
    phone = visit_date(oslo, pid, "PHONE")
    with pytest.raises(InputError, match="expected a reason"):
        sv.set_anchor_date(e, inv, pid, "referral", REFERRAL + timedelta(days=3))
    with pytest.raises(InputError, match="is a visit"):
        sv.set_anchor_date(e, inv, pid, "V4", REFERRAL)
    visits = sv.set_anchor_date(
        e, inv, pid, "referral", REFERRAL + timedelta(days=3), reason="date typed wrong"
    )
    by_code = {v.visit_code: v for v in visits}
    assert by_code["PHONE"].actual_date == phone
    assert by_code["SCR"].target_date == phone + timedelta(days=14)
    assert sv.anchor_dates(e, inv, pid) == {"referral": REFERRAL + timedelta(days=3)}


def test_build_trial_data_statuses_and_access(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    # eligible from its recorded screening C-SSRS: referred, phoned, seen at SCR
    eligible = add_participant(oslo, Participant(through=None, enrol=False, sex="female"))
    walk_screening(oslo, eligible)
    screening_form(oslo, eligible)
    assert sv.check_eligibility(e, inv, eligible, ELIGIBLE).eligible
    refused = sv.screen_participant(e, inv, sex="male").participant_id
    consent(oslo, refused, Participant())
    sv.check_eligibility(e, inv, refused, ELIGIBLE | {"age_years": 17, "psychosis": True})
    gone = enrolled(oslo, "V5")
    sv.withdraw(e, inv, gone, reason="moved abroad")
    with pytest.raises(PermissionDeniedError):
        sv.build_trial_data(e, actor=oslo.therapist)
    data = sv.build_trial_data(e, actor=oslo.statistician)
    people = data.participants.set_index("participant_id")
    assert people.loc[eligible, "status"] == "eligible"  # the stored status, not translated
    assert people.loc[refused, "status"] == "ineligible"
    assert people.loc[refused, "ineligible_reasons"] == ["age", "psychosis"]
    assert people.loc[gone, "withdrawn_reason"] == "moved abroad"
    assert people.loc[gone, "arm"] == "MDMA"
    assert data.enrolled_ids == (gone,)
    visits = data.visits[data.visits["participant_id"] == gone].set_index("visit_code")
    assert visits.loc["V4", "study_day"] == 0
    assert visits.loc["V3", "study_day"] == -3
    assert len(data.snapshot_sha256()) == 64
    assert data.doses.empty


def test_dosing_session_start_moves_the_participant_on_study(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    session = sv.start_dosing_session(
        oslo.engine, oslo.investigator, pid, "V5", started_at=at(day, 8)
    )
    assert (session.session_number, session.status) == (1, "in_progress")
    assert sv.get_participant(oslo.engine, oslo.investigator, pid).status == "on_study"


def test_the_access_table_is_complete_and_documented() -> None:
    assert all(roles for roles in ACCESS.values())
    assert access_matrix_markdown() in DOCS.read_text(encoding="utf-8")


def test_conmed_deviation_missed_visit_and_status_rules(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V4")
    e, inv = oslo.engine, oslo.investigator
    med = sv.record_conmed(
        e,
        inv,
        pid,
        name="sertraline",
        dose="100 mg",
        start_date=REFERRAL,
        stop_date=REFERRAL + timedelta(days=40),
        taper_plan="50 mg for 2 weeks, then stop",
        idempotency_key="med-1",
    )
    again = sv.record_conmed(
        e,
        inv,
        pid,
        name="sertraline",
        dose="100 mg",
        start_date=REFERRAL,
        stop_date=REFERRAL + timedelta(days=40),
        taper_plan="50 mg for 2 weeks, then stop",
        idempotency_key="med-1",
    )
    assert again == med
    with pytest.raises(InputError, match="before start"):
        sv.record_conmed(
            e, inv, pid, name="x", start_date=REFERRAL, stop_date=REFERRAL - timedelta(1)
        )
    deviation = sv.record_deviation(
        e,
        inv,
        pid,
        category="informed_consent",
        description="consent form version 1.1 used",
        visit_code="SCR",
        severity="major",
        occurred_date=REFERRAL,
    )
    assert (deviation.visit_code, deviation.major, deviation.source) == ("SCR", True, "manual")
    missed = sv.mark_visit_missed(e, inv, pid, "V5", reason="participant ill")
    assert missed.status == "missed"
    with pytest.raises(InputError, match="cannot become completed"):
        sv.change_status(e, inv, pid, "completed")
    with pytest.raises(InputError, match="reason for lost to follow-up"):
        sv.change_status(e, inv, pid, "lost_to_follow_up")
    lost = sv.change_status(e, inv, pid, "lost_to_follow_up", reason="no answer since V4")
    assert lost.status == "lost_to_follow_up"
    with pytest.raises(InputError, match="no more visits"):
        sv.record_visit(e, inv, pid, "V6", visit_date(oslo, pid, "V4") + timedelta(days=10))
