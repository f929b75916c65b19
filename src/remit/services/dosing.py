"""Dosing days: start a session, doses (with the protocol's limits), subjective-effects ratings,
end of session (vital signs: :mod:`remit.services.vitals`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from remit.protocol import DosingSession as PlannedSession
from remit.protocol import Protocol
from remit.protocol.clock import local_today
from remit.protocol.gating import check_visit_allowed
from remit.protocol.status import (
    AssessmentStatus,
    DeviationCategory,
    DoseKind,
    DoseStatus,
    DosingSessionStatus,
    FollowUpCallStatus,
    ParticipantStatus,
)
from remit.safety import evaluate_vitals
from remit.services._common import (
    assessment_record,
    check_unlocked,
    plausible_time,
    text_given,
    visit_at,
    visit_code_of,
    visit_codes,
)
from remit.services.access import allowed
from remit.services.assessments import check_rater, planned_form, refuse_second_form, store_form
from remit.services.blinding import (
    blinded,
    check_dosing_read,
    dose_problem,
    dose_shown,
    kit_of,
)
from remit.services.checklist import ChecklistItemRecord, checklist_blocks
from remit.services.dosing_checks import (
    discharge_criteria,
    dose_deviations,
    dose_stops,
    washout_blocks,
)
from remit.services.records import AssessmentRecord, DoseRecord, DosingSessionRecord
from remit.services.unit import reading, writing
from remit.services.visits import site_zone
from remit.store import Actor
from remit.store.dosing import Dose, DosingSession
from remit.store.tables import Assessment, Participant, ProtocolDeviation
from remit.store.vitals import VitalSignReading, reading_values


def _planned(protocol: Protocol, visit_code: str) -> PlannedSession:
    planned = protocol.dosing_session(visit_code)  # NotFoundError for an unknown visit
    if planned is None:
        raise InputError(
            f"visit {visit_code} has no dosing session in protocol {protocol.study.id}",
            expected="one of " + ", ".join(d.visit for d in protocol.dosing),
        )
    return planned


def _session_at(
    session: Session, p: Participant, protocol: Protocol, visit_code: str
) -> DosingSession:
    planned = _planned(protocol, visit_code)
    found = session.scalar(
        select(DosingSession).where(
            DosingSession.participant_id == p.id,
            DosingSession.session_number == planned.number,
        )
    )
    if found is None:
        raise NotFoundError(
            f"dosing session {planned.number} ({visit_code}) of {p.study_id} has not started",
            hint="start it with start_dosing_session / `remit dose start`",
        )
    return found


def _require_running(ds: DosingSession, p: Participant, visit_code: str) -> None:
    if ds.status != DosingSessionStatus.IN_PROGRESS.value:
        raise InputError(
            f"dosing session {ds.session_number} ({visit_code}) of {p.study_id} is {ds.status}",
            expected="a session in progress",
        )


def _session_record(p: Participant, visit_code: str, ds: DosingSession) -> DosingSessionRecord:
    return DosingSessionRecord.from_row(ds, participant_id=p.study_id, visit_code=visit_code)


def start_dosing_session(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    started_at: datetime,
    idempotency_key: str | None = None,
) -> DosingSessionRecord:
    """Open the dosing session held at ``visit_code``; an enrolled participant becomes on study."""
    started = plausible_time(started_at, "started_at")
    with writing(
        engine,
        actor,
        "start_dosing_session",
        participant=participant,
        at=started,
        request={"participant": participant, "visit": visit_code, "at": started},
        idempotency_key=idempotency_key,
        record_table="dosing_session",
    ) as w:
        uow, session, p = w.uow, w.session, w.p
        if (done := w.stored(DosingSession)) is not None:
            return _session_record(p, visit_code, done)
        planned = _planned(w.protocol, visit_code)
        if p.status not in (ParticipantStatus.ENROLLED, ParticipantStatus.ON_STUDY):
            raise InputError(
                f"{p.study_id} is {p.status}", expected="an enrolled participant (or on study)"
            )
        check_visit_allowed(
            p.status, p.study_id, visit_code, w.protocol.visit(visit_code).kind, "a dosing session"
        )
        plan = w.protocol.enrolment
        if plan is not None and plan.confirm_at is not None and p.enrolment_confirmed_at is None:
            raise InputError(
                f"{p.study_id}'s enrolment has not been confirmed at {plan.confirm_at}: "
                "no dosing session can start",
                expected=f"enrolment confirmed at {plan.confirm_at} (criteria checked at "
                "confirmation met) before the first dosing session",
                hint=f"confirm the enrolment at {plan.confirm_at} (screening page, or "
                f"`remit participant confirm {p.study_id}`), or record a screen failure",
            )
        visit = visit_at(session, p, visit_code)
        existing = session.scalar(
            select(DosingSession.id).where(
                DosingSession.participant_id == p.id,
                DosingSession.session_number == planned.number,
            )
        )
        if existing is not None:
            raise ConflictError(
                f"dosing session {planned.number} of {p.study_id} was already started"
            )
        ds = DosingSession(
            participant_id=p.id,
            visit_id=visit.id,
            session_number=planned.number,
            started_at=started,
            status=DosingSessionStatus.IN_PROGRESS.value,
        )
        uow.add(ds)
        if p.status == ParticipantStatus.ENROLLED:
            p.status = ParticipantStatus.ON_STUDY.value
            p.status_changed_at = started
        uow.flush()
        w.remember(ds.id)
        return _session_record(p, visit_code, ds)


def end_dosing_session(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    ended_at: datetime,
    notes: str | None = None,
) -> DosingSessionRecord:
    """Close a dosing session once the protocol's discharge criteria are all met at
    ``ended_at`` (vital signs within the discharge limits, no ongoing severe adverse event, an
    investigator's sign-off: :func:`sign_off_discharge`); refused with the unmet ones listed.
    With the protocol's ``follow_up_call``, a call ``day_offset`` days later is scheduled.

    Examples
    --------
    ::

        sign_off_discharge(engine, investigator, "OSL-001", "V5", signed_at=at)
        end_dosing_session(engine, therapist, "OSL-001", "V5", ended_at=at)
        # -> DosingSessionRecord(status="completed", follow_up_status="scheduled", ...)
    """
    ended = plausible_time(ended_at, "ended_at")
    with writing(engine, actor, "end_dosing_session", participant=participant) as w:
        session, p = w.session, w.p
        planned = _planned(w.protocol, visit_code)
        ds = _session_at(session, p, w.protocol, visit_code)
        _require_running(ds, p, visit_code)
        check_unlocked(session, p.id, "dosing_session", ds.id)
        if ds.started_at is not None and ended is not None and ended < ds.started_at:
            raise InputError(
                f"the session cannot end ({ended.isoformat()}) before it started "
                f"({ds.started_at.isoformat()})"
            )
        if ended is None:  # pragma: no cover - aware() refuses None for a required time
            raise InputError("ended_at is required", expected="the time the session ended")
        zone = site_zone(session, w.protocol, p)
        unmet = [c for c in discharge_criteria(session, planned, p, ds, ended, zone) if not c.met]
        if unmet:
            raise InputError(
                f"dosing session {ds.session_number} ({visit_code}) of {p.study_id} cannot end: "
                "discharge criteria not met: " + "; ".join(f"{c.text}: {c.detail}" for c in unmet),
                hint="record vital signs within the limits, end or update the adverse event, "
                "and have an investigator sign the discharge off, then end the session",
            )
        ds.ended_at = ended
        ds.notes = notes
        ds.status = DosingSessionStatus.COMPLETED.value
        if planned.follow_up_call is not None:
            ds.follow_up_due_date = ended.date() + timedelta(days=planned.follow_up_call.day_offset)
            ds.follow_up_status = FollowUpCallStatus.SCHEDULED.value
        session.flush()
        return _session_record(p, visit_code, ds)


def sign_off_discharge(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    signed_at: datetime,
    note: str | None = None,
) -> DosingSessionRecord:
    """An investigator signs off the participant's discharge from a running dosing session
    (one of the protocol's discharge criteria); audited like every change. Refused for other
    roles, for a session not in progress, before the session started and a second time (the
    same sign-off sent again returns the session unchanged).

    Examples
    --------
    ::

        sign_off_discharge(engine, investigator, "OSL-001", "V5", signed_at=at,
                           note="alert, oriented, BP 128/80, escort present")
    """
    signed = plausible_time(signed_at, "signed_at")
    with writing(engine, actor, "sign_off_discharge", participant=participant) as w:
        session, p = w.session, w.p
        ds = _session_at(session, p, w.protocol, visit_code)
        _require_running(ds, p, visit_code)
        check_unlocked(session, p.id, "dosing_session", ds.id)
        if ds.started_at is not None and signed is not None and signed < ds.started_at:
            raise InputError(
                f"the discharge cannot be signed off ({signed.isoformat()}) before the session "
                f"started ({ds.started_at.isoformat()})"
            )
        if ds.discharge_signed_off_at is not None:
            if ds.discharge_signed_off_at == signed and ds.discharge_signed_off_by == actor.user_id:
                return _session_record(p, visit_code, ds)  # a retry of the same sign-off
            raise ConflictError(
                f"the discharge of session {ds.session_number} of {p.study_id} was already "
                f"signed off at {ds.discharge_signed_off_at.isoformat()}",
                hint="a sign-off is not changed; open a data query to correct it",
            )
        ds.discharge_signed_off_by = actor.user_id
        ds.discharge_signed_off_at = signed
        ds.discharge_note = note
        session.flush()
        return _session_record(p, visit_code, ds)


def record_follow_up_call(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    status: str,
    called_at: datetime,
    note: str | None = None,
) -> DosingSessionRecord:
    """Record the next-day follow-up call of the dosing session at ``visit_code``: ``done`` or
    ``not_reached`` (a note is then required; the call may be recorded again when tried
    later). Refused before the session ended (no call is scheduled) and once a call is done.

    Examples
    --------
    ::

        record_follow_up_call(engine, therapist, "OSL-001", "V5", status="done",
                              called_at=at, note="slept well, mild headache")
    """
    called = plausible_time(called_at, "called_at")
    done_words = [s.value for s in FollowUpCallStatus if s != FollowUpCallStatus.SCHEDULED]
    if status not in done_words:
        raise InputError(
            f"follow-up call status {status!r} is not a call outcome",
            expected=" or ".join(done_words),
        )
    if status == FollowUpCallStatus.NOT_REACHED:
        note = text_given(note, "note on the call (who was tried, when to try again)")
    with writing(
        engine,
        actor,
        "record_follow_up_call",
        participant=participant,
        reason=f"next-day follow-up call: {status}",
    ) as w:
        session, p = w.session, w.p
        ds = _session_at(session, p, w.protocol, visit_code)
        if ds.follow_up_status is None:
            raise InputError(
                f"dosing session {ds.session_number} ({visit_code}) of {p.study_id} has no "
                "follow-up call scheduled",
                hint="the call is scheduled when the session ends (with the protocol's "
                "[dosing.follow_up_call])",
            )
        if ds.follow_up_status == FollowUpCallStatus.DONE:
            raise ConflictError(
                f"the follow-up call of session {ds.session_number} of {p.study_id} is already "
                f"recorded ({ds.follow_up_status})"
            )
        check_unlocked(session, p.id, "dosing_session", ds.id)
        if ds.ended_at is not None and called is not None and called < ds.ended_at:
            raise InputError(
                f"the call ({called.isoformat()}) cannot be before the session ended "
                f"({ds.ended_at.isoformat()})"
            )
        ds.follow_up_status = status
        ds.follow_up_at = called
        ds.follow_up_by = actor.user_id
        ds.follow_up_note = note
        session.flush()
        return _session_record(p, visit_code, ds)


# --- doses -----------------------------------------------------------------------------------


def _doses(session: Session, ds: DosingSession) -> list[Dose]:
    return list(
        session.scalars(select(Dose).where(Dose.dosing_session_id == ds.id).order_by(Dose.id))
    )


def _initial_given(doses: list[Dose]) -> Dose | None:
    """The session's initial dose if it was given (supplemental doses and vital signs count
    their minutes from it)."""
    return next(
        (d for d in doses if d.kind == DoseKind.INITIAL and d.status == DoseStatus.GIVEN), None
    )


def _vital_warnings(
    session: Session, protocol: Protocol, ds: DosingSession, visit_code: str, at: datetime | None
) -> tuple[str, ...]:
    query = select(VitalSignReading).where(VitalSignReading.dosing_session_id == ds.id)
    if at is not None:
        query = query.where(VitalSignReading.measured_at <= at)
    latest = session.scalar(
        query.order_by(VitalSignReading.measured_at.desc(), VitalSignReading.id.desc()).limit(1)
    )
    if latest is None:
        return ("no vital signs recorded in this session before the dose",)
    values = reading_values(session, [latest.id]).get(latest.id, {})
    outcome = evaluate_vitals(protocol, visit_code, values)
    warnings = [
        f"latest vital signs ({latest.measured_at:%H:%M} UTC): {a.message}" for a in outcome.alerts
    ]
    planned = _planned(protocol, visit_code)
    if at is not None:
        age = (at - latest.measured_at).total_seconds() / 60
        if age > planned.vitals.every_min:
            warnings.append(
                f"latest vital signs are {age:.0f} minutes old (due every "
                f"{planned.vitals.every_min} minutes)"
            )
    return tuple(warnings)


def _dose_record(
    session: Session,
    protocol: Protocol,
    p: Participant,
    ds: DosingSession,
    d: Dose,
    role: str,
) -> DoseRecord:
    """The dose as ``role`` may see it: in blinded form (the kit, no mg) for a blinded role."""
    visit_code = visit_code_of(session, ds.visit_id) or ""
    at = d.given_at or d.offered_at
    kit = kit_of(session, p.id)
    blind = blinded(protocol, role)
    return DoseRecord.from_row(
        d,
        participant_id=p.study_id,
        visit_code=visit_code,
        session_number=ds.session_number,
        warnings=_vital_warnings(session, protocol, ds, visit_code, at),
        deviations=dose_deviations(session, ds, d.id),
        dose_mg=None if blind else d.dose_mg,
        kit=kit,
        shown=dose_shown(kit, d.kind, d.status) if blind else f"{d.dose_mg:g} mg {d.status}",
    )


def record_dose(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    kind: str,
    dose_mg: float,
    status: str = "given",
    given_at: datetime | None = None,
    offered_at: datetime | None = None,
    withheld_reason: str | None = None,
    override_reason: str | None = None,
    idempotency_key: str | None = None,
) -> DoseRecord:
    """Record the initial or supplemental dose of a session: given, offered or withheld.

    Refused unless an investigator overrides with ``override_reason``: a dose above the planned
    dose of its kind, a session total above the protocol's maximum, a supplemental dose given
    outside the protocol's offer window (minutes after the initial dose), and the dose-stops
    of a supplemental dose given (:func:`~remit.services.dosing_checks.dose_stops`: an
    immediate alert of the session not closed; with the protocol's ``dose_stop``, the latest
    reading of a limited sign beyond its limit or none in the ``reading_within_min`` minutes
    before the dose). A supplemental dose given over a dose-stop is recorded with a major
    protocol deviation ``dose_stop_override``, and any dose taking the session total above
    ``max_total_mg`` with a major deviation ``dose_above_cap``, in the same transaction.
    A dose given (initial or supplemental) while a medication of a prohibited class
    (``[[medications.prohibited]]``) is ongoing or within its washout on the day of the dose
    (:func:`~remit.services.dosing_checks.washout_blocks`) is refused the same way and, on an
    override, recorded with a major deviation ``washout_override``; one override reason covers
    every stop at once. An initial dose given is refused until the session's pre-dose
    checklist (``[dosing.checklist]``) is completed and every item, judged again at the time of
    the dose, is cleared (:func:`~remit.services.checklist.checklist_blocks`); only items the
    protocol marks overridable yield to an investigator's override, recorded as a major
    ``checklist_override`` deviation. Always refused: a second dose of the same kind, a
    supplemental dose before the initial one, a withheld dose without a reason. The returned
    ``warnings`` say when the latest vital signs exceed the protocol's thresholds (or are
    missing or old);
    ``deviations`` name the deviations recorded with the dose.

    Examples
    --------
    Refused after a reading of 200/125 (dose-stop limits 180/110), then given on an
    investigator's override::

        record_dose(engine, investigator, "OSL-001", "V5", kind="supplemental", dose_mg=40,
                    given_at=at, override_reason="BP falling, participant asks for it")
        # -> DoseRecord(..., deviations=("dose_stop_override",))
    """
    try:
        kind = DoseKind(kind).value
        status = DoseStatus(status).value
    except ValueError as error:
        raise InputError(
            str(error), expected="kind initial|supplemental, status given|offered|withheld"
        ) from None
    if (
        isinstance(dose_mg, bool)
        or not isinstance(dose_mg, int | float)
        or not math.isfinite(dose_mg)
        or dose_mg < 0
    ):
        raise InputError(f"dose {dose_mg!r} mg is not a dose", expected="a number of mg ≥ 0")
    given = plausible_time(given_at, "given_at")
    offered = plausible_time(offered_at, "offered_at")
    if status == DoseStatus.GIVEN and given is None:
        raise InputError("a given dose needs given_at", expected="the time the dose was taken")
    if status != DoseStatus.GIVEN and given is not None:
        raise InputError(f"a {status} dose has no given_at", hint="leave given_at empty")
    if status == DoseStatus.WITHHELD:
        text_given(withheld_reason, "reason the dose was withheld")
    body = {
        "participant": participant,
        "visit": visit_code,
        "kind": kind,
        "dose_mg": float(dose_mg),
        "status": status,
        "given_at": given,
        "offered_at": offered,
        "withheld_reason": withheld_reason,
        "override_reason": override_reason,
    }
    with writing(
        engine,
        actor,
        "record_dose",
        participant=participant,
        at=given or offered,
        request=body,
        idempotency_key=idempotency_key,
        record_table="dose",
    ) as w:
        session, p, protocol = w.session, w.p, w.protocol
        if (done := w.stored(Dose)) is not None:
            first_ds = session.get_one(DosingSession, done.dosing_session_id)
            return _dose_record(session, protocol, p, first_ds, done, actor.role)
        planned = _planned(protocol, visit_code)
        ds = _session_at(session, p, protocol, visit_code)
        _require_running(ds, p, visit_code)
        check_unlocked(session, p.id, "dosing_session", ds.id)
        plan = planned.dose_for(p.arm)
        doses = _doses(session, ds)
        same_kind = [d for d in doses if d.kind == kind and d.status != DoseStatus.OFFERED]
        if same_kind and status != DoseStatus.OFFERED:
            raise ConflictError(
                f"the {kind} dose of session {ds.session_number} of {p.study_id} is already "
                f"recorded ({same_kind[0].status}, dose {same_kind[0].id})"
            )
        problems: list[str] = []
        limit = plan.initial_mg if kind == DoseKind.INITIAL else plan.supplemental_mg
        if dose_mg > limit:
            problems.append(
                # a blinded protocol's plan differs by arm: the message names neither number
                dose_problem(kit_of(session, p.id), kind)
                if protocol.blinding is not None
                else f"{dose_mg:g} mg is above the planned {kind} dose of {limit:g} mg"
            )
        total = sum(d.dose_mg for d in doses if d.status == DoseStatus.GIVEN)
        # a blinded protocol's texts name the kit, never a dose or a total in mg (a placebo
        # kit's 0 mg names the arm): the refusal, and the deviations the blinded roles read.
        # The cap is checked on the mg recorded from the kit's label (a randomised
        # participant's arm is sealed: ``plan`` is the session's own dose), so a placebo
        # kit's session goes above it as an MDMA kit's does and the dose_above_cap deviation
        # names no arm: it stays in every list, for the investigators who act on it
        masked = protocol.blinding is not None
        if status == DoseStatus.GIVEN and total + dose_mg > planned.max_total_mg:
            problems.append(
                f"the session total would be above the maximum of {planned.max_total_mg:g} mg"
                if masked
                else f"the session total would be {total + dose_mg:g} mg, above the maximum "
                f"of {planned.max_total_mg:g} mg"
            )
        if kind == DoseKind.SUPPLEMENTAL:
            initial = _initial_given(doses)
            if initial is None or initial.given_at is None:
                raise InputError(
                    f"no initial dose is recorded as given in session {ds.session_number}",
                    expected="the initial dose before a supplemental one",
                )
            if status == DoseStatus.WITHHELD and not planned.supplemental_may_be_withheld:
                raise InputError(
                    "the protocol does not allow withholding the supplemental dose here"
                )
            if status == DoseStatus.GIVEN and given is not None:
                minutes = (given - initial.given_at).total_seconds() / 60
                low, high = planned.supplemental_offer_min
                if not (low <= minutes <= high):
                    problems.append(
                        f"the supplemental dose {minutes:.0f} minutes after the initial dose is "
                        f"outside the offer window of {low}–{high} minutes"
                    )
        stops: tuple[str, ...] = ()
        zone = site_zone(session, protocol, p)  # the site's clock and calendar
        if kind == DoseKind.SUPPLEMENTAL and status == DoseStatus.GIVEN and given is not None:
            stops = dose_stops(session, planned, p, ds, given, zone)
        washout = (
            washout_blocks(session, protocol, p, local_today(given, zone))
            if status == DoseStatus.GIVEN and given is not None
            else ()
        )
        unchecked: tuple[ChecklistItemRecord, ...] = ()
        if kind == DoseKind.INITIAL and status == DoseStatus.GIVEN and given is not None:
            hard, soft = checklist_blocks(session, protocol, p, planned, ds, given)
            if hard:
                raise InputError(
                    "initial dose refused: pre-dose checklist not complete: "
                    + "; ".join(
                        [
                            *hard,
                            *problems,
                            *(f"prohibited medication: {b.describe()}" for b in washout),
                        ]
                    ),
                    hint="complete the checklist (`remit dose checklist` or the dosing-day "
                    "page) once every item passes; no override gives these items over",
                )
            # a prohibited medication is the washout stop below, said and recorded once
            unchecked = tuple(
                i for i in soft if not (washout and i.kind == "no_prohibited_medication")
            )
        if problems or stops or washout or unchecked:
            said = "; ".join(
                [
                    *problems,
                    *(f"dose stop: {s}" for s in stops),
                    *(f"prohibited medication: {b.describe()}" for b in washout),
                    *(f"pre-dose checklist {i.id}: {i.detail}" for i in unchecked),
                ]
            )
            if not (override_reason and override_reason.strip()):
                todo = (
                    "handle the alert and close it, or record vital signs within the limits; "
                    if stops
                    else ""
                ) + (
                    "record the medication's stop date and wait for the earliest dose; "
                    if washout
                    else ""
                )
                raise InputError(
                    "dose refused: " + said,
                    hint=todo + "an investigator may override with a reason "
                    "(override_reason=…), recorded as a protocol deviation",
                )
            if not allowed("override_dose_limit", actor.role):
                raise PermissionDeniedError(
                    f"{actor.username} ({actor.role}) may not override: " + said,
                    expected="an investigator",
                    hint="ask an investigator to record the dose with the override reason",
                )
        d = Dose(
            dosing_session_id=ds.id,
            kind=kind,
            dose_mg=float(dose_mg),
            status=status,
            offered_at=offered,
            given_at=given,
            withheld_reason=withheld_reason,
            override_reason=override_reason,
            override_by=actor.user_id if problems or stops or washout or unchecked else None,
            recorded_by=actor.user_id,
            idempotency_key=idempotency_key,
        )
        w.create(d)
        deviations: list[tuple[DeviationCategory, str]] = []
        this_dose = (  # the kit is read only for a deviation's text
            dose_shown(kit_of(session, p.id), kind, status)
            if masked and (stops or washout or unchecked or total + dose_mg > planned.max_total_mg)
            else f"{kind} dose of {dose_mg:g} mg {status}"
        )
        both = (
            " (one override covered both the dose stop and the washout)"
            if stops and washout
            else ""
        )
        if stops:
            deviations.append(
                (
                    DeviationCategory.DOSE_STOP_OVERRIDE,
                    f"{this_dose} despite the dose stop ("
                    + "; ".join(stops)
                    + f"); override by {actor.username}: {override_reason}{both}",
                )
            )
        if washout:
            deviations.append(
                (
                    DeviationCategory.WASHOUT_OVERRIDE,
                    f"{this_dose} during the washout of a prohibited medication ("
                    + "; ".join(b.describe() for b in washout)
                    + f"); override by {actor.username}: {override_reason}{both}",
                )
            )
        if unchecked:
            deviations.append(
                (
                    DeviationCategory.CHECKLIST_OVERRIDE,
                    f"{this_dose} with pre-dose checklist items not cleared ("
                    + "; ".join(f"{i.id}: {i.detail}" for i in unchecked)
                    + f"); override by {actor.username}: {override_reason}",
                )
            )
        if status == DoseStatus.GIVEN and total + dose_mg > planned.max_total_mg:
            deviations.append(
                (
                    DeviationCategory.DOSE_ABOVE_CAP,
                    (
                        f"{this_dose}: the session total went above the cap of "
                        f"{planned.max_total_mg:g} mg"
                        if masked
                        else f"{kind} dose of {dose_mg:g} mg took the session total to "
                        f"{total + dose_mg:g} mg, above the cap of {planned.max_total_mg:g} mg"
                    )
                    + f"; override by {actor.username}: {override_reason}",
                )
            )
        when = given or offered or ds.started_at
        for category, text in deviations:
            w.uow.add(
                ProtocolDeviation(
                    participant_id=p.id,
                    visit_id=ds.visit_id,
                    category=category.value,
                    description=f"dose {d.id}: {text}",
                    major=True,
                    occurred_date=when.date() if when is not None else None,
                    reported_by=actor.user_id,
                )
            )
        w.uow.flush()
        return _dose_record(session, protocol, p, ds, d, actor.role)


# --- subjective effects ----------------------------------------------------------------------


def record_vas(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    timepoint: str,
    answers: Mapping[str, object],
    *,
    assessed_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> AssessmentRecord:
    """Record the subjective-effects rating (the visit's ``during_session`` scale) at one of the
    session's VAS timepoints (``initial_dose``, ``before_supplemental``, ``end_of_session`` …)."""
    when = plausible_time(assessed_at, "assessed_at")
    body = {
        "participant": participant,
        "visit": visit_code,
        "timepoint": timepoint,
        "answers": dict(answers),
        "assessed_at": when,
    }
    with writing(
        engine,
        actor,
        "record_vas",
        participant=participant,
        at=when,
        request=body,
        idempotency_key=idempotency_key,
        record_table="assessment",
    ) as w:
        session, p, protocol = w.session, w.p, w.protocol
        if (done := w.stored(Assessment)) is not None:
            # A retry never returns a rating to someone who may not enter it.
            check_rater(actor, planned_form(protocol, visit_code, done.scale)[0])
            return assessment_record(session, p, done)
        planned = _planned(protocol, visit_code)
        if timepoint not in planned.vas_timepoints:
            raise InputError(
                f"timepoint {timepoint!r} is not a VAS timepoint of the session at {visit_code}",
                expected="one of " + (", ".join(planned.vas_timepoints) or "(none)"),
            )
        forms = [f for f in protocol.assessments_at(visit_code) if f.timing == "during_session"]
        if not forms:
            raise InputError(f"the protocol plans no during-session rating at {visit_code}")
        form = planned_form(protocol, visit_code, forms[0].scale)[0]
        check_rater(actor, form)
        ds = _session_at(session, p, protocol, visit_code)
        _require_running(ds, p, visit_code)
        refuse_second_form(
            session,
            f"the {form.scale} rating at {timepoint} of session {ds.session_number} of "
            f"{p.study_id} is already recorded",
            Assessment.dosing_session_id == ds.id,
            Assessment.scale == form.scale,
            Assessment.timepoint == timepoint,
        )
        row = Assessment(
            participant_id=p.id,
            visit_id=ds.visit_id,
            dosing_session_id=ds.id,
            timepoint=timepoint,
            status=AssessmentStatus.COMPLETE.value,
            idempotency_key=idempotency_key,
            assessed_at=when,
        )
        return store_form(w, row, form.scale, answers, form.version)


def list_dosing_sessions(
    engine: Engine, actor: Actor, participant: int | str
) -> list[DosingSessionRecord]:
    """A participant's dosing sessions, with their notes (the session's, the discharge
    sign-off's, the follow-up call's).

    Refused to the independent rater blind to dosing (the protocol's ``[blinding]``, as the
    dosing-day page is: :func:`~remit.services.blinding.check_dosing_read`), with the refusal
    on the audit trail: the notes quote MDMA's effects and adverse events."""
    with reading(
        engine, actor, "view_participants", "list_dosing_sessions", participant=participant
    ) as r:
        session, p = r.session, r.p
        check_dosing_read(r, actor)
        rows = session.scalars(
            select(DosingSession)
            .where(DosingSession.participant_id == p.id)
            .order_by(DosingSession.session_number)
        )
        codes = visit_codes(session, p)
        return r.returning(
            [
                _session_record(p, "" if ds.visit_id is None else codes.get(ds.visit_id, ""), ds)
                for ds in rows
            ]
        )
