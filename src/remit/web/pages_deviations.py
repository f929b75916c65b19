"""The deviation log page: the list (automatic and logged entries) with its filters, and the
form to log one."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from remit import services as sv
from remit.protocol.deviation import (
    AUTOMATIC_CATEGORIES,
    CATEGORY_LABELS,
    LOGGED_CATEGORIES,
    DeviationSeverity,
    DeviationSource,
    category_label,
)
from remit.protocol.status import values
from remit.web.core import (
    CheckedForm,
    PageSession,
    page_requires,
    parse_day,
    render,
    state_of,
    web_allowed,
)
from remit.web.page_forms import DeviationForm, posted_form

router = APIRouter(include_in_schema=False)

#: A filter of the page: blank means "any".
Filter = Annotated[str, Query(max_length=64)]


def _given(text: str) -> str | None:
    return text.strip() or None


@router.get("/deviations", dependencies=[page_requires("view_deviations")])
def deviations(
    request: Request,
    session: PageSession,
    participant: Filter = "",
    site: Filter = "",
    category: Filter = "",
    severity: Filter = "",
    source: Filter = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """The deviation log, newest first, filtered by the form's choices."""
    state = state_of(request)
    filters = {
        "participant": participant,
        "site": site,
        "category": category,
        "severity": severity,
        "source": source,
        "from": date_from,
        "to": date_to,
    }
    found = sv.list_deviations(
        state.engine,
        session.actor,
        participant=_given(participant),
        site=_given(site),
        category=_given(category),
        severity=_given(severity),
        source=_given(source),
        date_from=parse_day(date_from, "from"),
        date_to=parse_day(date_to, "to"),
    )
    may_log = web_allowed("record_deviation", session.actor.role)
    people = (
        [p.participant_id for p in sv.list_participants(state.engine, session.actor)]
        if may_log
        else []
    )
    return render(
        request,
        "deviations.html",
        title="Deviations",
        deviations=found,
        filters=filters,
        label=category_label,
        categories=[(c, CATEGORY_LABELS[c]) for c in (*AUTOMATIC_CATEGORIES, *LOGGED_CATEGORIES)],
        logged=[(c, CATEGORY_LABELS[c]) for c in LOGGED_CATEGORIES],
        severities=values(DeviationSeverity),
        sources=values(DeviationSource),
        sites=[s.code for s in state.protocol.study.sites],
        people=people,
        may_log=may_log,
        study_wide=session.actor.site_id is None,
        today=date.today().isoformat(),
        idem=uuid.uuid4().hex,
    )


@router.post("/deviations", dependencies=[page_requires("record_deviation")])
def deviation_log(request: Request, checked: CheckedForm, session: PageSession) -> Response:
    """Log a deviation, then show the log."""
    body, key = posted_form(checked, DeviationForm)
    found = sv.record_deviation(
        state_of(request).engine,
        session.actor,
        body.participant,
        category=body.category,
        description=body.description,
        occurred_date=body.occurred_date,
        severity=body.severity,
        visit_code=body.visit_code,
        idempotency_key=key,
    )
    return RedirectResponse(f"/deviations#deviation-{found.id}", status_code=303)
