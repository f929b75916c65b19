"""Safety rules evaluated on every save, alerts stored in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.forms import at, fill, madrs
from tests.support.predose import ready_for_dose
from tests.support.trial import (
    OsloTrial,
    Participant,
    add_participant,
    enrolled,
    visit_date,
    walk_screening,
)

from remit import services as sv
from remit.errors import InputError, PermissionDeniedError
from remit.store.tables import AuditEvent

IDEATION_4 = {
    "wish_to_be_dead": True,
    "non_specific_active_thoughts": True,
    "active_ideation_methods": True,
    "active_ideation_intent": True,
    "active_ideation_plan_intent": False,
    "intensity_frequency": 3,
    "intensity_duration": 2,
    "intensity_controllability": 2,
    "intensity_deterrents": 1,
    "intensity_reasons": 2,
}


def _same_transaction(oslo: OsloTrial, alert_id: int, table: str, record_id: int) -> bool:
    with Session(oslo.engine) as session:
        alert_tx = session.scalar(
            select(AuditEvent.transaction_id).where(
                AuditEvent.table_name == "alert", AuditEvent.record_id == alert_id
            )
        )
        record_tx = session.scalar(
            select(AuditEvent.transaction_id).where(
                AuditEvent.table_name == table, AuditEvent.record_id == record_id
            )
        )
    return alert_tx is not None and alert_tx == record_tx


def test_cssrs_ideation_type_4_raises_an_urgent_alert_in_the_same_transaction(
    oslo: OsloTrial,
) -> None:
    pid = enrolled(oslo, "V4", forms=True)
    form = sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "V4", "cssrs", IDEATION_4, version="since_last_visit"
    )
    levels = {a.rule_id: a.level for a in form.alerts}
    # type 4 fires the urgent rule (the same-day rule on the same value is subsumed) and the
    # intensity is above the baseline's 0
    assert levels == {"cssrs_ideation_4_5": "urgent", "cssrs_intensity_up": "review"}
    urgent = next(a for a in form.alerts if a.level == "urgent")
    assert _same_transaction(oslo, urgent.id, "assessment", form.id)
    listed = sv.list_alerts(oslo.engine, oslo.investigator, status="open")
    assert listed[0].id == urgent.id  # most pressing first


def test_intensity_rule_waits_for_a_baseline(oslo: OsloTrial) -> None:
    # The screening C-SSRS is the baseline itself: its type 4 ideation raises the urgent alert
    # at once, and the intensity rule has nothing earlier to compare with.
    pid = add_participant(oslo, Participant(through=None, enrol=False))
    walk_screening(oslo, pid)
    form = sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "SCR", "cssrs",
        fill("cssrs", "baseline") | IDEATION_4, version="baseline",
    )  # fmt: skip
    assert [a.rule_id for a in form.alerts] == ["cssrs_ideation_4_5"]
    assert ("cssrs_intensity_up", "no baseline to compare with") in form.not_evaluated


def test_intensity_is_compared_with_the_protocols_baseline_visit_only(oslo: OsloTrial) -> None:
    # The protocol's C-SSRS baseline is SCR ([baseline] cssrs = "SCR"): a later form at V3 is
    # not a baseline (one rule for safety and analysis). Against V3's intensity the V4 form is
    # no change; against SCR's (no ideation, 0) it is a rise.
    assert oslo.protocol.baseline_visit("cssrs") == "SCR"
    pid = enrolled(oslo, "V4", forms=True)
    answers = fill("cssrs", "since_last_visit") | IDEATION_4
    sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "V3", "cssrs", answers, version="since_last_visit"
    )
    form = sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "V4", "cssrs", answers, version="since_last_visit"
    )
    assert "cssrs_intensity_up" in {a.rule_id for a in form.alerts}
    assert form.not_evaluated == ()


def test_madrs_item_10_tiers_raise_review_same_day_and_urgent_alerts(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V3")
    calm = sv.record_assessment(oslo.engine, oslo.rater, pid, "V3", "madrs", madrs(3, 1))
    assert calm.alerts == ()
    edited = sv.update_assessment(
        oslo.engine,
        oslo.rater,
        calm.id,
        madrs(3, 4),
        expected_version=calm.version,
        reason="item 10 re-rated after the interview",
    )
    assert [(a.rule_id, a.level) for a in edited.alerts] == [("madrs_item10", "same_day")]
    # 6 (explicit plans) is not the same alert as 4: it is urgent
    worse = sv.update_assessment(
        oslo.engine,
        oslo.rater,
        calm.id,
        madrs(3, 6),
        expected_version=edited.version,
        reason="participant disclosed plans",
    )
    assert [(a.rule_id, a.level) for a in worse.alerts] == [
        ("madrs_item10", "same_day"),
        ("madrs_item10_6", "urgent"),
    ]
    other = enrolled(oslo, "V3")
    mild = sv.record_assessment(oslo.engine, oslo.rater, other, "V3", "madrs", madrs(3, 2))
    assert [(a.rule_id, a.level) for a in mild.alerts] == [("madrs_item10_2", "review")]


def test_bdi2_item_9_raises_an_alert_at_any_visit_that_records_it(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V3")
    answers = {str(i): 1 for i in range(1, 22)} | {"16": "1a", "18": "1a", "9": 3}
    form = sv.record_assessment(oslo.engine, oslo.therapist, pid, "V3", "bdi2", answers)
    assert [(a.rule_id, a.level) for a in form.alerts] == [("bdi2_item9_3", "urgent")]


def test_one_alert_per_reading_at_its_worst_tier_and_none_at_the_limits(
    oslo: OsloTrial,
) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    inv, the = oslo.investigator, oslo.therapist
    sv.start_dosing_session(oslo.engine, inv, pid, "V5", started_at=at(day, 8))
    ready_for_dose(oslo.engine, oslo.protocol, inv, oslo.therapist, pid, "V5", at(day, 8, 55))
    sv.record_dose(oslo.engine, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))
    at_limit = sv.record_vitals(
        oslo.engine,
        the,
        pid,
        "V5",
        measured_at=at(day, 9, 30),
        values={"systolic_bp": 150, "diastolic_bp": 95, "heart_rate": 100, "temperature": 37.5},
    )
    assert at_limit.alerts == ()
    assert at_limit.minutes_after_dose == 30
    above = sv.record_vitals(
        oslo.engine,
        the,
        pid,
        "V5",
        measured_at=at(day, 10),
        values={"systolic_bp": 161, "diastolic_bp": 90, "heart_rate": 44, "temperature": 37.0},
    )
    # systolic and heart rate both cross their urgent tier: one alert, heart rate (further
    # beyond its limit) named first, systolic listed
    ((alert,),) = (above.alerts,)
    assert (alert.rule_id, alert.level) == ("vitals:heart_rate:low:urgent", "urgent")
    assert alert.message.index("heart_rate 44") < alert.message.index("systolic_bp 161")
    assert _same_transaction(oslo, above.alerts[0].id, "vital_sign", above.id)
    # the trial's data carry the clinical time of the reading behind each alert
    alerts = sv.build_trial_data(oslo.engine, actor=oslo.statistician).alerts
    observed = alerts.loc[alerts["rule_id"] == "vitals:heart_rate:low:urgent", "observed_at"]
    assert list(observed) == [at(day, 10)]
    # the urgent alert does not stop the supplemental dose (only an open immediate one does),
    # but the latest reading is an hour old: refused; an investigator's override gives it, as
    # a protocol deviation
    with pytest.raises(InputError) as refused:
        sv.record_dose(
            oslo.engine, inv, pid, "V5", kind="supplemental", dose_mg=40, given_at=at(day, 11)
        )
    assert f"alert {above.alerts[0].id}" not in str(refused.value)
    assert "no systolic BP reading in the 30 minutes before the dose" in str(refused.value)
    dose = sv.record_dose(
        oslo.engine, inv, pid, "V5", kind="supplemental", dose_mg=40, given_at=at(day, 11),
        override_reason="alerts reviewed at the bedside, repeat BP normal",
    )  # fmt: skip
    assert dose.deviations == ("dose_stop_override",)
    assert any("systolic_bp 161" in w for w in dose.warnings)
    assert any("minutes old" in w for w in dose.warnings)


def test_sae_clock_alert_overdue_and_reported(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    aware_at = at(day, 20)
    sae = sv.record_adverse_event(
        oslo.engine,
        oslo.therapist,
        pid,
        term="syncope",
        onset_date=day,
        severity="severe",
        relatedness="possible",
        serious=True,
        seriousness_criteria=["hospitalisation"],
        awareness_at=aware_at,
    )
    assert sae.sae_report_due_at == aware_at + timedelta(hours=24)
    assert [(a.rule_id, a.level, a.due_at) for a in sae.alerts] == [
        ("sae", "immediate", aware_at + timedelta(hours=24))
    ]
    inv = oslo.investigator
    early = aware_at + timedelta(hours=23, minutes=59)
    late = aware_at + timedelta(hours=24, minutes=1)
    assert sv.list_overdue_saes(oslo.engine, inv, now=early) == []
    assert [a.id for a in sv.list_overdue_saes(oslo.engine, inv, now=late)] == [sae.id]
    reported = sv.mark_sae_reported(oslo.engine, inv, sae.id, reported_at=early)
    assert reported.alerts[0].status == "closed"
    assert sv.list_overdue_saes(oslo.engine, inv, now=late) == []


def test_a_fatal_outcome_is_refused_on_an_event_not_recorded_as_serious(
    oslo: OsloTrial,
) -> None:
    # a death recorded as a non-serious event would raise no SAE alert and start no clock
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    e, therapist = oslo.engine, oslo.therapist
    event = {"term": "cardiac arrest", "onset_date": day, "severity": "severe"}
    with pytest.raises(InputError, match="outcome fatal but is not recorded as serious"):
        sv.record_adverse_event(e, therapist, pid, **event, relatedness="possible", outcome="fatal")
    assert sv.list_adverse_events(e, oslo.investigator, pid) == []
    ae = sv.record_adverse_event(e, therapist, pid, **event, relatedness="possible")
    with pytest.raises(InputError, match="record it as a serious adverse event"):
        sv.update_adverse_event(
            e, oslo.investigator, ae.id, changes={"outcome": "fatal"}, reason="died"
        )
    (stored,) = sv.list_adverse_events(e, oslo.investigator, pid)
    assert stored.outcome == "unknown"
    sae = sv.record_adverse_event(
        e, therapist, pid, **event, relatedness="possible", outcome="fatal", serious=True,
        seriousness_criteria=["death"], end_date=day,
    )  # fmt: skip
    assert [a.rule_id for a in sae.alerts] == ["sae"]


def test_alerts_are_acknowledged_and_closed_by_investigators_only(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V3")
    form = sv.record_assessment(oslo.engine, oslo.rater, pid, "V3", "madrs", madrs(3, 5))
    alert = form.alerts[0]
    with pytest.raises(PermissionDeniedError):
        sv.acknowledge_alert(oslo.engine, oslo.therapist, alert.id, note="seen")
    acked = sv.acknowledge_alert(oslo.engine, oslo.investigator, alert.id, note="called today")
    assert acked.status == "acknowledged"
    assert [a.id for a in sv.list_alerts(oslo.engine, oslo.monitor, status="acknowledged")] == [
        alert.id
    ]
    closed = sv.close_alert(oslo.engine, oslo.investigator, alert.id, note="safety plan made")
    assert closed.status == "closed"
    assert closed.note == "acknowledged: called today\nclosed: safety plan made"
    assert sv.list_alerts(oslo.engine, oslo.investigator, status="unclosed") == []


def test_vas_ratings_and_their_timepoints(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    sv.start_dosing_session(oslo.engine, oslo.investigator, pid, "V5", started_at=at(day, 8))
    vas = sv.record_vas(oslo.engine, oslo.therapist, pid, "V5", "initial_dose", fill("se_vas"))
    assert (vas.scale, vas.timepoint, vas.visit_code) == ("se_vas", "initial_dose", "V5")
