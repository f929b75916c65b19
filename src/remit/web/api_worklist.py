"""The worklist on the JSON API (``GET /api/v1/worklist``): the same items as the dashboard's,
grouped overdue / today / this week. One route over :func:`remit.services.worklist`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from remit import services as sv
from remit.json_values import to_json_value
from remit.services import WorklistRecord
from remit.web.api import _ERRORS, Json, Session, answers
from remit.web.core import api_requires, state_of

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


@router.get(
    "/worklist",
    **answers(WorklistRecord),
    tags=["worklist"],
    dependencies=[api_requires("view_worklist")],
)
def worklist(
    request: Request,
    session: Session,
    today: Annotated[
        date | None, Query(description="the day to list for (YYYY-MM-DD); default today (UTC)")
    ] = None,
    horizon_days: Annotated[
        int, Query(ge=0, le=366, description="days ahead that count as 'this week'")
    ] = 7,
) -> Json:
    """What the caller has to do, for every role they hold: overdue, today, this week; each
    item with its kind, participant, visit, what, due date and window, the page to do it on
    and why it is listed."""
    found = sv.worklist(
        state_of(request).engine, session.actor, today=today, horizon_days=horizon_days
    )
    return to_json_value(found)
