"""Visits: the schedule of a participant, event (anchor) dates, visits that took place or were
missed, and reading them.

Every function here is one transaction opened by the services' preamble
(:func:`remit.services.unit.writing` or :func:`~remit.services.unit.reading`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError, NotFoundError
from remit.protocol import Protocol, compute_schedule
from remit.protocol.clock import local_today
from remit.protocol.clock import site_zone as clock_site_zone
from remit.protocol.gating import check_visit_allowed
from remit.protocol.schedule import ScheduledVisit, describe_period
from remit.protocol.status import (
    FINAL_STATUSES,
    DeviationCategory,
    ParticipantStatus,
    VisitStatus,
    WindowStatus,
)
from remit.services._common import (
    a_date,
    check_unlocked,
    now_utc,
    protocol_in_force,
    text_given,
    visit_record,
)
from remit.services.blinding import SafetyBlind
from remit.services.records import VisitRecord
from remit.services.signing import void_signatures
from remit.services.unit import reading, writing
from remit.store import Actor, UnitOfWork
from remit.store.tables import Participant, ParticipantEvent, ProtocolDeviation, Site, Visit

S = ParticipantStatus


# --- the schedule ----------------------------------------------------------------------------


def _visit_rows(session: Session, participant: Participant) -> dict[str, Visit]:
    rows = session.scalars(select(Visit).where(Visit.participant_id == participant.id))
    return {v.visit_code: v for v in rows}


def _event_rows(session: Session, participant: Participant) -> dict[str, ParticipantEvent]:
    rows = session.scalars(
        select(ParticipantEvent).where(ParticipantEvent.participant_id == participant.id)
    )
    return {e.event_code: e for e in rows}


def _event_codes(protocol: Protocol) -> frozenset[str]:
    return frozenset(e.code for e in protocol.events)


def _anchors(session: Session, protocol: Protocol, participant: Participant) -> dict[str, date]:
    """The event dates recorded for a participant (events of the protocol in force)."""
    events = _event_codes(protocol)
    return {
        code: row.event_date
        for code, row in _event_rows(session, participant).items()
        if code in events
    }


def _actual(protocol: Protocol, rows: Mapping[str, Visit]) -> dict[str, date]:
    """The dates of the visits (of the protocol in force) that took place."""
    return {
        code: row.actual_date
        for code, row in rows.items()
        if row.actual_date is not None and code in protocol.visit_codes
    }


def refresh_schedule(uow: UnitOfWork, protocol: Protocol, participant: Participant) -> None:
    """Create missing visit rows and (re)compute target dates and windows.

    Visits that happened keep their dates: only visits without an actual date move.
    """
    session = uow.session
    rows = _visit_rows(session, participant)
    for visit in protocol.visits:
        if visit.code not in rows and (
            (participant.arm is None and not visit.arms)
            or (participant.arm is not None and visit.applies_to(participant.arm))
        ):
            row = Visit(participant_id=participant.id, visit_code=visit.code)
            uow.add(row)
            rows[visit.code] = row
    anchors = _anchors(session, protocol, participant)
    schedule = compute_schedule(protocol, anchors, _actual(protocol, rows), arm=participant.arm)
    for planned in schedule.visits:
        found = rows.get(planned.code)
        if found is None:
            continue
        row = found
        if row.actual_date is not None or row.status != VisitStatus.SCHEDULED:
            continue
        if row.target_date != planned.target_date:
            row.target_date = planned.target_date
        if row.window_start_date != planned.earliest_date:
            row.window_start_date = planned.earliest_date
        if row.window_end_date != planned.latest_date:
            row.window_end_date = planned.latest_date
    session.flush()


def set_anchor_date(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    anchor: str,
    anchor_date: date,
    *,
    reason: str | None = None,
) -> list[VisitRecord]:
    """Record the date of a protocol event (``referral``, ``consent`` …) and recompute the
    schedule. Visit dates are recorded with :func:`record_visit`; visits that happened never
    move. Changing a date already recorded needs a reason (and voids the signatures of the
    event record). Returns the schedule."""
    a_date(anchor_date, f"date of {anchor}")
    with writing(engine, actor, "set_anchor_date", participant=participant, reason=reason) as w:
        uow, session, p, protocol = w.uow, w.session, w.p, w.protocol
        events = _event_codes(protocol)
        if anchor not in events:
            hint = (
                f"{anchor} is a visit: record its date with record_visit"
                if anchor in protocol.visit_codes
                else "anchors are the protocol's [[events]]"
            )
            raise InputError(
                f"anchor {anchor!r} is not an event of protocol {protocol.study.id}",
                expected="one of " + (", ".join(sorted(events)) or "(no events)"),
                hint=hint,
            )
        row = _event_rows(session, p).get(anchor)
        if row is None:
            uow.add(
                ParticipantEvent(participant_id=p.id, event_code=anchor, event_date=anchor_date)
            )
        elif row.event_date != anchor_date:
            if reason is None or not reason.strip():
                raise InputError(
                    f"the {anchor} date of {p.study_id} is already {row.event_date}",
                    expected="a reason to change it",
                    hint="give the reason for the change (reason=… or --reason)",
                )
            check_unlocked(session, p.id, "participant_event", row.id)
            row.event_date = anchor_date
            row.recorded_at = now_utc()
            session.flush()
            void_signatures(uow, "participant_event", row.id, reason)
        session.flush()
        refresh_schedule(uow, protocol, p)
        return _visit_list(session, protocol, p)


def record_visit(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    actual_date: date,
    *,
    idempotency_key: str | None = None,
    window_reason: str | None = None,
) -> VisitRecord:
    """Record the date a visit took place; classify it against its window.

    Refused (nothing written): a visit the participant's status does not allow
    (:func:`remit.protocol.gating.visit_kinds_allowed`); a visit whose anchor has not happened
    (it has no window yet); a date after today in the site's time zone; a date outside the
    visit's window (its chained window intersected with its period limit) without a
    ``window_reason``. With a reason, an out-of-window visit is recorded with window status
    ``early`` or ``late`` and a protocol deviation (``visit_out_of_window``) that carries the
    reason. The schedule of later visits is recomputed.
    """
    a_date(actual_date, f"date of visit {visit_code}")
    body = {"participant": participant, "visit": visit_code, "date": actual_date}
    if window_reason is not None:
        body["window_reason"] = window_reason
    with writing(
        engine,
        actor,
        "record_visit",
        participant=participant,
        request=body,
        idempotency_key=idempotency_key,
        record_table="visit",
    ) as w:
        uow, session, p, protocol = w.uow, w.session, w.p, w.protocol
        if (done := w.stored(Visit)) is not None:
            return visit_record(protocol, p, done)
        protocol.visit(visit_code)
        row = _visit_rows(session, p).get(visit_code)
        if row is None:
            raise NotFoundError(
                f"visit {visit_code} is not in the schedule of {p.study_id} (arm {p.arm})",
                hint="list the schedule with `remit visit list`",
            )
        if row.actual_date is not None:
            if row.actual_date == actual_date:
                return visit_record(protocol, p, row)
            raise ConflictError(
                f"visit {visit_code} of {p.study_id} is already recorded on {row.actual_date}",
                hint="open a data query to correct a visit date",
            )
        take_place(uow, protocol, p, row, actual_date, window_reason=window_reason)
        w.remember(row.id)
        return visit_record(protocol, p, row)


def take_place(
    uow: UnitOfWork,
    protocol: Protocol,
    p: Participant,
    row: Visit,
    actual_date: date,
    *,
    window_reason: str | None,
    reason_hint: str | None = None,
) -> None:
    """Record that visit ``row`` (not yet recorded) took place on ``actual_date``: the rules of
    :func:`record_visit`, for it and for the services that hold a visit (the phone screen,
    the enrolment, its confirmation). ``reason_hint`` replaces the hint of the refusal of a
    date outside the window without a reason (for a service that takes none)."""
    session, actor = uow.session, uow.actor
    visit_code = row.visit_code
    if p.status in FINAL_STATUSES:
        raise InputError(
            f"{p.study_id} is {p.status}; no more visits are recorded",
            expected="a participant in screening or on study",
        )
    visit_def = protocol.visit(visit_code)
    check_visit_allowed(p.status, p.study_id, visit_code, visit_def.kind, "the visit date")
    check_unlocked(session, p.id, "visit", row.id)
    anchors = _anchors(session, protocol, p)
    actual = _actual(protocol, _visit_rows(session, p))
    before = compute_schedule(protocol, anchors, actual, arm=p.arm).visit(visit_code)
    if before.target_date is None and not _anchor_missed(session, p, visit_def.anchor):
        raise InputError(
            f"visit {visit_code} of {p.study_id} is not reached: {before.note}",
            expected=f"the date of {visit_code}'s anchor {visit_def.anchor} first",
            hint=f"record {visit_def.anchor} first, then {visit_code}",
        )
    today = local_today(now_utc(), site_zone(session, protocol, p))
    if actual_date > today:
        raise InputError(
            f"the date of visit {visit_code} ({actual_date}) is after today ({today})",
            expected="the date the visit took place",
            hint="record a visit on or after the day it happens",
        )
    actual[visit_code] = actual_date
    planned = compute_schedule(protocol, anchors, actual, arm=p.arm).visit(visit_code)
    timing = planned.timing
    reason = None
    if timing is not None and timing.status == "out_of_window":
        reason = _window_reason(
            window_reason,
            f"visit {visit_code} of {p.study_id} on {actual_date}",
            planned,
            hint=reason_hint,
        )
    row.actual_date = actual_date
    row.status = VisitStatus.COMPLETED.value
    if timing is not None:
        if timing.status == "out_of_window":
            row.window_status = (
                WindowStatus.EARLY.value if timing.side == "before" else WindowStatus.LATE.value
            )
            row.deviation = f"visit {visit_code} {timing.describe()}; reason: {reason}"
            session.flush()
            uow.add(
                ProtocolDeviation(
                    participant_id=p.id,
                    visit_id=row.id,
                    category=DeviationCategory.VISIT_OUT_OF_WINDOW.value,
                    description=row.deviation,
                    major=False,
                    occurred_date=actual_date,
                    reported_by=actor.user_id,
                )
            )
        else:
            row.window_status = WindowStatus.IN_WINDOW.value
    if visit_code == protocol.study.reference_visit:
        p.baseline_date = actual_date
    session.flush()
    refresh_schedule(uow, protocol, p)


def site_zone(session: Session, protocol: Protocol, p: Participant) -> ZoneInfo:
    """The time zone of the participant's site (``[study] sites`` ``time_zone``; UTC when the
    site declares none)."""
    site = session.get(Site, p.site_id)
    return clock_site_zone(protocol, None if site is None else site.code)


def window_text(planned: ScheduledVisit, protocol: Protocol) -> str:
    """A visit's window in words, e.g. ``"2024-03-01 – 2024-03-15"`` with its period limit."""
    if planned.earliest_date is None:
        return planned.note
    text = f"{planned.earliest_date} – {planned.latest_date}"
    period = describe_period(protocol.visit(planned.code))
    return text + (f" (within the period limit {period})" if period else "")


def _anchor_missed(session: Session, p: Participant, anchor: str) -> bool:
    """Whether ``anchor`` is a visit of the participant recorded as missed (or cancelled): it
    gives its visits no window, and they may still take place."""
    row = _visit_rows(session, p).get(anchor)
    return row is not None and row.status in (VisitStatus.MISSED, VisitStatus.CANCELLED)


def _window_reason(
    reason: str | None, what: str, planned: ScheduledVisit, *, hint: str | None = None
) -> str:
    """The reason given for a date outside the window, or :class:`InputError` (with ``hint``
    when given)."""
    if reason is not None and reason.strip():
        return reason.strip()
    timing = planned.timing
    where = timing.describe() if timing is not None else "out of window"
    raise InputError(
        f"{what} is {where} (window {planned.earliest_date} – {planned.latest_date})",
        expected="a date inside the window, or a reason for the date outside it",
        hint=hint
        or "check the date; if it is right, give the reason (window_reason=… or "
        "--window-reason): a protocol deviation is recorded with it",
    )


def schedule_row(
    session: Session, protocol: Protocol, p: Participant, visit_code: str
) -> ScheduledVisit:
    """The participant's visit ``visit_code`` as the schedule computes it now."""
    anchors = _anchors(session, protocol, p)
    actual = _actual(protocol, _visit_rows(session, p))
    return compute_schedule(protocol, anchors, actual, arm=p.arm).visit(visit_code)


def check_form_date(
    uow: UnitOfWork,
    protocol: Protocol,
    p: Participant,
    visit: Visit,
    assessed_at: datetime | None,
    what: str,
    *,
    window_reason: str | None,
    reported_by: int | None,
) -> None:
    """Refuse data (``what``, e.g. ``"madrs form"``) dated where its visit does not allow it.

    The data's day is ``assessed_at`` in the site's time zone (``None``: the visit's date when
    it took place, else today). Refused: a visit not reached (no window yet because its anchor
    has not happened, or, for a visit not yet recorded, a day before its window opens); a day
    after today; a day outside the window without ``window_reason``. With a reason, the data
    are accepted and a ``visit_out_of_window`` deviation is recorded unless the visit already
    has one.
    """
    session = uow.session
    visit_def = protocol.visit(visit.visit_code)
    check_visit_allowed(p.status, p.study_id, visit.visit_code, visit_def.kind, what)
    zone = site_zone(session, protocol, p)
    today = local_today(now_utc(), zone)
    code = visit.visit_code
    day = (visit.actual_date or today) if assessed_at is None else local_today(assessed_at, zone)
    if day > today:
        raise InputError(
            f"{what} at {code} of {p.study_id} is dated {day}, after today ({today}, {zone.key})",
            expected="the date and time the assessment was done",
        )
    if visit.actual_date is not None and (assessed_at is None or day == visit.actual_date):
        return  # the visit's own date was checked when it was recorded
    planned = schedule_row(session, protocol, p, visit.visit_code)
    if planned.earliest_date is None or planned.latest_date is None:
        if _anchor_missed(session, p, visit_def.anchor):
            return  # a missed anchor gives no window: nothing to check the date against
        raise InputError(
            f"visit {code} of {p.study_id} is not reached: {planned.note}",
            expected=f"{what} at a visit whose anchor ({visit_def.anchor}) has happened",
            hint=f"record {visit_def.anchor} first",
        )
    window = window_text(planned, protocol)
    if visit.actual_date is None and day < planned.earliest_date:
        raise InputError(
            f"visit {code} of {p.study_id} is not reached on {day}: its window opens "
            f"{planned.earliest_date}",
            expected=f"{what} dated within the window {window}",
            hint="check the visit and the date; enter the form when the visit takes place",
        )
    if planned.earliest_date <= day <= planned.latest_date:
        return
    if window_reason is None or not window_reason.strip():
        side = "before the window opened" if day < planned.earliest_date else "after it closed"
        raise InputError(
            f"{what} at {code} of {p.study_id} is dated {day}, {side} (window {window})",
            expected="a date inside the window, or a reason for the date outside it",
            hint="check the date; if it is right, give the reason (window_reason=…): a protocol "
            "deviation is recorded with it",
        )
    exists = session.scalar(
        select(ProtocolDeviation.id).where(
            ProtocolDeviation.visit_id == visit.id,
            ProtocolDeviation.category == DeviationCategory.VISIT_OUT_OF_WINDOW.value,
        )
    )
    if exists is not None:
        return
    uow.add(
        ProtocolDeviation(
            participant_id=p.id,
            visit_id=visit.id,
            category=DeviationCategory.VISIT_OUT_OF_WINDOW.value,
            description=f"{what} at {code} dated {day}, outside the window {window}; "
            f"reason: {window_reason.strip()}",
            major=False,
            occurred_date=day,
            reported_by=reported_by,
        )
    )
    session.flush()


def mark_visit_missed(
    engine: Engine, actor: Actor, participant: int | str, visit_code: str, *, reason: str
) -> VisitRecord:
    """Record that a visit did not take place (with why)."""
    text_given(reason, "reason")
    with writing(engine, actor, "record_visit", participant=participant, reason=reason) as w:
        session, p, protocol = w.session, w.p, w.protocol
        protocol.visit(visit_code)
        row = _visit_rows(session, p).get(visit_code)
        if row is None:
            raise NotFoundError(f"visit {visit_code} is not in the schedule of {p.study_id}")
        if row.actual_date is not None:
            raise ConflictError(
                f"visit {visit_code} of {p.study_id} took place on {row.actual_date}"
            )
        check_unlocked(session, p.id, "visit", row.id)
        row.status = VisitStatus.MISSED.value
        row.deviation = f"visit {visit_code} missed: {reason}"
        session.flush()
        return visit_record(protocol, p, row)


def _visit_list(session: Session, protocol: Protocol, p: Participant) -> list[VisitRecord]:
    rows = _visit_rows(session, p)
    return [visit_record(protocol, p, rows[code]) for code in protocol.visit_codes if code in rows]


def list_visits(engine: Engine, actor: Actor, participant: int | str) -> list[VisitRecord]:
    """A participant's visits in protocol order: targets, windows, what happened."""
    with reading(engine, actor, "view_participants", "list_visits", participant=participant) as r:
        protocol, _ = protocol_in_force(r.session)
        blind = SafetyBlind.of(protocol, actor)
        return r.returning([blind.visit(v) for v in _visit_list(r.session, protocol, r.p)])


def anchor_dates(engine: Engine, actor: Actor, participant: int | str) -> dict[str, date]:
    """The protocol event dates recorded for a participant."""
    with reading(engine, actor, "view_participants", "anchor_dates", participant=participant) as r:
        protocol, _ = protocol_in_force(r.session)
        anchors = _anchors(r.session, protocol, r.p)
        r.n_records = len(anchors)
        return anchors
