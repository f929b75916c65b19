"""Vital signs: a reading of any signs the vocabulary declares, with plausibility checks and the
protocol's tiered limit alerts at any visit (:data:`remit.protocol.VITAL_SIGNS` names the signs)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError
from remit.protocol import VITAL_SIGN_CODES, VITAL_SIGNS, Protocol, VitalSign, vital_sign
from remit.protocol.gating import check_visit_allowed
from remit.protocol.vital_signs import ABOVE, VitalValues
from remit.safety import evaluate_vitals
from remit.services._common import (
    alert_record,
    alerts_of,
    plausible_time,
    store_alerts,
    visit_at,
    visit_code_of,
)
from remit.services.consent_rules import consents_of, require_consent
from remit.services.dosing import _doses, _initial_given, _require_running, _session_at
from remit.services.records import VitalsRecord
from remit.services.unit import Write, writing
from remit.store import Actor, UnitOfWork
from remit.store.dosing import DosingSession
from remit.store.tables import Participant
from remit.store.vitals import VitalSignReading, VitalSignValue, as_stored, reading_values

#: The most readings one :func:`record_vitals_series` call stores (a dosing day's monitor sheet
#: holds about twenty).
MAX_SERIES = 100


def _number(sign: VitalSign, value: object) -> float | int:
    d = VITAL_SIGNS[sign]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(
            f"{d.label.lower()} {value!r} is not a number", expected=f"a number in {d.unit}"
        )
    if d.integer and float(value) != int(value):
        raise InputError(
            f"{d.label.lower()} {value!r} is not a whole number",
            expected=f"{d.label.lower()} in whole {d.unit}",
        )
    if value < 0:
        raise InputError(f"{d.label.lower()} {value:g} is negative")
    if not d.plausible(value):
        other = d.other_unit
        if other is not None and value > d.high and d.plausible(other.convert(value)):
            raise InputError(
                f"{d.label.lower()} {value:g} looks like {other.name} ({other.unit})",
                expected=f"{d.unit} between {d.low:g} and {d.high:g}",
                hint=f"{value:g} {other.unit} is {other.convert(value):.{d.decimals}f} {d.unit}",
            )
        raise InputError(
            f"{d.label.lower()} {value:g} {d.unit} is not plausible",
            expected=f"between {d.low:g} and {d.high:g} {d.unit}",
        )
    return as_stored(sign, value)


def check_vitals(values: VitalValues) -> dict[VitalSign, float | int]:
    """Refuse unknown signs and implausible values (typing or unit errors).

    Returns the given values (``None`` ones left out) by sign code in vocabulary order, as
    they are stored: whole numbers for the integer signs.

    Examples
    --------
    >>> check_vitals({"oxygen_saturation": 97, "systolic_bp": 120, "heart_rate": None})
    {'systolic_bp': 120, 'oxygen_saturation': 97}
    """
    for code in values:
        vital_sign(code)  # InputError naming the known signs
    given = {
        code: _number(code, values[code])
        for code in VITAL_SIGN_CODES
        if values.get(code) is not None
    }
    if not given:
        raise InputError(
            "no vital sign given", expected="a value for at least one of " + ", ".join(VITAL_SIGNS)
        )
    for upper, lower in ABOVE:
        if upper in given and lower in given and given[upper] <= given[lower]:
            u, lo = VITAL_SIGNS[upper].label, VITAL_SIGNS[lower].label
            raise InputError(
                f"{u} {given[upper]:g} is not above {lo.lower()} {given[lower]:g}",
                expected=f"{u.lower()} above {lo.lower()}",
                hint="were the two swapped?",
            )
    return given


def vitals_record(
    session: Session,
    p: Participant,
    v: VitalSignReading,
    not_evaluated: tuple[tuple[str, str], ...] = (),
    values: Mapping[VitalSign, float | int] | None = None,
) -> VitalsRecord:
    """The record of reading ``v`` of participant ``p``: its values and the alerts it raised.
    ``values``: the reading's values as just stored in this transaction (as
    :func:`~remit.store.vitals.reading_values` reads them back), else read."""
    return VitalsRecord.from_row(
        v,
        participant_id=p.study_id,
        visit_code=visit_code_of(session, v.visit_id),
        values=dict(values)
        if values is not None
        else reading_values(session, [v.id]).get(v.id, {}),
        alerts=alerts_of(session, p, "vital_sign", v.id),
        not_evaluated=not_evaluated,
    )


def record_vitals(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    measured_at: datetime,
    values: VitalValues,
    idempotency_key: str | None = None,
) -> VitalsRecord:
    """Record one reading of vital signs at a visit: ``values`` maps sign codes to values.

    Any sign of :data:`remit.protocol.VITAL_SIGNS` may be given (``None`` for one not
    measured). At a dosing visit the reading belongs to the running session. At any visit the
    reading is checked against the protocol's tiered limits (``[safety.vitals]``): a reading
    beyond them raises ONE alert, at the most pressing level crossed, naming the worst sign
    first (:func:`remit.safety.evaluate_vitals`), in the same transaction.

    Refused, with nothing stored: an unknown sign, no value at all, a value outside the sign's
    plausible range (a temperature above 45 looks like °F), a fraction for a sign read in whole
    units, systolic not above diastolic.
    """
    measured = plausible_time(measured_at, "measured_at")
    given = check_vitals(values)
    body = {
        "participant": participant,
        "visit": visit_code,
        "measured_at": measured,
        "values": dict(given),
    }
    with writing(
        engine,
        actor,
        "record_vitals",
        participant=participant,
        at=measured,
        request=body,
        idempotency_key=idempotency_key,
        record_table="vital_sign",
    ) as w:
        if (done := w.stored(VitalSignReading)) is not None:
            return vitals_record(w.session, w.p, done)
        place = _place(w.session, w.p, w.protocol, visit_code)
        return _store_reading(
            w.uow, actor, w.p, w.protocol, place, measured, given, idempotency_key, w
        )


@dataclass(frozen=True)
class VitalsEntry:
    """One reading of a series for :func:`record_vitals_series`: when it was measured and its
    values by sign code (``None`` for a sign not measured), as :func:`record_vitals` takes them."""

    measured_at: datetime
    values: VitalValues


def _checked_series(
    readings: Sequence[VitalsEntry],
) -> list[tuple[datetime, dict[VitalSign, float | int]]]:
    """Each reading's time and values checked as :func:`record_vitals` checks one; the first
    refused reading is named (its number in the series and its time) in the error."""
    if not readings:
        raise InputError("no reading given", expected="1 or more readings of vital signs")
    if len(readings) > MAX_SERIES:
        raise InputError(
            f"{len(readings)} readings in one series",
            expected=f"at most {MAX_SERIES} readings",
            hint="enter the readings of each dosing session (or visit) as their own series",
        )
    checked: list[tuple[datetime, dict[VitalSign, float | int]]] = []
    for k, entry in enumerate(readings, start=1):
        if not isinstance(entry, VitalsEntry):
            raise InputError(
                f"reading {k} of the series is {entry!r}",
                expected="a VitalsEntry(measured_at=..., values={sign: value})",
            )
        try:
            measured = plausible_time(entry.measured_at, "measured_at")
            if measured is None:
                raise InputError("no measured_at", expected="the time the reading was taken")
            given = check_vitals(entry.values)
        except InputError as e:
            when = (
                f" measured at {entry.measured_at.isoformat(timespec='minutes')}"
                if isinstance(entry.measured_at, datetime)
                else ""
            )
            raise InputError(
                f"reading {k} of {len(readings)}{when}: {e.message}; nothing was stored",
                expected=e.expected,
                hint=e.hint,
            ) from e
        checked.append((measured, given))
    return checked


def record_vitals_series(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    readings: Sequence[VitalsEntry],
    *,
    idempotency_key: str | None = None,
) -> tuple[VitalsRecord, ...]:
    """Record several readings of vital signs at one visit (a dosing session's monitor sheet)
    in ONE transaction, and return their records in the order given.

    Each reading is checked, stored and evaluated against the protocol's limits exactly as
    :func:`record_vitals` does with one: the same values, times, minutes after the initial
    dose, audit rows and alerts (one per reading beyond the limits) as the same readings
    entered one by one. If any reading is refused (its number, time, sign and value are named),
    the whole series is refused and nothing is stored. ``idempotency_key`` covers the whole
    series: a retry of the same series returns the readings the first request stored.

    A sheet may span the dose: transcribed once the initial dose is stored (as a dosing
    day's paper sheet often is), each reading's minutes after the dose count from the dose as
    stored, negative for a reading taken before it, and each reading raises the alerts its
    values raise (the limits do not depend on the dose): what entering the same readings one
    by one at that moment stores. Entered while no initial dose is stored, a reading has no
    minutes after the dose (``None``), one by one or in a series.
    """
    checked = _checked_series(readings)
    times = [m for m, _ in checked]
    body = {
        "participant": participant,
        "visit": visit_code,
        "readings": [{"measured_at": m, "values": dict(g)} for m, g in checked],
    }
    with writing(
        engine,
        actor,
        "record_vitals",
        participant=participant,
        # the earliest time: consent for safety data needs only a consent given before it,
        # and every later reading is then after the participant's start as well
        at=min(times),
        request=body,
        idempotency_key=idempotency_key,
        record_table="vital_sign",
    ) as w:
        uow, session, p, protocol = w.uow, w.session, w.p, w.protocol
        if (first := w.stored(VitalSignReading)) is not None:
            return _replayed_series(session, p, first, times)
        place = _place(session, p, protocol, visit_code)
        _consented_throughout(session, protocol, p, times)
        records = []
        for k, (measured, given) in enumerate(checked):
            key = idempotency_key if k == 0 else None  # the series' key on its first reading
            records.append(
                _store_reading(uow, actor, p, protocol, place, measured, given, key, None)
            )
        w.remember(records[0].id)
        return tuple(records)


def _consented_throughout(
    session: Session, protocol: Protocol, p: Participant, times: list[datetime]
) -> None:
    """The consent check of the preamble (done there at the earliest time) at every later
    reading's time too, naming the first reading refused: a consent for safety data given
    before the first reading covers the later ones, but the rule is the protocol's and the
    consent module's to say, not this one's."""
    earliest = min(times)
    consents = consents_of(session, p)
    for k, at in enumerate(times, start=1):
        if at == earliest:
            continue
        try:
            require_consent(session, protocol, p, "record_vitals", at, consents=consents)
        except InputError as e:
            raise InputError(
                f"reading {k} of {len(times)} measured at {at.isoformat(timespec='minutes')}: "
                f"{e.message}; nothing was stored",
                expected=e.expected,
                hint=e.hint,
            ) from e


def _replayed_series(
    session: Session,
    p: Participant,
    first: VitalSignReading,
    times: list[datetime],
) -> tuple[VitalsRecord, ...]:
    """The readings a series stored, from its first one (which its key names): that
    participant's readings recorded by the same user at the same visit from the first on, in
    the order they were stored, matched to the request's times."""
    rows = list(
        session.scalars(
            select(VitalSignReading)
            .where(
                VitalSignReading.participant_id == p.id,
                VitalSignReading.visit_id == first.visit_id,
                VitalSignReading.recorded_by == first.recorded_by,
                VitalSignReading.id >= first.id,
            )
            .order_by(VitalSignReading.id)
            .limit(len(times))
        )
    )
    if [r.measured_at for r in rows] != times:  # a concurrent entry came between: not ours
        raise ConflictError(
            f"the readings stored by the series of vital sign reading {first.id} cannot be "
            "told apart from later readings",
            hint="list the participant's vital signs to see what was stored",
        )
    return tuple(vitals_record(session, p, r) for r in rows)


@dataclass(frozen=True)
class _Place:
    """Where readings at one visit go: the visit, the running dosing session at a dosing visit
    and when its initial dose was given (``None``: not given, or no session)."""

    visit_code: str
    visit_id: int
    session_id: int | None
    dose_given_at: datetime | None


def _place(session: Session, p: Participant, protocol: Protocol, visit_code: str) -> _Place:
    """Check that vital signs may be recorded at ``visit_code`` now (the participant's status,
    a running session at a dosing visit) and say where they go."""
    check_visit_allowed(
        p.status,
        p.study_id,
        visit_code,
        protocol.visit(visit_code).kind,
        "vital signs",
        safety=True,
    )
    visit = visit_at(session, p, visit_code)
    ds: DosingSession | None = None
    given_at: datetime | None = None
    if protocol.dosing_session(visit_code) is not None:
        ds = _session_at(session, p, protocol, visit_code)
        _require_running(ds, p, visit_code)
        initial = _initial_given(_doses(session, ds))
        given_at = None if initial is None else initial.given_at
    return _Place(visit_code, visit.id, None if ds is None else ds.id, given_at)


def _store_reading(
    uow: UnitOfWork,
    actor: Actor,
    p: Participant,
    protocol: Protocol,
    place: _Place,
    measured: datetime | None,
    given: Mapping[VitalSign, float | int],
    idempotency_key: str | None,
    w: Write | None,
) -> VitalsRecord:
    """Store one checked reading at ``place`` with its values and the alerts the protocol's
    limits raise, in ``uow``'s transaction; ``w`` (a single reading's request) remembers the
    idempotency key with the reading's id."""
    minutes: int | None = None
    if place.dose_given_at is not None and measured is not None:
        minutes = round((measured - place.dose_given_at).total_seconds() / 60)
    # Core INSERTs audited as add() and a flush would audit them (UnitOfWork.insert): the
    # reading's rows, then each value's, then the alert's, as before, for a fraction of the
    # ORM's unit-of-work cost (a monitor sheet stores some twenty readings in one call)
    v = VitalSignReading()
    inserted = uow.insert(
        VitalSignReading,
        {
            "participant_id": p.id,
            "dosing_session_id": place.session_id,
            "visit_id": place.visit_id,
            "measured_at": measured,
            "minutes_after_dose": minutes,
            "recorded_by": actor.user_id,
            "idempotency_key": idempotency_key,
        },
    )
    for key, value in inserted.items():
        setattr(v, key, value)
    for sign, value in given.items():
        uow.insert(VitalSignValue, {"vital_sign_id": v.id, "sign": sign, "value": float(value)})
    outcome = evaluate_vitals(protocol, place.visit_code, given)
    # a new reading's alerts are the ones just raised: no other alert can name its id
    added = store_alerts(uow, p, outcome.alerts, "vital_sign", v.id, new_record=True)
    if w is not None:
        w.remember(v.id, at_once=True)
    # the values as stored (whole numbers for the integer signs, in vocabulary order)
    stored = {sign: as_stored(sign, float(value)) for sign, value in given.items()}
    return VitalsRecord.from_row(
        v,
        participant_id=p.study_id,
        visit_code=place.visit_code,
        values=stored,
        alerts=tuple(alert_record(a, p.study_id) for a in added),
        not_evaluated=outcome.not_evaluated,
    )
