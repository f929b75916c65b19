"""The database lock pages: the locks in force and those opened again, locking the study, a
participant or one form, and opening a lock again with a reason. Each of the four takes two
steps: a POST without ``confirm=yes`` only shows a confirmation page (what will be locked or
opened, what is still open about it, the reason given, a confirm button) and stores nothing;
the confirmed POST calls one service, and a refusal of the service is shown on the same page
with nothing stored. Every POST checks the CSRF token; nothing under an open lock can be
changed (the services refuse it, :class:`remit.errors.LockedError`, 423). The unblinded
statistician reads the locks page (whether the study is locked: their analysis by arm waits
for it) without any form to lock or open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import Field

from remit import services as sv
from remit.errors import InputError, NotFoundError
from remit.protocol.status import UNCLOSED, UNFINISHED_STATUSES, AssessmentStatus
from remit.services import Actor
from remit.services.records import UnsignedFormRecord
from remit.services.signing import FORM_TABLE, unsigned_forms
from remit.services.worklist import WorkKind
from remit.web.core import (
    ID,
    CheckedForm,
    PageSession,
    page_requires,
    render,
    state_of,
    web_allowed,
)
from remit.web.page_forms import Optional, PageForm, parse_form

router = APIRouter(include_in_schema=False)

#: The lock levels, and the status of a query that is done.
STUDY = sv.LockLevel.STUDY
PARTICIPANT = sv.LockLevel.PARTICIPANT
FORM = sv.LockLevel.FORM
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


@dataclass(frozen=True)
class ParticipantLockReview:
    """What a participant's lock covers and what is still open about them, as the services
    know it: their forms (each with its status), data queries on their records not closed,
    complete forms nobody has signed, forms still being filled in (draft or incomplete) and
    safety alerts not closed (``None`` when the role may not see alerts). None of it stops
    the lock (the one who locks decides)."""

    participant_id: str
    forms: tuple[sv.AssessmentRecord, ...]
    open_queries: tuple[sv.QueryRecord, ...]
    unsigned_forms: tuple[UnsignedFormRecord, ...]
    unfinished_forms: tuple[sv.AssessmentRecord, ...]
    open_alerts: tuple[sv.AlertRecord, ...] | None

    @property
    def clear(self) -> bool:
        """Whether nothing is open (every list of open items empty)."""
        return not (
            self.open_queries or self.unsigned_forms or self.unfinished_forms or self.open_alerts
        )


def _open_alerts(
    engine: sv.Engine, actor: Actor, participant: str
) -> tuple[sv.AlertRecord, ...] | None:
    """The participant's alerts not closed, or ``None`` when the role may not see alerts."""
    if not web_allowed("view_alerts", actor.role):
        return None
    return tuple(sv.list_alerts(engine, actor, participant=participant, status=UNCLOSED))


def participant_lock_review(
    engine: sv.Engine, actor: Actor, participant: str
) -> ParticipantLockReview:
    """The :class:`ParticipantLockReview` of ``participant`` (a study ID; an unknown one, or
    one of another site, is refused by the services: 404, 403). Every read keeps to the
    participant in the database (``participant=``): its cost does not grow with the site."""
    found = sv.get_participant(engine, actor, participant).participant_id
    forms = tuple(sv.list_assessments(engine, actor, found))
    return ParticipantLockReview(
        participant_id=found,
        forms=forms,
        open_queries=tuple(
            q for q in sv.list_queries(engine, actor, participant=found) if q.status != CLOSED
        ),
        unsigned_forms=tuple(unsigned_forms(engine, actor, participant=found)),
        unfinished_forms=tuple(f for f in forms if f.status in UNFINISHED_STATUSES),
        open_alerts=_open_alerts(engine, actor, found),
    )


@dataclass(frozen=True)
class FormLockReview:
    """What a form's lock covers and what is still open about it: the form (where it is and
    its status, never its answers), data queries on it not closed, and the safety alerts it
    raised that are not closed (``None`` when the role may not see alerts)."""

    form: sv.AssessmentRecord
    open_queries: tuple[sv.QueryRecord, ...]
    open_alerts: tuple[sv.AlertRecord, ...] | None

    @property
    def lockable(self) -> bool:
        """Whether the form is complete (a draft or incomplete form cannot be locked)."""
        return self.form.status not in UNFINISHED_STATUSES

    @property
    def signed(self) -> bool:
        """Whether the form is signed."""
        return self.form.status == AssessmentStatus.SIGNED

    @property
    def clear(self) -> bool:
        """Whether nothing is open: no query, no alert, and the form signed."""
        return self.signed and not (self.open_queries or self.open_alerts)


def form_lock_review(engine: sv.Engine, actor: Actor, record_id: int) -> FormLockReview:
    """The :class:`FormLockReview` of form ``record_id`` (the queries read are its
    participant's only)."""
    form = sv.get_assessment(engine, actor, record_id)
    alerts = _open_alerts(engine, actor, form.participant_id)
    return FormLockReview(
        form=form,
        open_queries=tuple(
            q
            for q in sv.list_queries(engine, actor, participant=form.participant_id)
            if q.status != CLOSED and q.record_table == FORM_TABLE and q.record_id == form.id
        ),
        open_alerts=None
        if alerts is None
        else tuple(a for a in alerts if a.source_table == FORM_TABLE and a.source_id == form.id),
    )


class ParticipantLockForm(PageForm):
    participant: Annotated[str, Field(min_length=1, max_length=40)]
    reason: Optional = None


class FormLockForm(PageForm):
    record_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    reason: Optional = None


class StudyLockForm(PageForm):
    reason: Optional = None


class OpenLockForm(PageForm):
    reason: Optional = None


def _confirmed(form: Mapping[str, str]) -> bool:
    """Whether the POST is the second step (the confirmation page's button)."""
    return form.get("confirm") == "yes"


def _locks_page(
    request: Request,
    session: PageSession,
    *,
    locked: int | None = None,
    opened: int | None = None,
) -> Response:
    """The locks page (``locked``/``opened``: the lock just made or opened, said at the top).
    A role that may neither lock nor open (the unblinded statistician) reads it without the
    forms."""
    engine, actor = state_of(request).engine, session.actor
    found = sv.list_locks(engine, actor)
    in_force = [lock for lock in found if lock.unlocked_at is None]
    by_id = {lock.id: lock for lock in found}
    may_lock = web_allowed("lock", actor.role)
    return render(
        request,
        "locks.html",
        title="Database lock",
        in_force=in_force,
        history=[lock for lock in found if lock.unlocked_at is not None],
        study_lock=next((lock for lock in in_force if lock.level == STUDY), None),
        people=[p.participant_id for p in sv.list_participants(engine, actor)] if may_lock else [],
        just_locked=by_id.get(locked) if locked else None,
        just_opened=by_id.get(opened) if opened else None,
        may_lock=may_lock,
        may_lock_study=web_allowed("lock_study", actor.role),
        may_unlock=web_allowed("unlock", actor.role),
        analyses_by_arm=web_allowed("build_unblinded_trial_data", actor.role),
        FORM_TABLE=FORM_TABLE,
    )


def _done(what: str, lock_id: int) -> RedirectResponse:
    """Back to the locks page, which says what was just done (``what``: ``locked`` or
    ``opened``)."""
    return RedirectResponse(f"{LOCKS_PAGE}?{what}={lock_id}#lock-{lock_id}", status_code=303)


#: The query parameter naming the lock just made or opened (the page says so).
JustDone = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get(LOCKS_PAGE, dependencies=[page_requires("view_locks")])
def locks_page(
    request: Request, session: PageSession, locked: JustDone = None, opened: JustDone = None
) -> Response:
    """The locks in force (study, participants, forms: who, when, why) and the history of the
    locks opened again (who, when, why); for those who lock, the forms to lock and to open a
    lock again (each leads to a confirmation page)."""
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
def study_lock(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """Lock the whole study, in two steps: a POST without ``confirm=yes`` only shows the
    confirmation page (nothing is locked); with it the study is locked."""
    body = parse_form(StudyLockForm, form)
    if not _confirmed(form):
        return _study_confirmation(request, session, reason=body.reason or "")
    done = sv.lock(state_of(request).engine, session.actor, STUDY, reason=body.reason)
    return _done("locked", done.id)


def _lock_confirmation(
    request: Request,
    session: PageSession,
    *,
    participant: str | None = None,
    record_id: int | None = None,
    reason: str,
    refused: str | None = None,
) -> Response:
    """The confirmation page of a participant's lock (``participant``) or a form's
    (``record_id``): what the lock covers, what is still open about it, the locks already in
    force on it, the reason given and the confirm button; ``refused``: the service's refusal
    of the confirmed lock (status 422, nothing stored). A draft or incomplete form is refused
    here already (422, no confirm button)."""
    engine, actor = state_of(request).engine, session.actor
    people: ParticipantLockReview | None = None
    one_form: FormLockReview | None = None
    if record_id is not None:
        one_form = form_lock_review(engine, actor, record_id)
        pid = one_form.form.participant_id
    else:
        assert participant is not None
        people = participant_lock_review(engine, actor, participant)
        pid = people.participant_id
    in_force = sv.list_locks(engine, actor, participant=pid, open_only=True)
    # a participant's page lists every lock in force on their data (forms too); a form's,
    # those that cover the form
    covering = [
        lock
        for lock in in_force
        if one_form is None
        or lock.level != FORM
        or (lock.record_table, lock.record_id) == (FORM_TABLE, record_id)
    ]
    held = next(
        (
            lock
            for lock in covering
            if lock.level == (FORM if one_form is not None else PARTICIPANT)
        ),
        None,
    )
    if refused is None and one_form is not None and not one_form.lockable and held is None:
        refused = (
            f"form {record_id} ({one_form.form.scale} of {pid}) is {one_form.form.status}: "
            "a form must be complete to be locked; fill in the required items and save it as "
            "complete first"
        )
    return render(
        request,
        "locks_confirm.html",
        status_code=422 if refused else 200,
        title=f"Lock form {record_id}" if one_form else f"Lock {pid}'s data",
        participant_id=pid,
        people=people,
        one_form=one_form,
        covering=covering,
        held=held,
        reason=reason,
        refused=refused,
        FORM_TABLE=FORM_TABLE,
    )


@router.post(f"{LOCKS_PAGE}/participant", dependencies=[page_requires("lock")])
def participant_lock(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """Lock one participant's data, in two steps: a POST without ``confirm=yes`` only shows
    the confirmation page (their forms, what is still open); with it they are locked."""
    body = parse_form(ParticipantLockForm, form)
    reason = body.reason or ""
    if not _confirmed(form):
        return _lock_confirmation(request, session, participant=body.participant, reason=reason)
    try:
        done = sv.lock(
            state_of(request).engine,
            session.actor,
            PARTICIPANT,
            participant=body.participant,
            reason=body.reason,
        )
    except InputError as error:
        return _lock_confirmation(
            request, session, participant=body.participant, reason=reason, refused=str(error)
        )
    return _done("locked", done.id)


@router.post(f"{LOCKS_PAGE}/form", dependencies=[page_requires("lock")])
def form_lock(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """Lock one complete form (the casebook's "Lock" button beside it), in two steps: a POST
    without ``confirm=yes`` only shows the confirmation page; with it the form's status
    becomes locked."""
    body = parse_form(FormLockForm, form)
    reason = body.reason or ""
    if not _confirmed(form):
        return _lock_confirmation(request, session, record_id=body.record_id, reason=reason)
    try:
        done = sv.lock(
            state_of(request).engine,
            session.actor,
            FORM,
            record_table=FORM_TABLE,
            record_id=body.record_id,
            reason=body.reason,
        )
    except InputError as error:
        return _lock_confirmation(
            request, session, record_id=body.record_id, reason=reason, refused=str(error)
        )
    return _done("locked", done.id)


def _open_confirmation(
    request: Request, session: PageSession, lock_id: int, *, reason: str, refused: str | None
) -> Response:
    """The confirmation page of opening lock ``lock_id`` again: the lock (what, who, when,
    why), what opening it means, the reason (required) and the confirm button; ``refused``:
    the service's refusal (status 422, the lock stays in force)."""
    engine, actor = state_of(request).engine, session.actor
    found = next((lock for lock in sv.list_locks(engine, actor) if lock.id == lock_id), None)
    if found is None:
        raise NotFoundError(
            f"lock {lock_id} does not exist (or is not of your sites)",
            hint="open a lock from the locks page",
        )
    return render(
        request,
        "locks_open.html",
        status_code=422 if refused else 200,
        title=f"Open lock {lock_id} again",
        lock=found,
        reason=reason,
        refused=refused,
        FORM_TABLE=FORM_TABLE,
    )


@router.post(f"{LOCKS_PAGE}/{{lock_id}}/open", dependencies=[page_requires("unlock")])
def lock_open(request: Request, form: CheckedForm, session: PageSession, lock_id: ID) -> Response:
    """Open a lock again, in two steps: a POST without ``confirm=yes`` only shows the
    confirmation page (the lock, what opening it means, the reason); with it the lock is
    opened. A reason is required: without one the service refuses it, the lock stays in force
    and the page says why; the opening is audited with its reason."""
    reason = parse_form(OpenLockForm, form).reason or ""
    if not _confirmed(form):
        return _open_confirmation(request, session, lock_id, reason=reason, refused=None)
    try:
        done = sv.unlock(state_of(request).engine, session.actor, lock_id, reason=reason)
    except InputError as error:
        message = f"{error.message}: say why lock {lock_id} is opened again; it stays in force"
        return _open_confirmation(request, session, lock_id, reason=reason, refused=message)
    return _done("opened", done.id)
