"""Dosing-day hard stops and discharge (issue 11, parts 4 and 8), on SQLite and PostgreSQL.

The supplemental dose is refused while an immediate alert of the session is not closed, while
the latest reading of a sign is beyond the protocol's dose-stop limit (Oslo: 180/110 mmHg,
heart rate 40–120 /min, 38.5 °C) or when no reading is 30 minutes old or less; an
investigator's override with a reason gives it and records a major deviation in the same
transaction. The session ends only when the discharge criteria are met, and its end schedules
the next-day follow-up call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.forms import NORMAL_VITALS, at
from tests.support.predose import ready_for_dose
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import ConflictError, InputError, PermissionDeniedError
from remit.protocol.status import DeviationCategory
from remit.store.tables import AuditEvent, ProtocolDeviation

Rows = Callable[[], dict[str, int]]


def _dosed(oslo: OsloTrial) -> tuple[str, date]:
    """A participant on the first dosing day, initial dose given at 09:00 after a normal
    pre-dose reading."""
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    e, inv = oslo.engine, oslo.investigator
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    sv.record_vitals(e, oslo.therapist, pid, "V5", measured_at=at(day, 8, 45), values=NORMAL_VITALS)
    ready_for_dose(e, oslo.protocol, inv, oslo.therapist, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))
    return pid, day


def _reading(oslo: OsloTrial, pid: str, when: datetime, **values: float) -> sv.VitalsRecord:
    return sv.record_vitals(
        oslo.engine, oslo.therapist, pid, "V5", measured_at=when, values={**NORMAL_VITALS, **values}
    )


def _close_alerts(oslo: OsloTrial, pid: str) -> None:
    """The investigator handles every alert (so only the vital signs can stop the dose)."""
    for alert in sv.list_alerts(oslo.engine, oslo.investigator, participant=pid, status="unclosed"):
        sv.close_alert(oslo.engine, oslo.investigator, alert.id, note="seen, re-measured")


def _supplement(oslo: OsloTrial, pid: str, when: datetime, **more: Any) -> sv.DoseRecord:
    actor = more.pop("actor", oslo.investigator)
    dose_mg = more.pop("dose_mg", 40)
    return sv.record_dose(
        oslo.engine, actor, pid, "V5", kind="supplemental", dose_mg=dose_mg, given_at=when, **more
    )


def _deviations(oslo: OsloTrial) -> list[ProtocolDeviation]:
    with Session(oslo.engine) as session:
        return list(session.scalars(select(ProtocolDeviation).order_by(ProtocolDeviation.id)))


@pytest.mark.parametrize(
    ("sign", "value", "stops"),
    [
        ("systolic_bp", 179, False),
        ("systolic_bp", 180, False),
        ("systolic_bp", 181, True),
        ("diastolic_bp", 109, False),
        ("diastolic_bp", 110, False),
        ("diastolic_bp", 111, True),
        ("heart_rate", 119, False),
        ("heart_rate", 120, False),
        ("heart_rate", 121, True),
        ("heart_rate", 41, False),
        ("heart_rate", 40, False),
        ("heart_rate", 39, True),
        ("temperature", 38.4, False),
        ("temperature", 38.5, False),
        ("temperature", 38.6, True),
    ],
)
def test_dose_stop_limits_at_the_boundary(
    oslo: OsloTrial, rows: Rows, sign: str, value: float, stops: bool
) -> None:
    pid, day = _dosed(oslo)
    _reading(oslo, pid, at(day, 11), **{sign: value})
    _close_alerts(oslo, pid)
    before = rows()
    if stops:
        with pytest.raises(InputError) as refused:
            _supplement(oslo, pid, at(day, 11, 5))
        said = str(refused.value)
        assert f"{value:g}" in said
        assert "dose-stop limit" in said
        assert "override" in str(refused.value.hint)
        assert rows() == before  # nothing stored from the refused dose
    else:
        dose = _supplement(oslo, pid, at(day, 11, 5))
        assert (dose.status, dose.deviations) == ("given", ())


def test_an_open_immediate_alert_of_the_session_stops_the_supplement(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid, day = _dosed(oslo)
    high = _reading(oslo, pid, at(day, 10, 30), systolic_bp=200, diastolic_bp=125)
    immediate = [a for a in high.alerts if a.level == "immediate"]
    assert immediate
    _reading(oslo, pid, at(day, 11))  # back within every limit, the alert still open
    before = rows()
    with pytest.raises(InputError, match=f"immediate alert {immediate[0].id} is not closed"):
        _supplement(oslo, pid, at(day, 11, 5))
    assert rows() == before
    # acknowledging is not enough: the alert must be closed
    sv.acknowledge_alert(oslo.engine, oslo.investigator, immediate[0].id, note="on it")
    with pytest.raises(InputError, match="is not closed"):
        _supplement(oslo, pid, at(day, 11, 5))
    _close_alerts(oslo, pid)
    assert _supplement(oslo, pid, at(day, 11, 5)).deviations == ()


def test_an_alert_of_another_visit_does_not_stop_the_supplement(oslo: OsloTrial) -> None:
    pid, day = _dosed(oslo)
    sae = sv.record_adverse_event(
        oslo.engine,
        oslo.investigator,
        pid,
        term="fracture",
        onset_date=day - timedelta(days=10),
        severity="moderate",
        relatedness="not_related",
        serious=True,
        seriousness_criteria=["hospitalisation"],
        awareness_at=at(day - timedelta(days=10), 12),
    )
    assert [a.level for a in sae.alerts] == ["immediate"]
    _reading(oslo, pid, at(day, 11))
    assert _supplement(oslo, pid, at(day, 11, 5)).status == "given"


@pytest.mark.parametrize(("minutes_old", "stops"), [(29, False), (30, False), (31, True)])
def test_no_reading_within_30_minutes_stops_the_supplement(
    oslo: OsloTrial, minutes_old: int, stops: bool
) -> None:
    pid, day = _dosed(oslo)
    _reading(oslo, pid, at(day, 11))
    when = at(day, 11) + timedelta(minutes=minutes_old)
    if stops:
        with pytest.raises(InputError, match="no systolic BP reading in the 30 minutes"):
            _supplement(oslo, pid, when)
    else:
        assert _supplement(oslo, pid, when).status == "given"


def test_override_needs_a_reason_and_an_investigator(oslo: OsloTrial, rows: Rows) -> None:
    pid, day = _dosed(oslo)
    _reading(oslo, pid, at(day, 11), systolic_bp=200, diastolic_bp=125)
    before = rows()
    with pytest.raises(InputError, match="dose refused"):
        _supplement(oslo, pid, at(day, 11, 5), override_reason="   ")
    with pytest.raises(PermissionDeniedError, match="may not override"):
        _supplement(
            oslo, pid, at(day, 11, 5), actor=oslo.therapist, override_reason="participant asks"
        )
    assert rows() == before
    assert _deviations(oslo) == []


def test_withholding_is_never_stopped(oslo: OsloTrial) -> None:
    pid, day = _dosed(oslo)
    _reading(oslo, pid, at(day, 11), systolic_bp=200, diastolic_bp=125)
    withheld = sv.record_dose(
        oslo.engine, oslo.investigator, pid, "V5", kind="supplemental", dose_mg=40,
        status="withheld", withheld_reason="blood pressure 200/125",
    )  # fmt: skip
    assert (withheld.status, withheld.deviations) == ("withheld", ())


def test_investigators_override_records_a_major_deviation_in_the_same_transaction(
    oslo: OsloTrial,
) -> None:
    pid, day = _dosed(oslo)
    _reading(oslo, pid, at(day, 11), systolic_bp=200, diastolic_bp=125)
    dose = _supplement(
        oslo, pid, at(day, 11, 5), override_reason="falling on repeat, participant stable"
    )
    assert (dose.status, dose.override_reason) == ("given", "falling on repeat, participant stable")
    assert dose.deviations == (DeviationCategory.DOSE_STOP_OVERRIDE,)
    [deviation] = _deviations(oslo)
    assert (deviation.category, deviation.major, deviation.occurred_date) == (
        "dose_stop_override",
        True,
        day,
    )
    assert "systolic BP 200 mmHg above the limit of 180" in deviation.description
    assert "falling on repeat" in deviation.description
    with Session(oslo.engine) as session:
        tx = {
            table: session.scalar(
                select(AuditEvent.transaction_id).where(
                    AuditEvent.table_name == table, AuditEvent.record_id == record
                )
            )
            for table, record in (("dose", dose.id), ("protocol_deviation", deviation.id))
        }
    assert tx["dose"] is not None
    assert tx["dose"] == tx["protocol_deviation"]
    day_view = sv.dosing_day(oslo.engine, oslo.monitor, pid, "V5")
    assert [d.category for d in day_view.deviations] == ["dose_stop_override"]
    assert day_view.doses[-1].deviations == ("dose_stop_override",)


def test_a_dose_above_the_cap_records_a_deviation(oslo: OsloTrial) -> None:
    pid, day = _dosed(oslo)
    _reading(oslo, pid, at(day, 11))
    with pytest.raises(InputError, match="above the maximum of 180 mg"):
        _supplement(oslo, pid, at(day, 11, 5), dose_mg=120)
    dose = _supplement(oslo, pid, at(day, 11, 5), dose_mg=120, override_reason="pharmacy error")
    assert dose.deviations == ("dose_above_cap",)
    [deviation] = _deviations(oslo)
    assert (deviation.category, deviation.major) == ("dose_above_cap", True)
    assert "session total to 200 mg, above the cap of 180 mg" in deviation.description


def test_a_retried_override_returns_the_same_dose_and_one_deviation(oslo: OsloTrial) -> None:
    pid, day = _dosed(oslo)
    _reading(oslo, pid, at(day, 11), systolic_bp=200, diastolic_bp=125)
    args: dict[str, Any] = {"override_reason": "stable", "idempotency_key": "sup-1"}
    first = _supplement(oslo, pid, at(day, 11, 5), **args)
    again = _supplement(oslo, pid, at(day, 11, 5), **args)
    assert again == first
    assert len(_deviations(oslo)) == 1


# --- discharge and the next-day call ----------------------------------------------------------


def test_the_session_ends_only_when_the_discharge_criteria_are_met(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid, day = _dosed(oslo)
    e, inv, the = oslo.engine, oslo.investigator, oslo.therapist
    end = at(day, 17)
    _reading(oslo, pid, at(day, 16, 30), systolic_bp=165)
    severe = sv.record_adverse_event(
        e, inv, pid, term="anxiety", onset_date=day, severity="severe", relatedness="probable",
        awareness_at=at(day, 12),
    )  # fmt: skip
    before = rows()
    with pytest.raises(InputError) as refused:
        sv.end_dosing_session(e, the, pid, "V5", ended_at=end)
    said = str(refused.value)
    assert "systolic BP 165 mmHg above the limit of 160" in said
    assert f"anxiety (adverse event {severe.id}) has no end date" in said
    assert "not signed off yet" in said
    assert rows() == before
    with pytest.raises(PermissionDeniedError):
        sv.sign_off_discharge(e, the, pid, "V5", signed_at=at(day, 16, 50))
    signed = sv.sign_off_discharge(e, inv, pid, "V5", signed_at=at(day, 16, 50), note="calm")
    assert signed.discharge_signed_off_at == at(day, 16, 50)
    again = sv.sign_off_discharge(e, inv, pid, "V5", signed_at=at(day, 16, 50), note="calm")
    assert again == signed  # a retry changes nothing
    with pytest.raises(ConflictError, match="already signed off"):
        sv.sign_off_discharge(e, inv, pid, "V5", signed_at=at(day, 16, 55))
    sv.update_adverse_event(
        e, inv, severe.id, changes={"end_date": day, "outcome": "recovered"}, reason="resolved"
    )
    criteria = {c.name: c.met for c in sv.dosing_day(e, inv, pid, "V5", at=end).discharge}
    assert criteria == {
        "vital_signs": False,
        "no_ongoing_severe_ae": True,
        "investigator_sign_off": True,
    }
    with pytest.raises(InputError, match="discharge criteria not met: vital signs"):
        sv.end_dosing_session(e, the, pid, "V5", ended_at=end)
    _reading(oslo, pid, at(day, 16, 55))
    # a reading older than the discharge's 60 minutes does not count
    with pytest.raises(InputError, match="no recent systolic BP reading"):
        sv.end_dosing_session(e, the, pid, "V5", ended_at=at(day, 18))
    ended = sv.end_dosing_session(e, the, pid, "V5", ended_at=end)
    assert (ended.status, ended.follow_up_status, ended.follow_up_due_date) == (
        "completed",
        "scheduled",
        day + timedelta(days=1),
    )


def test_the_follow_up_call_is_recorded_until_done(oslo: OsloTrial) -> None:
    pid, day = _dosed(oslo)
    e, inv, the = oslo.engine, oslo.investigator, oslo.therapist
    with pytest.raises(InputError, match="no follow-up call scheduled"):
        sv.record_follow_up_call(e, the, pid, "V5", status="done", called_at=at(day, 18))
    _reading(oslo, pid, at(day, 16, 50))
    sv.sign_off_discharge(e, inv, pid, "V5", signed_at=at(day, 16, 55))
    sv.end_dosing_session(e, the, pid, "V5", ended_at=at(day, 17))
    call = at(day + timedelta(days=1), 10)
    with pytest.raises(InputError, match="note on the call"):
        sv.record_follow_up_call(e, the, pid, "V5", status="not_reached", called_at=call)
    with pytest.raises(InputError, match="done or not_reached"):
        sv.record_follow_up_call(e, the, pid, "V5", status="scheduled", called_at=call)
    done = sv.record_follow_up_call(
        e, the, pid, "V5", status="not_reached", called_at=call, note="voicemail; try at 14"
    )
    assert (done.follow_up_status, done.follow_up_at, done.follow_up_note) == (
        "not_reached",
        call,
        "voicemail; try at 14",
    )
    later = call + timedelta(hours=4)
    done = sv.record_follow_up_call(e, the, pid, "V5", status="done", called_at=later)
    assert (done.follow_up_status, done.follow_up_note) == ("done", None)
    with pytest.raises(ConflictError, match="already recorded"):
        sv.record_follow_up_call(e, the, pid, "V5", status="done", called_at=later)
    [listed] = sv.list_dosing_sessions(e, oslo.monitor, pid)
    assert listed.follow_up_status == "done"
