"""``record_vitals_series``: a dosing session's readings in one transaction store what the same
readings entered one by one store (values, minutes after the dose, audit rows, alerts), are
refused as a whole with nothing stored when one reading is bad, need the role, the running
session and no lock, and a retry with the same key stores nothing twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.support.forms import at
from tests.support.predose import ready_for_dose
from tests.support.trial import OsloTrial, build_trial, enrolled, visit_date

from remit import services as sv
from remit.errors import (
    ConflictError,
    InputError,
    LockedError,
    NotFoundError,
    PermissionDeniedError,
)
from remit.services._common import alerts_of
from remit.store import get_participant, unit_of_work
from remit.store.tables import Alert, AuditEvent
from remit.store.vitals import VitalSignReading, VitalSignValue, reading_values

NORMAL = {"systolic_bp": 128, "diastolic_bp": 82, "heart_rate": 76, "temperature": 36.9}


def _dosed(trial: OsloTrial) -> tuple[str, Any]:
    """A participant whose V5 session is running, the initial dose given at 09:00."""
    e, inv = trial.engine, trial.investigator
    pid = enrolled(trial, confirm=True)
    day = visit_date(trial, pid, "V5")
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    ready_for_dose(e, trial.protocol, inv, trial.therapist, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))
    return pid, day


def _sheet(day: Any) -> list[sv.VitalsEntry]:
    """A monitor sheet: normal readings, one beyond the review limit of heart rate, one beyond
    the urgent limit of systolic pressure (two alerts), a sign not measured."""
    return [
        sv.VitalsEntry(at(day, 9, 30), NORMAL),
        sv.VitalsEntry(at(day, 10), {**NORMAL, "heart_rate": 104}),
        sv.VitalsEntry(at(day, 10, 30), {**NORMAL, "systolic_bp": 163, "temperature": None}),
        sv.VitalsEntry(at(day, 11), NORMAL),
    ]


def _audit(engine: Engine, actor: Any, participant: str) -> list[tuple[Any, ...]]:
    """The audit rows of the participant's readings, values and alerts, in the order written,
    without the ids that differ between two participants (record, participant, visit …)."""
    ids = ("participant_id", "visit_id", "dosing_session_id", "vital_sign_id", "source_id")
    with unit_of_work(engine, actor) as uow:
        pk = get_participant(uow.session, participant).id
        rows = uow.session.execute(
            select(
                AuditEvent.username,
                AuditEvent.action,
                AuditEvent.table_name,
                AuditEvent.field,
                AuditEvent.new_value,
                AuditEvent.old_value,
                AuditEvent.reason,
            )
            .where(
                AuditEvent.participant_id == pk,
                AuditEvent.table_name.in_(["vital_sign", "vital_sign_value", "alert"]),
            )
            .order_by(AuditEvent.id)
        ).all()
    masked = (*ids, "raised_at")
    return [(*r[:4], None if r.field in masked else r.new_value, *r[5:]) for r in rows]


def _counts(engine: Engine, actor: Any) -> tuple[int, int, int, int]:
    with unit_of_work(engine, actor) as uow:
        s = uow.session
        return (
            s.scalar(select(func.count()).select_from(VitalSignReading)) or 0,
            s.scalar(select(func.count()).select_from(VitalSignValue)) or 0,
            s.scalar(select(func.count()).select_from(Alert)) or 0,
            s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def test_a_series_stores_what_one_by_one_entry_stores(engine: Engine) -> None:
    trial = build_trial(engine)
    e, the = trial.engine, trial.therapist
    one, day = _dosed(trial)
    many, day2 = _dosed(trial)
    assert day2 == day  # both on target: the same clinical times
    sheet = _sheet(day)
    singles = [
        sv.record_vitals(e, the, one, "V5", measured_at=r.measured_at, values=r.values)
        for r in sheet
    ]
    series = sv.record_vitals_series(e, the, many, "V5", sheet)

    def seen(records: Any) -> list[Any]:
        return [
            (
                r.measured_at,
                r.minutes_after_dose,
                list(r.values.items()),
                r.not_evaluated,
                [(a.rule_id, a.level, a.message, a.status) for a in r.alerts],
            )
            for r in records
        ]

    assert seen(series) == seen(singles)
    assert [r.minutes_after_dose for r in series] == [30, 60, 90, 120]
    assert [len(r.alerts) for r in series] == [0, 1, 1, 0]
    assert [a.rule_id for r in series for a in r.alerts] == [
        "vitals:heart_rate:high:review",
        "vitals:systolic_bp:high:urgent",
    ]
    assert "temperature" not in series[2].values
    # the audit trail says the same of both, row for row, in the same order
    trail = _audit(e, the, many)
    assert trail == _audit(e, the, one)
    assert len(trail) > 4 * 8  # the readings' fields, the values' and the alerts'
    # read back later, the values and alerts are those returned
    with unit_of_work(e, trial.investigator) as uow:
        stored = reading_values(uow.session, [r.id for r in series])
        person = get_participant(uow.session, many)
        read = [alerts_of(uow.session, person, "vital_sign", r.id) for r in series]
    assert read == [r.alerts for r in series]
    assert [list(stored[r.id].items()) for r in series] == [list(r.values.items()) for r in series]


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ({**NORMAL, "temperature": 99.1}, "reading 3 of 4 measured at "),
        ({**NORMAL, "systolic_bp": 70, "diastolic_bp": 82}, "is not above diastolic"),
        ({"pulse": 80}, "reading 3 of 4"),
        ({"systolic_bp": None}, "no vital sign given"),
    ],
)
def test_one_bad_reading_refuses_the_series_and_stores_nothing(
    engine: Engine, bad: dict[str, Any], said: str
) -> None:
    trial = build_trial(engine)
    pid, day = _dosed(trial)
    sheet = _sheet(day)
    sheet[2] = sv.VitalsEntry(sheet[2].measured_at, bad)
    before = _counts(trial.engine, trial.investigator)
    with pytest.raises(InputError) as refused:
        sv.record_vitals_series(trial.engine, trial.therapist, pid, "V5", sheet)
    assert said in str(refused.value)
    assert "reading 3 of 4" in str(refused.value)
    assert "nothing was stored" in str(refused.value)
    assert _counts(trial.engine, trial.investigator) == before


def test_a_series_is_refused_whole_for_a_reading_in_the_future(engine: Engine) -> None:
    trial = build_trial(engine)
    pid, day = _dosed(trial)
    sheet = [
        *_sheet(day),
        sv.VitalsEntry(datetime(2099, 1, 1, 9, tzinfo=at(day, 9).tzinfo), NORMAL),
    ]
    before = _counts(trial.engine, trial.investigator)
    with pytest.raises(InputError, match=r"reading 5 of 5 measured at 2099-01-01T09:00.*future"):
        sv.record_vitals_series(trial.engine, trial.therapist, pid, "V5", sheet)
    assert _counts(trial.engine, trial.investigator) == before


def test_an_empty_or_oversized_series_is_refused(engine: Engine) -> None:
    trial = build_trial(engine)
    pid, day = _dosed(trial)
    with pytest.raises(InputError, match="no reading given"):
        sv.record_vitals_series(trial.engine, trial.therapist, pid, "V5", [])
    many = [sv.VitalsEntry(at(day, 9, 30), NORMAL)] * 101
    with pytest.raises(InputError, match="101 readings in one series"):
        sv.record_vitals_series(trial.engine, trial.therapist, pid, "V5", many)
    with pytest.raises(InputError, match="reading 1 of the series is"):
        sv.record_vitals_series(
            trial.engine,
            trial.therapist,
            pid,
            "V5",
            [(at(day, 9), NORMAL)],  # type: ignore[list-item]
        )


def test_a_series_needs_the_role_a_running_session_and_no_lock(engine: Engine) -> None:
    trial = build_trial(engine)
    pid, day = _dosed(trial)
    sheet = _sheet(day)
    before = _counts(trial.engine, trial.investigator)
    with pytest.raises(PermissionDeniedError):
        sv.record_vitals_series(trial.engine, trial.rater, pid, "V5", sheet)
    # V9 is the second dosing visit: its session has not started
    with pytest.raises(NotFoundError, match=r"dosing session 2 \(V9\) .* has not started"):
        sv.record_vitals_series(trial.engine, trial.therapist, pid, "V9", sheet)
    assert _counts(trial.engine, trial.investigator) == before
    sv.lock(
        trial.engine, trial.data_manager, "participant", participant=pid, reason="monitoring visit"
    )
    before = _counts(trial.engine, trial.investigator)
    with pytest.raises(LockedError):
        sv.record_vitals_series(trial.engine, trial.therapist, pid, "V5", sheet)
    assert _counts(trial.engine, trial.investigator) == before


def test_a_retried_series_is_stored_once(engine: Engine) -> None:
    trial = build_trial(engine)
    pid, day = _dosed(trial)
    sheet = _sheet(day)
    e, the = trial.engine, trial.therapist
    first = sv.record_vitals_series(e, the, pid, "V5", sheet, idempotency_key="sheet-1")
    after = _counts(e, the)
    again = sv.record_vitals_series(e, the, pid, "V5", sheet, idempotency_key="sheet-1")
    assert _counts(e, the) == after
    assert [(r.id, r.measured_at, list(r.values.items())) for r in again] == [
        (r.id, r.measured_at, list(r.values.items())) for r in first
    ]
    assert [[a.id for a in r.alerts] for r in again] == [[a.id for a in r.alerts] for r in first]
    with pytest.raises(ConflictError):  # the key for another sheet
        sv.record_vitals_series(e, the, pid, "V5", sheet[:2], idempotency_key="sheet-1")
    assert _counts(e, the) == after


def test_a_sheet_across_the_dose_entered_after_it_stores_what_one_by_one_entry_stores(
    engine: Engine,
) -> None:
    """The paper sheet of a dosing day transcribed after the initial dose (09:00) was stored:
    its readings before the dose get the (negative) minutes from the dose as stored, those
    after it the positive ones, and each raises the alerts its values raise, exactly as the
    same readings entered one by one at that moment; a pre-dose reading beyond the limits is
    alerted as any other (the limits do not depend on the dose)."""
    trial = build_trial(engine)
    e, the = trial.engine, trial.therapist
    one, day = _dosed(trial)
    many, day2 = _dosed(trial)
    assert day2 == day
    sheet = [
        sv.VitalsEntry(at(day, 8, 30), {**NORMAL, "systolic_bp": 163}),
        sv.VitalsEntry(at(day, 8, 45), NORMAL),
        sv.VitalsEntry(at(day, 9), NORMAL),  # at the dose
        *_sheet(day),
    ]
    singles = [
        sv.record_vitals(e, the, one, "V5", measured_at=r.measured_at, values=r.values)
        for r in sheet
    ]
    series = sv.record_vitals_series(e, the, many, "V5", sheet)

    def seen(records: Any) -> list[Any]:
        return [
            (
                r.measured_at,
                r.minutes_after_dose,
                list(r.values.items()),
                [(a.rule_id, a.level, a.message, a.status) for a in r.alerts],
            )
            for r in records
        ]

    assert seen(series) == seen(singles)
    assert [r.minutes_after_dose for r in series] == [-30, -15, 0, 30, 60, 90, 120]
    assert [a.rule_id for r in series for a in r.alerts] == [
        "vitals:systolic_bp:high:urgent",
        "vitals:heart_rate:high:review",
        "vitals:systolic_bp:high:urgent",
    ]
    assert _audit(e, the, many) == _audit(e, the, one)
    # stored as returned: read back, the minutes are the same
    with unit_of_work(e, trial.investigator) as uow:
        minutes = uow.session.scalars(
            select(VitalSignReading.minutes_after_dose)
            .where(VitalSignReading.id.in_([r.id for r in series]))
            .order_by(VitalSignReading.measured_at)
        ).all()
    assert minutes == [-30, -15, 0, 30, 60, 90, 120]


def test_a_reading_entered_before_the_dose_has_no_minutes_after_it(engine: Engine) -> None:
    """Entered while no initial dose is stored, a reading (one, or a series) has no minutes
    after the dose; the same reading entered once the dose is stored counts them back from it."""
    trial = build_trial(engine)
    e, inv, the = trial.engine, trial.investigator, trial.therapist
    pid = enrolled(trial, confirm=True)
    day = visit_date(trial, pid, "V5")
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    early = sv.record_vitals_series(e, the, pid, "V5", [sv.VitalsEntry(at(day, 8, 10), NORMAL)])
    alone = sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 8, 20), values=NORMAL)
    assert (early[0].minutes_after_dose, alone.minutes_after_dose) == (None, None)
    ready_for_dose(e, trial.protocol, inv, the, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))
    late = sv.record_vitals_series(e, the, pid, "V5", [sv.VitalsEntry(at(day, 8, 40), NORMAL)])
    assert late[0].minutes_after_dose == -20
