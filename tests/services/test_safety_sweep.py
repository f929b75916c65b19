"""Vital signs are checked at any visit, and planned dosing-day readings that were missed raise
one review alert each once their grace has passed (``raise_missed_readings``), on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.forms import at
from tests.support.predose import ready_for_dose
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError, PermissionDeniedError
from remit.store.tables import AuditEvent

NORMAL = {"systolic_bp": 122, "diastolic_bp": 78, "heart_rate": 72, "temperature": 36.8}


def test_vital_signs_at_a_visit_without_dosing_are_checked(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V4")
    day = visit_date(oslo, pid, "V3")
    low = sv.record_vitals(
        oslo.engine, oslo.therapist, pid, "V3", measured_at=at(day, 10),
        values={"systolic_bp": 85, "diastolic_bp": 52, "heart_rate": 64},
    )  # fmt: skip
    ((alert,),) = (low.alerts,)
    assert (alert.rule_id, alert.level) == ("vitals:systolic_bp:low:urgent", "urgent")
    assert "also diastolic_bp 52 mmHg below the review limit 55" in alert.message
    assert low.not_evaluated == (("vitals:temperature", "not measured in this reading"),)


def _missed_ids(oslo: OsloTrial, pid: str) -> list[str]:
    alerts = sv.list_alerts(oslo.engine, oslo.investigator, participant=pid)
    return sorted(a.rule_id for a in alerts if a.rule_id.startswith("missed:"))


def test_missed_dosing_day_readings_are_flagged_once(oslo: OsloTrial) -> None:
    e, inv, the = oslo.engine, oslo.investigator, oslo.therapist
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    dose_at = at(day, 9)
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 8, 45), values=NORMAL)
    ready_for_dose(e, oslo.protocol, inv, oslo.therapist, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=dose_at)
    sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 9, 30), values=NORMAL)
    # nothing is missed before the grace has passed: 60 min due at 10:00, +15 min grace
    before = sv.raise_missed_readings(e, now=at(day, 10, 15), actor=inv)
    assert [a.rule_id for a in before] == ["missed:vas:initial_dose"]
    raised = sv.raise_missed_readings(e, now=at(day, 10, 16), actor=inv)
    assert [(a.rule_id, a.level) for a in raised] == [("missed:vitals:60", "review")]
    assert "vital signs at 60 min of session 1 at V5" in raised[0].message
    assert raised[0].due_at == dose_at + timedelta(minutes=60)
    # idempotent, even after the alert was closed
    sv.close_alert(e, inv, raised[0].id, note="reading was taken on paper; entered later")
    assert sv.raise_missed_readings(e, now=at(day, 10, 20), actor=inv) == []
    # the system actor (the periodic job) sweeps too, later slots one by one
    later = sv.raise_missed_readings(e, now=at(day, 11, 16))
    assert [a.rule_id for a in later] == ["missed:vitals:90", "missed:vitals:120"]
    assert _missed_ids(oslo, pid) == [
        "missed:vas:initial_dose",
        "missed:vitals:120",
        "missed:vitals:60",
        "missed:vitals:90",
    ]
    # audited: each alert has its insert row in the audit trail
    with Session(e) as session:
        audited = session.scalars(
            select(AuditEvent.record_id).where(AuditEvent.table_name == "alert")
        ).all()
    assert {a.id for a in later} <= set(audited)


def test_sessions_without_an_initial_dose_and_refusals(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    assert sv.raise_missed_readings(e, now=at(day, 20), actor=inv) == []
    with pytest.raises(PermissionDeniedError):
        sv.raise_missed_readings(e, now=at(day, 20), actor=oslo.therapist)
    with pytest.raises(InputError, match="no time zone"):
        sv.raise_missed_readings(e, now=at(day, 20).replace(tzinfo=None), actor=inv)


def test_the_periodic_jobs_flag_missed_readings_without_an_e_mail_channel(
    oslo: OsloTrial,
) -> None:
    """`remit serve` runs PERIODIC_JOBS with or without --smtp-url: the sweep needs no sender."""
    e, inv, the = oslo.engine, oslo.investigator, oslo.therapist
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 8, 45), values=NORMAL)
    ready_for_dose(e, oslo.protocol, inv, oslo.therapist, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))
    results = sv.run_periodic(e, None, now=at(day, 9, 46))
    assert list(results) == ["missed_readings", "deliver_alerts"]
    swept = results["missed_readings"]
    assert sorted(a.rule_id for a in swept.raised) == [
        "missed:vas:initial_dose",
        "missed:vitals:30",
    ]
    assert not swept.idle
    assert swept.summary() == "2 missed readings flagged"
    assert results["deliver_alerts"].idle  # no channel: nothing sent, said once at start
    again = sv.run_periodic(e, None, now=at(day, 9, 47))["missed_readings"]
    assert again.idle
    assert again.summary() == "0 missed readings flagged"
