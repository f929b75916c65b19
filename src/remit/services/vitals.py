"""Vital signs: a reading of any signs the vocabulary declares, with plausibility checks and the
protocol's tiered limit alerts at any visit (:data:`remit.protocol.VITAL_SIGNS` names the signs)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from remit.errors import InputError
from remit.protocol import VITAL_SIGN_CODES, VITAL_SIGNS, VitalSign, vital_sign
from remit.protocol.gating import check_visit_allowed
from remit.protocol.vital_signs import ABOVE, VitalValues
from remit.safety import evaluate_vitals
from remit.services._common import (
    alerts_of,
    plausible_time,
    store_alerts,
    visit_at,
    visit_code_of,
)
from remit.services.dosing import _doses, _initial_given, _require_running, _session_at
from remit.services.records import VitalsRecord
from remit.services.unit import writing
from remit.store import Actor
from remit.store.dosing import DosingSession
from remit.store.tables import Participant
from remit.store.vitals import VitalSignReading, VitalSignValue, as_stored, reading_values


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
        uow, session, p, protocol = w.uow, w.session, w.p, w.protocol
        if (done := w.stored(VitalSignReading)) is not None:
            return vitals_record(session, p, done)
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
        minutes: int | None = None
        if protocol.dosing_session(visit_code) is not None:
            ds = _session_at(session, p, protocol, visit_code)
            _require_running(ds, p, visit_code)
            initial = _initial_given(_doses(session, ds))
            if initial is not None and initial.given_at is not None and measured is not None:
                minutes = round((measured - initial.given_at).total_seconds() / 60)
        v = VitalSignReading(
            participant_id=p.id,
            dosing_session_id=ds.id if ds else None,
            visit_id=visit.id,
            measured_at=measured,
            minutes_after_dose=minutes,
            recorded_by=actor.user_id,
            idempotency_key=idempotency_key,
        )
        uow.add(v)
        uow.flush()
        for sign, value in given.items():
            uow.add(VitalSignValue(vital_sign_id=v.id, sign=sign, value=float(value)))
        uow.flush()
        outcome = evaluate_vitals(protocol, visit_code, given)
        store_alerts(uow, p, outcome.alerts, "vital_sign", v.id)
        w.remember(v.id)
        # the values as stored (whole numbers for the integer signs, in vocabulary order)
        stored = {sign: as_stored(sign, float(value)) for sign, value in given.items()}
        return vitals_record(session, p, v, outcome.not_evaluated, stored)
