"""Participants: screening, eligibility, enrolment, the visit schedule, visits, status changes.

Every function here is one transaction (:func:`remit.store.unit_of_work`), checks the access
table first and writes nothing when it refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError, NotFoundError
from remit.protocol import Protocol, compute_schedule, evaluate_eligibility
from remit.protocol.status import FINAL_STATUSES, ParticipantStatus, VisitStatus, WindowStatus
from remit.services._common import (
    a_date,
    authorise,
    aware,
    check_unlocked,
    now_utc,
    participant_for,
    participant_record,
    protocol_in_force,
    remember,
    replayed,
    request_sha256,
    serialise,
    text_given,
    visit_record,
)
from remit.services.access import require_site
from remit.services.records import EligibilityRecord, ParticipantRecord, VisitRecord
from remit.services.signing import void_signatures
from remit.store import Actor, IdentityRecord, UnitOfWork, set_identity, unit_of_work
from remit.store import read_identity as store_read_identity
from remit.store.tables import (
    EligibilityCheck,
    Participant,
    ParticipantEvent,
    ProtocolDeviation,
    Site,
    Study,
    Visit,
)

S = ParticipantStatus

#: status → statuses it may move to with :func:`change_status`.
STATUS_CHANGES: Mapping[str, frozenset[str]] = {
    S.ENROLLED: frozenset({S.ON_STUDY, S.LOST_TO_FOLLOW_UP}),
    S.ON_STUDY: frozenset({S.IN_FOLLOW_UP, S.COMPLETED, S.LOST_TO_FOLLOW_UP}),
    S.IN_FOLLOW_UP: frozenset({S.COMPLETED, S.LOST_TO_FOLLOW_UP}),
}

_ID_NUMBER = re.compile(r"-(\d+)$")


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


# --- screening and eligibility ---------------------------------------------------------------


def _next_study_id(session: Session) -> str:
    serialise(session, "participant-number")
    code = session.scalar(select(Study.code).order_by(Study.id).limit(1))
    if code is None:
        raise NotFoundError("this database holds no study", hint="initialise it with `remit init`")
    highest = 0
    for (found,) in session.execute(select(Participant.study_id)):
        match = _ID_NUMBER.search(found)
        if match and found.startswith(code + "-"):
            highest = max(highest, int(match.group(1)))
    return f"{code}-{highest + 1:03d}"


def _site_for(session: Session, actor: Actor, site: str | None) -> Site:
    if site is None:
        if actor.site_id is not None:
            found = session.get(Site, actor.site_id)
        else:
            sites = list(session.scalars(select(Site).order_by(Site.id)))
            if len(sites) != 1:
                raise InputError(
                    "the trial has several sites and none was given",
                    expected="a site code: " + ", ".join(s.code for s in sites),
                )
            found = sites[0]
    else:
        found = session.scalar(select(Site).where(Site.code == site))
    if found is None:
        raise NotFoundError(
            f"site {site!r} does not exist", hint="list the sites with `remit init`"
        )
    require_site(actor, found.id, f"site {found.code}")
    return found


def screen_participant(
    engine: Engine,
    actor: Actor,
    *,
    site: str | None = None,
    sex: str | None = None,
    birth_year: int | None = None,
    identity: Mapping[str, str | None] | None = None,
    screened_at: datetime | None = None,
    simulated: bool = False,
    idempotency_key: str | None = None,
) -> ParticipantRecord:
    """Register a person for screening under a new pseudonymous ID (``OSL-001``, ``OSL-002`` …).

    ``identity`` (``name``, ``national_id``, ``contact``) is stored apart, readable only by
    investigators and admins. The visits of the schedule are created; their dates follow as
    anchor dates and visits are recorded.
    """
    screened = aware(screened_at, "screened_at") or now_utc()
    if birth_year is not None and not (1900 <= birth_year <= screened.year):
        raise InputError(
            f"birth year {birth_year} is not plausible", expected=f"1900 to {screened.year}"
        )
    if identity is not None:
        unknown = sorted(set(identity) - {"name", "national_id", "contact"})
        if unknown or not identity.get("name"):
            raise InputError(
                f"identity {sorted(identity)} is not usable",
                expected="name (required), national_id, contact",
            )
    body = {
        "site": site,
        "sex": sex,
        "birth_year": birth_year,
        "identity": dict(identity) if identity else None,
        "screened_at": screened_at,
        "simulated": simulated,
    }
    digest = request_sha256("screen_participant", body)
    with unit_of_work(engine, actor) as uow:
        session = uow.session
        authorise(session, actor, "screen_participant")
        done = replayed(session, idempotency_key, digest, "participant")
        if done is not None:
            return participant_record(session, session.get_one(Participant, done))
        protocol, _ = protocol_in_force(session)
        found_site = _site_for(session, actor, site)
        check_unlocked(session, None)
        participant = Participant(
            study_id=_next_study_id(session),
            site_id=found_site.id,
            sex=sex,
            birth_year=birth_year,
            simulated=simulated,
            screened_at=screened,
            status=S.SCREENING.value,
            status_changed_at=screened,
        )
        uow.add(participant)
        uow.flush()
        if identity is not None:
            set_identity(
                uow,
                participant.id,
                name=str(identity["name"]),
                national_id=identity.get("national_id"),
                contact=identity.get("contact"),
            )
        refresh_schedule(uow, protocol, participant)
        remember(uow, idempotency_key, digest, "participant", participant.id)
        return participant_record(session, participant)


def _set_status(participant: Participant, status: str, reason: str | None, when: datetime) -> None:
    participant.status = str(status)  # the plain value, not the StrEnum member
    participant.status_reason = reason
    participant.status_changed_at = when


def check_eligibility(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    data: Mapping[str, object],
    *,
    idempotency_key: str | None = None,
) -> EligibilityRecord:
    """Check screening data against the protocol's criteria and store data and verdicts.

    Eligible → status ``eligible``; a failed criterion with complete data → ``ineligible`` with
    the reasons; missing data → still ``screening`` (the record lists what is missing).
    """
    if not isinstance(data, Mapping):
        raise InputError("screening data must be a mapping of field → value")
    digest = request_sha256("check_eligibility", {"participant": participant, "data": dict(data)})
    with unit_of_work(engine, actor) as uow:
        session = uow.session
        p = participant_for(session, actor, participant, operation="check_eligibility")
        done = replayed(session, idempotency_key, digest, "eligibility_check")
        if done is not None:
            return _eligibility_record(p, session.get_one(EligibilityCheck, done))
        if p.status not in (S.SCREENING, S.ELIGIBLE, S.INELIGIBLE):
            raise InputError(
                f"{p.study_id} is {p.status}; eligibility is checked before enrolment",
                expected="a participant in screening",
            )
        check_unlocked(session, p.id)
        protocol, _ = protocol_in_force(session)
        result = evaluate_eligibility(protocol, data)
        check = EligibilityCheck(
            participant_id=p.id,
            checked_by=actor.user_id,
            data=dict(data),
            results=[c.to_dict() for c in result.criteria],
            eligible=result.eligible,
        )
        uow.add(check)
        if result.eligible:
            _set_status(p, S.ELIGIBLE, None, now_utc())
        elif result.complete:
            _set_status(p, S.INELIGIBLE, result.summary(), now_utc())
        else:
            _set_status(p, S.SCREENING, result.summary(), now_utc())
        uow.flush()
        remember(uow, idempotency_key, digest, "eligibility_check", check.id)
        return _eligibility_record(p, check)


def _eligibility_record(p: Participant, check: EligibilityCheck) -> EligibilityRecord:
    criteria = tuple(dict(c) for c in check.results)
    unmet = [c for c in criteria if c.get("status") == "unmet"]
    missing = [c for c in criteria if c.get("status") == "missing"]
    if check.eligible:
        summary = f"eligible: all {len(criteria)} criteria met"
    else:
        parts = []
        if unmet:
            parts.append("fails " + "; ".join(f"{c['id']} ({c['reason']})" for c in unmet))
        if missing:
            parts.append("missing " + ", ".join(str(c["field"]) for c in missing))
        summary = "not eligible: " + "; ".join(parts)
    return EligibilityRecord(
        id=check.id,
        participant_id=p.study_id,
        eligible=check.eligible,
        complete=not missing,
        criteria=criteria,
        summary=summary,
        status=p.status,
    )


def enrol(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    arm: str | None = None,
    enrolled_at: datetime | None = None,
) -> ParticipantRecord:
    """Enrol an eligible participant in ``arm`` (the only arm when the protocol has one)."""
    when = aware(enrolled_at, "enrolled_at") or now_utc()
    with unit_of_work(engine, actor) as uow:
        session = uow.session
        p = participant_for(session, actor, participant, operation="enrol")
        if p.status != S.ELIGIBLE:
            raise InputError(
                f"{p.study_id} is {p.status}, not eligible",
                expected="an eligible participant",
                hint="record a passing eligibility check first",
            )
        check_unlocked(session, p.id)
        protocol, _ = protocol_in_force(session)
        if arm is None:
            if len(protocol.arms) != 1:
                raise InputError(
                    f"protocol {protocol.study.id} has {len(protocol.arms)} arms; none was given",
                    expected="one of " + ", ".join(a.code for a in protocol.arms),
                )
            arm = protocol.arms[0].code
        protocol.arm(arm)
        p.arm = arm
        p.enrolled_at = when
        _set_status(p, S.ENROLLED, None, when)
        session.flush()
        refresh_schedule(uow, protocol, p)
        return participant_record(session, p)


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
    with unit_of_work(engine, actor, reason=reason) as uow:
        session = uow.session
        p = participant_for(session, actor, participant, operation="set_anchor_date")
        protocol, _ = protocol_in_force(session)
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
        check_unlocked(session, p.id)
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
) -> VisitRecord:
    """Record the date a visit took place; classify it against its window.

    An out-of-window visit is recorded (it happened) with window status ``early`` or ``late``
    and a protocol deviation record. The schedule of later visits is recomputed.
    """
    a_date(actual_date, f"date of visit {visit_code}")
    digest = request_sha256(
        "record_visit", {"participant": participant, "visit": visit_code, "date": actual_date}
    )
    with unit_of_work(engine, actor) as uow:
        session = uow.session
        p = participant_for(session, actor, participant, operation="record_visit")
        protocol, _ = protocol_in_force(session)
        done = replayed(session, idempotency_key, digest, "visit")
        if done is not None:
            return visit_record(protocol, p, session.get_one(Visit, done))
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
        if p.status in FINAL_STATUSES:
            raise InputError(
                f"{p.study_id} is {p.status}; no more visits are recorded",
                expected="a participant in screening or on study",
            )
        check_unlocked(session, p.id, "visit", row.id)
        anchors = _anchors(session, protocol, p)
        actual = _actual(protocol, _visit_rows(session, p))
        actual[visit_code] = actual_date
        planned = compute_schedule(protocol, anchors, actual, arm=p.arm).visit(visit_code)
        row.actual_date = actual_date
        row.status = VisitStatus.COMPLETED.value
        timing = planned.timing
        if timing is not None:
            if timing.status == "out_of_window":
                row.window_status = (
                    WindowStatus.EARLY.value if timing.side == "before" else WindowStatus.LATE.value
                )
                row.deviation = f"visit {visit_code} {timing.describe()}"
                session.flush()
                uow.add(
                    ProtocolDeviation(
                        participant_id=p.id,
                        visit_id=row.id,
                        category="visit_out_of_window",
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
        remember(uow, idempotency_key, digest, "visit", row.id)
        return visit_record(protocol, p, row)


def mark_visit_missed(
    engine: Engine, actor: Actor, participant: int | str, visit_code: str, *, reason: str
) -> VisitRecord:
    """Record that a visit did not take place (with why)."""
    text_given(reason, "reason")
    with unit_of_work(engine, actor, reason=reason) as uow:
        session = uow.session
        p = participant_for(session, actor, participant, operation="record_visit")
        protocol, _ = protocol_in_force(session)
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


# --- status ----------------------------------------------------------------------------------


def change_status(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    status: str,
    *,
    reason: str | None = None,
) -> ParticipantRecord:
    """Move a participant along the lifecycle: enrolled → on_study → in_follow_up → completed,
    or lost_to_follow_up (needs a reason). Withdrawal is :func:`withdraw`."""
    allowed_now = {str(s) for targets in STATUS_CHANGES.values() for s in targets}
    if status not in allowed_now:
        raise InputError(
            f"status {status!r} cannot be set with change_status",
            expected="one of " + ", ".join(sorted(allowed_now)),
            hint="use enrol, check_eligibility or withdraw for the other statuses",
        )
    if status == S.LOST_TO_FOLLOW_UP:
        text_given(reason, "reason for lost to follow-up")
    with unit_of_work(engine, actor, reason=reason) as uow:
        session = uow.session
        p = participant_for(session, actor, participant, operation="change_status")
        if status not in STATUS_CHANGES.get(p.status, frozenset()):
            raise InputError(
                f"{p.study_id} is {p.status} and cannot become {status}",
                expected="one of "
                + (", ".join(sorted(STATUS_CHANGES.get(p.status, ()))) or "(none: final)"),
            )
        check_unlocked(session, p.id)
        _set_status(p, status, reason, now_utc())
        session.flush()
        return participant_record(session, p)


def withdraw(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    reason: str,
    withdrawn_at: datetime | None = None,
) -> ParticipantRecord:
    """Withdraw a participant (consent withdrawn, investigator decision …) with the reason."""
    text_given(reason, "reason for withdrawal")
    when = aware(withdrawn_at, "withdrawn_at") or now_utc()
    with unit_of_work(engine, actor, reason=reason) as uow:
        session = uow.session
        p = participant_for(session, actor, participant, operation="withdraw")
        if p.status in FINAL_STATUSES:
            raise InputError(
                f"{p.study_id} is already {p.status}", expected="a participant still in the trial"
            )
        check_unlocked(session, p.id)
        _set_status(p, S.WITHDRAWN, reason, when)
        session.flush()
        return participant_record(session, p)


# --- reading ---------------------------------------------------------------------------------


def list_participants(
    engine: Engine, actor: Actor, *, status: str | None = None
) -> list[ParticipantRecord]:
    """Participants the actor may see (a site-bound role sees its own site), by study ID;
    ``status`` keeps those in one lifecycle status (``screening``, ``enrolled``, …)."""
    statuses = [s.value for s in ParticipantStatus]
    if status is not None and status not in statuses:
        raise InputError(
            f"participant status {status!r} is unknown",
            expected="one of " + ", ".join(statuses),
        )
    with Session(engine) as session:
        authorise(session, actor, "view_participants")
        query = select(Participant).order_by(Participant.study_id)
        if actor.site_id is not None:
            query = query.where(Participant.site_id == actor.site_id)
        if status is not None:
            query = query.where(Participant.status == status)
        return [participant_record(session, p) for p in session.scalars(query)]


def get_participant(engine: Engine, actor: Actor, participant: int | str) -> ParticipantRecord:
    """One participant (no identifying data)."""
    with Session(engine) as session:
        p = participant_for(session, actor, participant, operation="view_participants")
        return participant_record(session, p)


def _visit_list(session: Session, protocol: Protocol, p: Participant) -> list[VisitRecord]:
    rows = _visit_rows(session, p)
    return [visit_record(protocol, p, rows[code]) for code in protocol.visit_codes if code in rows]


def list_visits(engine: Engine, actor: Actor, participant: int | str) -> list[VisitRecord]:
    """A participant's visits in protocol order: targets, windows, what happened."""
    with Session(engine) as session:
        p = participant_for(session, actor, participant, operation="view_participants")
        protocol, _ = protocol_in_force(session)
        return _visit_list(session, protocol, p)


def anchor_dates(engine: Engine, actor: Actor, participant: int | str) -> dict[str, date]:
    """The protocol event dates recorded for a participant."""
    with Session(engine) as session:
        p = participant_for(session, actor, participant, operation="view_participants")
        protocol, _ = protocol_in_force(session)
        return _anchors(session, protocol, p)


def read_identity(
    engine: Engine, actor: Actor, participant: int | str, *, purpose: str | None = None
) -> IdentityRecord:
    """A participant's identity, for investigators and admins only; every attempt is logged
    (a refusal too: :class:`~remit.errors.PermissionDeniedError` after logging)."""
    with unit_of_work(engine, actor) as uow:
        authorise(uow.session, actor, "view_participants")
        return store_read_identity(uow, participant, purpose=purpose)
