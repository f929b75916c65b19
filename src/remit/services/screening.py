"""Screening and the two-step enrolment: the referral, the phone screen, the forms the
eligibility criteria read, screen failures with coded reasons, and the confirmation of
enrolment.

The protocol says what is checked: ``[[eligibility.criteria]]`` with a ``source`` read their
value from a recorded form (a draft or incomplete form leaves them missing, never met), the
others are checklist items the investigator answers; ``[enrolment]`` names the enrolment
visit (``enrol_at``) and the visit that confirms it (``confirm_at``); screen-failure codes are
``[[eligibility.screen_failure_reasons]]`` and the ids of the criteria.

Enrolment itself is :func:`remit.services.participants.enrol`; it and
:func:`confirm_enrolment` record the date of their visit, so the schedule anchors on them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError, NotFoundError
from remit.protocol import (
    EligibilityResult,
    Protocol,
    RecordedForm,
    evaluate_eligibility,
)
from remit.protocol.clock import local_today
from remit.protocol.status import ParticipantStatus, VisitStatus
from remit.services._common import (
    a_date,
    aware,
    now_utc,
    participant_record,
    protocol_in_force,
    text_given,
)
from remit.services.blinding import PriorScores
from remit.services.randomisation import allocate
from remit.services.records import ParticipantRecord
from remit.services.unit import Write, reading, writing
from remit.services.visits import refresh_schedule, site_zone, take_place
from remit.store import Actor, UnitOfWork
from remit.store.tables import (
    Assessment,
    EligibilityCheck,
    Participant,
    ParticipantEvent,
    Visit,
)

S = ParticipantStatus

#: Outcomes of a phone screen.
PHONE_OUTCOMES: tuple[str, ...] = ("pass", "fail")

#: Statuses a screen failure may be recorded in (an enrolled participant only while the
#: enrolment is not confirmed).
_BEFORE_DECISION = (S.SCREENING, S.ELIGIBLE)


def recorded_forms(session: Session, p: Participant) -> dict[tuple[str, str], RecordedForm]:
    """The participant's stored forms by ``(visit, scale)`` (the latest saved of each)."""
    rows = session.execute(
        select(Visit.visit_code, Assessment)
        .join(Visit, Assessment.visit_id == Visit.id)
        .where(Assessment.participant_id == p.id)
        .order_by(Assessment.id)
    )
    found: dict[tuple[str, str], RecordedForm] = {}
    for code, a in rows:
        found[(code, a.scale)] = RecordedForm(code, a.scale, a.status, dict(a.score or {}))
    return found


def current_verdict(
    session: Session,
    protocol: Protocol,
    p: Participant,
    *,
    stage: Literal["enrolment", "confirmation"],
) -> tuple[EligibilityResult, dict[str, object]]:
    """The criteria evaluated now: the checklist answers of the last stored eligibility
    check (none before a check) and the forms as they are recorded now."""
    last = session.scalar(
        select(EligibilityCheck)
        .where(EligibilityCheck.participant_id == p.id)
        .order_by(EligibilityCheck.id.desc())
        .limit(1)
    )
    answers = dict(last.data) if last is not None else {}
    return evaluate_eligibility(protocol, answers, recorded_forms(session, p), stage=stage), answers


def failure_reason(protocol: Protocol, code: str) -> str:
    """The label of screen-failure ``code`` (:class:`InputError` for an unknown code)."""
    reasons = protocol.eligibility.failure_reasons()
    if code not in reasons:
        raise InputError(
            f"screen-failure reason {code!r} is not in protocol {protocol.study.id}",
            expected="one of " + ", ".join(reasons),
            hint="the codes are [[eligibility.screen_failure_reasons]] and the criterion ids",
        )
    return reasons[code]


def _fail(p: Participant, protocol: Protocol, code: str, text: str | None, when: datetime) -> None:
    label = failure_reason(protocol, code)
    # enrolled but not confirmed: the participant leaves the trial as a screen failure
    status = S.WITHDRAWN if p.status == S.ENROLLED else S.INELIGIBLE
    p.status = status.value
    p.status_reason = f"{code}: {label}" + (f" ({text.strip()})" if text and text.strip() else "")
    p.status_changed_at = when
    p.screen_failure_code = code


def hold_visit(uow: UnitOfWork, w: Write, p: Participant, code: str, when: datetime) -> Visit:
    """Record that visit ``code`` took place on the day of ``when`` in the site's time zone
    (unless it already is, on that day), by the rules of
    :func:`remit.services.visits.record_visit`: its anchor must have happened, the day must
    not be after today, and a day outside the window is refused (these services take no
    window reason: the visit is recorded first with its reason, then the service on that day).
    """
    session, protocol = uow.session, w.protocol
    row = session.scalar(
        select(Visit).where(Visit.participant_id == p.id, Visit.visit_code == code)
    )
    if row is None:
        raise NotFoundError(f"visit {code} is not in the schedule of {p.study_id}")
    day = local_today(when, site_zone(session, protocol, p))
    if row.actual_date is not None:
        if row.actual_date != day:
            raise ConflictError(
                f"visit {code} of {p.study_id} is recorded on {row.actual_date}, not {day}",
                hint=f"give the date of {code} ({row.actual_date}) or correct the visit date first",
            )
        return row
    take_place(
        uow,
        protocol,
        p,
        row,
        day,
        window_reason=None,
        reason_hint=f"check the date; if it is right, record visit {code} on {day} with the "
        "reason for the date outside the window (a protocol deviation), then this on that day",
    )
    return row


def record_referral(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    referral_date: date,
    source: str,
) -> ParticipantRecord:
    """Record the referral of a registered candidate: its date (the protocol's ``referral``
    event, which the phone screen is anchored to) and where it came from (``source``: GP,
    self-referral, outpatient clinic …). A recorded date is changed with
    :func:`~remit.services.visits.set_anchor_date` (with a reason)."""
    a_date(referral_date, "referral date")
    text_given(source, "referral source")
    if len(source.strip()) > 64:
        raise InputError(
            f"referral source {source[:70]!r}… is too long", expected="64 characters or fewer"
        )
    with writing(engine, actor, "record_referral", participant=participant) as w:
        uow, session, p, protocol = w.uow, w.session, w.p, w.protocol
        if "referral" not in {e.code for e in protocol.events}:
            raise InputError(
                f"protocol {protocol.study.id} has no referral event",
                expected='an [[events]] entry with code = "referral"',
            )
        if p.status not in _BEFORE_DECISION:
            raise InputError(
                f"{p.study_id} is {p.status}; a referral is recorded during screening",
                expected="a participant in screening",
            )
        row = session.scalar(
            select(ParticipantEvent).where(
                ParticipantEvent.participant_id == p.id, ParticipantEvent.event_code == "referral"
            )
        )
        if row is None:
            uow.add(
                ParticipantEvent(
                    participant_id=p.id, event_code="referral", event_date=referral_date
                )
            )
        elif row.event_date != referral_date:
            raise InputError(
                f"the referral date of {p.study_id} is already {row.event_date}",
                expected=f"the same date ({row.event_date}) to change only the source",
                hint="change the date with a reason: `remit trial anchor` (set_anchor_date)",
            )
        p.referral_source = source.strip()
        session.flush()
        refresh_schedule(uow, protocol, p)
        return participant_record(session, p)


def phone_screen_visit(protocol: Protocol) -> str:
    """The code of the phone screen: the protocol's first screening visit."""
    for v in protocol.visits:
        if v.kind == "screening":
            return v.code
    raise InputError(
        f"protocol {protocol.study.id} has no screening visit",
        expected="a visit of kind 'screening' (the phone screen)",
    )


def record_phone_screen(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    outcome: Literal["pass", "fail"],
    screened_at: datetime,
    failure_code: str | None = None,
    failure_text: str | None = None,
) -> ParticipantRecord:
    """Record the phone screen (the protocol's first screening visit, ``PHONE``): the visit
    takes place on the day of ``screened_at``; ``fail`` needs a coded reason
    (:func:`failure_reason`) and ends the screening (status ``ineligible``)."""
    when = aware(screened_at, "screened_at")
    if when is None:
        raise InputError("the time of the phone screen is missing", expected="a date and time")
    if outcome not in PHONE_OUTCOMES:
        raise InputError(f"phone-screen outcome {outcome!r}", expected="pass or fail")
    if outcome == "fail" and not failure_code:
        raise InputError("a failed phone screen needs its reason", expected="a screen-failure code")
    if outcome == "pass" and failure_code:
        raise InputError(
            f"a passed phone screen with failure reason {failure_code!r}",
            expected="no reason for pass, or outcome fail",
        )
    with writing(engine, actor, "record_phone_screen", participant=participant) as w:
        uow, session, p, protocol = w.uow, w.session, w.p, w.protocol
        if p.status not in _BEFORE_DECISION:
            raise InputError(
                f"{p.study_id} is {p.status}; the phone screen is recorded during screening",
                expected="a participant in screening",
            )
        if p.phone_screen_outcome is not None:
            raise ConflictError(
                f"the phone screen of {p.study_id} is already recorded ({p.phone_screen_outcome})",
                hint="open a data query to correct it",
            )
        if outcome == "fail":
            failure_reason(protocol, str(failure_code))  # refuse an unknown code first
        hold_visit(uow, w, p, phone_screen_visit(protocol), when)
        p.phone_screen_outcome = outcome
        p.phone_screened_at = when
        p.phone_screened_by = actor.user_id
        if outcome == "fail":
            _fail(p, protocol, str(failure_code), failure_text, when)
        session.flush()
        return participant_record(session, p)


def record_screen_failure(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    code: str,
    text: str | None = None,
    failed_at: datetime | None = None,
) -> ParticipantRecord:
    """End a candidate's screening with a coded reason (and optional words): status
    ``ineligible``; an enrolled participant whose enrolment is not confirmed becomes
    ``withdrawn`` as a screen failure. The SDTM DS record carries the code."""
    when = aware(failed_at, "failed_at") or now_utc()
    with writing(engine, actor, "record_screen_failure", participant=participant) as w:
        session, p, protocol = w.session, w.p, w.protocol
        unconfirmed = p.status == S.ENROLLED and p.enrolment_confirmed_at is None
        if p.status not in _BEFORE_DECISION and not unconfirmed:
            raise InputError(
                f"{p.study_id} is {p.status}"
                + (" with enrolment confirmed" if p.enrolment_confirmed_at else "")
                + "; a screen failure ends screening",
                expected="a participant in screening, or enrolled and not yet confirmed",
                hint="withdraw a participant on study instead",
            )
        if code == "other":
            text_given(text, "text of the screen-failure reason 'other'")
        _fail(p, protocol, code, text, when)
        session.flush()
        return participant_record(session, p)


def confirm_enrolment(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    confirmed_at: datetime | None = None,
) -> ParticipantRecord:
    """Confirm an enrolled participant's enrolment at the protocol's ``confirm_at`` visit
    (``V4``), which then takes place on that day (the reference visit: study day 0).

    With ``[randomisation]`` the participant is randomised in the same transaction: the next
    unused slot of their stratum (:func:`remit.services.randomisation.allocate`; refused,
    storing nothing, without the allocation key, a list, or a free slot).

    Refused unless the participant is enrolled and not yet confirmed, every visit between
    the enrolment and the confirmation visit took place, and every criterion deferred to
    confirmation (the baseline MADRS) is met on the recorded forms; a candidate who fails is
    recorded as a screen failure (:func:`record_screen_failure`).
    """
    when = aware(confirmed_at, "confirmed_at") or now_utc()
    with writing(engine, actor, "confirm_enrolment", participant=participant, at=when) as w:
        uow, session, p, protocol = w.uow, w.session, w.p, w.protocol
        plan = protocol.enrolment
        if plan is None or plan.confirm_at is None:
            raise InputError(
                f"protocol {protocol.study.id} has no confirmation of enrolment",
                expected="[enrolment] confirm_at in the protocol",
            )
        if p.status != S.ENROLLED or p.enrolment_confirmed_at is not None:
            raise InputError(
                f"{p.study_id} is {p.status}"
                + (" and already confirmed" if p.enrolment_confirmed_at else ""),
                expected="an enrolled participant whose enrolment is not confirmed",
            )
        codes = protocol.visit_codes
        between = codes[codes.index(plan.enrol_at) + 1 : codes.index(plan.confirm_at)]
        rows = {
            v.visit_code: v
            for v in session.scalars(select(Visit).where(Visit.participant_id == p.id))
        }
        not_done = [c for c in between if c in rows and rows[c].status != VisitStatus.COMPLETED]
        if not_done:
            raise InputError(
                f"{p.study_id}: visits {', '.join(not_done)} have not taken place",
                expected=f"every visit from {plan.enrol_at} to {plan.confirm_at} done first",
                hint="record the visits, or record a screen failure if the participant stops",
            )
        verdict = evaluate_eligibility(
            protocol, {}, recorded_forms(session, p), stage="confirmation"
        )
        deferred = [c for c in verdict.criteria if c.stage == "confirmation"]
        failing = [c for c in deferred if c.status != "met"]
        if failing:
            raise InputError(
                f"{p.study_id} cannot be confirmed: "
                + "; ".join(f"{c.id} {c.status} ({c.reason})" for c in failing),
                expected="every criterion checked at confirmation met on the recorded forms",
                hint=f"record the missing forms, or record a screen failure (code {failing[0].id})",
            )
        hold_visit(uow, w, p, plan.confirm_at, when)
        p.enrolment_confirmed_at = when
        p.enrolment_confirmed_by = actor.user_id
        session.flush()
        if protocol.randomisation is not None:
            # the next slot of the participant's stratum, in this same transaction
            allocate(engine, uow, protocol, p, when)
        return participant_record(session, p)


def screening_status(
    engine: Engine, actor: Actor, participant: int | str
) -> tuple[EligibilityResult, dict[str, object]]:
    """Where the candidate's eligibility stands now: every criterion (those checked at
    confirmation too) evaluated on the recorded forms and the checklist answers of the last
    stored eligibility check, and those answers (empty before any check). Nothing is stored
    but the access-log row of the read."""
    with reading(
        engine, actor, "view_participants", "screening_status", participant=participant
    ) as r:
        session, p = r.session, r.p
        protocol = protocol_in_force(session)[0]
        verdict, answers = current_verdict(session, protocol, p, stage="confirmation")
        r.one(verdict)
        return PriorScores.of(protocol, actor).eligibility(verdict), answers
