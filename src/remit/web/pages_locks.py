"""The database lock pages: the locks in force and those opened again, locking the study (after
a confirmation that shows what is still open), a participant or one form, and opening a lock
again with a reason. Every POST checks the CSRF token and calls one service; nothing under an
open lock can be changed (the services refuse it, :class:`remit.errors.LockedError`, 423)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import Field

from remit import services as sv
from remit.errors import InputError
from remit.protocol.status import UNCLOSED
from remit.services import Actor
from remit.services.records import UnsignedFormRecord
from remit.services.signing import unsigned_forms
from remit.services.worklist import WorkKind
from remit.web.core import ID, PageSession, check_csrf, page_requires, render, state_of, web_allowed
from remit.web.page_forms import Optional, PageForm, parse_form

router = APIRouter(include_in_schema=False)

#: The lock level of the whole study, and the status of a query that is done.
STUDY = sv.LockLevel.STUDY
CLOSED = sv.QueryStatus.CLOSED

#: The page of the locks.
LOCKS_PAGE = "/locks"


@dataclass(frozen=True)
class StudyLockReview:
    """What is still open before the database lock, as the services know it: queries not
    closed, safety alerts not closed (``None`` when the role may not see alerts), complete
    forms nobody has signed, and the data manager's worklist items of forms missing at visits
    whose window closed and forms saved incomplete. Each item links to where it is dealt with;
    none of them stops the lock (the data manager decides)."""

    open_queries: tuple[sv.QueryRecord, ...]
    open_alerts: tuple[sv.AlertRecord, ...] | None
    unsigned_forms: tuple[UnsignedFormRecord, ...]
    missing_forms: tuple[sv.WorkItemRecord, ...]
    incomplete_forms: tuple[sv.WorkItemRecord, ...]

    @property
    def clear(self) -> bool:
        """Whether nothing is open (every list empty)."""
        return not (
            self.open_queries
            or self.open_alerts
            or self.unsigned_forms
            or self.missing_forms
            or self.incomplete_forms
        )


def study_lock_review(engine: sv.Engine, actor: Actor) -> StudyLockReview:
    """The :class:`StudyLockReview` of ``actor``'s sites (every read an existing service)."""
    queries = sv.list_queries(engine, actor)
    alerts = (
        sv.list_alerts(engine, actor, status=UNCLOSED)
        if web_allowed("view_alerts", actor.role)
        else None
    )
    items = sv.worklist(engine, actor).items
    return StudyLockReview(
        open_queries=tuple(q for q in queries if q.status != CLOSED),
        open_alerts=None if alerts is None else tuple(alerts),
        unsigned_forms=tuple(unsigned_forms(engine, actor)),
        missing_forms=tuple(i for i in items if i.kind == WorkKind.MISSING_FORM),
        incomplete_forms=tuple(i for i in items if i.kind == WorkKind.INCOMPLETE_FORM),
    )


class ParticipantLockForm(PageForm):
    participant: Annotated[str, Field(min_length=1, max_length=40)]
    reason: Optional = None


class FormLockForm(PageForm):
    record_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    reason: Optional = None


class StudyLockForm(PageForm):
    reason: Optional = None


def _locks_page(
    request: Request,
    session: PageSession,
    *,
    locked: int | None = None,
    opened: int | None = None,
    refused: tuple[int, str, str] | None = None,
) -> Response:
    """The locks page; ``refused`` is ``(lock id, message, reason given)`` of an opening the
    service refused (shown next to that lock's form, with status 422)."""
    engine, actor = state_of(request).engine, session.actor
    found = sv.list_locks(engine, actor)
    in_force = [lock for lock in found if lock.unlocked_at is None]
    by_id = {lock.id: lock for lock in found}
    return render(
        request,
        "locks.html",
        status_code=422 if refused else 200,
        title="Database lock",
        in_force=in_force,
        history=[lock for lock in found if lock.unlocked_at is not None],
        study_lock=next((lock for lock in in_force if lock.level == STUDY), None),
        people=[p.participant_id for p in sv.list_participants(engine, actor)],
        just_locked=by_id.get(locked) if locked else None,
        just_opened=by_id.get(opened) if opened else None,
        refused=refused,
        may_lock_study=web_allowed("lock_study", actor.role),
        may_unlock=web_allowed("unlock", actor.role),
    )


def _done(what: str, lock_id: int) -> RedirectResponse:
    """Back to the locks page, which says what was just done (``what``: ``locked`` or
    ``opened``)."""
    return RedirectResponse(f"{LOCKS_PAGE}?{what}={lock_id}#lock-{lock_id}", status_code=303)


#: The query parameter naming the lock just made or opened (the page says so).
JustDone = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get(LOCKS_PAGE, dependencies=[page_requires("lock")])
def locks_page(
    request: Request, session: PageSession, locked: JustDone = None, opened: JustDone = None
) -> Response:
    """The locks in force (study, participants, forms: who, when, why) and the history of the
    locks opened again (who, when, why); the forms to lock and to open a lock again."""
    return _locks_page(request, session, locked=locked, opened=opened)


@router.get(f"{LOCKS_PAGE}/study", dependencies=[page_requires("lock_study")])
def study_lock_page(request: Request, session: PageSession) -> Response:
    """The confirmation before the study lock: what it means and what is still open."""
    return _study_confirmation(request, session, reason="")


def _study_confirmation(request: Request, session: PageSession, *, reason: str) -> Response:
    engine, actor = state_of(request).engine, session.actor
    held = [lock for lock in sv.list_locks(engine, actor, open_only=True) if lock.level == STUDY]
    return render(
        request,
        "locks_study.html",
        title="Lock the study",
        review=study_lock_review(engine, actor),
        held=held[0] if held else None,
        reason=reason,
    )


@router.post(f"{LOCKS_PAGE}/study", dependencies=[page_requires("lock_study")])
async def study_lock(request: Request, session: PageSession) -> Response:
    """Lock the whole study, in two steps: a POST without ``confirm=yes`` only shows the
    confirmation page (nothing is locked); with it the study is locked."""
    form = await check_csrf(request, session)
    body = parse_form(StudyLockForm, form)
    if form.get("confirm") != "yes":
        return _study_confirmation(request, session, reason=body.reason or "")
    done = sv.lock(state_of(request).engine, session.actor, STUDY, reason=body.reason)
    return _done("locked", done.id)


@router.post(f"{LOCKS_PAGE}/participant", dependencies=[page_requires("lock")])
async def participant_lock(request: Request, session: PageSession) -> Response:
    """Lock one participant's data."""
    body = parse_form(ParticipantLockForm, await check_csrf(request, session))
    done = sv.lock(
        state_of(request).engine,
        session.actor,
        sv.LockLevel.PARTICIPANT,
        participant=body.participant,
        reason=body.reason,
    )
    return _done("locked", done.id)


@router.post(f"{LOCKS_PAGE}/form", dependencies=[page_requires("lock")])
async def form_lock(request: Request, session: PageSession) -> Response:
    """Lock one complete form (the casebook's "Lock" button beside it); its status becomes
    locked."""
    body = parse_form(FormLockForm, await check_csrf(request, session))
    done = sv.lock(
        state_of(request).engine,
        session.actor,
        sv.LockLevel.FORM,
        record_table="assessment",
        record_id=body.record_id,
        reason=body.reason,
    )
    return _done("locked", done.id)


@router.post(f"{LOCKS_PAGE}/{{lock_id}}/open", dependencies=[page_requires("unlock")])
async def lock_open(request: Request, session: PageSession, lock_id: ID) -> Response:
    """Open a lock again: a reason is required (refused without one, the lock stays in force
    and the page says why); the opening is audited with its reason."""
    form = await check_csrf(request, session)
    reason = form.get("reason", "")
    try:
        done = sv.unlock(state_of(request).engine, session.actor, lock_id, reason=reason)
    except InputError as error:
        message = f"{error.message}: say why lock {lock_id} is opened again; it stays in force"
        return _locks_page(request, session, refused=(lock_id, message, reason))
    return _done("opened", done.id)
