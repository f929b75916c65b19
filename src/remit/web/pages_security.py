"""The security log for admins: logins, failures, lockouts, logouts, re-authentications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from remit.services import security
from remit.web.core import PageSession, page_requires, render, state_of

router = APIRouter()


@router.get("/admin/security", dependencies=[page_requires("view_security_log")])
def security_page(
    request: Request,
    session: PageSession,
    event: Annotated[str, Query(max_length=32)] = "",
    username: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The newest 500 events of the security log, filtered by event and username."""
    rows = security.security_log(
        state_of(request).engine,
        session.actor,
        event=event or None,
        username=username or None,
        limit=500,
    )
    return render(
        request,
        "security.html",
        title="Security log",
        rows=rows,
        events=sorted(security.SECURITY_EVENTS),
        event=event,
        username=username,
    )
