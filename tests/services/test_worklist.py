"""Worklists per role (:func:`remit.services.worklist`): the rater sees the MADRS due and no
therapy sessions, the therapist sessions and dosing days, the investigator alerts, eligibility
decisions and signatures, the data manager queries and missing forms, the monitor their
queries; site scoping; the overdue / today / this-week boundaries with a fixed ``today``."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine
from tests.support.forms import at, fill, madrs
from tests.support.trial import PASSWORD, OsloTrial, Participant, add_participant, build_trial

from remit import services as sv
from remit.errors import InputError, PermissionDeniedError
from remit.services.worklist import WorkItemRecord, WorklistRecord
from remit.store import Actor


def _visit(trial: OsloTrial, pid: str, code: str) -> sv.VisitRecord:
    return {v.visit_code: v for v in sv.list_visits(trial.engine, trial.investigator, pid)}[code]


def _seen(wl: WorklistRecord) -> set[tuple[str, str, str | None, str | None, str]]:
    """(group, kind, participant, visit, what) of every item."""
    return {(i.group, i.kind, i.participant_id, i.visit_code, i.what) for i in wl.items}


def _of(wl: WorklistRecord, kind: str) -> list[WorkItemRecord]:
    return [i for i in wl.items if i.kind == kind]


@pytest.fixture
def at_v2(oslo: OsloTrial) -> tuple[OsloTrial, str, date]:
    """A participant enrolled and through V2 (preparatory session 2); V3's target date."""
    pid = add_participant(oslo, Participant(through="V2"))
    target = _visit(oslo, pid, "V3").target_date
    assert target is not None
    return oslo, pid, target


def test_rater_sees_the_madrs_due_and_no_therapy_session(
    at_v2: tuple[OsloTrial, str, date],
) -> None:
    trial, pid, v3 = at_v2
    wl = sv.worklist(trial.engine, trial.rater, today=v3)
    assert wl.roles == ("independent_rater@OST",)
    assert _seen(wl) == {("today", "form_due", pid, "V3", "MADRS (independent rater)")}
    item = wl.due_today[0]
    assert item.link == f"/participants/{pid}/visits/V3/forms/madrs"
    assert item.due_date == v3
    assert item.window_end_date is not None
    assert "not entered yet" in item.why
    assert wl.counts() == {"overdue": 0, "today": 1, "this_week": 0}

    # entered: off the list
    sv.record_assessment(
        trial.engine, trial.rater, pid, "V3", "madrs", madrs(3), assessed_at=at(v3, 10)
    )  # done on V3's date: forms are dated within their visit's window
    assert sv.worklist(trial.engine, trial.rater, today=v3).items == ()


def test_group_boundaries_with_a_fixed_today(at_v2: tuple[OsloTrial, str, date]) -> None:
    trial, pid, v3 = at_v2
    visit = _visit(trial, pid, "V3")
    start, end = visit.window_start_date, visit.window_end_date
    assert start is not None
    assert end is not None
    assert start < v3 < end

    def group(day: date, horizon: int = 7) -> list[str]:
        wl = sv.worklist(trial.engine, trial.rater, today=day, horizon_days=horizon)
        return [i.group for i in wl.items]

    assert group(end + timedelta(days=1)) == ["overdue"]  # the window closed yesterday
    assert group(end) == ["today"]  # the last day of the window
    assert group(v3) == ["today"]
    assert group(v3 - timedelta(days=1)) == ["this_week"]  # due tomorrow, window open
    assert group(start - timedelta(days=7)) == ["this_week"]  # window opens at the horizon
    assert group(start - timedelta(days=8)) == []  # beyond the horizon
    assert group(start - timedelta(days=8), horizon=8) == ["this_week"]


def test_bad_today_or_horizon_is_refused(at_v2: tuple[OsloTrial, str, date]) -> None:
    trial, _, _ = at_v2
    with pytest.raises(InputError, match="horizon_days"):
        sv.worklist(trial.engine, trial.rater, horizon_days=-1)
    with pytest.raises(InputError, match="not a date"):
        sv.worklist(trial.engine, trial.rater, today="2023-01-01")  # type: ignore[arg-type]


def test_therapist_sees_sessions_dosing_days_and_self_reports(
    at_v2: tuple[OsloTrial, str, date],
) -> None:
    trial, pid, v3 = at_v2
    sv.record_visit(trial.engine, trial.investigator, pid, "V3", v3)  # V4, V5 get their dates
    wl = sv.worklist(trial.engine, trial.therapist, today=v3)
    session = _of(wl, "therapy_session")
    assert [(i.visit_code, i.group) for i in session] == [("V4", "this_week")]
    assert session[0].what == "Therapy session: Preparatory session 3 and baseline"
    forms = {i.what for i in _of(wl, "form_due")}
    assert forms == {
        f"{scale.upper()} (self report)" for scale in ("sds", "gad7", "isi", "psqi", "pcl5", "bdi2")
    }
    assert {i.kind for i in wl.items} == {"therapy_session", "form_due"}
    # the sessions already held (V1, V2) are not on the list
    assert not {"V1", "V2"} & {i.visit_code for i in wl.items}

    v4 = _visit(trial, pid, "V4").target_date
    assert v4 is not None
    sv.record_visit(trial.engine, trial.investigator, pid, "V4", v4)  # V5 gets its date
    wl = sv.worklist(trial.engine, trial.therapist, today=v4)
    dosing = _of(wl, "dosing_day")
    assert [(i.visit_code, i.group) for i in dosing] == [("V5", "this_week")]
    assert dosing[0].link == f"/participants/{pid}/dosing/V5"
    assert dosing[0].what == "Dosing day 1 (Dosing session 1)"
    assert not _of(wl, "therapy_session")


def test_investigator_alerts_eligibility_signatures_and_cssrs(
    at_v2: tuple[OsloTrial, str, date],
) -> None:
    trial, pid, v3 = at_v2
    engine, inv = trial.engine, trial.investigator
    # a participant whose screening visits took place with the C-SSRS entered, no verdict yet
    screened = add_participant(trial, Participant(through="PHONE", enrol=False))
    scr = _visit(trial, screened, "SCR").target_date
    assert scr is not None
    sv.record_visit(engine, inv, screened, "SCR", scr)
    before = sv.worklist(engine, inv, today=v3)
    assert not _of(before, "eligibility_decision")  # the screening C-SSRS is missing
    sv.record_assessment(
        engine, inv, screened, "SCR", "cssrs", fill("cssrs", "baseline"), version="baseline"
    )
    # a serious adverse event: an alert with a reporting deadline
    sv.record_adverse_event(
        engine,
        trial.therapist,
        pid,
        term="Syncope",
        onset_date=v3,
        severity="moderate",
        relatedness="possible",
        serious=True,
        seriousness_criteria=["hospitalisation"],
        awareness_at=at(v3, 9),
    )
    wl = sv.worklist(engine, inv, today=v3)
    decision = _of(wl, "eligibility_decision")
    assert [(i.participant_id, i.group) for i in decision] == [(screened, "today")]
    alerts = _of(wl, "alert")
    assert alerts
    assert all(i.participant_id == pid for i in alerts)
    assert alerts[0].link.startswith("/alerts#alert-")
    cssrs = [i for i in _of(wl, "form_due") if i.visit_code == "V3"]
    assert [i.what for i in cssrs] == ["CSSRS since_last_visit (investigator)"]
    # forms to approve: the screening C-SSRS just entered (and the enrolled one's, unsigned)
    pending = _of(wl, "signature_pending")
    assert sorted(i.participant_id for i in pending) == sorted([pid, screened])
    (mine,) = [i for i in pending if i.participant_id == screened]
    form_id = int(mine.link.rsplit("/", 1)[1])
    sv.sign(engine, inv, "assessment", form_id, password=PASSWORD, meaning="approved")
    after = sv.worklist(engine, inv, today=v3)
    assert [i.participant_id for i in _of(after, "signature_pending")] == [pid]

    # the verdict clears the decision
    sv.check_eligibility(engine, inv, screened, {"age_years": 41})
    assert not _of(sv.worklist(engine, inv, today=v3), "eligibility_decision")


def test_alerts_most_pressing_first_and_overdue_after_their_deadline(
    at_v2: tuple[OsloTrial, str, date],
) -> None:
    trial, pid, v3 = at_v2
    engine = trial.engine
    sv.record_adverse_event(
        engine,
        trial.therapist,
        pid,
        term="Syncope",
        onset_date=date(2023, 1, 20),
        severity="moderate",
        relatedness="possible",
        serious=True,
        seriousness_criteria=["hospitalisation"],
        awareness_at=at(date(2023, 1, 20), 9),
    )
    wl = sv.worklist(engine, trial.investigator, today=v3)
    alerts = _of(wl, "alert")
    assert alerts
    assert all(i.group == "overdue" for i in alerts)


def test_data_manager_queries_missing_and_incomplete_forms(
    at_v2: tuple[OsloTrial, str, date],
) -> None:
    trial, pid, v3 = at_v2
    engine = trial.engine
    end = _visit(trial, pid, "V3").window_end_date
    assert end is not None
    after = end + timedelta(days=1)
    wl = sv.worklist(engine, trial.data_manager, today=after)
    missing = {i.what for i in _of(wl, "missing_form") if i.visit_code == "V3"}
    assert "Missing MADRS (independent rater)" in missing
    assert all(i.group == "overdue" for i in _of(wl, "missing_form"))

    form = sv.record_assessment(
        engine, trial.rater, pid, "V3", "madrs", madrs(3), assessed_at=at(v3, 10)
    )
    sv.open_query(engine, trial.monitor, "assessment", form.id, field=None, text="Rated by whom?")
    draft = sv.record_assessment(
        engine, trial.therapist, pid, "V3", "sds", {}, status="draft", assessed_at=at(v3, 10)
    )
    wl = sv.worklist(engine, trial.data_manager, today=after)
    assert "Missing MADRS (independent rater)" not in {i.what for i in _of(wl, "missing_form")}
    assert [i.what for i in _of(wl, "open_query")] == ["Open query"]
    assert [i.link for i in _of(wl, "incomplete_form")] == [f"/assessments/{draft.id}"]

    # the monitor sees the query they raised, and the forms to review
    mon = sv.worklist(engine, trial.monitor, today=after)
    assert [i.kind for i in _of(mon, "query_raised")] == ["query_raised"]
    # the MADRS just entered, and the screening C-SSRS the fixture's enrolment read
    review = _of(mon, "review_pending")
    assert f"/sign/assessment/{form.id}" in {i.link for i in review}
    assert [(i.participant_id, i.visit_code) for i in review] == [(pid, "SCR"), (pid, "V3")]

    # a visit marked missed has no missing forms
    sv.mark_visit_missed(engine, trial.investigator, pid, "V3", reason="participant ill")
    wl = sv.worklist(engine, trial.data_manager, today=after)
    assert not [i for i in _of(wl, "missing_form") if i.visit_code == "V3"]


def test_statistician_and_admin_have_nothing_assigned(
    at_v2: tuple[OsloTrial, str, date],
) -> None:
    trial, _, v3 = at_v2
    for actor in (trial.statistician, trial.admin):
        wl = sv.worklist(trial.engine, actor, today=v3)
        assert wl.items == ()
        assert wl.notes == (f"nothing is assigned to the role {actor.role.replace('_', ' ')}",)


def test_a_user_with_several_roles_sees_the_union_labelled(
    at_v2: tuple[OsloTrial, str, date], fast_password_hashing: None
) -> None:
    trial, pid, v3 = at_v2
    sv.record_visit(trial.engine, trial.investigator, pid, "V3", v3)
    sv.add_user(
        trial.engine,
        trial.admin,
        "ulla",
        PASSWORD,
        [("independent_rater", "OST"), ("therapist", "OST")],
        must_change_password=False,
    )
    ulla = sv.actor_for(trial.engine, "ulla", "therapist", "OST")
    wl = sv.worklist(trial.engine, ulla, today=v3)
    assert wl.roles == ("independent_rater@OST", "therapist@OST")
    by_role = {(i.role, i.kind) for i in wl.items}
    assert ("independent_rater@OST", "form_due") in by_role
    assert ("therapist@OST", "therapy_session") in by_role
    madrs_items = [i for i in wl.items if i.what.startswith("MADRS")]
    assert [i.role for i in madrs_items] == ["independent_rater@OST"]


def test_site_scoping(engine: Engine, fast_password_hashing: None) -> None:
    from tests.support.presets import two_site_protocol

    trial = build_trial(
        engine,
        protocol=two_site_protocol(),
        sites=None,
        staff={
            "kari": [("investigator", None)],
            "rita": [("independent_rater", "OST")],
            "rolf": [("independent_rater", "OUS")],
        },
        participants=[Participant(site="OST", through="V2")],
    )
    (pid,) = trial.participants
    v3 = _visit(trial, pid, "V3").target_date
    ost = sv.actor_for(engine, "rita")
    ous: Actor = sv.actor_for(engine, "rolf")
    assert [i.participant_id for i in sv.worklist(engine, ost, today=v3).items] == [pid]
    assert sv.worklist(engine, ous, today=v3).items == ()


def test_a_role_not_held_is_refused(at_v2: tuple[OsloTrial, str, date]) -> None:
    trial, _, _ = at_v2
    fake = Actor(trial.rater.user_id, trial.rater.username, "investigator", trial.rater.site_id)
    with pytest.raises(PermissionDeniedError):
        sv.worklist(trial.engine, fake)


def test_a_few_queries_whatever_the_size(at_v2: tuple[OsloTrial, str, date]) -> None:
    """The number of SQL statements does not grow with participants × visits."""
    from sqlalchemy import event

    trial, _, v3 = at_v2

    def statements() -> int:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(trial.engine, "before_cursor_execute", count)
        try:
            sv.worklist(trial.engine, trial.investigator, today=v3)
        finally:
            event.remove(trial.engine, "before_cursor_execute", count)
        return len(seen)

    one = statements()
    for _ in range(3):
        add_participant(trial, Participant(through="V3", forms="all"))
    assert statements() == one


def test_investigator_sees_a_consent_to_record(at_v2: tuple[OsloTrial, str, date]) -> None:
    trial, pid, v3 = at_v2
    new = add_participant(trial, Participant(through=None, enrol=False, consent=False))
    wl = sv.worklist(trial.engine, trial.investigator, today=v3)
    needed = _of(wl, "consent_needed")
    assert [(i.participant_id, i.what, i.group) for i in needed] == [
        (new, "Record consent", "today")
    ]
    assert needed[0].link == f"/participants/{new}/consent"
    assert "no informed consent recorded" in needed[0].why
    assert pid not in {i.participant_id for i in needed}  # consented at registration


def test_therapist_sees_the_follow_up_call_after_a_dosing_day(oslo: OsloTrial) -> None:
    pid = add_participant(oslo, Participant(through="V5", dosing=True))
    calls = [
        c
        for c in sv.list_dosing_sessions(oslo.engine, oslo.investigator, pid)
        if c.session_number == 1
    ]
    due = calls[0].follow_up_due_date
    assert due is not None
    on_time = sv.worklist(oslo.engine, oslo.therapist, today=due)
    call = _of(on_time, "follow_up_call")
    assert [(i.visit_code, i.group) for i in call] == [("V5", "today")]
    assert call[0].link == f"/participants/{pid}/dosing/V5#follow-up-call"
    late = sv.worklist(oslo.engine, oslo.therapist, today=due + timedelta(days=1))
    assert [i.group for i in _of(late, "follow_up_call")] == ["overdue"]
    assert not _of(sv.worklist(oslo.engine, oslo.rater, today=due), "follow_up_call")
    assert not _of(
        sv.worklist(oslo.engine, oslo.therapist, today=due - timedelta(days=8)), "follow_up_call"
    )
