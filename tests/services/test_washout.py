"""Concomitant medications and the washout before a dose (issue 12, part 4), on SQLite and
PostgreSQL.

The Oslo protocol prohibits SSRIs (ATC N06AB) with a 14-day washout (fluoxetine, N06AB03, 35
days). A dose, initial or supplemental, is refused while such a medication is ongoing or
stopped less than its washout before the day of the dose; an investigator's override with a
reason gives it and records a major ``washout_override`` deviation in the same transaction.
Medications are recorded, edited with a reason, stopped and listed with their ATC code and a
dated taper plan.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.forms import NORMAL_VITALS, at
from tests.support.predose import ready_for_dose
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError, PermissionDeniedError
from remit.protocol.status import DeviationCategory
from remit.store.tables import AuditEvent, ConcomitantMedication, Dose, ProtocolDeviation

Rows = Callable[[], dict[str, int]]


def _dosing_day(oslo: OsloTrial) -> tuple[str, date]:
    """A participant at the first dosing day, the session started and a normal reading."""
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    e = oslo.engine
    sv.start_dosing_session(e, oslo.investigator, pid, "V5", started_at=at(day, 8))
    sv.record_vitals(e, oslo.therapist, pid, "V5", measured_at=at(day, 8, 45), values=NORMAL_VITALS)
    ready_for_dose(e, oslo.protocol, oslo.investigator, oslo.therapist, pid, "V5", at(day, 8, 50))
    return pid, day


def _sertraline(oslo: OsloTrial, pid: str, stop: date | None, **more: object) -> sv.ConmedRecord:
    return sv.record_conmed(
        oslo.engine,
        oslo.investigator,
        pid,
        name=str(more.pop("name", "sertraline")),
        atc_code=str(more.pop("atc_code", "N06AB06")),
        dose="100 mg",
        route="oral",
        indication="depression",
        start_date=date(2022, 1, 1),
        stop_date=stop,
        **more,  # type: ignore[arg-type]
    )


def _initial(oslo: OsloTrial, pid: str, day: date, **more: object) -> sv.DoseRecord:
    actor = more.pop("actor", oslo.investigator)
    return sv.record_dose(
        oslo.engine,
        actor,  # type: ignore[arg-type]
        pid,
        "V5",
        kind="initial",
        dose_mg=80,
        given_at=at(day, 9),
        **more,  # type: ignore[arg-type]
    )


def _deviations(oslo: OsloTrial) -> list[ProtocolDeviation]:
    with Session(oslo.engine) as session:
        return list(session.scalars(select(ProtocolDeviation).order_by(ProtocolDeviation.id)))


@pytest.mark.parametrize(("days_before", "refused"), [(13, True), (14, False), (15, False)])
def test_the_washout_ends_exactly_washout_days_after_the_stop_date(
    oslo: OsloTrial, rows: Rows, days_before: int, refused: bool
) -> None:
    pid, day = _dosing_day(oslo)
    stop = day - timedelta(days=days_before)
    med = _sertraline(oslo, pid, stop)
    assert (med.atc_class, med.prohibited, med.washout_days) == ("N06AB", "SSRIs", 14)
    before = rows()
    if refused:
        with pytest.raises(InputError) as error:
            _initial(oslo, pid, day)
        said = str(error.value)
        assert "sertraline (N06AB06, SSRIs)" in said
        assert f"stopped {stop}" in said
        assert f"earliest dose {stop + timedelta(days=14)}" in said
        assert "override" in str(error.value.hint)
        assert rows() == before  # nothing stored from the refused dose
    else:
        dose = _initial(oslo, pid, day)
        assert (dose.status, dose.deviations) == ("given", ())
        assert rows()["dose"] == before["dose"] + 1


def test_an_ongoing_prohibited_medication_refuses_the_dose(oslo: OsloTrial, rows: Rows) -> None:
    pid, day = _dosing_day(oslo)
    _sertraline(oslo, pid, None)
    later = _sertraline(oslo, pid, day + timedelta(days=3), name="escitalopram", atc_code="N06AB10")
    assert later.stop_date == day + timedelta(days=3)
    before = rows()
    with pytest.raises(InputError) as error:
        _initial(oslo, pid, day)
    said = str(error.value)
    assert "sertraline (N06AB06, SSRIs) is ongoing (no stop date)" in said
    assert f"escitalopram (N06AB10, SSRIs) is taken until {day + timedelta(days=3)}" in said
    assert rows() == before


def test_a_substance_row_outranks_its_class(oslo: OsloTrial) -> None:
    pid, day = _dosing_day(oslo)
    med = _sertraline(oslo, pid, day - timedelta(days=20), name="fluoxetine", atc_code="N06AB03")
    assert (med.prohibited, med.washout_days) == ("fluoxetine", 35)
    with pytest.raises(InputError, match=f"earliest dose {day + timedelta(days=15)}"):
        _initial(oslo, pid, day)


def test_allowed_medications_and_exceptions_do_not_stop_a_dose(oslo: OsloTrial) -> None:
    pid, day = _dosing_day(oslo)
    paracetamol = _sertraline(oslo, pid, None, name="paracetamol", atc_code="N02BE01")
    assert (paracetamol.prohibited, paracetamol.atc_class) == (None, "N02BE")
    no_code = sv.record_conmed(oslo.engine, oslo.investigator, pid, name="vitamin D")
    assert no_code.prohibited is None
    dose = _initial(oslo, pid, day)
    assert dose.status == "given"


def test_an_investigator_override_gives_the_dose_and_records_a_deviation(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid, day = _dosing_day(oslo)
    _sertraline(oslo, pid, day - timedelta(days=10))
    before = rows()
    dose = _initial(oslo, pid, day, override_reason="taper finished early, psychiatrist agrees")
    assert dose.deviations == (DeviationCategory.WASHOUT_OVERRIDE.value,)
    after = rows()
    assert (after["dose"], after["protocol_deviation"]) == (
        before["dose"] + 1,
        before["protocol_deviation"] + 1,
    )
    (deviation,) = _deviations(oslo)
    assert deviation.category == "washout_override"
    assert deviation.major
    assert deviation.occurred_date == day
    assert "sertraline (N06AB06, SSRIs)" in deviation.description
    assert "taper finished early" in deviation.description
    with Session(oslo.engine) as session:
        stored = session.scalars(select(Dose)).one()
        assert stored.override_by is not None


def test_an_override_by_a_therapist_is_refused_and_nothing_is_stored(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid, day = _dosing_day(oslo)
    _sertraline(oslo, pid, None)
    before = rows()
    with pytest.raises(PermissionDeniedError, match="may not override"):
        _initial(oslo, pid, day, actor=oslo.therapist, override_reason="I think it is fine")
    assert rows() == before


def test_the_supplemental_dose_is_refused_too(oslo: OsloTrial, rows: Rows) -> None:
    pid, day = _dosing_day(oslo)
    _initial(oslo, pid, day)
    _sertraline(oslo, pid, None)  # started again after the first dose, still ongoing
    before = rows()
    with pytest.raises(InputError, match="prohibited medication: sertraline"):
        sv.record_dose(
            oslo.engine,
            oslo.investigator,
            pid,
            "V5",
            kind="supplemental",
            dose_mg=40,
            given_at=at(day, 10, 45),
        )
    assert rows() == before


def test_record_edit_stop_and_list_with_a_dated_taper(oslo: OsloTrial, rows: Rows) -> None:
    pid = enrolled(oslo, "V1")
    e, inv = oslo.engine, oslo.investigator
    med = sv.record_conmed(
        e,
        inv,
        pid,
        name="sertraline",
        atc_code=" n06ab06 ",
        dose="100 mg",
        start_date=date(2022, 1, 1),
        taper_steps=[("2024-01-01", "50 mg"), {"date": date(2024, 1, 15), "dose": "25 mg"}],
    )
    assert med.atc_code == "N06AB06"
    assert [(s.date, s.dose) for s in med.taper_steps] == [
        (date(2024, 1, 1), "50 mg"),
        (date(2024, 1, 15), "25 mg"),
    ]
    before = rows()
    with pytest.raises(InputError, match="after the stop date"):
        sv.stop_conmed(e, inv, med.id, stop_date=date(2024, 1, 10))
    with pytest.raises(InputError, match="reason for the change is empty"):
        sv.edit_conmed(e, inv, med.id, reason=" ", route="oral")
    with pytest.raises(InputError, match="not of the shape"):
        sv.edit_conmed(e, inv, med.id, reason="typo", atc_code="N6AB06")
    with pytest.raises(InputError, match="cannot change"):
        sv.edit_conmed(e, inv, med.id, reason="x", participant_id=3)
    with pytest.raises(PermissionDeniedError):
        sv.stop_conmed(e, oslo.rater, med.id, stop_date=date(2024, 2, 1))
    assert rows() == before
    edited = sv.edit_conmed(e, inv, med.id, reason="route was missing", route="oral")
    stopped = sv.stop_conmed(e, oslo.therapist, med.id, stop_date=date(2024, 1, 29))
    assert (edited.route, stopped.route, stopped.stop_date) == ("oral", "oral", date(2024, 1, 29))
    assert sv.list_conmeds(e, oslo.rater, pid) == [stopped]
    with Session(e) as session:
        reasons = set(
            session.scalars(
                select(AuditEvent.reason).where(AuditEvent.table_name == "concomitant_medication")
            )
        )
    assert {"route was missing", "stopped 2024-01-29"} <= reasons


def test_a_bad_atc_code_or_taper_is_refused_and_nothing_is_stored(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid = enrolled(oslo, "V1")
    before = rows()
    for bad, match in [
        ({"atc_code": "N06"}, "too general"),
        ({"atc_code": "sertraline"}, "not of the shape"),
        ({"taper_steps": [("2024-02-01", "50 mg"), ("2024-01-01", "0 mg")]}, "not after"),
        ({"taper_steps": [("2024-13-01", "50 mg")]}, "is not a date"),
        ({"taper_steps": [("2024-01-01", " ")]}, "dose of taper step 1 is empty"),
        ({"stop_date": date(2021, 1, 1)}, "before start"),
    ]:
        with pytest.raises(InputError, match=match):
            sv.record_conmed(
                oslo.engine,
                oslo.investigator,
                pid,
                name="sertraline",
                start_date=date(2022, 1, 1),
                **bad,  # type: ignore[arg-type]
            )
    assert rows() == before
    with Session(oslo.engine) as session:
        assert session.scalars(select(ConcomitantMedication)).first() is None


def test_one_override_covers_a_dose_stop_and_a_washout(oslo: OsloTrial, rows: Rows) -> None:
    pid, day = _dosing_day(oslo)
    _initial(oslo, pid, day)
    sv.record_vitals(
        oslo.engine,
        oslo.therapist,
        pid,
        "V5",
        measured_at=at(day, 10, 40),
        values={**NORMAL_VITALS, "systolic_bp": 200, "diastolic_bp": 125},
    )
    _sertraline(oslo, pid, None)
    supplemental = {"kind": "supplemental", "dose_mg": 40, "given_at": at(day, 10, 45)}
    before = rows()
    with pytest.raises(InputError) as error:
        sv.record_dose(oslo.engine, oslo.investigator, pid, "V5", **supplemental)  # type: ignore[arg-type]
    assert "dose stop:" in str(error.value)
    assert "prohibited medication: sertraline" in str(error.value)
    assert rows() == before
    dose = sv.record_dose(
        oslo.engine,
        oslo.investigator,
        pid,
        "V5",
        override_reason="BP re-measured 150/95; the SSRI was stopped, chart not updated",
        **supplemental,  # type: ignore[arg-type]
    )
    assert set(dose.deviations) == {"dose_stop_override", "washout_override"}
    found = {d.category: d.description for d in _deviations(oslo)}
    assert set(found) == {"dose_stop_override", "washout_override"}
    for text in found.values():
        assert "one override covered both the dose stop and the washout" in text
