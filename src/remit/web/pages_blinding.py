"""Pages of emergency unblinding: the investigator's form for one participant (the arm shown
on the answer page only) and the unblinded roles' list of every unblinding."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from remit import services as sv
from remit.web.core import (
    PID,
    CheckedForm,
    PageSession,
    page_requires,
    render,
    state_of,
)

router = APIRouter()


@router.get("/participants/{pid}/unblind", dependencies=[page_requires("emergency_unblind")])
def unblind_page(request: Request, session: PageSession, pid: PID) -> Response:
    """The emergency-unblinding form: a reason is required; nothing about the arm is shown."""
    person = sv.get_participant(state_of(request).engine, session.actor, pid)
    return render(request, "unblind.html", title=f"Emergency unblinding {pid}", person=person)


@router.post("/participants/{pid}/unblind", dependencies=[page_requires("emergency_unblind")])
def unblind_submit(request: Request, form: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Break the blind of ``pid``: the answer page names the arm (for this investigator only)."""
    engine = state_of(request).engine
    done = sv.emergency_unblind(engine, session.actor, pid, form.get("reason"))
    person = sv.get_participant(engine, session.actor, pid)
    return render(
        request, "unblind.html", title=f"Emergency unblinding {pid}", person=person, done=done
    )


@router.get("/unblindings", dependencies=[page_requires("view_unblindings")])
def unblindings_page(request: Request, session: PageSession) -> Response:
    """Every emergency unblinding with the arm (unblinded roles only)."""
    found = sv.list_unblindings(state_of(request).engine, session.actor)
    return render(request, "unblindings.html", title="Emergency unblindings", unblindings=found)
