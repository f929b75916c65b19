"""The concomitant-medication page of a participant: the list (ATC code and class, the
protocol's prohibited class and the earliest dose after its washout, the dated taper plan),
the form to add one, and per medication the edit form (with a reason) and the stop form."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from remit import services as sv
from remit.errors import InputError, NotFoundError
from remit.web.core import (
    ID,
    PID,
    CheckedForm,
    PageSession,
    page_requires,
    render,
    state_of,
    web_allowed,
)
from remit.web.page_forms import ConmedForm, ConmedStopForm, posted_form

router = APIRouter(include_in_schema=False)


def parse_taper_lines(text: str | None) -> list[tuple[str, str]]:
    """The taper box: one step a line, ``YYYY-MM-DD dose`` (or ``YYYY-MM-DD=dose``).

    >>> parse_taper_lines("2024-01-01 50 mg\\n\\n2024-01-15=25 mg")
    [('2024-01-01', '50 mg'), ('2024-01-15', '25 mg')]
    """
    steps: list[tuple[str, str]] = []
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = re.split(r"[=\s]+", line.strip(), maxsplit=1)
        if len(parts) != 2:
            raise InputError(
                f"taper line {n} {line.strip()!r} has no dose",
                expected="one step a line: YYYY-MM-DD dose, e.g. 2024-01-15 50 mg",
            )
        steps.append((parts[0], parts[1].strip()))
    return steps


def _fields(body: ConmedForm) -> dict[str, Any]:
    """The medication's fields of the form, as the services take them (add and edit)."""
    return {
        "name": body.name,
        "atc_code": body.atc_code,
        "route": body.route,
        "dose": body.dose,
        "indication": body.indication,
        "start_date": body.start_date,
        "stop_date": body.stop_date,
        "taper_steps": parse_taper_lines(body.taper),
    }


def _back(pid: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/participants/{pid}/conmeds{anchor}", status_code=303)


@router.get("/participants/{pid}/conmeds", dependencies=[page_requires("view_participants")])
def conmeds_page(request: Request, session: PageSession, pid: PID) -> Response:
    """A participant's medications and the form to add one."""
    state = state_of(request)
    engine, actor = state.engine, session.actor
    person = sv.get_participant(engine, actor, pid)
    return render(
        request,
        "conmeds.html",
        title=f"Medications — {pid}",
        person=person,
        meds=sv.list_conmeds(engine, actor, pid),
        prohibited=state.protocol.medications.prohibited,
        may_add=web_allowed("record_conmed", actor.role),
        may_edit=web_allowed("edit_conmed", actor.role),
        may_stop=web_allowed("stop_conmed", actor.role),
        idem=uuid.uuid4().hex,
    )


@router.post("/participants/{pid}/conmeds", dependencies=[page_requires("record_conmed")])
def conmed_add(request: Request, checked: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Record a medication."""
    body, key = posted_form(checked, ConmedForm)
    med = sv.record_conmed(
        state_of(request).engine,
        session.actor,
        pid,
        **_fields(body),
        idempotency_key=key,
    )
    return _back(pid, f"#conmed-{med.id}")


def _med(request: Request, session: PageSession, pid: str, conmed_id: int) -> sv.ConmedRecord:
    for med in sv.list_conmeds(state_of(request).engine, session.actor, pid):
        if med.id == conmed_id:
            return med
    raise NotFoundError(f"{pid} has no concomitant medication {conmed_id}")


@router.get(
    "/participants/{pid}/conmeds/{conmed_id}/edit", dependencies=[page_requires("edit_conmed")]
)
def conmed_edit_form(request: Request, session: PageSession, pid: PID, conmed_id: ID) -> Response:
    """The edit form of one medication (every field, and the reason for the change)."""
    med = _med(request, session, pid, conmed_id)
    person = sv.get_participant(state_of(request).engine, session.actor, pid)
    return render(
        request, "conmed_edit.html", title=f"Edit {med.name} — {pid}", person=person, med=med
    )


@router.post(
    "/participants/{pid}/conmeds/{conmed_id}/edit", dependencies=[page_requires("edit_conmed")]
)
def conmed_edit(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, conmed_id: ID
) -> Response:
    """Change a medication; the reason goes into the audit trail."""
    body, _ = posted_form(checked, ConmedForm)
    _med(request, session, pid, conmed_id)  # it is this participant's
    sv.edit_conmed(
        state_of(request).engine,
        session.actor,
        conmed_id,
        reason=body.reason or "",
        **_fields(body),
    )
    return _back(pid, f"#conmed-{conmed_id}")


@router.post(
    "/participants/{pid}/conmeds/{conmed_id}/stop", dependencies=[page_requires("stop_conmed")]
)
def conmed_stop(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID, conmed_id: ID
) -> Response:
    """Record the day a medication was stopped."""
    body, _ = posted_form(checked, ConmedStopForm)
    _med(request, session, pid, conmed_id)
    sv.stop_conmed(
        state_of(request).engine,
        session.actor,
        conmed_id,
        stop_date=body.stop_date,
        reason=body.reason,
    )
    return _back(pid, f"#conmed-{conmed_id}")
