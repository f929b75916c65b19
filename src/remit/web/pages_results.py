"""Pages of clinical results (one participant's laboratory, ECG and screening-test results,
with a form per test) and the completion of the pre-dose checklist shown on the dosing-day
page."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from remit import services as sv
from remit.errors import InputError
from remit.protocol.clock import parse_clinical_time
from remit.web.core import (
    CODE,
    PID,
    CheckedForm,
    PageSession,
    form_key,
    page_requires,
    participant_zone,
    render,
    state_of,
    web_allowed,
)
from remit.web.page_forms import form_fold
from remit.web.sessions import WebSession

router = APIRouter()


@router.get("/participants/{pid}/results", dependencies=[page_requires("view_participants")])
def results_page(request: Request, session: PageSession, pid: PID) -> Response:
    """The participant's results, flagged ones marked, and a form to record one."""
    state = state_of(request)
    engine, actor = state.engine, session.actor
    person = sv.get_participant(engine, actor, pid)
    tests = [t for t in state.protocol.results.tests if t.applies_to(person.sex)]
    return render(
        request,
        "results.html",
        title=f"Results {pid}",
        person=person,
        results=sv.list_results(engine, actor, pid),
        tests=tests,
        zone=participant_zone(request, actor, pid),
        idem=uuid.uuid4().hex,
        may_add=web_allowed("record_result", actor.role),
    )


def _site_time(
    request: Request, session: WebSession, pid: str, form: Mapping[str, str], field: str
) -> datetime:
    """The form's ``field``, a time entered in the participant's site time zone, in UTC."""
    name = field.replace("_", " ")
    text = (form.get(field) or "").strip()
    if not text:
        raise InputError(f"{name} is missing", expected="YYYY-MM-DDTHH:MM in the site's time zone")
    zone = participant_zone(request, session.actor, pid)
    return parse_clinical_time(text, zone, fold=form_fold(form), name=name)


@router.post("/participants/{pid}/results", dependencies=[page_requires("record_result")])
def result_add(request: Request, form: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Record a result (a flagged one raises an alert)."""
    sv.record_result(
        state_of(request).engine,
        session.actor,
        pid,
        form.get("visit_code", "").strip(),
        form.get("test", "").strip(),
        form.get("value", "").strip(),
        collected_at=_site_time(request, session, pid, form, "collected_at"),
        comment=form.get("comment"),
        idempotency_key=form_key(form),
    )
    back = form.get("back", "")
    target = back if back.startswith(f"/participants/{pid}/") else f"/participants/{pid}/results"
    return RedirectResponse(target, status_code=303)


@router.post(
    "/participants/{pid}/dosing/{visit}/checklist",
    dependencies=[page_requires("complete_checklist")],
)
def checklist_complete(
    request: Request, form: CheckedForm, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """Complete the pre-dose checklist: the confirm boxes ticked (``confirm_<item>``), the
    items marked not applicable (``na_<item>``: the reason) and an investigator's override."""
    confirmed = [k.removeprefix("confirm_") for k, v in form.items() if k.startswith("confirm_")]
    marked = {
        k.removeprefix("na_"): v.strip()
        for k, v in form.items()
        if k.startswith("na_") and v.strip()
    }
    sv.complete_checklist(
        state_of(request).engine,
        session.actor,
        pid,
        visit,
        completed_at=_site_time(request, session, pid, form, "completed_at"),
        confirmed=confirmed,
        not_applicable=marked,
        override_reason=form.get("override_reason"),
        idempotency_key=form_key(form),
    )
    return RedirectResponse(f"/participants/{pid}/dosing/{visit}#checklist", status_code=303)
