"""The coding page of the data manager: the manual coding queue (AEs and medications no
dictionary entry matched), a search of the newest MedDRA / WHODrug version by term, and the
form that assigns a code (audited; changing a code needs a reason)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import Field

from remit.services import coding
from remit.web.core import CheckedForm, PageSession, page_requires, render, state_of, web_allowed
from remit.web.page_forms import Optional, PageForm, posted_form

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Query(max_length=200)]


class AssignCodeForm(PageForm):
    """A code for one queued record."""

    kind: Annotated[str, Field(pattern="^(ae|cm)$")]
    record_id: int
    code: Annotated[str, Field(min_length=1, max_length=16)]
    reason: Optional = None


@router.get("/coding", dependencies=[page_requires("view_coding_queue")])
def coding_page(
    request: Request,
    session: PageSession,
    kind: Annotated[str, Query(pattern="^(|ae|cm)$")] = "",
    search: Text = "",
    dictionary: Annotated[str, Query(pattern="^(meddra|whodrug)$")] = "meddra",
) -> Response:
    """The queue, the loaded versions and, with ``search``, the entries matching it."""
    engine, actor = state_of(request).engine, session.actor
    matches = coding.search_terms(engine, actor, dictionary, search) if search.strip() else []
    return render(
        request,
        "coding.html",
        title="Medical coding",
        queue=coding.coding_queue(engine, actor, kind or None),
        dictionaries=coding.list_dictionaries(engine, actor),
        kind=kind,
        search=search,
        dictionary=dictionary,
        matches=matches,
        may_assign=web_allowed("assign_code", actor.role),
    )


@router.post("/coding/assign", dependencies=[page_requires("assign_code")])
def coding_assign(request: Request, checked: CheckedForm, session: PageSession) -> Response:
    """Assign a code to one AE or medication."""
    body, _ = posted_form(checked, AssignCodeForm)
    coding.assign_code(
        state_of(request).engine,
        session.actor,
        body.kind,
        body.record_id,
        body.code,
        reason=body.reason,
    )
    return RedirectResponse(f"/coding?kind={body.kind}", status_code=303)
