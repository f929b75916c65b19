"""Worklists: what each user has to do, grouped as overdue, due today and due this week.

:func:`worklist` reads, in one transaction and a fixed handful of queries (whatever the number
of participants and visits), a snapshot of the user's sites: participants, visits, forms,
alerts, eligibility checks, signatures, consents and queries. Each *source* of work items is
one function of that snapshot and one role (:data:`SOURCES`); a new kind of item is one new
function added there. A user holding several roles gets the union, each item labelled with the
role (and site) it is for.

Grouping, with ``today`` and the horizon ``today + horizon_days``:

* an item at a visit is due on the visit's date (actual, else target) and may be done until
  the window closes: ``overdue`` once the window closed, ``today`` from its due date until the
  window closes, ``this_week`` when it falls due later but its window opens by the horizon
  (visits further ahead are not listed);
* an item with no date (an alert without a deadline, a query, a form to sign, a decision to
  take) waits on the user now: ``today``; an alert whose deadline passed is ``overdue``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session, load_only

from remit.errors import InputError
from remit.protocol import Protocol
from remit.protocol.consent import WithdrawalScope
from remit.protocol.roles import SYSTEM_ROLE, Role, SignatureMeaning
from remit.protocol.status import (
    ACTIVE_STATUSES,
    NO_DATA_STATUSES,
    OPEN_CALL_STATUSES,
    SCREENING_STATUSES,
    UNFINISHED_STATUSES,
    AssessmentStatus,
    ParticipantStatus,
    VisitStatus,
)
from remit.safety import level_rank
from remit.services._common import a_date, alert_status, now_utc, protocol_in_force
from remit.services.consent_rules import consent_problem, withdrawn_by
from remit.services.records import _Record
from remit.services.unit import reading
from remit.store import Actor
from remit.store.consent import Consent
from remit.store.dosing import DosingSession
from remit.store.epro import EproLink
from remit.store.tables import (
    Alert,
    Assessment,
    DataQuery,
    EligibilityCheck,
    Participant,
    Signature,
    Site,
    UserRole,
    Visit,
)
from remit.store.vocab import QueryStatus


class WorkKind(StrEnum):
    """What a work item asks for."""

    FORM_DUE = "form_due"
    THERAPY_SESSION = "therapy_session"
    DOSING_DAY = "dosing_day"
    FOLLOW_UP_CALL = "follow_up_call"
    ALERT = "alert"
    ELIGIBILITY_DECISION = "eligibility_decision"
    SIGNATURE_PENDING = "signature_pending"
    CONSENT_NEEDED = "consent_needed"
    OPEN_QUERY = "open_query"
    QUERY_RAISED = "query_raised"
    MISSING_FORM = "missing_form"
    EPRO_COMPLETED = "epro_completed"
    INCOMPLETE_FORM = "incomplete_form"
    REVIEW_PENDING = "review_pending"


class WorkGroup(StrEnum):
    """When a work item is due, relative to the day the list is made for."""

    OVERDUE = "overdue"
    TODAY = "today"
    THIS_WEEK = "this_week"


@dataclass(frozen=True)
class WorkItemRecord(_Record):
    """One thing to do: its ``kind``, the ``role`` (``role@SITE`` when held at one site) it is
    for, the participant (study ID) and visit it concerns, ``what`` to do, when
    (``due_date`` and the visit's window; ``None`` when undated), the web page to do it on
    (``link``), ``why`` it is on the list, and its ``group``."""

    kind: str
    role: str
    group: str
    participant_id: str | None
    visit_code: str | None
    what: str
    due_date: date | None
    window_start_date: date | None
    window_end_date: date | None
    link: str
    why: str


@dataclass(frozen=True)
class WorklistRecord(_Record):
    """A user's worklist on ``today``: the roles it covers (``role@SITE`` or ``role``), the
    items per group (overdue first, then today, then up to ``horizon_end_date``) and, for a
    role that nothing is assigned to, a note saying so."""

    username: str
    today: date
    horizon_end_date: date
    roles: tuple[str, ...]
    overdue: tuple[WorkItemRecord, ...]
    due_today: tuple[WorkItemRecord, ...]
    this_week: tuple[WorkItemRecord, ...]
    notes: tuple[str, ...] = ()

    @property
    def items(self) -> tuple[WorkItemRecord, ...]:
        """Every item, overdue first."""
        return self.overdue + self.due_today + self.this_week

    def counts(self) -> dict[str, int]:
        """How many items each group holds."""
        return {
            WorkGroup.OVERDUE.value: len(self.overdue),
            WorkGroup.TODAY.value: len(self.due_today),
            WorkGroup.THIS_WEEK.value: len(self.this_week),
        }


# --- the snapshot ----------------------------------------------------------------------------


#: Whether a participant key is in scope (of the role's sites).
Keep = Callable[[int | None], bool]


@dataclass
class Snapshot:
    """What the sources read, loaded once for every participant of the user's sites."""

    protocol: Protocol
    today: date
    horizon_end: date
    now: datetime
    user_id: int | None
    participants: dict[int, Participant]
    visits: list[Visit]
    forms: list[Assessment]
    alerts: list[Alert]
    checked: set[int]
    signed: set[tuple[int, str]]
    consents: dict[int, list[Consent]]
    queries: list[DataQuery]
    blanks: dict[int, tuple[str, ...]] = field(default_factory=dict)
    calls: list[DosingSession] = field(default_factory=list)
    visit_code: dict[int, str] = field(default_factory=dict)
    #: ePRO links still open, and those used in the last :data:`EPRO_RECENT_DAYS` days.
    epro: list[EproLink] = field(default_factory=list)

    def at_sites(self, site_id: int | None) -> Keep:
        """Whether a participant key belongs to ``site_id`` (``None``: every site)."""

        def keep(participant_id: int | None) -> bool:
            if participant_id is None:
                return True
            p = self.participants.get(participant_id)
            return p is not None and (site_id is None or p.site_id == site_id)

        return keep

    def study_id(self, participant_id: int | None) -> str | None:
        """The study ID of a participant key."""
        if participant_id is None:
            return None
        return self.participants[participant_id].study_id


_FINISHED_FORM = frozenset(
    {AssessmentStatus.COMPLETE, AssessmentStatus.SIGNED, AssessmentStatus.LOCKED}
)
_SIGNABLE = frozenset({AssessmentStatus.COMPLETE, AssessmentStatus.SIGNED})


def _snapshot(
    session: Session, actor: Actor, sites: Iterable[int | None], today: date, horizon: date
) -> Snapshot:
    protocol, _ = protocol_in_force(session)
    wanted = set(sites)
    keys = select(Participant.id)
    if None not in wanted:
        keys = keys.where(Participant.site_id.in_(sorted(s for s in wanted if s is not None)))
    participants = {
        p.id: p for p in session.scalars(select(Participant).where(Participant.id.in_(keys)))
    }

    def of_them(column: Any) -> Any:
        return column.in_(keys)

    visits = list(session.scalars(select(Visit).where(of_them(Visit.participant_id))))
    # the columns the sources read (not the answers and scores, the bulk of a form)
    forms = list(
        session.scalars(
            select(Assessment)
            .options(
                load_only(
                    Assessment.id,
                    Assessment.participant_id,
                    Assessment.visit_id,
                    Assessment.scale,
                    Assessment.scale_version,
                    Assessment.status,
                    Assessment.entered_at,
                )
            )
            .where(of_them(Assessment.participant_id))
        )
    )
    blanks = {
        form_id: tuple(str(ref) for ref in (score or {}).get("missing_required", ()))
        for form_id, score in session.execute(
            select(Assessment.id, Assessment.score).where(
                of_them(Assessment.participant_id),
                Assessment.status.in_([s.value for s in UNFINISHED_STATUSES]),
            )
        )
    }
    alerts = list(
        session.scalars(
            select(Alert).where(of_them(Alert.participant_id), Alert.closed_at.is_(None))
        )
    )
    checked = set(
        session.scalars(
            select(EligibilityCheck.participant_id).where(of_them(EligibilityCheck.participant_id))
        )
    )
    signed = {
        (record_id, meaning)
        for record_id, meaning in session.execute(
            select(Signature.record_id, Signature.meaning).where(
                Signature.record_table == "assessment",
                Signature.voided_at.is_(None),
                of_them(Signature.participant_id),
            )
        )
    }
    consents: dict[int, list[Consent]] = {}
    for c in session.scalars(
        select(Consent)
        .where(of_them(Consent.participant_id))
        .order_by(Consent.consented_at, Consent.id)
    ):
        consents.setdefault(c.participant_id, []).append(c)
    queries = list(
        session.scalars(
            select(DataQuery)
            .where(
                DataQuery.status != QueryStatus.CLOSED.value,
                or_(DataQuery.participant_id.is_(None), of_them(DataQuery.participant_id)),
            )
            .order_by(DataQuery.id)
        )
    )
    calls = list(
        session.scalars(
            select(DosingSession).where(
                of_them(DosingSession.participant_id),
                DosingSession.follow_up_status.in_([c.value for c in OPEN_CALL_STATUSES]),
                DosingSession.follow_up_due_date.is_not(None),
            )
        )
    )
    now = now_utc()
    epro = list(
        session.scalars(
            select(EproLink)
            .where(
                of_them(EproLink.participant_id),
                EproLink.revoked_at.is_(None),
                or_(
                    EproLink.used_at >= now - timedelta(days=EPRO_RECENT_DAYS),
                    EproLink.used_at.is_(None) & (EproLink.expires_at > now),
                ),
            )
            .order_by(EproLink.id)
        )
    )
    return Snapshot(
        protocol=protocol,
        today=today,
        horizon_end=horizon,
        now=now,
        user_id=actor.user_id,
        participants=participants,
        visits=visits,
        forms=forms,
        alerts=alerts,
        checked=checked,
        signed=signed,
        consents=consents,
        queries=queries,
        blanks=blanks,
        calls=calls,
        visit_code={v.id: v.visit_code for v in visits},
        epro=epro,
    )


# --- one item --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """A work item before it is labelled with its role and group."""

    kind: WorkKind
    participant: int | None
    visit_code: str | None
    what: str
    link: str
    why: str
    due: date | None = None
    window_start: date | None = None
    window_end: date | None = None
    overdue: bool = False
    waiting: bool = False
    order: tuple[object, ...] = ()


def _group(item: _Item, today: date) -> WorkGroup:
    if item.overdue or (item.window_end is not None and item.window_end < today):
        return WorkGroup.OVERDUE
    if item.waiting or item.due is None or item.due <= today:
        return WorkGroup.TODAY
    return WorkGroup.THIS_WEEK


def _beyond(item: _Item, horizon: date) -> bool:
    """Whether a dated item falls due, window and all, only after the horizon."""
    opens = item.window_start or item.due
    return not item.waiting and opens is not None and opens > horizon


def _visit_dates(v: Visit) -> tuple[date, date, date] | None:
    """(due, window start, window end) of a visit, ``None`` when it has no date yet."""
    due = v.actual_date or v.target_date
    if due is None:
        return None
    start = v.window_start_date or due
    end = v.window_end_date or due
    return due, min(start, due), max(end, due)


#: The kinds of visit a participant still in screening may have.
_SCREENING_KINDS = frozenset({"screening", "enrolment"})


def _visits_of(
    snap: Snapshot, keep: Keep, statuses: Iterable[str]
) -> Iterable[tuple[Participant, Visit, tuple[date, date, date]]]:
    """(participant, visit, dates) of the dated visits, not missed or cancelled, of the
    protocol in force, of participants kept and in ``statuses``; for a participant in
    screening only screening and enrolment visits."""
    wanted = set(statuses)
    for v in snap.visits:
        p = snap.participants.get(v.participant_id)
        if p is None or not keep(p.id) or p.status not in wanted:
            continue
        if v.status in (VisitStatus.MISSED, VisitStatus.CANCELLED):
            continue
        if v.visit_code not in snap.protocol.visit_codes:
            continue
        kind = snap.protocol.visit(v.visit_code).kind
        if p.status in SCREENING_STATUSES and kind not in _SCREENING_KINDS:
            continue
        dates = _visit_dates(v)
        if dates is not None:
            yield p, v, dates


def _open_visits(
    snap: Snapshot, keep: Keep
) -> Iterable[tuple[Participant, Visit, tuple[date, date, date]]]:
    """Visits that may still be done, of participants still in the trial, whose window opens
    by the horizon."""
    for p, v, dates in _visits_of(snap, keep, ACTIVE_STATUSES):
        if dates[1] <= snap.horizon_end:
            yield p, v, dates


def _forms_at(snap: Snapshot) -> dict[tuple[int, str], Assessment]:
    """The forms entered, by (visit key, scale)."""
    return {(a.visit_id, a.scale): a for a in snap.forms if a.visit_id is not None}


def _rater_label(rater: str) -> str:
    return rater.replace("_", " ")


def _forms_due(snap: Snapshot, keep: Keep, raters: set[str]) -> list[_Item]:
    """Forms rated by one of ``raters`` at open visits, not entered yet (dosing-session
    ratings are part of the dosing day)."""
    entered = _forms_at(snap)
    # self-reports sent to the participant by an ePRO link still open
    sent = {
        (link.visit_id, scale): link
        for link in snap.epro
        if link.used_at is None
        for scale in link.scales
    }
    found = []
    for p, v, (due, start, end) in _open_visits(snap, keep):
        for form in snap.protocol.assessments_at(v.visit_code):
            if form.rater not in raters or form.timing == "during_session":
                continue
            if (v.id, form.scale) in entered:
                continue
            name = form.scale.upper() + (f" {form.version}" if form.version else "")
            link = sent.get((v.id, form.scale))
            by_link = (
                ""
                if link is None
                else f"; sent to the participant by ePRO link {link.id} ({link.mode}), open "
                f"until {link.expires_at.strftime('%Y-%m-%d %H:%M')} UTC"
            )
            found.append(
                _Item(
                    WorkKind.FORM_DUE,
                    p.id,
                    v.visit_code,
                    f"{name} ({_rater_label(form.rater)})",
                    f"/participants/{p.study_id}/visits/{v.visit_code}/forms/{form.scale}",
                    f"planned at {v.visit_code}, rated by {_rater_label(form.rater)}; "
                    f"window {start.isoformat()} to {end.isoformat()}, not entered yet" + by_link,
                    due,
                    start,
                    end,
                    order=(due, p.study_id, v.visit_code, form.scale),
                )
            )
    return found


# --- the sources -----------------------------------------------------------------------------

#: How long a participant's completed ePRO forms stay on the worklist (for review).
EPRO_RECENT_DAYS = 7


def epro_completed(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Therapist and investigator: self-reports a participant completed through an ePRO link
    in the last :data:`EPRO_RECENT_DAYS` days, to review (with any alert they raised)."""
    found = []
    for link in snap.epro:
        if link.used_at is None or not keep(link.participant_id):
            continue
        p = snap.participants[link.participant_id]
        visit_code = snap.visit_code.get(link.visit_id)
        found.append(
            _Item(
                WorkKind.EPRO_COMPLETED,
                p.id,
                visit_code,
                "Self-report completed by the participant: "
                + ", ".join(s.upper() for s in link.scales),
                f"/participants/{p.study_id}/epro",
                f"submitted through ePRO link {link.id} ({link.mode}) on "
                f"{link.used_at.strftime('%Y-%m-%d %H:%M')} UTC; review the forms and any alerts",
                waiting=True,
                order=(link.used_at, link.id),
            )
        )
    return found


def rater_forms(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Independent rater: the scales the protocol has rated by an independent rater."""
    return _forms_due(snap, keep, {"independent_rater"})


def therapist_forms(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Therapist: forms rated by the therapist, and self-reports the therapist administers."""
    return _forms_due(snap, keep, {"therapist", "self_report"})


def investigator_forms(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Investigator: forms rated by the investigator (the C-SSRS)."""
    return _forms_due(snap, keep, {"investigator"})


def sessions(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Therapist: therapy sessions and dosing days not held yet."""
    found = []
    for p, v, (due, start, end) in _open_visits(snap, keep):
        if v.status != VisitStatus.SCHEDULED:
            continue
        planned = snap.protocol.visit(v.visit_code)
        dosing = snap.protocol.dosing_session(v.visit_code)
        if dosing is None and not planned.therapy_session:
            continue
        if dosing is not None:
            item = _Item(
                WorkKind.DOSING_DAY,
                p.id,
                v.visit_code,
                f"Dosing day {dosing.number} ({planned.label})",
                f"/participants/{p.study_id}/dosing/{v.visit_code}",
                f"dosing session {dosing.number} ({dosing.substance}) planned for "
                f"{due.isoformat()} (window {start.isoformat()} to {end.isoformat()})",
                due,
                start,
                end,
                order=(due, p.study_id, v.visit_code),
            )
        else:
            item = _Item(
                WorkKind.THERAPY_SESSION,
                p.id,
                v.visit_code,
                f"Therapy session: {planned.label}",
                f"/participants/{p.study_id}#visit-{v.visit_code}",
                f"therapy session planned for {due.isoformat()} "
                f"(window {start.isoformat()} to {end.isoformat()}), not recorded yet",
                due,
                start,
                end,
                order=(due, p.study_id, v.visit_code),
            )
        found.append(item)
    return found


def follow_up_calls(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Therapist: the next-day follow-up calls after a dosing session still to make (not made,
    or the participant not reached), due on their date and overdue after it."""
    found = []
    for c in snap.calls:
        p = snap.participants.get(c.participant_id)
        if p is None or not keep(p.id) or p.status not in ACTIVE_STATUSES:
            continue
        if c.follow_up_due_date is None:
            continue
        visit = snap.visit_code.get(c.visit_id) if c.visit_id is not None else None
        due = c.follow_up_due_date
        found.append(
            _Item(
                WorkKind.FOLLOW_UP_CALL,
                p.id,
                visit,
                f"Follow-up call after dosing session {c.session_number}",
                f"/participants/{p.study_id}/dosing/{visit}#follow-up-call",
                f"call {str(c.follow_up_status).replace('_', ' ')}, due {due.isoformat()}",
                due,
                due,
                due,
                order=(due, p.study_id, c.session_number),
            )
        )
    return found


def alerts(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Investigator: alerts not closed, most pressing level first, then oldest."""
    found = []
    for a in snap.alerts:
        if not keep(a.participant_id):
            continue
        status = alert_status(a)
        due = a.due_at.date() if a.due_at is not None else None
        late = a.due_at is not None and a.due_at < snap.now
        by = f", due by {a.due_at.isoformat(timespec='minutes')}" if a.due_at else ""
        found.append(
            _Item(
                WorkKind.ALERT,
                a.participant_id,
                snap.visit_code.get(a.source_id or 0) if a.source_table == "visit" else None,
                f"{a.level.replace('_', ' ')} alert: {a.message}",
                f"/alerts#alert-{a.id}",
                f"{status} since {a.raised_at.date().isoformat()}{by} ({a.rule_id})",
                due,
                overdue=late,
                waiting=True,
                order=(level_rank(a.level), a.raised_at, a.id),
            )
        )
    return found


def eligibility_decisions(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Investigator: participants in screening whose screening visits took place with every
    required form complete, and no eligibility verdict yet."""
    entered = _forms_at(snap)
    screening_visits: dict[int, list[Visit]] = {}
    for v in snap.visits:
        codes = snap.protocol.visit_codes
        if v.visit_code in codes and snap.protocol.visit(v.visit_code).kind == "screening":
            screening_visits.setdefault(v.participant_id, []).append(v)
    found = []
    for p in snap.participants.values():
        if not keep(p.id) or p.status != ParticipantStatus.SCREENING or p.id in snap.checked:
            continue
        visits = screening_visits.get(p.id, [])
        if not visits or any(v.status != VisitStatus.COMPLETED for v in visits):
            continue
        required = [
            (v, f.scale)
            for v in visits
            for f in snap.protocol.assessments_at(v.visit_code)
            if f.required and f.timing != "during_session"
        ]
        if any(
            (v.id, scale) not in entered or entered[(v.id, scale)].status not in _FINISHED_FORM
            for v, scale in required
        ):
            continue
        last = max(v.actual_date for v in visits if v.actual_date is not None)
        found.append(
            _Item(
                WorkKind.ELIGIBILITY_DECISION,
                p.id,
                None,
                "Decide eligibility",
                f"/participants/{p.study_id}",
                f"screening done on {last.isoformat()} with "
                f"{len(required)} required form(s) complete; no eligibility verdict yet",
                order=(last, p.study_id),
            )
        )
    return found


def _form_title(a: Assessment) -> str:
    return f"{a.scale.upper()} {a.scale_version}"


def _unsigned(snap: Snapshot, keep: Keep, meaning: str, kind: WorkKind, verb: str) -> list[_Item]:
    found = []
    for a in snap.forms:
        if not keep(a.participant_id) or a.status not in _SIGNABLE:
            continue
        if (a.id, meaning) in snap.signed:
            continue
        p = snap.participants[a.participant_id]
        visit = snap.visit_code.get(a.visit_id) if a.visit_id is not None else None
        entered = a.entered_at.date().isoformat()
        found.append(
            _Item(
                kind,
                p.id,
                visit,
                f"{verb} {_form_title(a)}",
                f"/sign/assessment/{a.id}",
                f"form {a.id} complete since {entered}, no standing '{meaning}' signature",
                order=(a.entered_at, a.id),
            )
        )
    return found


def signatures_pending(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Investigator: complete forms without the investigator's standing approval."""
    return _unsigned(
        snap, keep, SignatureMeaning.APPROVED.value, WorkKind.SIGNATURE_PENDING, "Approve"
    )


def reviews_pending(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Monitor: complete forms without a standing review signature."""
    return _unsigned(snap, keep, SignatureMeaning.REVIEWED.value, WorkKind.REVIEW_PENDING, "Review")


def consent_needed(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Investigator: participants still in the trial whose consent does not allow study
    procedures now (none recorded, or a newer version of the form needs re-consent)."""
    if not snap.protocol.consent.required:
        return []
    found = []
    for p in snap.participants.values():
        if not keep(p.id) or p.status not in ACTIVE_STATUSES:
            continue
        consents = snap.consents.get(p.id, [])
        if (
            consents
            and withdrawn_by(consents[-1], snap.now)
            and (consents[-1].withdrawal_scope == WithdrawalScope.FULL)
        ):
            continue  # a full withdrawal is the participant's decision, not a task
        problem = consent_problem(snap.protocol, p.study_id, consents, snap.now)
        if problem is None:
            continue
        again = "re-consent" if consents else "consent"
        found.append(
            _Item(
                WorkKind.CONSENT_NEEDED,
                p.id,
                None,
                f"Record {again}",
                f"/participants/{p.study_id}/consent",
                problem,
                order=(p.study_id,),
            )
        )
    return found


def _query_item(snap: Snapshot, q: DataQuery, kind: WorkKind, what: str) -> _Item:
    record = f"{q.record_table} {q.record_id}" + (f", {q.field}" if q.field else "")
    return _Item(
        kind,
        q.participant_id,
        snap.visit_code.get(q.record_id) if q.record_table == "visit" else None,
        what,
        f"/queries#query-{q.id}",
        f"query {q.id} on {record}, {q.status} since {q.raised_at.date().isoformat()}: {q.text}",
        order=(q.raised_at, q.id),
    )


def open_queries(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Data manager: queries not closed (answered ones wait to be closed)."""
    return [
        _query_item(
            snap,
            q,
            WorkKind.OPEN_QUERY,
            "Close the answered query" if q.status == QueryStatus.ANSWERED else "Open query",
        )
        for q in snap.queries
        if keep(q.participant_id)
    ]


def raised_queries(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Monitor: the queries they raised that are not closed."""
    return [
        _query_item(
            snap,
            q,
            WorkKind.QUERY_RAISED,
            "Close your answered query"
            if q.status == QueryStatus.ANSWERED
            else "Your query awaits an answer",
        )
        for q in snap.queries
        if keep(q.participant_id) and q.raised_by is not None and q.raised_by == snap.user_id
    ]


def missing_forms(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Data manager: required forms planned at visits whose window closed (visit not marked
    missed), of participants who had not left the trial, with no form entered."""
    entered = _forms_at(snap)
    found = []
    for p, v, (due, start, end) in _visits_of(snap, keep, _STAYED):
        if end >= snap.today:
            continue
        for form in snap.protocol.assessments_at(v.visit_code):
            if not form.required or form.timing == "during_session":
                continue
            if (v.id, form.scale) in entered:
                continue
            found.append(
                _Item(
                    WorkKind.MISSING_FORM,
                    p.id,
                    v.visit_code,
                    f"Missing {form.scale.upper()} ({_rater_label(form.rater)})",
                    f"/participants/{p.study_id}/visits/{v.visit_code}/forms/{form.scale}",
                    f"window of {v.visit_code} closed on {end.isoformat()}; no form entered "
                    "and the visit is not marked missed",
                    due,
                    start,
                    end,
                    order=(due, p.study_id, v.visit_code, form.scale),
                )
            )
    return found


def incomplete_forms(snap: Snapshot, keep: Keep) -> list[_Item]:
    """Data manager: forms saved as drafts or with required items blank."""
    found = []
    for a in snap.forms:
        if not keep(a.participant_id) or a.status not in UNFINISHED_STATUSES:
            continue
        p = snap.participants[a.participant_id]
        missing = ", ".join(snap.blanks.get(a.id, ()))
        why = f"saved as {a.status} on {a.entered_at.date().isoformat()}" + (
            f"; required items blank: {missing}" if missing else ""
        )
        found.append(
            _Item(
                WorkKind.INCOMPLETE_FORM,
                p.id,
                snap.visit_code.get(a.visit_id) if a.visit_id is not None else None,
                f"Incomplete {_form_title(a)}",
                f"/assessments/{a.id}",
                why,
                order=(a.entered_at, a.id),
            )
        )
    return found


#: Participants whose missing forms count: every status but those who left (ineligible,
#: withdrawn, lost to follow-up).
_STAYED = frozenset(ParticipantStatus) - NO_DATA_STATUSES - {ParticipantStatus.LOST_TO_FOLLOW_UP}

Source = Callable[[Snapshot, Keep], list[_Item]]

#: role → the sources of its work items, in the order they are listed. A role not here has
#: nothing assigned to it.
SOURCES: Mapping[str, tuple[Source, ...]] = {
    Role.INDEPENDENT_RATER.value: (rater_forms,),
    Role.THERAPIST.value: (sessions, follow_up_calls, therapist_forms, epro_completed),
    Role.INVESTIGATOR.value: (
        alerts,
        epro_completed,
        eligibility_decisions,
        consent_needed,
        investigator_forms,
        signatures_pending,
    ),
    Role.DATA_MANAGER.value: (open_queries, missing_forms, incomplete_forms),
    Role.MONITOR.value: (raised_queries, reviews_pending),
}


# --- the service -----------------------------------------------------------------------------


def _held_roles(session: Session, actor: Actor) -> list[tuple[str, int | None]]:
    """The ``(role, site id)`` pairs of the acting user (all of them: the union is shown)."""
    if actor.role == SYSTEM_ROLE or actor.user_id is None:
        return [(actor.role, actor.site_id)]
    rows = session.execute(
        select(UserRole.role, UserRole.site_id)
        .where(UserRole.user_id == actor.user_id)
        .order_by(UserRole.id)
    )
    return [(role, site_id) for role, site_id in rows]


def worklist(
    engine: Engine, actor: Actor, *, today: date | None = None, horizon_days: int = 7
) -> WorklistRecord:
    """What the acting user has to do: overdue, due ``today`` (default: today, UTC) and due
    within ``horizon_days`` days, for every role they hold, each at its own sites.

    Per role (:data:`SOURCES`): an independent rater the scales rated by independent raters;
    a therapist therapy sessions, dosing days, follow-up calls to make and the therapist-rated
    and self-report forms;
    an investigator alerts not closed (most pressing first), eligibility decisions pending,
    consents and re-consents to record, investigator-rated forms and forms to approve; a data
    manager open queries, missing and incomplete forms; a monitor the queries they raised and
    forms to review. Statisticians and admins have nothing assigned (``notes`` says so).

    Example::

        wl = worklist(engine, rita, today=date(2023, 3, 6))
        [(i.group, i.participant_id, i.visit_code, i.what) for i in wl.items]
        # [('today', 'OSL-001', 'V3', 'MADRS (independent rater)')]
    """
    day = a_date(today, "today") or now_utc().date()
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int):
        raise InputError(f"horizon_days {horizon_days!r} is not a whole number of days")
    if not 0 <= horizon_days <= 366:
        raise InputError(f"horizon_days {horizon_days} is out of range", expected="0 to 366 days")
    horizon = day + timedelta(days=horizon_days)
    with reading(engine, actor, "view_worklist", "worklist") as r:
        session = r.session
        held = _held_roles(session, actor)
        if actor.site_id is not None:
            # a site-bound login sees its own site only, whatever else the user holds
            held = [(role, actor.site_id) for role, site in held if site in (None, actor.site_id)]
        sites = {s.id: s.code for s in session.scalars(select(Site))}
        busy = {site for role, site in held if SOURCES.get(role)}  # sites with work to list
        snap = _snapshot(session, actor, busy, day, horizon)
        grouped: dict[WorkGroup, list[tuple[Any, WorkItemRecord]]] = {g: [] for g in WorkGroup}
        labels, notes = [], []
        for index, (role, site) in enumerate(held):
            label = f"{role}@{sites[site]}" if site is not None else role
            labels.append(label)
            sources = SOURCES.get(role, ())
            if not sources:
                notes.append(f"nothing is assigned to the role {label.replace('_', ' ')}")
            keep = snap.at_sites(site)
            for rank, source in enumerate(sources):
                for item in source(snap, keep):
                    if _beyond(item, horizon):
                        continue
                    group = _group(item, day)
                    record = WorkItemRecord(
                        kind=item.kind.value,
                        role=label,
                        group=group.value,
                        participant_id=snap.study_id(item.participant),
                        visit_code=item.visit_code,
                        what=item.what,
                        due_date=item.due,
                        window_start_date=item.window_start,
                        window_end_date=item.window_end,
                        link=item.link,
                        why=item.why,
                    )
                    grouped[group].append(((index, rank, *item.order), record))
        result = WorklistRecord(
            username=actor.username,
            today=day,
            horizon_end_date=horizon,
            roles=tuple(labels),
            overdue=_sorted(grouped[WorkGroup.OVERDUE]),
            due_today=_sorted(grouped[WorkGroup.TODAY]),
            this_week=_sorted(grouped[WorkGroup.THIS_WEEK]),
            notes=tuple(notes),
        )
        r.n_records = len(result.items)
        return result


def _sorted(entries: list[tuple[Any, WorkItemRecord]]) -> tuple[WorkItemRecord, ...]:
    """Items of one group in the order of the user's roles, then of each role's sources,
    then each source's own order (alerts most pressing first, dated items by due date)."""
    return tuple(record for _, record in sorted(entries, key=lambda entry: entry[0]))
