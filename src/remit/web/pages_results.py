"""Pages of clinical results (one participant's laboratory, ECG and screening-test results,
with a form per test) and the completion of the pre-dose checklist shown on the dosing-day
page."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from remit import services as sv
from remit.errors import InputError
from remit.web.core import (
    CODE,
    PID,
    PageSession,
    check_csrf,
    form_key,
    page_requires,
    render,
    state_of,
    web_allowed,
)
from remit.web.pages_dosing import parse_utc

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
        idem=uuid.uuid4().hex,
        may_add=web_allowed("record_result", actor.role),
    )


@router.post("/participants/{pid}/results", dependencies=[page_requires("record_result")])
async def result_add(request: Request, session: PageSession, pid: PID) -> Response:
    """Record a result (a flagged one raises an alert)."""
    form = await check_csrf(request, session)
    sv.record_result(
        state_of(request).engine,
        session.actor,
        pid,
        form.get("visit_code", "").strip(),
        form.get("test", "").strip(),
        form.get("value", "").strip(),
        collected_at=parse_utc(form.get("collected_at"), "collected at"),
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
async def checklist_complete(
    request: Request, session: PageSession, pid: PID, visit: CODE
) -> Response:
    """Complete the pre-dose checklist: the confirm boxes ticked (``confirm_<item>``), the
    items marked not applicable (``na_<item>``: the reason) and an investigator's override."""
    form = await check_csrf(request, session)
    confirmed = [k.removeprefix("confirm_") for k, v in form.items() if k.startswith("confirm_")]
    marked = {
        k.removeprefix("na_"): v.strip()
        for k, v in form.items()
        if k.startswith("na_") and v.strip()
    }
    if "completed_at" not in form:
        raise InputError("completed at is missing", expected="YYYY-MM-DDTHH:MM (UTC)")
    sv.complete_checklist(
        state_of(request).engine,
        session.actor,
        pid,
        visit,
        completed_at=parse_utc(form.get("completed_at"), "completed at"),
        confirmed=confirmed,
        not_applicable=marked,
        override_reason=form.get("override_reason"),
        idempotency_key=form_key(form),
    )
    return RedirectResponse(f"/participants/{pid}/dosing/{visit}#checklist", status_code=303)
