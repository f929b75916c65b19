"""Forms: record an assessment (validate → score → store → audit → safety rules → alerts, in one
transaction) and edit it (stale versions, reasons, signed and locked forms refused)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, Engine, and_, bindparam, join, or_, select
from sqlalchemy.orm import Session, aliased

from remit.errors import (
    ConflictError,
    InputError,
    LockedError,
    NotFoundError,
    PermissionDeniedError,
)
from remit.protocol import Assessment as PlannedForm
from remit.protocol import Protocol
from remit.protocol.roles import SYSTEM_ROLE, Role
from remit.protocol.status import (
    ENTRY_STATUSES,
    NO_DATA_STATUSES,
    AssessmentStatus,
    entry_status,
)
from remit.safety import evaluate_score
from remit.scales import ScaleDefinition, ScoreResult, load_scale, score
from remit.services._common import (
    alert_record,
    assessment_record,
    assessment_records,
    check_unlocked,
    plausible_time,
    store_alerts,
    visit_at,
)
from remit.services.access import RATER_ROLES
from remit.services.blinding import PriorScores, check_dosing_form, without_dosing_forms
from remit.services.records import AssessmentRecord
from remit.services.signing import void_signatures
from remit.services.unit import Write, owner_of, reading, writing
from remit.services.visits import check_form_date
from remit.store import Actor, UnitOfWork
from remit.store.queries import as_loaded, hot_rows, model_columns, unsaved
from remit.store.tables import Alert, Assessment, AuditEvent, Participant, Visit


def planned_form(protocol: Protocol, visit_code: str, scale: str) -> tuple[PlannedForm, ...]:
    """The protocol's entries for ``scale`` at ``visit_code``; refuses an unknown visit or a
    scale the protocol does not assess there."""
    forms = protocol.assessments_at(visit_code)  # NotFoundError for an unknown visit
    found = tuple(f for f in forms if f.scale == scale)
    if not found:
        raise InputError(
            f"scale {scale!r} is not assessed at {visit_code} in protocol {protocol.study.id}",
            expected="one of " + (", ".join(dict.fromkeys(f.scale for f in forms)) or "(none)"),
            hint="check the visit code, or `remit protocol show` for the schedule of assessments",
        )
    return found


def choose_version(
    planned: tuple[PlannedForm, ...], scale: str, version: str | None
) -> tuple[PlannedForm, str]:
    """The planned entry and scale version to use (the protocol's, unless one is given)."""
    definition = load_scale(scale)
    by_version = {definition.check_version(f.version): f for f in planned}
    if version is None:
        if len(by_version) > 1:
            raise InputError(
                f"scale {scale} is planned in several versions here",
                expected="version= one of " + ", ".join(by_version),
            )
        only, form = next(iter(by_version.items()))
        return form, only
    if version not in by_version:
        raise InputError(
            f"version {version!r} of {scale} is not the one the protocol plans at this visit",
            expected="one of " + ", ".join(by_version),
        )
    return by_version[version], version


def check_rater(actor: Actor, planned: PlannedForm) -> None:
    """Refuse an actor whose role may not enter this form (e.g. MADRS by an independent rater)."""
    if actor.role == SYSTEM_ROLE:
        return
    roles = RATER_ROLES.get(planned.rater, frozenset())
    if actor.role not in roles:
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role}) may not enter {planned.scale}: the protocol has it "
            f"rated by {planned.rater.replace('_', ' ')}",
            expected="a user with the role " + " or ".join(sorted(roles)),
        )


def refuse_second_form(session: Session, what: str, *where: ColumnElement[bool]) -> None:
    """Refuse a form where one is already stored (the assessment ``where`` selects):
    :class:`ConflictError` ``"<what> (assessment <id>)"``, pointing to the edit."""
    existing = session.scalar(select(Assessment.id).where(*where))
    if existing is not None:
        raise _second_form(what, existing)


def _second_form(what: str, existing: int) -> ConflictError:
    return ConflictError(
        f"{what} (assessment {existing})",
        hint=f"edit it with update_assessment({existing}, …)",
    )


_FORM_VISIT = aliased(Visit)

#: The participant's visit being entered (its columns) with their forms of one scale at that
#: visit and at the scale's baseline visit, newest first (none: one row of NULL columns): one
#: statement for the visit, the one-form-per-visit rule and the baseline the safety rules
#: compare with (the forms as columns only: no ORM objects to build). Built once; run
#: through the DB-API cursor (:func:`~remit.store.queries.hot_rows`).
_VISIT_COLUMNS = model_columns(Visit)
_VISIT_WITH_FORMS_HERE_AND_AT_BASELINE = (
    select(
        *_VISIT_COLUMNS,
        Assessment.id,
        Assessment.visit_id,
        Assessment.status,
        Assessment.answers,
        Assessment.scale_version,
        _FORM_VISIT.visit_code,
    )
    .outerjoin(
        join(Assessment, _FORM_VISIT, _FORM_VISIT.id == Assessment.visit_id),
        and_(
            Assessment.participant_id == bindparam("participant_id"),
            Assessment.scale == bindparam("scale"),
            or_(
                Assessment.visit_id == Visit.id,
                _FORM_VISIT.visit_code == bindparam("baseline_visit"),
            ),
        ),
    )
    .where(
        Visit.participant_id == bindparam("participant_id"),
        Visit.visit_code == bindparam("visit_code"),
    )
    .order_by(Assessment.id.desc())
)


#: The baseline visit of each scale by protocol object (one per stored protocol text: the
#: protocol is not changed once parsed), worked out once per process.
_BASELINE_VISITS: dict[tuple[int, str], tuple[Protocol, str | None]] = {}


def _baseline_visit(protocol: Protocol, scale: str) -> str | None:
    found = _BASELINE_VISITS.get((id(protocol), scale))
    if found is not None and found[0] is protocol:
        return found[1]
    try:
        visit: str | None = protocol.baseline_visit(scale)
    except NotFoundError:
        visit = None
    if len(_BASELINE_VISITS) >= _BASELINE_SCORES_KEPT:
        _BASELINE_VISITS.clear()
    _BASELINE_VISITS[(id(protocol), scale)] = (protocol, visit)
    return visit


class _Form(NamedTuple):
    id: int
    visit_id: int
    status: str
    answers: dict[str, Any]
    scale_version: str
    visit_code: str


@dataclass(frozen=True)
class _VisitAndForms:
    """The visit a form is entered at and the participant's forms of its scale there and at
    the scale's baseline visit (:func:`_visit_with_forms`)."""

    visit: Visit
    forms: list[_Form]  # newest first
    baseline_visit: str | None

    def refuse_second(self, p: Participant, scale: str) -> None:
        """Refuse a second ``scale`` form at the visit (as :func:`refuse_second_form`)."""
        for row in self.forms:
            if row.visit_id == self.visit.id:
                raise _second_form(
                    f"{p.study_id} already has a {scale} form at {self.visit.visit_code}", row.id
                )

    def baseline(self, protocol: Protocol, scale: str) -> ScoreResult | None:
        """The score of the participant's form at the scale's baseline visit (as
        :func:`_baseline` finds it for a form not stored yet)."""
        for row in self.forms:  # newest first
            if row.visit_code == self.baseline_visit and row.status != AssessmentStatus.DRAFT.value:
                return baseline_score(protocol, scale, row.answers, row.scale_version)
        return None


#: Scores of stored baseline forms by what they were computed from; each follow-up form of a
#: participant compares with the same baseline form, scored once per process.
_BASELINE_SCORES: dict[tuple[Any, ...], tuple[Protocol, ScaleDefinition, ScoreResult]] = {}
_BASELINE_SCORES_KEPT = 4096


def baseline_score(
    protocol: Protocol, scale: str, answers: Mapping[str, Any], version: str | None
) -> ScoreResult:
    """:func:`score_form` of a stored form, remembered: the score of the same answers by the
    same protocol object (one per stored protocol text) and the same scale definition object
    (a new one when a kept or user scale changes) is the same. Read only: the safety rules
    read the baseline's values and change nothing of it."""
    definition = load_scale(scale)
    try:
        key = (id(protocol), id(definition), scale, version, *sorted(answers.items()))
        found = _BASELINE_SCORES.get(key)
    except TypeError:  # an answer that cannot be a key (a list): scored each time
        return score_form(protocol, scale, answers, version)
    if found is not None and found[0] is protocol and found[1] is definition:
        return found[2]
    result = score_form(protocol, scale, answers, version)
    if len(_BASELINE_SCORES) >= _BASELINE_SCORES_KEPT:
        _BASELINE_SCORES.clear()
    _BASELINE_SCORES[key] = (protocol, definition, result)
    return result


def _visit_with_forms(
    session: Session, protocol: Protocol, p: Participant, visit_code: str, scale: str
) -> _VisitAndForms:
    """The participant's visit ``visit_code`` (:class:`NotFoundError` when not scheduled, as
    :func:`~remit.services._common.visit_at`) and their ``scale`` forms there and at the
    scale's baseline visit, in one query."""
    baseline_visit = _baseline_visit(protocol, scale)
    rows = hot_rows(
        session,
        _VISIT_WITH_FORMS_HERE_AND_AT_BASELINE,
        {
            "participant_id": p.id,
            "scale": scale,
            "visit_code": visit_code,
            "baseline_visit": baseline_visit,
        },
    )
    if not rows:
        return _VisitAndForms(visit_at(session, p, visit_code), [], baseline_visit)
    n = len(_VISIT_COLUMNS)
    forms = [_Form(*row[n:]) for row in rows if row[n] is not None]
    return _VisitAndForms(as_loaded(session, Visit, rows[0][:n]), forms, baseline_visit)


def score_form(
    protocol: Protocol, scale: str, answers: Mapping[str, object], version: str | None
) -> ScoreResult:
    """Score a form of the trial with the protocol's ``[scoring.<scale>]`` settings: its
    missing-item rule (else the scale's own) and the items it marks as safety items."""
    settings = protocol.scoring_of(scale)
    return score(
        scale,
        answers,
        version=version,
        missing=settings.missing_rule(),
        safety_items=settings.safety_items,
    )


def _stored_score(protocol: Protocol, a: Assessment) -> ScoreResult:
    return score_form(protocol, a.scale, a.answers, a.scale_version)


def _baseline(
    session: Session, protocol: Protocol, p: Participant, a: Assessment
) -> ScoreResult | None:
    """The participant's form of the same scale at the protocol's baseline visit of that scale
    (:meth:`Protocol.baseline_visit`; the latest entered there), other than ``a``."""
    visit = _baseline_visit(protocol, a.scale)
    if visit is None:
        return None
    found = session.scalars(
        select(Assessment)
        .join(Visit, Visit.id == Assessment.visit_id)
        .where(
            Assessment.participant_id == p.id,
            Assessment.scale == a.scale,
            Assessment.id != a.id,
            Assessment.status != AssessmentStatus.DRAFT.value,
            Visit.visit_code == visit,
        )
        .order_by(Assessment.id.desc())
    ).first()
    return None if found is None else _stored_score(protocol, found)


def apply_safety_rules(
    uow: UnitOfWork, protocol: Protocol, p: Participant, a: Assessment, result: ScoreResult
) -> tuple[tuple[str, str], ...]:
    """Evaluate the protocol's scale rules on a saved form and store the alerts (same
    transaction); returns the rules that could not be evaluated."""
    return _safety_rules(uow, protocol, p, a, result)[0]


#: What :func:`store_form` is told of the baseline: its score (or ``None``: there is none),
#: or ``"read"``: find it.
KnownBaseline = ScoreResult | None | Literal["read"]


def _safety_rules(
    uow: UnitOfWork,
    protocol: Protocol,
    p: Participant,
    a: Assessment,
    result: ScoreResult,
    known: KnownBaseline = "read",
    *,
    new_record: bool = False,
) -> tuple[tuple[tuple[str, str], ...], list[Alert]]:
    """:func:`apply_safety_rules`, also returning the alert rows it stored (``new_record``:
    ``a`` was made in this transaction, see :func:`store_alerts`)."""
    baseline = _baseline(uow.session, protocol, p, a) if known == "read" else known
    outcome = evaluate_score(protocol, result, baseline=baseline)
    added = store_alerts(uow, p, outcome.alerts, "assessment", a.id, new_record=new_record)
    return outcome.not_evaluated, added


def record_assessment(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    scale: str,
    answers: Mapping[str, object],
    *,
    version: str | None = None,
    idempotency_key: str | None = None,
    status: str = "complete",
    assessed_at: datetime | None = None,
    window_reason: str | None = None,
) -> AssessmentRecord:
    """Validate, score, store a form and apply the safety rules, in one transaction.

    Gated by :func:`remit.services.visits.check_form_date`: refused for a visit the
    participant's status does not allow, a visit not reached (its anchor has not happened, or
    ``assessed_at`` falls before its window opens), a time after now, and a date outside the
    window without a ``window_reason`` (with one, a ``visit_out_of_window`` deviation is
    recorded unless the visit has one). ``assessed_at`` ``None``: the visit's date.

    Refused (nothing written): a visit the protocol does not have; a scale not assessed at that
    visit or in another version; a rater whose role the protocol does not allow for the form
    (e.g. MADRS only by an independent rater); an answer out of range; a second form of the
    same scale at the same visit (edit it with :func:`update_assessment`); a locked participant
    or study; a reused idempotency key with another body. A retry with the same key and body
    returns the original record.

    A form asked to be ``complete`` whose required items (safety items always) are blank is
    saved, as ``incomplete``: the record says ``complete=False`` and names them in
    ``missing_required``; the safety rules run on what is there and those that could not be
    evaluated are listed in ``not_evaluated``.
    """
    if status not in ENTRY_STATUSES:
        raise InputError(f"status {status!r} cannot be entered", expected="draft or complete")
    when = plausible_time(assessed_at, "assessed_at")
    if not isinstance(answers, Mapping):
        raise InputError("answers must be a mapping of item → answer")
    body = {
        "participant": participant,
        "visit": visit_code,
        "scale": scale,
        "answers": dict(answers),
        "version": version,
        "status": status,
        "assessed_at": when,
    }
    if window_reason is not None:
        body["window_reason"] = window_reason
    with writing(
        engine,
        actor,
        "record_assessment",
        participant=participant,
        at=when,
        detail=scale,
        request=body,
        idempotency_key=idempotency_key,
        record_table="assessment",
    ) as w:
        return enter_form(
            w,
            actor,
            visit_code,
            scale,
            answers,
            version=version,
            status=status,
            when=when,
            window_reason=window_reason,
            idempotency_key=idempotency_key,
        )


def enter_form(
    w: Write,
    actor: Actor,
    visit_code: str,
    scale: str,
    answers: Mapping[str, object],
    *,
    version: str | None,
    status: str,
    when: datetime | None,
    window_reason: str | None,
    idempotency_key: str | None = None,
) -> AssessmentRecord:
    """The body of :func:`record_assessment` in ``w``'s transaction (also the path of a
    participant's own forms, :mod:`remit.services.epro`): the planned form and version, who may
    enter it, the visit's date gates, one form per scale and visit, then :func:`store_form`."""
    session, p, protocol = w.session, w.p, w.protocol
    planned = planned_form(protocol, visit_code, scale)
    form, chosen = choose_version(planned, scale, version)
    if form.timing == "during_session":
        raise InputError(
            f"{scale} at {visit_code} is rated during the dosing session",
            hint="record it with record_vas(…, timepoint=…)",
        )
    # Before a replay too: a retry never returns a form to someone who may not enter it.
    check_rater(actor, form)
    if (done := w.stored(Assessment)) is not None:
        return assessment_record(session, p, done)
    if p.status in NO_DATA_STATUSES:
        raise InputError(f"{p.study_id} is {p.status}; no forms are recorded")
    found = _visit_with_forms(session, protocol, p, visit_code, scale)
    visit = found.visit
    check_form_date(
        w.uow,
        protocol,
        p,
        visit,
        when,
        f"a {scale} form",
        window_reason=window_reason,
        reported_by=actor.user_id,
    )
    found.refuse_second(p, scale)
    baseline = found.baseline(protocol, scale)
    row = unsaved(
        Assessment,
        participant_id=p.id,
        visit_id=visit.id,
        status=status,
        idempotency_key=idempotency_key,
        assessed_at=when,
    )
    return store_form(w, row, scale, answers, chosen, baseline=baseline, visit=visit)


def store_form(
    w: Write,
    row: Assessment,
    scale: str,
    answers: Mapping[str, object],
    version: str | None,
    *,
    baseline: KnownBaseline = "read",
    visit: Visit | None = None,
) -> AssessmentRecord:
    """Score ``answers`` into the new form ``row`` of ``w``'s participant, store it, apply the
    safety rules and remember the request's idempotency key, all in ``w``'s transaction.

    ``row.status`` is the status asked for; a ``complete`` form with required items blank is
    stored ``incomplete``. ``baseline``: the score of the participant's baseline form of the
    scale when the caller has read it already (``None``: there is none), else ``"read"``.
    ``visit``: the form's visit (``row.visit_id``'s) when the caller holds it, else read."""
    uow, p = w.uow, w.p
    result = score_form(w.protocol, scale, answers, version)
    given = {key: value for key, value in vars(row).items() if key in _ASSESSMENT_COLUMNS}
    given.update(
        status=entry_status(row.status or AssessmentStatus.COMPLETE, result.complete).value,
        scale=scale,
        scale_version=result.version,
        rater_user_id=uow.actor.user_id,
        rater_role=uow.actor.role,
        answers=dict(result.answers),
        score=result.to_dict(),
        total=result.total,
    )
    # a Core INSERT audited as a flush of the row would be (UnitOfWork.insert); ``row`` stays
    # out of the session (it is never flushed: no change of it is tracked) and takes the
    # stored values, its id, version, entry time …, as plain attributes
    stored = uow.insert(Assessment, given)
    vars(row).update(given)
    vars(row).update((key, value) for key, value in stored.items() if key not in given)
    skipped, added = _safety_rules(uow, w.protocol, p, row, result, baseline, new_record=True)
    w.remember(row.id, at_once=True)
    # a new form's alerts are the ones just raised: no other alert can name its id
    alerts = tuple(alert_record(a, p.study_id) for a in added)
    return assessment_record(uow.session, p, row, not_evaluated=skipped, alerts=alerts, visit=visit)


#: The column attributes of a form (what :func:`store_form` inserts of its row).
_ASSESSMENT_COLUMNS = frozenset(prop.key for prop in Assessment.__mapper__.column_attrs)


def _changed_since(session: Session, assessment_id: int, expected_version: int) -> list[str]:
    """Fields (and answer items) changed by the saves after ``expected_version``."""
    rows = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.table_name == "assessment", AuditEvent.record_id == assessment_id)
            .order_by(AuditEvent.id)
        )
    )
    later = {
        r.transaction_id
        for r in rows
        if r.field == "version"
        and r.new_value is not None
        and json.loads(r.new_value) > expected_version
    }
    fields: set[str] = set()
    for r in rows:
        if r.transaction_id not in later or r.field in (None, "version"):
            continue
        if r.field == "answers":
            old = json.loads(r.old_value) if r.old_value else {}
            new = json.loads(r.new_value) if r.new_value else {}
            fields.update(
                f"answers.{k}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
            )
        elif r.field != "score":
            fields.add(r.field)
    return sorted(fields)


def update_assessment(
    engine: Engine,
    actor: Actor,
    assessment_id: int,
    answers: Mapping[str, object],
    *,
    expected_version: int,
    reason: str | None = None,
    status: str | None = None,
) -> AssessmentRecord:
    """Edit a form's answers (and/or complete a draft) based on the version read.

    Refused (nothing written): a stale ``expected_version`` (:class:`ConflictError` naming the
    fields changed since); a complete form without a reason; a signed or locked form
    (:class:`LockedError`); answers out of range. The safety rules run again on the new answers.

    An ``incomplete`` form is edited like a draft and becomes ``complete`` once its required
    items are filled (unless ``status="draft"``); a complete form whose edit blanks a required
    item becomes ``incomplete``.
    """
    if not isinstance(answers, Mapping):
        raise InputError("answers must be a mapping of item → answer")
    with writing(
        engine,
        actor,
        "update_assessment",
        participant=owner_of(Assessment, assessment_id, "assessment"),
        reason=reason,
    ) as w:
        uow, session, p, protocol = w.uow, w.session, w.p, w.protocol
        row = session.get_one(Assessment, assessment_id)
        if row.status in (AssessmentStatus.SIGNED.value, AssessmentStatus.LOCKED.value):
            raise LockedError(
                f"assessment {assessment_id} ({row.scale} of {p.study_id}) is {row.status}",
                hint="a signed or locked form cannot be edited; ask a data manager",
            )
        check_unlocked(session, p.id, "assessment", row.id)
        if expected_version != row.version:
            changed = _changed_since(session, row.id, expected_version)
            raise ConflictError(
                f"assessment {assessment_id} is at version {row.version}, not "
                f"{expected_version}: changed since you read it: "
                + (", ".join(changed) or "(no field recorded)"),
                hint="reload the form and apply your change again",
            )
        requested = status or (
            AssessmentStatus.COMPLETE.value
            if row.status == AssessmentStatus.INCOMPLETE.value
            else row.status
        )
        if requested not in ENTRY_STATUSES or (
            row.status == AssessmentStatus.COMPLETE.value and requested != row.status
        ):
            raise InputError(
                f"a {row.status} form cannot become {requested}",
                expected="draft or incomplete → draft or complete; complete stays complete",
            )
        # the role that entered a form edits it; a data manager corrects any; forms entered by
        # Remit itself (simulation) by anyone allowed to rate them
        if actor.role not in (Role.DATA_MANAGER, SYSTEM_ROLE) and row.rater_role not in (
            None,
            SYSTEM_ROLE,
            actor.role,
        ):
            raise PermissionDeniedError(
                f"{actor.username} ({actor.role}) may not edit a form entered by a "
                f"{row.rater_role.replace('_', ' ')}",
            )
        if row.status == AssessmentStatus.COMPLETE.value and not (reason and reason.strip()):
            raise InputError(
                f"changing complete assessment {assessment_id} ({row.scale} of {p.study_id}) "
                "needs a reason",
                expected="reason='…'",
            )
        visit_code = session.get_one(Visit, row.visit_id).visit_code if row.visit_id else None
        if actor.role != Role.DATA_MANAGER and visit_code in protocol.visit_codes:
            check_rater(actor, planned_form(protocol, visit_code, row.scale)[0])
        result = score_form(protocol, row.scale, answers, row.scale_version)
        new_status = entry_status(requested, result.complete).value
        new_answers = dict(result.answers)
        if new_answers == row.answers and new_status == row.status:
            return assessment_record(session, p, row)
        row.answers = new_answers
        row.score = result.to_dict()
        row.total = result.total
        row.status = new_status
        session.flush()
        void_signatures(uow, "assessment", row.id, reason or "form edited")
        skipped = apply_safety_rules(uow, protocol, p, row, result)
        return assessment_record(session, p, row, not_evaluated=skipped)


def get_assessment(engine: Engine, actor: Actor, assessment_id: int) -> AssessmentRecord:
    """One form with its score and alerts."""
    with reading(
        engine,
        actor,
        "view_participants",
        "get_assessment",
        participant=owner_of(Assessment, assessment_id, "assessment"),
    ) as r:
        row = r.session.get_one(Assessment, assessment_id)
        check_dosing_form(r, actor, row)  # a VAS rated during a dosing session
        blind = PriorScores.in_force(r.session, actor)
        return r.one(blind.assessment(assessment_record(r.session, r.p, row), row))


def list_assessments(
    engine: Engine, actor: Actor, participant: int | str, *, visit_code: str | None = None
) -> list[AssessmentRecord]:
    """A participant's forms (optionally of one visit), in the order entered."""
    with reading(
        engine, actor, "view_participants", "list_assessments", participant=participant
    ) as r:
        session, p = r.session, r.p
        query = select(Assessment).where(Assessment.participant_id == p.id).order_by(Assessment.id)
        blind = PriorScores.in_force(session, actor)
        rows = without_dosing_forms(r, actor, list(session.scalars(query)))
        found = [
            blind.assessment(record, a)
            for record, a in zip(assessment_records(session, p, rows), rows, strict=True)
        ]
        if visit_code is not None:
            found = [a for a in found if a.visit_code == visit_code]
        return r.returning(found)


def answers_of(record: AssessmentRecord) -> dict[str, Any]:
    """The stored answers of a form (for an edit that changes a few items)."""
    return dict(record.answers)
