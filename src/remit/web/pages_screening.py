"""The screening page of a candidate: referral, phone screen, eligibility (each criterion
met, unmet or missing, with where its value comes from: a recorded form or the checklist the
investigator answers here), screen failure with a coded reason, enrolment at the enrolment
visit and its confirmation. Every step is a form posted to one service; the page works
without JavaScript."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from remit import services as sv
from remit.errors import InputError
from remit.protocol import Protocol
from remit.protocol.clock import local_input_value, local_today
from remit.web.core import (
    PID,
    CheckedForm,
    PageSession,
    page_requires,
    participant_zone,
    render,
    state_of,
    web_allowed,
)
from remit.web.page_forms import Optional, PageForm, SiteTime, Text, parse_form

router = APIRouter(include_in_schema=False)

#: The prefix of a checklist answer's field in the eligibility form (``item:age_years``).
ITEM = "item:"


class ReferralForm(PageForm):
    referral_date: date
    source: Text


class PhoneScreenForm(PageForm):
    outcome: Literal["pass", "fail"]
    screened_at: SiteTime
    failure_code: Optional = None
    failure_text: Optional = None


class ScreenFailureForm(PageForm):
    code: Text
    text: Optional = None
    failed_at: SiteTime


class WhenForm(PageForm):
    at: SiteTime


class StatusForm(PageForm):
    status: Text
    reason: Optional = None


def _back(pid: str) -> RedirectResponse:
    return RedirectResponse(f"/participants/{pid}/screening", status_code=303)


def checklist_answers(protocol: Protocol, form: Mapping[str, str]) -> dict[str, object]:
    """The checklist answers of the eligibility form: ``yes``/``no`` for a yes/no criterion,
    a number for the others; a blank answer is left out (the criterion stays missing)."""
    answers: dict[str, object] = {}
    for c in protocol.eligibility.criteria:
        if c.source is not None:
            continue
        given = form.get(ITEM + c.field, "").strip()
        if not given:
            continue
        if isinstance(c.value, bool):
            if given not in ("yes", "no"):
                raise InputError(f"{c.field} is {given!r}", expected="yes or no")
            answers[c.field] = given == "yes"
            continue
        try:
            number = float(given.replace(",", "."))
        except ValueError:
            raise InputError(
                f"{c.field} is {given!r}, not a number", expected="a number", hint=c.text
            ) from None
        answers[c.field] = int(number) if number.is_integer() else number
    return answers


@router.get("/participants/{pid}/screening", dependencies=[page_requires("view_participants")])
def screening_page(request: Request, session: PageSession, pid: PID) -> Response:
    """Where the candidate's screening and enrolment stand, and the forms of the next steps."""
    state = state_of(request)
    engine, actor, protocol = state.engine, session.actor, state.protocol
    person = sv.get_participant(engine, actor, pid)
    verdict, answers = sv.screening_status(engine, actor, pid)
    role = actor.role
    checklist = [c for c in protocol.eligibility.criteria if c.source is None]
    zone = participant_zone(request, actor, pid)
    return render(
        request,
        "screening.html",
        title=f"Screening {person.participant_id}",
        person=person,
        verdict=verdict,
        answers=answers,
        checklist=checklist,
        item_prefix=ITEM,
        reasons=protocol.eligibility.failure_reasons(),
        enrolment=protocol.enrolment,
        may_decide=web_allowed("check_eligibility", role),
        may_enrol=web_allowed("enrol", role),
        may_confirm=web_allowed("confirm_enrolment", role),
        may_fail=web_allowed("record_screen_failure", role),
        may_refer=web_allowed("record_referral", role),
        may_phone=web_allowed("record_phone_screen", role),
        now_local=local_input_value(datetime.now(UTC), zone),
        today=local_today(datetime.now(UTC), zone).isoformat(),
        zone=zone,
        form_key=uuid.uuid4().hex,
    )


@router.post(
    "/participants/{pid}/screening/referral", dependencies=[page_requires("record_referral")]
)
def referral(request: Request, checked: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Record the referral: its date and source."""
    body = parse_form(ReferralForm, checked)
    sv.record_referral(
        state_of(request).engine,
        session.actor,
        pid,
        referral_date=body.referral_date,
        source=body.source,
    )
    return _back(pid)


@router.post(
    "/participants/{pid}/screening/phone", dependencies=[page_requires("record_phone_screen")]
)
def phone_screen(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID
) -> Response:
    """Record the phone screen: pass, or fail with a coded reason."""
    body = parse_form(
        PhoneScreenForm,
        checked,
        participant_zone(request, session.actor, pid),
    )
    sv.record_phone_screen(
        state_of(request).engine,
        session.actor,
        pid,
        outcome=body.outcome,
        screened_at=body.screened_at,
        failure_code=body.failure_code,
        failure_text=body.failure_text,
    )
    return _back(pid)


@router.post(
    "/participants/{pid}/screening/eligibility",
    dependencies=[page_requires("check_eligibility")],
)
def eligibility(request: Request, form: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Decide eligibility: the checklist answers given here, the rest from the forms."""
    state = state_of(request)
    sv.check_eligibility(
        state.engine,
        session.actor,
        pid,
        checklist_answers(state.protocol, form),
        idempotency_key=form.get("idempotency_key") or None,
    )
    return _back(pid)


@router.post(
    "/participants/{pid}/screening/failure",
    dependencies=[page_requires("record_screen_failure")],
)
def screen_failure(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID
) -> Response:
    """End the screening with a coded reason."""
    body = parse_form(
        ScreenFailureForm,
        checked,
        participant_zone(request, session.actor, pid),
    )
    sv.record_screen_failure(
        state_of(request).engine,
        session.actor,
        pid,
        code=body.code,
        text=body.text,
        failed_at=body.failed_at,
    )
    return _back(pid)


@router.post("/participants/{pid}/screening/enrol", dependencies=[page_requires("enrol")])
def enrol(request: Request, checked: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Enrol the eligible candidate (the enrolment visit takes place that day)."""
    body = parse_form(
        WhenForm,
        checked,
        participant_zone(request, session.actor, pid),
    )
    sv.enrol(state_of(request).engine, session.actor, pid, enrolled_at=body.at)
    return _back(pid)


@router.post(
    "/participants/{pid}/screening/confirm", dependencies=[page_requires("confirm_enrolment")]
)
def confirm(request: Request, checked: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Confirm the enrolment (the confirmation visit takes place that day)."""
    body = parse_form(
        WhenForm,
        checked,
        participant_zone(request, session.actor, pid),
    )
    sv.confirm_enrolment(state_of(request).engine, session.actor, pid, confirmed_at=body.at)
    return _back(pid)


@router.post("/participants/{pid}/status", dependencies=[page_requires("change_status")])
def change_status(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID
) -> Response:
    """Move a participant on study along the lifecycle (in follow-up, completed, lost to
    follow-up with a reason): the casebook's status form."""
    body = parse_form(StatusForm, checked)
    sv.change_status(state_of(request).engine, session.actor, pid, body.status, reason=body.reason)
    return RedirectResponse(f"/participants/{pid}", status_code=303)
