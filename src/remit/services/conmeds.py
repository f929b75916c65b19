"""Concomitant medications: record, edit (with a reason), stop and list, each with its WHO ATC
code, route and a dated taper plan.

The ATC code decides whether the protocol prohibits the medication at a dose
(``[[medications.prohibited]]``, :class:`remit.protocol.medications.Medications`); the dose
services refuse a dose during its washout (:func:`remit.services.dosing_checks.washout_blocks`).
Every change of a stored medication needs a reason (the table's reason rule); stopping one
records ``stopped <date>`` unless a reason is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, select

from remit.errors import InputError
from remit.protocol import Protocol
from remit.protocol.medications import atc_class, atc_problem
from remit.services._common import a_date, check_unlocked, protocol_in_force, text_given
from remit.services.blinding import SafetyBlind
from remit.services.coding import code_new_record, uncode_record
from remit.services.records import ConmedRecord, TaperStepRecord
from remit.services.unit import owner_of, reading, writing
from remit.store import Actor
from remit.store.tables import ConcomitantMedication, Participant

#: A taper step as callers give it: a record, a ``(date, dose)`` pair or a mapping with
#: ``date`` (a date or ``YYYY-MM-DD``) and ``dose``.
TaperStepInput = TaperStepRecord | tuple[date | str, str] | Mapping[str, Any]

#: The fields :func:`edit_conmed` may change.
EDITABLE = frozenset(
    {
        "name",
        "atc_code",
        "route",
        "dose",
        "indication",
        "start_date",
        "stop_date",
        "taper_steps",
    }
)


def clean_atc(code: str | None) -> str | None:
    """An ATC code as stored (stripped, upper case), or :class:`InputError` for a bad shape.

    >>> clean_atc(" n06ab06 ")
    'N06AB06'
    >>> clean_atc("") is None
    True
    """
    if code is None or not str(code).strip():
        return None
    code = str(code).strip().upper()
    if (problem := atc_problem(code, substance=True)) is not None:
        raise InputError(problem, hint="look the substance up in the WHO ATC index")
    return code


def _step_date(value: Any, n: int) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InputError(
                f"taper step {n}: date {value!r} is not a date", expected="YYYY-MM-DD"
            ) from None
    a_date(value, f"taper step {n}: date")
    if value is None:
        raise InputError(f"taper step {n} has no date", expected="a date (YYYY-MM-DD)")
    return value  # type: ignore[no-any-return]


def clean_taper(steps: Iterable[TaperStepInput] | None) -> tuple[TaperStepRecord, ...]:
    """A taper plan as records, each step with a date and a dose, dates strictly increasing.

    >>> clean_taper([("2024-01-01", "50 mg"), {"date": "2024-01-15", "dose": "0 mg"}])[1]
    TaperStepRecord(date=datetime.date(2024, 1, 15), dose='0 mg')
    >>> clean_taper([("2024-01-15", "50 mg"), ("2024-01-01", "25 mg")])
    ... # doctest: +IGNORE_EXCEPTION_DETAIL, +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    remit.errors.InputError: taper step 2 on 2024-01-01 is not after step 1 on 2024-01-15
    """
    out: list[TaperStepRecord] = []
    for n, step in enumerate(steps or (), start=1):
        when: Any
        dose: Any
        if isinstance(step, TaperStepRecord):
            when, dose = step.date, step.dose
        elif isinstance(step, Mapping):
            when, dose = step.get("date"), step.get("dose")
        elif isinstance(step, tuple) and len(step) == 2:
            when, dose = step
        else:
            raise InputError(
                f"taper step {n} {step!r} is not a step", expected="a (date, dose) pair"
            )
        day = _step_date(when, n)
        dose = text_given(dose, f"dose of taper step {n}")
        if out and day <= out[-1].date:
            raise InputError(
                f"taper step {n} on {day} is not after step {n - 1} on {out[-1].date}",
                expected="the steps in date order, one per date",
            )
        out.append(TaperStepRecord(day, dose))
    return tuple(out)


def _check_dates(start: date | None, stop: date | None, steps: Sequence[TaperStepRecord]) -> None:
    if start and stop and stop < start:
        raise InputError(f"stop date {stop} is before start {start}")
    if steps and start and steps[0].date < start:
        raise InputError(
            f"the taper plan starts {steps[0].date}, before the medication's start {start}"
        )
    if steps and stop and steps[-1].date > stop:
        raise InputError(
            f"the taper plan's last step {steps[-1].date} is after the stop date {stop}",
            hint="end the plan on or before the stop date, or move the stop date",
        )


def _stored_steps(steps: Sequence[TaperStepRecord]) -> list[dict[str, str]] | None:
    return [{"date": s.date.isoformat(), "dose": s.dose} for s in steps] or None


def conmed_record(protocol: Protocol, p: Participant, row: ConcomitantMedication) -> ConmedRecord:
    """The record of a stored medication, with its class and whether the protocol prohibits it."""
    cls = protocol.medications.prohibited_class(row.atc_code)
    return ConmedRecord.from_row(
        row,
        participant_id=p.study_id,
        atc_class=atc_class(row.atc_code) if row.atc_code else None,
        taper_steps=tuple(
            TaperStepRecord(date.fromisoformat(s["date"]), s["dose"]) for s in row.taper_steps or ()
        ),
        prohibited=cls.label if cls else None,
        washout_days=cls.washout_days if cls else None,
        earliest_dose=(
            row.stop_date + timedelta(days=cls.washout_days) if cls and row.stop_date else None
        ),
    )


def record_conmed(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    name: str,
    atc_code: str | None = None,
    route: str | None = None,
    dose: str | None = None,
    indication: str | None = None,
    start_date: date | None = None,
    stop_date: date | None = None,
    taper_steps: Iterable[TaperStepInput] | None = None,
    taper_plan: str | None = None,
    idempotency_key: str | None = None,
) -> ConmedRecord:
    """Record a concomitant medication, its ATC code and its dated taper plan.

    Examples
    --------
    ::

        record_conmed(engine, investigator, "OSL-001", name="sertraline", atc_code="N06AB06",
                      dose="100 mg", route="oral", start_date=date(2023, 1, 1),
                      stop_date=date(2024, 2, 1),
                      taper_steps=[("2024-01-15", "50 mg"), ("2024-02-01", "0 mg")])
        # -> ConmedRecord(..., atc_class="N06AB", prohibited="SSRIs", washout_days=14)
    """
    name = text_given(name, "medication name")
    code = clean_atc(atc_code)
    a_date(start_date, "start date")
    a_date(stop_date, "stop date")
    steps = clean_taper(taper_steps)
    _check_dates(start_date, stop_date, steps)
    body = {
        "participant": participant,
        "name": name,
        "atc": code,
        "route": route,
        "dose": dose,
        "indication": indication,
        "start": start_date,
        "stop": stop_date,
        "steps": [(s.date, s.dose) for s in steps],
        "taper": taper_plan,
    }
    with writing(
        engine,
        actor,
        "record_conmed",
        participant=participant,
        request=body,
        idempotency_key=idempotency_key,
        record_table="concomitant_medication",
    ) as w:
        p = w.p
        row = w.stored(ConcomitantMedication)
        if row is None:
            row = ConcomitantMedication(
                participant_id=p.id,
                name=name,
                atc_code=code,
                route=route or None,
                dose=dose or None,
                indication=indication or None,
                start_date=start_date,
                stop_date=stop_date,
                taper_plan=taper_plan or None,
                taper_steps=_stored_steps(steps),
            )
            w.create(row)
            code_new_record(w.uow, p.id, "concomitant_medication", row.id, name)
        return conmed_record(w.protocol, p, row)


def edit_conmed(
    engine: Engine,
    actor: Actor,
    conmed_id: int,
    *,
    reason: str,
    **changes: Any,
) -> ConmedRecord:
    """Change a recorded medication (any of :data:`EDITABLE`), with a reason for the audit
    trail. A field given as ``None`` (or empty) is cleared; the name cannot be.

    Examples
    --------
    ::

        edit_conmed(engine, investigator, 3, reason="ATC code was missing",
                    atc_code="N06AB06")
    """
    reason = text_given(reason, "reason for the change")
    unknown = sorted(set(changes) - EDITABLE)
    if unknown or not changes:
        raise InputError(
            f"cannot change {unknown or 'nothing'}",
            expected="some of " + ", ".join(sorted(EDITABLE)),
        )
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "name":
            clean[key] = text_given(value, "medication name")
        elif key == "atc_code":
            clean[key] = clean_atc(value)
        elif key in ("start_date", "stop_date"):
            clean[key] = a_date(value, key.replace("_", " "))
        elif key == "taper_steps":
            clean[key] = clean_taper(value)
        else:
            clean[key] = str(value).strip() if value is not None and str(value).strip() else None
    return _change(engine, actor, conmed_id, "edit_conmed", reason, clean)


def stop_conmed(
    engine: Engine,
    actor: Actor,
    conmed_id: int,
    *,
    stop_date: date,
    reason: str | None = None,
) -> ConmedRecord:
    """Record the day a medication was (or will be) stopped; the audit reason is ``reason`` or
    ``stopped <date>``. Refused before its start or before its taper plan's last step.

    Examples
    --------
    ::

        stop_conmed(engine, investigator, 3, stop_date=date(2024, 2, 1))
    """
    a_date(stop_date, "stop date")
    if stop_date is None:
        raise InputError("no stop date given", expected="the day the medication was stopped")
    why = (reason or "").strip() or f"stopped {stop_date}"
    return _change(engine, actor, conmed_id, "stop_conmed", why, {"stop_date": stop_date})


def _change(
    engine: Engine,
    actor: Actor,
    conmed_id: int,
    operation: str,
    reason: str,
    clean: dict[str, Any],
) -> ConmedRecord:
    with writing(
        engine,
        actor,
        operation,
        participant=owner_of(ConcomitantMedication, conmed_id, "concomitant medication"),
        reason=reason,
    ) as w:
        session, p = w.session, w.p
        row = session.get_one(ConcomitantMedication, conmed_id)
        check_unlocked(session, p.id, "concomitant_medication", row.id)
        steps = clean.get("taper_steps")
        if steps is None:
            steps = conmed_record(w.protocol, p, row).taper_steps
        _check_dates(
            clean.get("start_date", row.start_date), clean.get("stop_date", row.stop_date), steps
        )
        renamed = "name" in clean and clean["name"] != row.name
        for key, value in clean.items():
            setattr(row, key, _stored_steps(value) if key == "taper_steps" else value)
        session.flush()
        if renamed:  # the old code was of the old name: recode (or back to the queue)
            uncode_record(w.uow, "concomitant_medication", row.id)
            code_new_record(w.uow, p.id, "concomitant_medication", row.id, row.name)
        return conmed_record(w.protocol, p, row)


def list_conmeds(engine: Engine, actor: Actor, participant: int | str) -> list[ConmedRecord]:
    """A participant's concomitant medications, oldest record first."""
    with reading(engine, actor, "view_participants", "list_conmeds", participant=participant) as r:
        session, p = r.session, r.p
        protocol, _ = protocol_in_force(session)
        SafetyBlind.of(protocol, actor).check(r, "concomitant_medication")
        rows = session.scalars(
            select(ConcomitantMedication)
            .where(ConcomitantMedication.participant_id == p.id)
            .order_by(ConcomitantMedication.id)
        )
        return r.returning([conmed_record(protocol, p, row) for row in rows])
