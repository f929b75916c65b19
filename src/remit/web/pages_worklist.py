"""The worklist on the dashboard and on its own page (``/worklist``): what the user has to do,
overdue / today / this week, each item a link to the page where it is done."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from remit import services as sv
from remit.web.core import PageSession, page_requires, render, state_of

router = APIRouter(include_in_schema=False)

#: Items shown per group on the dashboard; the worklist page shows them all.
DASHBOARD_LIMIT = 25


def worklist_context(request: Request, session: PageSession, limit: int | None) -> dict[str, Any]:
    """What the worklist partial (``_worklist.html``) shows: the list and its groups."""
    work = sv.worklist(state_of(request).engine, session.actor)
    groups = (
        ("overdue", "Overdue", work.overdue),
        ("today", "Today", work.due_today),
        ("this-week", f"This week (to {work.horizon_end_date.isoformat()})", work.this_week),
    )
    return {"work": work, "work_groups": groups, "work_limit": limit}


@router.get("/worklist", dependencies=[page_requires("view_worklist")])
def worklist_page(request: Request, session: PageSession) -> Response:
    """Every item of the user's worklist."""
    return render(
        request, "worklist.html", title="Worklist", **worklist_context(request, session, None)
    )
