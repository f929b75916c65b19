"""What was recorded on one dosing day: its doses and vital signs, the session's alerts that are
not closed, whether the supplemental dose is stopped and why, the discharge criteria and the
deviations of the day, for people who may view participants (the dosing-day page of the web
app)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from remit.protocol.clock import local_today
from remit.services._common import (
    alert_record,
    find_visit,
    now_utc,
    protocol_in_force,
    visit_code_of,
)
from remit.services.blinding import check_dosing_read
from remit.services.dosing import _dose_record
from remit.services.dosing_checks import (
    discharge_criteria,
    dose_stops,
    session_alerts,
    washout_blocks,
)
from remit.services.records import (
    AlertRecord,
    DeviationRecord,
    DischargeCriterionRecord,
    DoseRecord,
    VitalsRecord,
    _Record,
)
from remit.services.unit import reading
from remit.services.visits import site_zone
from remit.services.vitals import vitals_record
from remit.store import Actor
from remit.store.dosing import Dose, DosingSession
from remit.store.tables import ProtocolDeviation
from remit.store.vitals import VitalSignReading


@dataclass(frozen=True)
class DosingDay(_Record):
    """The doses and vital signs of one dosing day, oldest first.

    ``open_alerts``: the session's alerts not closed, most pressing first;
    ``supplement_stops``: why the supplemental dose would be refused at the time asked about
    (empty: not stopped); ``discharge``: the protocol's discharge criteria at that time;
    ``deviations``: the protocol deviations recorded at the visit; ``washout``: the prohibited
    medications ongoing or within their washout on the day asked about (any dose refused).
    """

    doses: tuple[DoseRecord, ...]
    vitals: tuple[VitalsRecord, ...]
    open_alerts: tuple[AlertRecord, ...] = ()
    supplement_stops: tuple[str, ...] = ()
    discharge: tuple[DischargeCriterionRecord, ...] = ()
    deviations: tuple[DeviationRecord, ...] = ()
    washout: tuple[str, ...] = ()


def dosing_day(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    at: datetime | None = None,
) -> DosingDay:
    """The doses and vital signs of ``participant``'s dosing day at ``visit_code``, with the
    session's unclosed alerts, its dose-stops and discharge criteria judged at ``at`` (the
    latest reading's time when not given) and the visit's deviations.

    Empty when the participant has no such visit (yet). Access as for viewing participants: a
    site-bound user only for their own site's participants; refused (and the refusal audited)
    to the independent rater blind to dosing, whether or not the visit exists yet.
    """
    with reading(engine, actor, "view_participants", "dosing_day", participant=participant) as r:
        session, p = r.session, r.p
        protocol, _ = protocol_in_force(session)
        check_dosing_read(r, actor, protocol)  # refused, on the audit trail, to a blind rater
        visit = find_visit(session, p, visit_code)
        if visit is None:
            return DosingDay((), ())
        zone = site_zone(session, protocol, p)  # times and days as the site's clocks show them
        planned = protocol.dosing_session(visit_code)
        ds = session.scalar(select(DosingSession).where(DosingSession.visit_id == visit.id))
        doses: list[DoseRecord] = []
        if ds is not None:
            doses = [
                _dose_record(session, protocol, p, ds, d, actor.role)
                for d in session.scalars(
                    select(Dose).where(Dose.dosing_session_id == ds.id).order_by(Dose.id)
                )
            ]
        rows = list(
            session.scalars(
                select(VitalSignReading)
                .where(
                    VitalSignReading.participant_id == p.id,
                    VitalSignReading.visit_id == visit.id,
                )
                .order_by(VitalSignReading.measured_at, VitalSignReading.id)
            )
        )
        readings = [vitals_record(session, p, v) for v in rows]
        alerts: tuple[AlertRecord, ...] = ()
        stops: tuple[str, ...] = ()
        criteria: tuple[DischargeCriterionRecord, ...] = ()
        when = at if at is not None else (rows[-1].measured_at if rows else None)
        if ds is not None and planned is not None:
            alerts = tuple(alert_record(a, p.study_id) for a in session_alerts(session, p, ds))
            if when is not None:
                stops = dose_stops(session, planned, p, ds, when, zone)
                criteria = discharge_criteria(session, planned, p, ds, when, zone)
        deviations = tuple(
            DeviationRecord.from_row(
                d, participant_id=p.study_id, visit_code=visit_code_of(session, d.visit_id)
            )
            for d in session.scalars(
                select(ProtocolDeviation)
                .where(ProtocolDeviation.visit_id == visit.id)
                .order_by(ProtocolDeviation.id)
            )
        )
        blocks = washout_blocks(session, protocol, p, local_today(when or now_utc(), zone))
        washout = tuple(b.describe() for b in blocks)
        r.n_records = len(doses) + len(readings)
        return DosingDay(
            tuple(doses), tuple(readings), alerts, stops, criteria, deviations, washout
        )
