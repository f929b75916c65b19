"""Screening and the two-step enrolment (issue 12): eligibility read from the recorded forms
(a screening C-SSRS of ideation type 5 makes the candidate ineligible, an incomplete form
leaves the criterion missing), the referral and the phone screen, coded screen failures,
enrolment at V0 and its confirmation at V4, on SQLite and PostgreSQL. Every refusal stores
nothing (rows counted in every table, audit trail included)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from tests.support.forms import at, fill, madrs
from tests.support.trial import (
    ELIGIBLE,
    REFERRAL,
    OsloTrial,
    Participant,
    add_participant,
    enrolled,
    screening_form,
    walk_screening,
)

from remit import services as sv
from remit.errors import ConflictError, InputError
from remit.interop.sdtm import build_sdtm

Rows = Callable[[], dict[str, int]]

#: Screening C-SSRS answers with active ideation with a specific plan and intent (type 5).
TYPE_5 = fill("cssrs", "baseline") | {
    "wish_to_be_dead": True,
    "wish_to_be_dead_lifetime": True,
    "non_specific_active_thoughts": True,
    "non_specific_active_thoughts_lifetime": True,
    "active_ideation_methods": True,
    "active_ideation_methods_lifetime": True,
    "active_ideation_intent": True,
    "active_ideation_intent_lifetime": True,
    "active_ideation_plan_intent": True,
    "active_ideation_plan_intent_lifetime": True,
    "intensity_frequency": 3,
    "intensity_duration": 3,
    "intensity_controllability": 3,
    "intensity_deterrents": 3,
    "intensity_reasons": 3,
    "intensity_frequency_lifetime": 3,
    "intensity_duration_lifetime": 3,
    "intensity_controllability_lifetime": 3,
    "intensity_deterrents_lifetime": 3,
    "intensity_reasons_lifetime": 3,
}


def _candidate(oslo: OsloTrial) -> str:
    return add_participant(oslo, Participant(through=None, enrol=False, referral=REFERRAL))


def _at_screening(oslo: OsloTrial) -> tuple[str, datetime]:
    """A candidate taken through the phone screen to the screening visit (SCR on its target
    date); returns the study ID and 10:00 on SCR's day (when its forms are done)."""
    pid = _candidate(oslo)
    return pid, at(walk_screening(oslo, pid), 10)


def test_a_type_5_screening_cssrs_makes_the_candidate_ineligible_and_never_enrolled(
    oslo: OsloTrial, rows: Rows
) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid, when = _at_screening(oslo)
    form = sv.record_assessment(
        e, inv, pid, "SCR", "cssrs", TYPE_5, version="baseline", assessed_at=when
    )
    assert form.status == "complete"
    verdict = sv.check_eligibility(e, inv, pid, ELIGIBLE)
    assert not verdict.eligible
    failing = {c["id"]: c for c in verdict.criteria if c["status"] == "unmet"}
    assert list(failing) == ["suicide_risk"]
    assert failing["suicide_risk"]["value"] == 5
    assert failing["suicide_risk"]["source"] == "SCR cssrs ideation_type"
    person = sv.get_participant(e, inv, pid)
    assert person.status == "ineligible"
    assert person.screen_failure_code == "suicide_risk"
    before = rows()
    with pytest.raises(InputError, match="not eligible"):
        sv.enrol(e, inv, pid)
    assert rows() == before
    assert sv.get_participant(e, inv, pid).enrolled_at is None


def test_behaviour_on_the_screening_cssrs_excludes(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid, when = _at_screening(oslo)
    answers = fill("cssrs", "baseline") | {"preparatory_behaviour": True}
    answers |= {"preparatory_behaviour_lifetime": True}
    sv.record_assessment(e, inv, pid, "SCR", "cssrs", answers, version="baseline", assessed_at=when)
    verdict = sv.check_eligibility(e, inv, pid, ELIGIBLE)
    assert [c["id"] for c in verdict.criteria if c["status"] == "unmet"] == ["suicidal_behaviour"]


def test_no_or_an_incomplete_form_is_missing_never_met(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid, when = _at_screening(oslo)
    verdict = sv.check_eligibility(e, inv, pid, ELIGIBLE)
    missing = {c["id"]: c["reason"] for c in verdict.criteria if c["status"] == "missing"}
    assert missing == {
        "suicide_risk": "no cssrs form recorded at SCR",
        "suicidal_behaviour": "no cssrs form recorded at SCR",
    }
    assert sv.get_participant(e, inv, pid).status == "screening"
    sv.record_assessment(
        e,
        inv,
        pid,
        "SCR",
        "cssrs",
        fill("cssrs", "baseline"),
        version="baseline",
        status="draft",
        assessed_at=when,
    )
    verdict = sv.check_eligibility(e, inv, pid, ELIGIBLE)
    statuses = {c["id"]: c["status"] for c in verdict.criteria}
    assert statuses["suicide_risk"] == statuses["suicidal_behaviour"] == "missing"
    assert not verdict.eligible


def test_a_value_read_from_a_form_cannot_be_typed_in(oslo: OsloTrial, rows: Rows) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = _candidate(oslo)
    before = rows()
    with pytest.raises(InputError, match="cssrs_ideation_type cannot be typed in"):
        sv.check_eligibility(e, inv, pid, {**ELIGIBLE, "cssrs_ideation_type": 0})
    assert rows() == before


def test_referral_and_a_failed_phone_screen_with_a_coded_reason(
    oslo: OsloTrial, rows: Rows
) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = add_participant(oslo, Participant(through=None, enrol=False))
    record = sv.record_referral(e, inv, pid, referral_date=REFERRAL, source="GP")
    assert record.referral_source == "GP"
    phone = {v.visit_code: v for v in sv.list_visits(e, inv, pid)}["PHONE"]
    assert phone.target_date == date(2023, 1, 9)
    before = rows()
    with pytest.raises(InputError, match="needs its reason"):
        sv.record_phone_screen(e, inv, pid, outcome="fail", screened_at=at(REFERRAL, 10))
    with pytest.raises(InputError, match="'moon' is not in protocol"):
        sv.record_phone_screen(
            e, inv, pid, outcome="fail", screened_at=at(REFERRAL, 10), failure_code="moon"
        )
    assert rows() == before
    done = sv.record_phone_screen(
        e,
        inv,
        pid,
        outcome="fail",
        screened_at=at(date(2023, 1, 9), 10),
        failure_code="bipolar_i",
        failure_text="bipolar I disorder reported",
    )
    assert done.status == "ineligible"
    assert done.screen_failure_code == "bipolar_i"
    assert done.status_reason == "bipolar_i: bipolar I disorder (bipolar I disorder reported)"
    assert done.phone_screen_outcome == "fail"
    phone = {v.visit_code: v for v in sv.list_visits(e, inv, pid)}["PHONE"]
    assert phone.actual_date == date(2023, 1, 9)
    before = rows()
    with pytest.raises(InputError, match="ineligible"):
        sv.record_screen_failure(e, inv, pid, code="declined")
    assert rows() == before
    # the coded reason reaches the analysis data and the SDTM disposition
    data = sv.build_trial_data(e, actor=oslo.statistician)
    mine = data.participants.set_index("participant_id").loc[pid]
    assert list(mine["ineligible_reasons"]) == ["bipolar_i"]
    ds = build_sdtm(data, oslo.protocol)["DS"].frame
    disposition = ds[ds["USUBJID"].str.endswith(pid) & (ds["DSCAT"] == "DISPOSITION EVENT")]
    assert disposition[["DSDECOD", "DSTERM"]].values.tolist() == [
        ["SCREEN FAILURE", "SCREEN FAILURE: bipolar_i"]
    ]


def test_screen_failure_other_needs_words(oslo: OsloTrial, rows: Rows) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = _candidate(oslo)
    before = rows()
    with pytest.raises(InputError, match="other"):
        sv.record_screen_failure(e, inv, pid, code="other")
    assert rows() == before
    done = sv.record_screen_failure(e, inv, pid, code="declined")
    assert (done.status, done.screen_failure_code) == ("ineligible", "declined")


def _eligible(oslo: OsloTrial) -> str:
    e, inv = oslo.engine, oslo.investigator
    pid, _ = _at_screening(oslo)
    screening_form(oslo, pid)
    assert sv.check_eligibility(e, inv, pid, ELIGIBLE).eligible
    return pid


def _day(pid_visits: list[sv.VisitRecord], code: str) -> date:
    found = {v.visit_code: v for v in pid_visits}[code]
    day = found.actual_date or found.target_date
    assert day is not None
    return day


def test_enrolment_at_v0_and_confirmation_at_v4(oslo: OsloTrial, rows: Rows) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = _eligible(oslo)
    v0 = _day(sv.list_visits(e, inv, pid), "V0")
    enrolled = sv.enrol(e, inv, pid, enrolled_at=at(v0, 9))
    assert enrolled.enrolled_by == "kari"
    visits = {v.visit_code: v for v in sv.list_visits(e, inv, pid)}
    assert visits["V0"].actual_date == v0
    before = rows()
    with pytest.raises(InputError, match="V1, V2, V3 have not taken place"):
        sv.confirm_enrolment(e, inv, pid, confirmed_at=at(v0, 12))
    assert rows() == before
    for code in ("V1", "V2", "V3"):
        sv.record_visit(e, inv, pid, code, _day(sv.list_visits(e, inv, pid), code))
    v4 = _day(sv.list_visits(e, inv, pid), "V4")
    with pytest.raises(InputError, match="madrs_entry missing"):
        sv.confirm_enrolment(e, inv, pid, confirmed_at=at(v4, 12))
    assert rows() != before  # the visits were recorded; now count again
    before = rows()
    sv.record_assessment(e, oslo.rater, pid, "V3", "madrs", madrs(1, 1))  # total 10
    after_form = rows()
    with pytest.raises(InputError, match="madrs_entry unmet"):
        sv.confirm_enrolment(e, inv, pid, confirmed_at=at(v4, 12))
    assert rows() == after_form
    assert before != after_form
    # not confirmed: the participant leaves as a screen failure after V0
    left = sv.record_screen_failure(e, inv, pid, code="madrs_entry", text="baseline MADRS 10")
    assert (left.status, left.screen_failure_code) == ("withdrawn", "madrs_entry")
    assert left.enrolment_confirmed_at is None


def test_confirmation_anchors_the_reference_visit(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = _eligible(oslo)
    v0 = _day(sv.list_visits(e, inv, pid), "V0")
    sv.enrol(e, inv, pid, enrolled_at=at(v0, 9))
    for code in ("V1", "V2", "V3"):
        sv.record_visit(e, inv, pid, code, _day(sv.list_visits(e, inv, pid), code))
    sv.record_assessment(e, oslo.rater, pid, "V3", "madrs", madrs(3, 1))  # total 30
    v4 = _day(sv.list_visits(e, inv, pid), "V4")
    done = sv.confirm_enrolment(
        e, inv, pid, confirmed_at=datetime.combine(v4, at(v4, 13).time(), UTC)
    )
    assert done.enrolment_confirmed_by == "kari"
    assert done.baseline_date == v4
    visits = {v.visit_code: v for v in sv.list_visits(e, inv, pid)}
    assert visits["V4"].actual_date == v4
    with pytest.raises(InputError, match="already confirmed"):
        sv.confirm_enrolment(e, inv, pid, confirmed_at=at(v4, 14))
    with pytest.raises(InputError, match="enrolled and not yet confirmed"):
        sv.record_screen_failure(e, inv, pid, code="declined")


def test_no_dosing_session_starts_before_the_enrolment_is_confirmed(
    oslo: OsloTrial, rows: Rows
) -> None:
    # V4 took place but the enrolment was never confirmed there (no baseline MADRS checked):
    # the first dosing day must not begin
    e, inv = oslo.engine, oslo.investigator
    pid = enrolled(oslo, "V5", confirm=False)
    day = _day(sv.list_visits(e, inv, pid), "V5")
    before = rows()
    with pytest.raises(InputError, match="enrolment has not been confirmed at V4"):
        sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    assert rows() == before
    assert sv.get_participant(e, inv, pid).status == "enrolled"


def test_enrolment_on_another_day_than_a_recorded_v0_is_refused(
    oslo: OsloTrial, rows: Rows
) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = _eligible(oslo)
    v0 = _day(sv.list_visits(e, inv, pid), "V0")
    sv.record_visit(e, inv, pid, "V0", v0)
    before = rows()
    with pytest.raises(ConflictError, match="V0"):
        sv.enrol(e, inv, pid, enrolled_at=at(date(2023, 6, 1), 9))
    assert rows() == before


def test_only_an_investigator_confirms(oslo: OsloTrial, rows: Rows) -> None:
    from remit.errors import PermissionDeniedError

    pid = _eligible(oslo)
    before = rows()
    with pytest.raises(PermissionDeniedError):
        sv.confirm_enrolment(oslo.engine, oslo.therapist, pid)
    with pytest.raises(PermissionDeniedError):
        sv.record_screen_failure(oslo.engine, oslo.rater, pid, code="declined")
    assert rows() == before


def test_a_screening_form_edited_after_the_decision_blocks_enrolment(
    oslo: OsloTrial, rows: Rows
) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = _eligible(oslo)
    form = next(a for a in sv.list_assessments(e, inv, pid) if a.scale == "cssrs")
    sv.update_assessment(
        e, inv, form.id, TYPE_5, expected_version=form.version, reason="re-rated after review"
    )
    v0 = _day(sv.list_visits(e, inv, pid), "V0")
    before = rows()
    with pytest.raises(
        InputError, match="was found eligible, but now: not eligible: fails suicide_risk"
    ):
        sv.enrol(e, inv, pid, enrolled_at=at(v0, 9))
    assert rows() == before
    verdict = sv.check_eligibility(e, inv, pid, ELIGIBLE)
    assert (verdict.eligible, verdict.status) == (False, "ineligible")


def test_enrolment_outside_the_v0_window_is_refused_unless_v0_is_recorded_with_a_reason(
    oslo: OsloTrial, rows: Rows
) -> None:
    """Enrolment holds V0 by the rules of record_visit: a day outside V0's window is refused
    (nothing stored); the site records V0 with the reason (a deviation), then enrols that day."""
    e, inv = oslo.engine, oslo.investigator
    pid = _eligible(oslo)
    late = _day(sv.list_visits(e, inv, pid), "V0") + timedelta(days=30)
    before = rows()
    with pytest.raises(InputError, match=r"V0 .* after the window") as refused:
        sv.enrol(e, inv, pid, enrolled_at=at(late, 9))
    assert "record visit V0 on" in (refused.value.hint or "")
    assert rows() == before
    assert sv.get_participant(e, inv, pid).status == "eligible"
    sv.record_visit(e, inv, pid, "V0", late, window_reason="participant was ill for a month")
    done = sv.enrol(e, inv, pid, enrolled_at=at(late, 9))
    assert done.status == "enrolled"
    v0 = {v.visit_code: v for v in sv.list_visits(e, inv, pid)}["V0"]
    assert (v0.actual_date, v0.window_status) == (late, "late")
    assert v0.deviation is not None
    assert "participant was ill" in v0.deviation
