"""The dosing-day page, the alerts inbox and the adverse-event forms (record, edit)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from remit import services as sv
from remit.errors import InputError, NotFoundError
from remit.protocol import VITAL_SIGN_CODES, VITAL_SIGNS
from remit.protocol.adverse_event import ActionTaken, AEOutcome, Relatedness, Severity
from remit.protocol.clock import local_input_value, parse_clinical_time, site_zone
from remit.protocol.status import (
    ALERT_FILTERS,
    DECIDED_DOSE_STATUSES,
    UNCLOSED,
    DoseKind,
    DosingSessionStatus,
    FollowUpCallStatus,
    values,
)
from remit.web.core import (
    CODE,
    ID,
    PID,
    CheckedForm,
    PageSession,
    form_key,
    page_requires,
    participant_zone,
    record_entered_dose,
    render,
    state_of,
    web_allowed,
)
from remit.web.forms import form_fields, read_answers
from remit.web.page_forms import (
    AdverseEventEditForm,
    AdverseEventForm,
    DoseForm,
    EndForm,
    FollowUpCallForm,
    NoteForm,
    SignOffForm,
    StartForm,
    VitalsForm,
    form_fold,
    parse_form,
    posted_form,
)

router = APIRouter(include_in_schema=False)


def _back(pid: str, visit: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/participants/{pid}/dosing/{visit}{anchor}", status_code=303)


@router.get("/participants/{pid}/dosing/{visit}", dependencies=[page_requires("view_participants")])
def dosing_page(request: Request, session: PageSession, pid: PID, visit: CODE) -> Response:
    """Doses and times, a banner for each unclosed alert of the session, the supplemental offer
    window (blocked, with the reasons, while a dose stop holds), vitals at the protocol's
    schedule with values beyond threshold highlighted, the subjective-effects ratings, the
    discharge checklist and the next-day follow-up call."""
    state = state_of(request)
    planned = state.protocol.dosing_session(visit)
    if planned is None:
        raise NotFoundError(f"visit {visit} is not a dosing session of the protocol")
    engine, actor = state.engine, session.actor
    person = sv.get_participant(engine, actor, pid)
    zone = site_zone(state.protocol, person.site)
    running = [s for s in sv.list_dosing_sessions(engine, actor, pid) if s.visit_code == visit]
    now = datetime.now(UTC)
    in_progress = bool(running) and running[0].status == DosingSessionStatus.IN_PROGRESS
    # a running session is judged now; a past one as it stood at its latest reading
    day = sv.dosing_day(engine, actor, pid, visit, at=now if in_progress else None)
    initial = next((d for d in day.doses if d.kind == DoseKind.INITIAL and d.given_at), None)
    supplement_decided = any(
        d.kind == DoseKind.SUPPLEMENTAL and d.status in DECIDED_DOSE_STATUSES for d in day.doses
    )
    blocked = in_progress and not supplement_decided and bool(day.supplement_stops)
    # a prohibited medication blocks any dose of a session not yet ended
    open_session = not running or running[0].status in (
        DosingSessionStatus.PLANNED,
        DosingSessionStatus.IN_PROGRESS,
    )
    window = None
    if initial is not None and initial.given_at is not None:
        lo, hi = planned.supplemental_offer_min
        opens = initial.given_at + timedelta(minutes=lo)
        closes = initial.given_at + timedelta(minutes=hi)
        timing = "not yet open" if now < opens else ("open" if now <= closes else "closed")
        window = {
            "opens": opens,
            "closes": closes,
            "state": "blocked" if blocked else timing,
            "minutes_to_open": max(0, int((opens - now).total_seconds() // 60)),
            "minutes_to_close": max(0, int((closes - now).total_seconds() // 60)),
        }
    thresholds: dict[str, Any] = dict(state.protocol.vital_thresholds(visit))
    schedule: list[tuple[str, int | None]] = [("pre-dose", None)] if planned.vitals.pre_dose else []
    schedule += [(f"{m} min", m) for m in planned.vitals.timepoints_min()]
    # the session's signs, and any other sign a reading of this day holds
    read = {sign for v in day.vitals for sign in v.values}
    signs = [
        VITAL_SIGNS[code]
        for code in VITAL_SIGN_CODES
        if code in planned.vitals.recorded_signs() or code in read
    ]
    readings = []
    for v in day.vitals:
        flags = {
            sign: True
            for sign, value in v.values.items()
            if sign in thresholds and thresholds[sign].breached(value)
        }
        readings.append((v, flags))
    vas_scale = next(
        (f for f in state.protocol.assessments_at(visit) if f.timing == "during_session"), None
    )
    vas_done = [
        a
        for a in sv.list_assessments(engine, actor, pid, visit_code=visit)
        if vas_scale and a.scale == vas_scale.scale
    ]
    # the pre-dose checklist, judged now, until the initial dose is given
    checklist = (
        sv.checklist_status(engine, actor, pid, visit, at=now)
        if planned.checklist is not None and in_progress and initial is None
        else None
    )
    return render(
        request,
        "dosing.html",
        checklist=checklist,
        may_checklist=web_allowed("complete_checklist", actor.role),
        may_override_checklist=web_allowed("override_checklist", actor.role),
        title=f"Dosing day {pid} {visit}",
        person=person,
        visit=visit,
        planned=planned,
        blind=sv.blinded(state.protocol, actor.role),
        session_record=running[0] if running else None,
        doses=day.doses,
        initial=initial,
        window=window,
        now=now,
        schedule=schedule,
        readings=readings,
        signs=signs,
        vital_signs=VITAL_SIGNS,
        thresholds=thresholds,
        vas_scale=vas_scale,
        vas_fields=form_fields(vas_scale.scale, vas_scale.version) if vas_scale else [],
        vas_done=vas_done,
        idem=uuid.uuid4().hex,
        now_local=local_input_value(now, zone),
        zone=zone,
        may_dose=web_allowed("record_dose", actor.role),
        may_vitals=web_allowed("record_vitals", actor.role),
        may_start=web_allowed("start_dosing_session", actor.role),
        may_override=web_allowed("override_dose_limit", actor.role),
        may_sign_off=web_allowed("sign_off_discharge", actor.role),
        may_call=web_allowed("record_follow_up_call", actor.role),
        open_alerts=day.open_alerts,
        stops=day.supplement_stops if in_progress else (),
        blocked=blocked,
        washout=day.washout if open_session and not supplement_decided else (),
        discharge=day.discharge,
        deviations=day.deviations,
        call_outcomes=[s for s in FollowUpCallStatus if s != FollowUpCallStatus.SCHEDULED],
    )


@router.post(
    "/participants/{pid}/dosing/{visit}/start",
    dependencies=[page_requires("start_dosing_session")],
)
def dosing_start(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """Open the dosing session."""
    body, key = posted_form(checked, StartForm, participant_zone(request, session.actor, pid))
    sv.start_dosing_session(
        state_of(request).engine,
        session.actor,
        pid,
        visit,
        started_at=body.started_at,
        idempotency_key=key,
    )
    return _back(pid, visit)


@router.post(
    "/participants/{pid}/dosing/{visit}/end", dependencies=[page_requires("end_dosing_session")]
)
def dosing_end(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """Close the dosing session."""
    body = parse_form(
        EndForm,
        checked,
        participant_zone(request, session.actor, pid),
    )
    sv.end_dosing_session(
        state_of(request).engine,
        session.actor,
        pid,
        visit,
        ended_at=body.ended_at,
        notes=body.notes,
    )
    return _back(pid, visit)


@router.post(
    "/participants/{pid}/dosing/{visit}/sign-off",
    dependencies=[page_requires("sign_off_discharge")],
)
def dosing_sign_off(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """An investigator signs the participant's discharge off."""
    body = parse_form(
        SignOffForm,
        checked,
        participant_zone(request, session.actor, pid),
    )
    sv.sign_off_discharge(
        state_of(request).engine,
        session.actor,
        pid,
        visit,
        signed_at=body.signed_at,
        note=body.note,
    )
    return _back(pid, visit, "#discharge")


@router.post(
    "/participants/{pid}/dosing/{visit}/follow-up-call",
    dependencies=[page_requires("record_follow_up_call")],
)
def follow_up_call(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """Record the next-day follow-up call: done, or not reached with a note."""
    body = parse_form(
        FollowUpCallForm,
        checked,
        participant_zone(request, session.actor, pid),
    )
    sv.record_follow_up_call(
        state_of(request).engine,
        session.actor,
        pid,
        visit,
        status=body.status,
        called_at=body.called_at,
        note=body.note,
    )
    return _back(pid, visit, "#follow-up-call")


@router.post("/participants/{pid}/dosing/{visit}/dose", dependencies=[page_requires("record_dose")])
def dose(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """Record a dose: given, offered or withheld."""
    body, key = posted_form(checked, DoseForm, participant_zone(request, session.actor, pid))
    record_entered_dose(state_of(request).engine, session.actor, pid, visit, body, body.at, key)
    return _back(pid, visit, "#doses")


@router.post(
    "/participants/{pid}/dosing/{visit}/vitals", dependencies=[page_requires("record_vitals")]
)
def vitals(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """Record vital signs; values beyond the protocol's limits raise one alert per reading."""
    body, key = posted_form(checked, VitalsForm, participant_zone(request, session.actor, pid))
    sv.record_vitals(
        state_of(request).engine,
        session.actor,
        pid,
        visit,
        measured_at=body.measured_at,
        values=body.values,
        idempotency_key=key,
    )
    return _back(pid, visit, "#vitals")


@router.post("/participants/{pid}/dosing/{visit}/vas", dependencies=[page_requires("record_vas")])
def vas(
    request: Request, form: CheckedForm, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """Record the subjective-effects ratings at one of the session's timepoints."""
    planned = next(
        (
            f
            for f in state_of(request).protocol.assessments_at(visit)
            if f.timing == "during_session"
        ),
        None,
    )
    if planned is None:
        raise NotFoundError(f"visit {visit} has no ratings during the session")
    answers, errors = read_answers(planned.scale, planned.version, form)
    if errors:
        item, message = next(iter(errors.items()))
        raise InputError(f"{item}: {message}", hint="go back and correct the rating")
    sv.record_vas(
        state_of(request).engine,
        session.actor,
        pid,
        visit,
        form.get("timepoint", ""),
        answers,
        assessed_at=parse_clinical_time(
            form.get("assessed_at") or "",
            participant_zone(request, session.actor, pid),
            fold=form_fold(form),
            name="rating time",
        ),
        idempotency_key=form_key(form),
    )
    return _back(pid, visit, "#vas")


# --- alerts ---------------------------------------------------------------------------------


@router.get("/alerts", dependencies=[page_requires("view_alerts")])
def alerts(
    request: Request,
    session: PageSession,
    status: Annotated[str, Query(pattern=f"^({'|'.join(ALERT_FILTERS)}|all)$")] = UNCLOSED,
) -> Response:
    """The alerts inbox, most pressing first, with whom each was delivered to."""
    engine = state_of(request).engine
    found = sv.list_alerts(engine, session.actor, status=None if status == "all" else status)
    told: dict[int, list[sv.DeliveryRecord]] = {}
    for d in sv.list_deliveries(engine, session.actor):
        if d.outcome in ("sent", "failed", "undeliverable"):
            told.setdefault(d.alert_id, []).append(d)
    return render(
        request,
        "alerts.html",
        title="Alerts",
        alerts=found,
        told=told,
        status=status,
        may_ack=web_allowed("acknowledge_alert", session.actor.role),
        may_close=web_allowed("close_alert", session.actor.role),
    )


@router.post("/alerts/{alert_id}/acknowledge", dependencies=[page_requires("acknowledge_alert")])
def alert_ack(
    request: Request, checked: CheckedForm, session: PageSession, alert_id: ID
) -> Response:
    """Acknowledge an alert with a note."""
    body = parse_form(NoteForm, checked)
    sv.acknowledge_alert(state_of(request).engine, session.actor, alert_id, note=body.note)
    return RedirectResponse(f"/alerts#alert-{alert_id}", status_code=303)


@router.post("/alerts/{alert_id}/close", dependencies=[page_requires("close_alert")])
def alert_close(
    request: Request, checked: CheckedForm, session: PageSession, alert_id: ID
) -> Response:
    """Close an alert with a note."""
    body = parse_form(NoteForm, checked)
    sv.close_alert(state_of(request).engine, session.actor, alert_id, note=body.note)
    return RedirectResponse("/alerts?status=all", status_code=303)


# --- adverse events -------------------------------------------------------------------------

#: The outcome choices, "unknown" first (the form's default).
OUTCOMES = (AEOutcome.UNKNOWN, *(o for o in AEOutcome if o is not AEOutcome.UNKNOWN))


@router.get("/participants/{pid}/ae/new", dependencies=[page_requires("record_adverse_event")])
def ae_form(request: Request, session: PageSession, pid: PID) -> Response:
    """The adverse-event form."""
    person = sv.get_participant(state_of(request).engine, session.actor, pid)
    return render(
        request,
        "ae.html",
        title=f"Adverse event — {pid}",
        person=person,
        severities=values(Severity),
        relatedness=values(Relatedness),
        outcomes=OUTCOMES,
        actions=values(ActionTaken),
        today=date.today().isoformat(),
        idem=uuid.uuid4().hex,
    )


@router.post("/participants/{pid}/ae", dependencies=[page_requires("record_adverse_event")])
def ae_submit(request: Request, checked: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Record an adverse event (a serious one starts its reporting clock)."""
    body, key = posted_form(checked, AdverseEventForm)
    criteria = [c.strip() for c in (body.seriousness_criteria or "").split(",") if c.strip()]
    sv.record_adverse_event(
        state_of(request).engine,
        session.actor,
        pid,
        term=body.term,
        onset_date=body.onset_date,
        severity=body.severity,
        relatedness=body.relatedness,
        serious=body.serious,
        seriousness_criteria=criteria,
        outcome=body.outcome,
        end_date=body.end_date,
        action_taken=None if body.action_taken is None else body.action_taken.value,
        description=body.description,
        idempotency_key=key,
    )
    return RedirectResponse(f"/participants/{pid}#adverse-events", status_code=303)


def _adverse_event(
    request: Request, session: PageSession, pid: str, ae_id: int
) -> sv.AdverseEventRecord:
    """Adverse event ``ae_id`` of participant ``pid``, or :class:`NotFoundError`."""
    engine = state_of(request).engine
    for ae in sv.list_adverse_events(engine, session.actor, pid):
        if ae.id == ae_id:
            return ae
    raise NotFoundError(
        f"participant {pid} has no adverse event {ae_id}",
        hint="open the event from the participant's casebook",
    )


@router.get(
    "/participants/{pid}/ae/{ae_id}/edit", dependencies=[page_requires("update_adverse_event")]
)
def ae_edit_form(request: Request, session: PageSession, pid: PID, ae_id: ID) -> Response:
    """The form to change an adverse event with a reason (a non-serious one may be upgraded)."""
    ae = _adverse_event(request, session, pid, ae_id)
    return render(
        request,
        "ae_edit.html",
        title=f"Adverse event {ae.id} — {pid}",
        ae=ae,
        severities=values(Severity),
        relatedness=values(Relatedness),
        outcomes=values(AEOutcome),
        actions=values(ActionTaken),
        zone=participant_zone(request, session.actor, pid),
    )


@router.post(
    "/participants/{pid}/ae/{ae_id}/edit", dependencies=[page_requires("update_adverse_event")]
)
def ae_edit_submit(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, ae_id: ID
) -> Response:
    """Change an adverse event with a reason; ticking serious on a non-serious one makes it an
    SAE (its alert, its reporting clock from when the team learnt it was serious)."""
    zone = participant_zone(request, session.actor, pid)
    body, _ = posted_form(checked, AdverseEventEditForm, zone)
    ae = _adverse_event(request, session, pid, ae_id)
    criteria = [c.strip() for c in (body.seriousness_criteria or "").split(",") if c.strip()]
    after: dict[str, Any] = {
        "severity": body.severity.value,
        "relatedness": body.relatedness.value,
        "outcome": body.outcome.value,
        "end_date": body.end_date,
        "action_taken": None if body.action_taken is None else body.action_taken.value,
        "description": body.description,
        "serious": body.serious,
        "seriousness_criteria": criteria,
    }
    before = {key: getattr(ae, key) for key in after} | {
        "seriousness_criteria": list(ae.seriousness_criteria)
    }
    changes = {key: value for key, value in after.items() if value != before[key]}
    if not changes:
        raise InputError(
            f"adverse event {ae_id} was sent unchanged",
            expected="at least one field changed",
            hint="go back, change a field and send the form again",
        )
    sv.update_adverse_event(
        state_of(request).engine,
        session.actor,
        ae_id,
        changes=changes,
        reason=body.reason,
        became_serious_at=body.became_serious_at,
    )
    return RedirectResponse(f"/participants/{pid}#adverse-events", status_code=303)
