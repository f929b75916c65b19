"""What a dosing session's safety depends on, read from the store: the session's unclosed
alerts, the latest vital signs, the dose-stops of the supplemental dose and the discharge
criteria (the protocol's ``[dosing.dose_stop]`` and ``[dosing.discharge]``), and the prohibited
medications still ongoing or within their washout (``[[medications.prohibited]]``).

An alert belongs to a session when it was raised by a vital-sign reading or a form of the
session's visit, by the session itself (e.g. a missed reading), or by an adverse event that
began on the session's day. Alerts are judged as they stand now (closed or not), vital signs at
the clinical time asked about (the time of the dose, the end of the session).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from remit.protocol import DosingSession as PlannedSession
from remit.protocol import Protocol
from remit.protocol.adverse_event import Severity
from remit.protocol.clock import show_time
from remit.protocol.medications import WashoutBlock
from remit.protocol.status import DeviationCategory
from remit.protocol.vocab import LEVELS
from remit.services.records import DischargeCriterionRecord
from remit.store.dosing import DosingSession
from remit.store.tables import (
    AdverseEvent,
    Alert,
    Assessment,
    ConcomitantMedication,
    Participant,
    ProtocolDeviation,
)
from remit.store.vitals import VitalSignReading, VitalSignValue

#: The alert level that stops the supplemental dose while an alert of the session is open.
STOPPING_LEVEL = LEVELS[0]

#: Deviation categories the dosing services record (read back onto a dose's record).
DOSE_DEVIATIONS = (
    DeviationCategory.DOSE_STOP_OVERRIDE,
    DeviationCategory.DOSE_ABOVE_CAP,
    DeviationCategory.WASHOUT_OVERRIDE,
    DeviationCategory.CHECKLIST_OVERRIDE,
)


def washout_blocks(
    session: Session, protocol: Protocol, p: Participant, on: date
) -> tuple[WashoutBlock, ...]:
    """The participant's medications of a prohibited class that stop a dose on day ``on``:
    ongoing (no stop date, or stopped after ``on``) or stopped less than the class's
    ``washout_days`` before ``on`` (:meth:`remit.protocol.medications.Medications.washout`)."""
    rows = session.scalars(
        select(ConcomitantMedication)
        .where(
            ConcomitantMedication.participant_id == p.id,
            ConcomitantMedication.atc_code.is_not(None),
        )
        .order_by(ConcomitantMedication.id)
    )
    found = (
        protocol.medications.washout(m.name, m.atc_code, m.stop_date, on, start_date=m.start_date)
        for m in rows
    )
    return tuple(b for b in found if b is not None)


def session_alerts(session: Session, p: Participant, ds: DosingSession) -> list[Alert]:
    """The session's alerts that are not closed, most pressing level first, then oldest."""
    readings = select(VitalSignReading.id).where(
        or_(VitalSignReading.dosing_session_id == ds.id, VitalSignReading.visit_id == ds.visit_id)
    )
    forms = select(Assessment.id).where(Assessment.visit_id == ds.visit_id)
    sources = [
        (Alert.source_table == "vital_sign") & Alert.source_id.in_(readings),
        (Alert.source_table == "assessment") & Alert.source_id.in_(forms),
        (Alert.source_table == "dosing_session") & (Alert.source_id == ds.id),
    ]
    if ds.started_at is not None:
        same_day = select(AdverseEvent.id).where(
            AdverseEvent.participant_id == p.id,
            AdverseEvent.onset_date == ds.started_at.date(),
        )
        sources.append((Alert.source_table == "adverse_event") & Alert.source_id.in_(same_day))
    rows = session.scalars(
        select(Alert)
        .where(Alert.participant_id == p.id, Alert.closed_at.is_(None), or_(*sources))
        .order_by(Alert.id)
    )
    rank: dict[str, int] = {level: i for i, level in enumerate(LEVELS)}
    return sorted(rows, key=lambda a: (rank.get(a.level, len(LEVELS)), a.id))


def latest_values(
    session: Session, ds: DosingSession, at: datetime, within_min: int
) -> dict[str, tuple[float, datetime]]:
    """Each sign's latest value in the session at ``at`` (and when it was measured), among the
    readings at most ``within_min`` minutes before ``at``."""
    since = at - timedelta(minutes=within_min)
    rows = session.execute(
        select(VitalSignValue.sign, VitalSignValue.value, VitalSignReading.measured_at)
        .join(VitalSignReading, VitalSignReading.id == VitalSignValue.vital_sign_id)
        .where(
            VitalSignReading.dosing_session_id == ds.id,
            VitalSignReading.measured_at <= at,
            VitalSignReading.measured_at >= since,
        )
        .order_by(VitalSignReading.measured_at, VitalSignReading.id)
    )
    return {sign: (value, measured) for sign, value, measured in rows}


def dose_stops(
    session: Session,
    planned: PlannedSession,
    p: Participant,
    ds: DosingSession,
    at: datetime,
    zone: ZoneInfo,
) -> tuple[str, ...]:
    """Why the supplemental dose may not be given at ``at`` (empty: it may; times in the
    reasons are shown in the site's ``zone``).

    An immediate alert of the session that is not closed stops it; with the protocol's
    ``dose_stop``, so does a sign's latest reading beyond its limit or no reading of a limited
    sign in the ``reading_within_min`` minutes before ``at``.
    """
    reasons = [
        f"{a.level} alert {a.id} is not closed ({a.message})"
        for a in session_alerts(session, p, ds)
        if a.level == STOPPING_LEVEL
    ]
    stop = planned.dose_stop
    if stop is not None:
        latest = latest_values(session, ds, at, stop.reading_within_min)
        for check in stop.judge({s: v for s, (v, _) in latest.items()}):
            if check.value is None:
                reasons.append(
                    f"no {check.name} reading in the {stop.reading_within_min} minutes before "
                    "the dose"
                )
            elif check.beyond:
                measured = latest[check.sign][1]
                reasons.append(
                    f"{check.describe()} (dose-stop limit; read {show_time(measured, zone)})"
                )
    return tuple(reasons)


def discharge_criteria(
    session: Session,
    planned: PlannedSession,
    p: Participant,
    ds: DosingSession,
    at: datetime,
    zone: ZoneInfo,
) -> tuple[DischargeCriterionRecord, ...]:
    """The protocol's discharge criteria of the session at ``at``, each met or not (empty when
    the protocol declares none)."""
    discharge = planned.discharge
    if discharge is None:
        return ()
    found: list[DischargeCriterionRecord] = []
    if discharge.limits:
        latest = latest_values(session, ds, at, discharge.reading_within_min)
        checks = discharge.judge({s: v for s, (v, _) in latest.items()})
        unmet = [c.describe() for c in checks if not c.ok]
        found.append(
            DischargeCriterionRecord(
                "vital_signs",
                f"vital signs within the discharge limits (read in the last "
                f"{discharge.reading_within_min} minutes)",
                not unmet,
                "; ".join(unmet) if unmet else "all within the limits",
            )
        )
    if discharge.no_ongoing_severe_ae:
        ongoing = list(
            session.scalars(
                select(AdverseEvent).where(
                    AdverseEvent.participant_id == p.id,
                    AdverseEvent.severity == Severity.SEVERE.value,
                    AdverseEvent.end_date.is_(None),
                )
            )
        )
        found.append(
            DischargeCriterionRecord(
                "no_ongoing_severe_ae",
                "no ongoing severe adverse event",
                not ongoing,
                "; ".join(f"{ae.term} (adverse event {ae.id}) has no end date" for ae in ongoing)
                or "none",
            )
        )
    if discharge.investigator_sign_off:
        signed = ds.discharge_signed_off_at
        found.append(
            DischargeCriterionRecord(
                "investigator_sign_off",
                "an investigator signed the discharge off",
                signed is not None,
                f"signed off {show_time(signed, zone)}" if signed else "not signed off yet",
            )
        )
    return tuple(found)


def dose_deviations(session: Session, ds: DosingSession, dose_id: int) -> tuple[str, ...]:
    """The categories of the deviations recorded with dose ``dose_id`` (their description
    starts ``dose <id>:``)."""
    rows = session.scalars(
        select(ProtocolDeviation.category)
        .where(
            ProtocolDeviation.visit_id == ds.visit_id,
            ProtocolDeviation.category.in_([c.value for c in DOSE_DEVIATIONS]),
            ProtocolDeviation.description.startswith(f"dose {dose_id}: "),
        )
        .order_by(ProtocolDeviation.id)
    )
    return tuple(rows)
