"""The pre-dose checklist of a dosing session (the protocol's ``[dosing.checklist]``).

Items computed from data are evaluated live at a clinical time: ``result`` (the latest result
of a test, collected at most ``within_days`` before, is normal or negative), ``vitals`` (the
latest reading of the session or its visit, at most ``within_min`` minutes old, has every sign
the session reads and raises no alert), ``cssrs`` (a C-SSRS at the session's visit or at most
``within_days`` before, that raised no urgent or immediate alert, and no such C-SSRS alert
open), ``no_prohibited_medication`` (:func:`~remit.services.dosing_checks.washout_blocks`),
``consent_current`` (:func:`~remit.services.consent_rules.consent_problem` for a dose).
``confirm`` items are ticked by the person completing the checklist.

:func:`complete_checklist` stores a completion (each item with its status and why, who, when)
once every item passes; an item the protocol marks ``may_be_not_applicable`` may be marked not
applicable with a reason, and an investigator may give over a failing item the protocol marks
``overridable`` with a reason (a ``checklist_override`` protocol deviation). ``vitals`` and
``cssrs`` items are never overridable. :func:`checklist_blocks` is what
:func:`~remit.services.dosing.record_dose` asks before an initial dose: the items not cleared
at the time of the dose, judged again from the data with the latest completion's ticks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError, PermissionDeniedError
from remit.protocol import DosingSession as PlannedSession
from remit.protocol import Protocol
from remit.protocol.clock import local_today, show_time
from remit.protocol.results import (
    CLEARED,
    FLAGGED,
    SAFETY_KINDS,
    ChecklistItem,
    ChecklistKind,
    ItemStatus,
)
from remit.protocol.status import (
    UNFINISHED_STATUSES,
    DeviationCategory,
    DoseKind,
    DoseStatus,
)
from remit.safety import evaluate_vitals
from remit.services._common import aware, protocol_in_force, text_given, visit_code_of
from remit.services.access import allowed
from remit.services.blinding import check_dosing_read
from remit.services.consent_rules import consent_problem, consents_of
from remit.services.dosing_checks import washout_blocks
from remit.services.records import _Record
from remit.services.unit import reading, writing
from remit.services.visits import site_zone
from remit.store import Actor
from remit.store.dosing import Dose, DosingSession
from remit.store.results import ClinicalResult, DosingChecklist
from remit.store.tables import Alert, Assessment, Participant, ProtocolDeviation, UserAccount
from remit.store.vitals import VitalSignReading, reading_values

#: Alert levels of a C-SSRS finding that fail the ``cssrs`` item.
PRESSING_LEVELS: frozenset[str] = frozenset({"immediate", "urgent"})

#: Minutes a pre-dose reading stays valid when the item gives no ``within_min``.
DEFAULT_VITALS_MIN = 60


@dataclass(frozen=True)
class ChecklistItemRecord(_Record):
    """One item of a pre-dose checklist as it stands: ``status`` is an
    :class:`~remit.protocol.results.ItemStatus` value, ``detail`` says why."""

    id: str
    kind: str
    text: str
    status: str
    detail: str
    overridable: bool
    may_be_not_applicable: bool

    @property
    def cleared(self) -> bool:
        """Whether the item lets the initial dose be given."""
        return self.status in CLEARED


@dataclass(frozen=True)
class ChecklistRecord(_Record):
    """The pre-dose checklist of one dosing session: its items, whether every item is cleared
    (``complete``) and the latest stored completion (``completion_id``, who and when; ``None``
    before one is stored)."""

    participant_id: str
    visit_code: str
    session_number: int
    evaluated_at: datetime
    items: tuple[ChecklistItemRecord, ...]
    complete: bool
    completion_id: int | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    override_reason: str | None = None

    @property
    def failing(self) -> tuple[ChecklistItemRecord, ...]:
        """The items not cleared."""
        return tuple(i for i in self.items if not i.cleared)


@dataclass(frozen=True)
class _Marks:
    """What a person said on a completion: confirm items ticked, items marked not applicable
    (with the reason) and the override reason."""

    confirmed: frozenset[str] = frozenset()
    not_applicable: Mapping[str, str] | None = None
    override_reason: str | None = None


def _marks_of(row: DosingChecklist | None) -> _Marks:
    if row is None:
        return _Marks()
    items: list[dict[str, Any]] = list(row.items)
    return _Marks(
        confirmed=frozenset(
            i["id"]
            for i in items
            if i.get("kind") == ChecklistKind.CONFIRM and i.get("status") == ItemStatus.PASS
        ),
        not_applicable={
            i["id"]: str(i["reason"])
            for i in items
            if i.get("status") == ItemStatus.NOT_APPLICABLE and i.get("reason")
        },
        override_reason=row.override_reason,
    )


def _result(
    session: Session,
    protocol: Protocol,
    p: Participant,
    item: ChecklistItem,
    at: datetime,
    zone: ZoneInfo,
) -> tuple[str, str]:
    test = protocol.results.test(str(item.test))
    if not test.applies_to(p.sex):
        return ItemStatus.NOT_APPLICABLE, f"{test.label} does not apply (sex {p.sex})"
    query = select(ClinicalResult).where(
        ClinicalResult.participant_id == p.id,
        ClinicalResult.test_code == test.code,
        ClinicalResult.collected_at <= at,
    )
    span = ""
    if item.within_days is not None:
        query = query.where(ClinicalResult.collected_at >= at - timedelta(days=item.within_days))
        span = f" in the {item.within_days} days before"
    row = session.scalar(
        query.order_by(ClinicalResult.collected_at.desc(), ClinicalResult.id.desc()).limit(1)
    )
    if row is None:
        return ItemStatus.NOT_YET, f"no {test.label} result collected{span}"
    shown = (
        f"{row.value_number:g}{' ' + row.unit if row.unit else ''}"
        if row.value_number is not None
        else str(row.value_text)
    )
    collected = show_time(row.collected_at, zone)
    said = f"{test.label} {shown} ({row.interpretation}), collected {collected}"
    if row.interpretation in FLAGGED:
        return ItemStatus.FAIL, f"{said}; normal {test.normal_range()}"
    return ItemStatus.PASS, said


def _vitals(
    session: Session,
    protocol: Protocol,
    planned: PlannedSession,
    ds: DosingSession,
    item: ChecklistItem,
    at: datetime,
    zone: ZoneInfo,
) -> tuple[str, str]:
    minutes = item.within_min or DEFAULT_VITALS_MIN
    latest = session.scalar(
        select(VitalSignReading)
        .where(
            or_(
                VitalSignReading.dosing_session_id == ds.id,
                VitalSignReading.visit_id == ds.visit_id,
            ),
            VitalSignReading.measured_at <= at,
            VitalSignReading.measured_at >= at - timedelta(minutes=minutes),
        )
        .order_by(VitalSignReading.measured_at.desc(), VitalSignReading.id.desc())
        .limit(1)
    )
    if latest is None:
        return ItemStatus.NOT_YET, f"no vital signs recorded in the {minutes} minutes before"
    values = reading_values(session, [latest.id]).get(latest.id, {})
    read = f"reading of {show_time(latest.measured_at, zone)}"
    unread = [s for s in planned.vitals.recorded_signs() if values.get(s) is None]
    if unread:
        return ItemStatus.FAIL, f"{read} lacks {', '.join(unread)}"
    outcome = evaluate_vitals(protocol, planned.visit, values)
    if outcome.alerts:
        return ItemStatus.FAIL, f"{read}: " + "; ".join(a.message for a in outcome.alerts)
    return ItemStatus.PASS, f"{read} within the limits"


def _cssrs(
    session: Session,
    p: Participant,
    ds: DosingSession,
    item: ChecklistItem,
    at: datetime,
    zone: ZoneInfo,
) -> tuple[str, str]:
    clinical = func.coalesce(Assessment.assessed_at, Assessment.entered_at)
    near = [Assessment.visit_id == ds.visit_id]
    if item.within_days is not None:
        near.append((clinical <= at) & (clinical >= at - timedelta(days=item.within_days)))
    forms = select(Assessment.id).where(
        Assessment.participant_id == p.id, Assessment.scale == "cssrs"
    )
    # an urgent finding of a form near the dose (complete or not, its alert closed or not)
    # or a pressing C-SSRS alert still open from any form fails the item
    pressing = list(
        session.scalars(
            select(Alert)
            .where(
                Alert.participant_id == p.id,
                Alert.source_table == "assessment",
                Alert.level.in_(PRESSING_LEVELS),
                or_(
                    Alert.source_id.in_(forms.where(or_(*near))),
                    Alert.closed_at.is_(None) & Alert.source_id.in_(forms),
                ),
            )
            .order_by(Alert.id)
        )
    )
    if pressing:
        return ItemStatus.FAIL, "; ".join(
            f"{a.level} alert {a.id} of C-SSRS assessment {a.source_id}"
            + ("" if a.closed_at is None else " (closed)")
            + f": {a.message}"
            for a in pressing
        )
    form = session.scalar(
        select(Assessment)
        .where(
            Assessment.id.in_(forms),
            Assessment.status.not_in([str(s) for s in UNFINISHED_STATUSES]),
            or_(*near),
        )
        .order_by(clinical.desc(), Assessment.id.desc())
        .limit(1)
    )
    if form is None:
        span = f" or in the {item.within_days} days before" if item.within_days else ""
        return ItemStatus.NOT_YET, f"no complete C-SSRS at this visit{span}"
    when = form.assessed_at or form.entered_at
    return (
        ItemStatus.PASS,
        f"C-SSRS (assessment {form.id}) of {show_time(when, zone)} "
        "without an urgent or immediate finding",
    )


def evaluate(
    session: Session,
    protocol: Protocol,
    p: Participant,
    planned: PlannedSession,
    ds: DosingSession,
    at: datetime,
    marks: _Marks,
) -> tuple[ChecklistItemRecord, ...]:
    """Every item of the session's checklist at ``at`` with ``marks`` (empty when the
    protocol declares no checklist)."""
    if planned.checklist is None:
        return ()
    found: list[ChecklistItemRecord] = []
    not_applicable = dict(marks.not_applicable or {})
    zone = site_zone(session, protocol, p)  # times in the details are the site's
    for item in planned.checklist.items:
        status: str
        detail: str
        if item.kind == ChecklistKind.RESULT:
            status, detail = _result(session, protocol, p, item, at, zone)
        elif item.kind == ChecklistKind.VITALS:
            status, detail = _vitals(session, protocol, planned, ds, item, at, zone)
        elif item.kind == ChecklistKind.CSSRS:
            status, detail = _cssrs(session, p, ds, item, at, zone)
        elif item.kind == ChecklistKind.NO_PROHIBITED_MEDICATION:
            blocks = washout_blocks(session, protocol, p, local_today(at, zone))
            status = ItemStatus.FAIL if blocks else ItemStatus.PASS
            detail = "; ".join(b.describe() for b in blocks) or "none ongoing or in washout"
        elif item.kind == ChecklistKind.CONSENT_CURRENT:
            problem = consent_problem(
                protocol, p.study_id, consents_of(session, p), at, operation="record_dose"
            )
            status = ItemStatus.FAIL if problem else ItemStatus.PASS
            detail = problem or "current"
        else:
            ticked = item.id in marks.confirmed
            status = ItemStatus.PASS if ticked else ItemStatus.NOT_YET
            detail = "confirmed" if ticked else "not confirmed"
        # a failing datum is never marked away; only an item with nothing recorded may be
        if status == ItemStatus.NOT_YET and item.id in not_applicable:
            status, detail = ItemStatus.NOT_APPLICABLE, f"not applicable: {not_applicable[item.id]}"
        if (
            status in (ItemStatus.FAIL, ItemStatus.NOT_YET)
            and item.overridable
            and item.kind not in SAFETY_KINDS
            and marks.override_reason
        ):
            status, detail = (
                ItemStatus.OVERRIDDEN,
                f"{detail} — overridden: {marks.override_reason}",
            )
        found.append(
            ChecklistItemRecord(
                id=item.id,
                kind=item.kind.value,
                text=item.text,
                status=str(status),
                detail=detail,
                overridable=item.overridable and item.kind not in SAFETY_KINDS,
                may_be_not_applicable=item.may_be_not_applicable,
            )
        )
    return tuple(found)


def latest_completion(session: Session, ds: DosingSession) -> DosingChecklist | None:
    """The session's latest stored checklist completion."""
    return session.scalar(
        select(DosingChecklist)
        .where(DosingChecklist.dosing_session_id == ds.id)
        .order_by(DosingChecklist.completed_at.desc(), DosingChecklist.id.desc())
        .limit(1)
    )


def checklist_blocks(
    session: Session,
    protocol: Protocol,
    p: Participant,
    planned: PlannedSession,
    ds: DosingSession,
    at: datetime,
) -> tuple[tuple[str, ...], tuple[ChecklistItemRecord, ...]]:
    """What stops the initial dose at ``at``: ``(hard, soft)`` where ``hard`` are reasons no
    override lifts (no completion stored, items not cleared that are not overridable) and
    ``soft`` the overridable items not cleared, which the dose's override (an investigator's,
    checked by the caller) gives over. Empty when the session has no checklist."""
    if planned.checklist is None:
        return (), ()
    row = latest_completion(session, ds)
    if row is None:
        return (
            (f"the pre-dose checklist of session {ds.session_number} has not been completed",),
            (),
        )
    marks = _marks_of(row)
    items = evaluate(session, protocol, p, planned, ds, at, marks)
    hard = tuple(f"{i.id}: {i.detail}" for i in items if not i.cleared and not i.overridable)
    soft = tuple(i for i in items if not i.cleared and i.overridable)
    return hard, soft


def _record(
    session: Session,
    p: Participant,
    planned: PlannedSession,
    ds: DosingSession,
    at: datetime,
    items: tuple[ChecklistItemRecord, ...],
    row: DosingChecklist | None,
) -> ChecklistRecord:
    by = None
    if row is not None and row.completed_by is not None:
        user = session.get(UserAccount, row.completed_by)
        by = user.username if user is not None else str(row.completed_by)
    return ChecklistRecord(
        participant_id=p.study_id,
        visit_code=visit_code_of(session, ds.visit_id) or planned.visit,
        session_number=ds.session_number,
        evaluated_at=at,
        items=items,
        complete=all(i.cleared for i in items),
        completion_id=None if row is None else row.id,
        completed_at=None if row is None else row.completed_at,
        completed_by=by,
        override_reason=None if row is None else row.override_reason,
    )


def _session(
    session: Session, protocol: Protocol, p: Participant, visit_code: str
) -> tuple[PlannedSession, DosingSession]:
    # dosing asks this module before an initial dose, so it is imported here, not on top
    from remit.services.dosing import _planned, _session_at

    planned = _planned(protocol, visit_code)
    if planned.checklist is None:
        raise InputError(
            f"the dosing session at {visit_code} has no pre-dose checklist in protocol "
            f"{protocol.study.id}",
            hint="declare one with [dosing.checklist] in the protocol file",
        )
    return planned, _session_at(session, p, protocol, visit_code)


def checklist_status(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    at: datetime,
) -> ChecklistRecord:
    """The session's checklist evaluated at ``at`` from the data, with the latest stored
    completion's ticks, not-applicable marks and override (nothing is written).

    Examples
    --------
    ::

        checklist_status(engine, therapist, "OSL-001", "V5", at=now)
        # -> ChecklistRecord(complete=False, items=(ChecklistItemRecord(id="urine_drug_screen",
        #      status="not_yet", detail="no Urine drug screen result collected in the 7 days
        #      before", ...), ...))
    """
    when = aware(at, "at")
    if when is None:
        raise InputError("no time given", expected="the time to judge the checklist at")
    with reading(
        engine, actor, "view_participants", "checklist_status", participant=participant
    ) as r:
        session, p = r.session, r.p
        protocol = protocol_in_force(session)[0]
        # its items quote the day's vital signs, results and medications: refused (audited)
        # to the independent rater blind to dosing, as the dosing-day page is
        check_dosing_read(r, actor, protocol, DosingChecklist.__tablename__)
        planned, ds = _session(session, protocol, p, visit_code)
        row = latest_completion(session, ds)
        items = evaluate(session, protocol, p, planned, ds, when, _marks_of(row))
        return r.one(_record(session, p, planned, ds, when, items, row))


def complete_checklist(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    completed_at: datetime,
    confirmed: Iterable[str] = (),
    not_applicable: Mapping[str, str] | None = None,
    override_reason: str | None = None,
    idempotency_key: str | None = None,
) -> ChecklistRecord:
    """Complete the pre-dose checklist of the dosing session at ``visit_code`` at
    ``completed_at``: ``confirmed`` are the ``confirm`` items ticked, ``not_applicable`` the
    items marked not applicable (id → reason; only items the protocol allows, and only when
    nothing failing is recorded for them) and ``override_reason`` an investigator's reason to
    give over the overridable items that fail (a ``checklist_override`` deviation).

    Refused, with nothing stored, while an item is not cleared (the refusal names each one
    and why), before the session started and once the initial dose is given.

    Examples
    --------
    ::

        complete_checklist(engine, therapist, "OSL-001", "V5", completed_at=at,
                           confirmed=["fasting", "escort_home"],
                           not_applicable={"pregnancy_test": "post-menopausal"})
        # -> ChecklistRecord(complete=True, completion_id=1, ...)
    """
    when = aware(completed_at, "completed_at")
    if when is None:
        raise InputError("completed_at is required", expected="the time of the checklist")
    ticked = frozenset(str(c) for c in confirmed)
    marked = {
        str(k): text_given(v, f"reason {k} is not applicable")
        for k, v in (not_applicable or {}).items()
    }
    reason = (override_reason or "").strip() or None
    body = {
        "participant": participant,
        "visit": visit_code,
        "completed_at": when,
        "confirmed": sorted(ticked),
        "not_applicable": marked,
        "override_reason": reason,
    }
    with writing(
        engine,
        actor,
        "complete_checklist",
        participant=participant,
        at=when,
        request=body,
        idempotency_key=idempotency_key,
        record_table="dosing_checklist",
    ) as w:
        session, p, protocol = w.session, w.p, w.protocol
        if (done := w.stored(DosingChecklist)) is not None:
            ds = session.get_one(DosingSession, done.dosing_session_id)
            planned, _ = _session(session, protocol, p, visit_code)
            items = evaluate(session, protocol, p, planned, ds, done.completed_at, _marks_of(done))
            return _record(session, p, planned, ds, done.completed_at, items, done)
        planned, ds = _session(session, protocol, p, visit_code)
        items_declared = planned.checklist.items if planned.checklist is not None else ()
        by_id = {i.id: i for i in items_declared}
        unknown = sorted((set(ticked) | set(marked)) - set(by_id))
        if unknown:
            raise InputError(
                f"the pre-dose checklist has no item {', '.join(unknown)}",
                expected="items: " + ", ".join(by_id),
            )
        not_confirm = sorted(c for c in ticked if by_id[c].kind != ChecklistKind.CONFIRM)
        if not_confirm:
            raise InputError(
                f"{', '.join(not_confirm)} cannot be ticked: evaluated from the recorded data",
                expected="confirm items: "
                + ", ".join(i.id for i in items_declared if i.kind == ChecklistKind.CONFIRM),
            )
        refused_na = sorted(m for m in marked if not by_id[m].may_be_not_applicable)
        if refused_na:
            raise InputError(
                f"{', '.join(refused_na)} may not be marked not applicable (the protocol does "
                "not allow it)",
                hint="record what the item asks for instead",
            )
        if ds.started_at is not None and when < ds.started_at:
            raise InputError(
                f"the checklist ({when.isoformat()}) cannot be completed before the session "
                f"started ({ds.started_at.isoformat()})"
            )
        initial = session.scalar(
            select(Dose.id).where(
                Dose.dosing_session_id == ds.id,
                Dose.kind == DoseKind.INITIAL.value,
                Dose.status == DoseStatus.GIVEN.value,
            )
        )
        if initial is not None:
            raise ConflictError(
                f"the initial dose of session {ds.session_number} of {p.study_id} is already "
                "given: the pre-dose checklist cannot be completed after it"
            )
        items = evaluate(session, protocol, p, planned, ds, when, _Marks(ticked, marked, reason))
        failing = [i for i in items if not i.cleared]
        if failing:
            overridable = any(i.overridable for i in failing)
            raise InputError(
                f"pre-dose checklist of session {ds.session_number} ({visit_code}) of "
                f"{p.study_id} not complete: "
                + "; ".join(f"{i.id} ({i.status}): {i.detail}" for i in failing),
                hint="record the missing results, readings and forms, tick the confirm items"
                + (
                    "; an investigator may override the overridable items with a reason"
                    if overridable
                    else ""
                ),
            )
        overridden = [i for i in items if i.status == ItemStatus.OVERRIDDEN]
        if overridden and not allowed("override_checklist", actor.role):
            raise PermissionDeniedError(
                f"{actor.username} ({actor.role}) may not override the pre-dose checklist",
                expected="an investigator",
            )
        stored_items = [
            {
                **i.to_dict(),
                **(
                    {"reason": marked[i.id]}
                    if i.status == ItemStatus.NOT_APPLICABLE and i.id in marked
                    else {}
                ),
            }
            for i in items
        ]
        row = DosingChecklist(
            participant_id=p.id,
            dosing_session_id=ds.id,
            items=stored_items,
            completed_at=when,
            completed_by=actor.user_id,
            override_reason=reason if overridden else None,
            idempotency_key=idempotency_key,
        )
        w.create(row)
        if overridden:
            w.uow.add(
                ProtocolDeviation(
                    participant_id=p.id,
                    visit_id=ds.visit_id,
                    category=DeviationCategory.CHECKLIST_OVERRIDE.value,
                    description=f"pre-dose checklist {row.id} of session {ds.session_number}: "
                    + "; ".join(f"{i.id} ({i.detail})" for i in overridden)
                    + f"; override by {actor.username}",
                    major=True,
                    occurred_date=when.date(),
                    reported_by=actor.user_id,
                )
            )
            w.uow.flush()
        return _record(session, p, planned, ds, when, items, row)
