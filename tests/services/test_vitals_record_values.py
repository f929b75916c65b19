"""The record ``record_vitals`` returns carries the values as stored (not read back): the same
values, types (whole numbers for the integer signs) and order as a later read of the reading
and as the record a retried submission gets."""

from __future__ import annotations

from sqlalchemy import Engine
from tests.support.forms import at
from tests.support.predose import ready_for_dose
from tests.support.trial import build_trial, enrolled, visit_date

from remit import services as sv
from remit.store import unit_of_work
from remit.store.vitals import reading_values


def test_the_returned_values_are_those_read_back(engine: Engine) -> None:
    trial = build_trial(engine)
    e, inv = trial.engine, trial.investigator
    pid = enrolled(trial, confirm=True)
    day = visit_date(trial, pid, "V5")
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    ready_for_dose(e, trial.protocol, inv, trial.therapist, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))
    # given out of vocabulary order, an integer sign as a whole float, a temperature as int
    given = {"temperature": 37, "heart_rate": 77.0, "systolic_bp": 131, "diastolic_bp": 84}
    record = sv.record_vitals(
        e, trial.therapist, pid, "V5", measured_at=at(day, 9, 30), values=given,
        idempotency_key="vitals-1",
    )  # fmt: skip
    with unit_of_work(e, inv) as uow:
        stored = reading_values(uow.session, [record.id])[record.id]
    assert list(record.values.items()) == list(stored.items())
    assert [type(v) for v in record.values.values()] == [type(v) for v in stored.values()]
    assert [type(v) for v in record.values.values()] == [int, int, int, float]
    again = sv.record_vitals(
        e, trial.therapist, pid, "V5", measured_at=at(day, 9, 30), values=given,
        idempotency_key="vitals-1",
    )  # fmt: skip
    assert again.id == record.id
    assert list(again.values.items()) == list(record.values.items())
