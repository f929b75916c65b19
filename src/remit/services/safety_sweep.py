"""The safety sweep: planned dosing-day readings that were not recorded raise alerts.

:func:`raise_missed_readings` is a plain function of the database and the time, meant to run
periodically (``remit alerts sweep``; the web server's periodic jobs). It looks at every dosing
session that has begun (initial dose given), finds with :func:`remit.safety.missed_slots` the
planned vital-sign readings and VAS ratings not recorded ``[safety.missed] grace_min`` minutes
after they were due, and stores one alert per missed slot in one audited transaction. A slot
already flagged is never flagged again, even after its alert was closed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from remit.errors import InputError
from remit.protocol.status import DoseKind, DoseStatus, DosingSessionStatus
from remit.safety import missed_slots
from remit.services._common import alert_record, aware, store_alerts, visit_code_of
from remit.services.records import AlertRecord
from remit.services.unit import writing
from remit.store import Actor
from remit.store.dosing import Dose, DosingSession
from remit.store.tables import Assessment, Participant
from remit.store.vitals import VitalSignReading

#: The source of a missed-reading alert: the dosing session whose reading is missing.
SOURCE_TABLE = "dosing_session"

#: The sessions the sweep looks at: begun and not cancelled.
_SWEPT = (DosingSessionStatus.IN_PROGRESS.value, DosingSessionStatus.COMPLETED.value)


def raise_missed_readings(
    engine: Engine, *, now: datetime, actor: Actor | None = None
) -> list[AlertRecord]:
    """Raise a ``[safety.missed]`` alert for every planned dosing-day reading not recorded.

    Idempotent: a slot (``missed:vitals:<minute>``, ``missed:vas:<timepoint>`` of one
    session) that has an alert, open or closed, is not flagged again. A site-bound ``actor``
    sweeps only its site's participants; without one, Remit acts as itself (the periodic job).

    Parameters
    ----------
    engine
        The trial database.
    now
        The time of the sweep (time-zone aware).
    actor
        Who runs the sweep (``None``: the system actor ``remit-sweep``).

    Returns
    -------
    list[AlertRecord]
        The alerts raised by this sweep (empty when nothing new is missing).

    Refused: a naive ``now``; an actor whose role may not sweep (investigator, data manager,
    admin may).
    """
    when = aware(now, "now")
    if when is None:
        raise InputError("no time given for the sweep", expected="a time-zone-aware datetime")
    who = actor if actor is not None else Actor.system("remit-sweep")
    raised: list[AlertRecord] = []
    with writing(engine, who, "sweep_missed_readings", locks=False) as w:
        session, protocol = w.session, w.protocol
        query = (
            select(DosingSession, Participant)
            .join(Participant, Participant.id == DosingSession.participant_id)
            .where(DosingSession.status.in_(_SWEPT))
            .order_by(DosingSession.id)
        )
        if who.site_id is not None:
            query = query.where(Participant.site_id == who.site_id)
        for ds, p in session.execute(query).all():
            visit_code = visit_code_of(session, ds.visit_id)
            if visit_code is None or protocol.dosing_session(visit_code) is None:
                continue
            doses = list(session.scalars(select(Dose).where(Dose.dosing_session_id == ds.id)))
            initial = next(
                (
                    d
                    for d in doses
                    if d.kind == DoseKind.INITIAL and d.status == DoseStatus.GIVEN and d.given_at
                ),
                None,
            )
            if initial is None or initial.given_at is None:
                continue  # nothing is due before the initial dose
            supplemental = next((d for d in doses if d.kind == DoseKind.SUPPLEMENTAL), None)
            readings = session.scalars(
                select(VitalSignReading.measured_at).where(
                    VitalSignReading.dosing_session_id == ds.id
                )
            )
            minutes = [(at - initial.given_at).total_seconds() / 60 for at in readings]
            rated = session.scalars(
                select(Assessment.timepoint).where(
                    Assessment.dosing_session_id == ds.id, Assessment.timepoint.is_not(None)
                )
            )
            found = missed_slots(
                protocol,
                visit_code,
                initial_at=initial.given_at,
                vitals_taken=minutes,
                vas_taken=[t for t in rated if t is not None],
                now=when,
                supplemental_at=None
                if supplemental is None
                else supplemental.given_at or supplemental.offered_at,
                ended_at=ds.ended_at,
            )
            stored = store_alerts(w.uow, p, found.alerts, SOURCE_TABLE, ds.id, once=True)
            raised.extend(alert_record(row, p.study_id) for row in stored)
    return raised
