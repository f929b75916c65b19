"""What was recorded on one dosing day: its doses and vital signs, for people who may view
participants (the dosing-day page of the web app)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from remit.services._common import find_visit, protocol_in_force
from remit.services.dosing import _dose_record
from remit.services.records import DoseRecord, VitalsRecord, _Record
from remit.services.unit import reading
from remit.services.vitals import vitals_record
from remit.store import Actor
from remit.store.dosing import Dose, DosingSession
from remit.store.vitals import VitalSignReading


@dataclass(frozen=True)
class DosingDay(_Record):
    """The doses and vital signs of one dosing day, oldest first."""

    doses: tuple[DoseRecord, ...]
    vitals: tuple[VitalsRecord, ...]


def dosing_day(engine: Engine, actor: Actor, participant: int | str, visit_code: str) -> DosingDay:
    """The doses and vital signs of ``participant``'s dosing day at ``visit_code``.

    Empty when the participant has no such visit (yet). Access as for viewing participants: a
    site-bound user only for their own site's participants.
    """
    with reading(engine, actor, "view_participants", "dosing_day", participant=participant) as r:
        session, p = r.session, r.p
        visit = find_visit(session, p, visit_code)
        if visit is None:
            return DosingDay((), ())
        protocol, _ = protocol_in_force(session)
        ds = session.scalar(select(DosingSession).where(DosingSession.visit_id == visit.id))
        doses: list[DoseRecord] = []
        if ds is not None:
            doses = [
                _dose_record(session, protocol, p, ds, d)
                for d in session.scalars(
                    select(Dose).where(Dose.dosing_session_id == ds.id).order_by(Dose.id)
                )
            ]
        readings = [
            vitals_record(session, p, v)
            for v in session.scalars(
                select(VitalSignReading)
                .where(
                    VitalSignReading.participant_id == p.id,
                    VitalSignReading.visit_id == visit.id,
                )
                .order_by(VitalSignReading.measured_at, VitalSignReading.id)
            )
        ]
        r.n_records = len(doses) + len(readings)
        return DosingDay(tuple(doses), tuple(readings))
