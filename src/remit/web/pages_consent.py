"""The consent page of a participant: where consent stands, every consent given, and the
forms to record consent (obtained by the user logged in) and to withdraw it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from remit import services as sv
from remit.protocol.clock import local_input_value, site_zone
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

#: The prefix of a component's checkbox in the forms (``component:main``).
COMPONENT = "component:"


class ConsentForm(PageForm):
    version: Text
    consented_at: SiteTime


class WithdrawalForm(PageForm):
    reason: Text
    withdrawn_at: SiteTime
    scope: Optional = None


def _back(pid: str) -> RedirectResponse:
    return RedirectResponse(f"/participants/{pid}/consent", status_code=303)


def _ticked(form: Mapping[str, str]) -> list[str]:
    return [name.removeprefix(COMPONENT) for name in form if name.startswith(COMPONENT)]


@router.get("/participants/{pid}/consent", dependencies=[page_requires("view_participants")])
def consent_page(request: Request, session: PageSession, pid: PID) -> Response:
    """Where the participant's consent stands, its history and the forms to change it."""
    state = state_of(request)
    engine, actor = state.engine, session.actor
    person = sv.get_participant(engine, actor, pid)
    zone = site_zone(state.protocol, person.site)
    status = sv.consent_status(engine, actor, pid)
    forms = state.protocol.consent
    in_force = forms.in_force(datetime.now(UTC).date())
    current = status.current
    known = {v.version: v for v in forms.versions}
    optional = (
        [c for c in status.agreed if c in known[current.version].optional_components]
        if current is not None and current.version in known
        else []
    )
    return render(
        request,
        "consent.html",
        title=f"Consent {person.participant_id}",
        person=person,
        status=status,
        in_force=in_force,
        optional=optional,
        may_record=web_allowed("record_consent", actor.role),
        may_withdraw=web_allowed("withdraw_consent", actor.role),
        now_local=local_input_value(datetime.now(UTC), zone),
        zone=zone,
        form_key=uuid.uuid4().hex,
        component_prefix=COMPONENT,
    )


@router.post("/participants/{pid}/consent", dependencies=[page_requires("record_consent")])
def consent_record(request: Request, form: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Record consent obtained by the user logged in, with the components ticked."""
    body = parse_form(ConsentForm, form, participant_zone(request, session.actor, pid))
    sv.record_consent(
        state_of(request).engine,
        session.actor,
        pid,
        version=body.version,
        components=_ticked(form),
        consented_at=body.consented_at,
        idempotency_key=form.get("idempotency_key") or None,
    )
    return _back(pid)


@router.post(
    "/participants/{pid}/consent/withdraw", dependencies=[page_requires("withdraw_consent")]
)
def consent_withdraw(
    request: Request, form: CheckedForm, session: PageSession, pid: PID
) -> Response:
    """Withdraw consent: fully, or the optional components ticked."""
    body = parse_form(WithdrawalForm, form, participant_zone(request, session.actor, pid))
    partial = body.scope == "partial"
    sv.withdraw_consent(
        state_of(request).engine,
        session.actor,
        pid,
        reason=body.reason,
        withdrawn_at=body.withdrawn_at,
        components=_ticked(form) if partial else None,
    )
    return _back(pid)
