"""Blinding: what a blinded role sees of the allocation, and emergency unblinding (issue 14).

The protocol's ``[blinding]`` table (:class:`remit.protocol.blinding.Blinding`) names the
blinded roles. For them:

- a participant's arm is never shown: the analysis data's ``arm`` column reads
  :data:`BLINDED` for every randomised participant (so exports keep their structure with the
  arm masked, ``ARM``/``ARMCD``/``ACTARM`` = ``BLINDED``), and the participant records carry
  the kit only;
- a dose is shown in blinded form, "kit 1042, initial dose given", never in mg (a placebo kit's
  0 mg would name the arm): :func:`dose_shown`, and the analysis data's ``dose_mg`` is empty;
- a dose check says "kit 1042: the initial dose differs from the planned initial dose" without
  the numbers (:func:`dose_problem`);
- the independent rater sees no dosing data unless ``rater_sees_dosing``
  (:func:`check_rater_may_see_dosing`; every read service of dosing sessions, dosing days
  and the pre-dose checklist refuses through :func:`check_dosing_read`, the refusal on the
  audit trail as ``read_refused``);
- the independent rater reads no score or answer of an *earlier* form of any scale (the
  ones they rate, the self-reports, the C-SSRS) unless ``rater_sees_prior_scores``
  (:class:`PriorScores`, the one filter every read path applies);
- the independent rater reads no safety data (adverse events, vital signs, concomitant
  medications, clinical results, the alerts they raise) nor the free text that may quote them
  or a score (status reasons, visit deviations, data queries) unless ``rater_sees_safety``
  (:class:`SafetyBlind`).

Emergency unblinding (:func:`emergency_unblind`): a role the protocol allows (investigators)
breaks the blind of one participant, with a reason. The arm is returned to that person only (it
is not stored in the clear: the record names the allocation, whose slot keeps the arm sealed),
an alert of rule :data:`UNBLINDING_RULE` is raised in the same transaction so that the
notification chain (:mod:`remit.services.notify`) tells the people the protocol names, the
unblinded roles list every unblinding with the arm (:func:`list_unblindings`), and the
analysis data flag the participant (``unblinded_at``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import replace as _replace
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Engine, Select, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from remit.analysis import BLINDED_ARM
from remit.errors import ConflictError, InputError, PermissionDeniedError
from remit.protocol import Protocol
from remit.protocol.eligibility import CriterionResult, EligibilityResult
from remit.protocol.roles import UNBLINDED_ROLES, Role
from remit.protocol.status import UNFINISHED_STATUSES
from remit.protocol.vocab import Level
from remit.safety import Alert as SafetyAlert
from remit.services._common import (
    now_utc,
    open_locks,
    protocol_in_force,
    store_alerts,
    text_given,
    username_of,
)
from remit.services.records import (
    AlertRecord,
    AssessmentRecord,
    ParticipantRecord,
    QueryRecord,
    SignedItem,
    SigningPreviewRecord,
    VisitRecord,
    _Record,
)
from remit.services.unit import Read, reading, writing
from remit.store import Actor, UnitOfWork
from remit.store.allocation import (
    Allocation,
    EmergencyUnblinding,
    RandomisationSlot,
    allocation_key_of,
    slot_place,
)
from remit.store.audit_read import AuditEntry
from remit.store.coding import CodedTerm
from remit.store.delivery import AlertDelivery
from remit.store.dosing import Dose, DosingSession
from remit.store.results import ClinicalResult, DosingChecklist
from remit.store.tables import (
    AdverseEvent,
    Alert,
    Assessment,
    ConcomitantMedication,
    DataQuery,
    DataQueryMessage,
    Lock,
    Participant,
    ProtocolDeviation,
    Visit,
)
from remit.store.vitals import VitalSignReading, VitalSignValue
from remit.store.vocab import AuditAction, LockLevel

__all__ = [
    "BLINDED",
    "SAFETY_HIDDEN",
    "SCORES_HIDDEN",
    "UNBLINDING_RULE",
    "DosingAlerts",
    "PriorScores",
    "SafetyBlind",
    "UnblindingRecord",
    "blinded",
    "blinded_audit",
    "check_dosing_audit",
    "check_dosing_form",
    "check_dosing_read",
    "check_rater_may_see_dosing",
    "check_study_locked_for_unblinding",
    "dose_problem",
    "dose_shown",
    "dosing_alert_ids",
    "dosing_blind_roles",
    "emergency_unblind",
    "list_unblindings",
    "mask_trial_frames",
    "may_see_dosing",
    "rater_queries",
    "without_dosing_forms",
]

#: What a blinded role reads where the arm would be (analysis data, exports): the analysis
#: knows it too, to refuse a by-arm plan on blinded data.
BLINDED = BLINDED_ARM
#: The rule id of the alert an emergency unblinding raises (notified as alerts are).
UNBLINDING_RULE = "blinding:emergency_unblinding"
#: The level of that alert: the protocol's notification chain for ``urgent`` tells people.
UNBLINDING_LEVEL: Level = "urgent"


def blinded(protocol: Protocol, role: str) -> bool:
    """Whether ``role`` is blind to the allocation under ``protocol`` (never in an open-label
    protocol, never an unblinded role, never Remit itself).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> rct = load_protocol("mdma-mdd-rct-example")
    >>> blinded(rct, "investigator"), blinded(rct, "unblinded_statistician"), blinded(rct, "system")
    (True, False, False)
    >>> blinded(load_protocol("oslo-mdma-mdd"), "investigator")
    False
    """
    return protocol.blinding is not None and protocol.blinding.blinds(role)


def dose_shown(kit: int | None, kind: str, status: str) -> str:
    """A dose in blinded form: the kit and what was done, never the mg.

    Examples
    --------
    >>> dose_shown(1042, "initial", "given")
    'kit 1042, initial dose given'
    >>> dose_shown(None, "supplemental", "withheld")
    'kit not allocated, supplemental dose withheld'
    """
    where = f"kit {kit}" if kit is not None else "kit not allocated"
    return f"{where}, {kind} dose {status}"


def dose_problem(kit: int | None, kind: str) -> str:
    """A dose check's finding for a blinded protocol: no numbers, which may differ by arm.

    Examples
    --------
    >>> dose_problem(1042, "initial")
    'kit 1042: the initial dose differs from the planned initial dose'
    """
    where = f"kit {kit}" if kit is not None else "kit not allocated"
    return f"{where}: the {kind} dose differs from the planned {kind} dose"


def blinded_audit(
    session: Session, actor: Actor, entries: Sequence[AuditEntry]
) -> list[AuditEntry]:
    """An audit history as a blinded role may see it: a dose's mg (its ``dose_mg`` column,
    or the column in a whole row) reads :data:`BLINDED`, as :func:`dose_shown` shows the dose
    (a placebo kit's 0 mg would name the arm). The protocol is read only when the history
    holds a dose."""
    if not any(e.table_name == Dose.__tablename__ for e in entries):
        return list(entries)
    if not blinded(protocol_in_force(session)[0], actor.role):
        return list(entries)
    return [_blinded_dose(e) if e.table_name == Dose.__tablename__ else e for e in entries]


def _blinded_dose(e: AuditEntry) -> AuditEntry:
    mg = Dose.dose_mg.key
    if e.field == mg:
        return _replace(
            e,
            old_value=None if e.old_value is None else BLINDED,
            new_value=None if e.new_value is None else BLINDED,
        )
    if e.field is None:
        return _replace(
            e,
            old_value=_masked_columns(e.old_value, frozenset({mg}), BLINDED),
            new_value=_masked_columns(e.new_value, frozenset({mg}), BLINDED),
        )
    return e


def check_rater_may_see_dosing(protocol: Protocol, actor: Actor) -> None:
    """Refuse the independent rater's read of dosing data unless the protocol allows it (and
    lets them see the safety data: the dosing day shows its vital signs and adverse events)."""
    b = protocol.blinding
    if b is None or actor.role != Role.INDEPENDENT_RATER:
        return
    if b.rater_sees_dosing and b.hides_safety_from(actor.role):  # a P041 finding, refused too
        raise _refusal("vital signs and adverse events, which the dosing day shows")
    if b.rater_sees_dosing:
        return
    raise PermissionDeniedError(
        f"{actor.username} (independent_rater) may not see dosing data: the protocol keeps "
        "the independent rater blind to dosing",
        expected="an investigator or therapist",
        hint="the protocol's [blinding] rater_sees_dosing = true would allow it",
    )


def may_see_dosing(protocol: Protocol, actor: Actor) -> bool:
    """Whether ``actor`` may read dosing data (:func:`check_rater_may_see_dosing` would let
    them): a page that lists dosing sessions among other things leaves them out otherwise."""
    try:
        check_rater_may_see_dosing(protocol, actor)
    except PermissionDeniedError:
        return False
    return True


def check_dosing_read(
    read: Read,
    actor: Actor,
    protocol: Protocol | None = None,
    table: str = DosingSession.__tablename__,
    record_id: int = 0,
    participant_id: int | None = None,
) -> None:
    """:func:`check_rater_may_see_dosing` for a read service: the refusal is on the audit
    trail as ``read_refused`` (of ``table``, record ``record_id``; 0 for a list), as the
    refusals of :class:`SafetyBlind` are. A dosing session's notes, its discharge and
    follow-up notes, the doses and the day's vital signs quote MDMA's effects ("bruxism",
    "vomited", a raised blood pressure): a caller of the service (the CLI, a script) gets
    the same refusal as the pages. The protocol in force is read when not given, and only
    for the independent rater (nobody else is refused). The refusal names ``participant_id``
    when given (a read without a participant: an audit history), else the read's."""
    if actor.role != Role.INDEPENDENT_RATER:
        return
    if participant_id is None and read.participant is not None:
        participant_id = read.participant.id
    _refuse_dosing(read.uow, actor, protocol, table, record_id, participant_id)


def _refuse_dosing(
    uow: UnitOfWork,
    actor: Actor,
    protocol: Protocol | None,
    table: str,
    record_id: int,
    participant_id: int | None,
) -> None:
    """:func:`check_rater_may_see_dosing` (the protocol in force read when not given), the
    refusal written as ``read_refused`` of ``table`` record ``record_id``."""
    if protocol is None:
        protocol = protocol_in_force(uow.session)[0]
    try:
        check_rater_may_see_dosing(protocol, actor)
    except PermissionDeniedError:
        why = _WHY if SafetyBlind.of(protocol, actor).active else _WHY_DOSING
        _audit_refusal(uow, table, record_id, participant_id, "dosing data", why)
        raise


#: The tables of dosing data: their audit histories are refused to the rater blind to dosing
#: (:func:`check_dosing_audit`), whether or not the rater may see the safety data.
DOSING_TABLES = frozenset(
    {DosingSession.__tablename__, Dose.__tablename__, DosingChecklist.__tablename__}
)


def check_dosing_audit(read: Read, actor: Actor, entries: Sequence[AuditEntry]) -> None:
    """Refuse the audit history of a dosing session, a dose, a pre-dose checklist, a form
    rated during the session, a reading of vital signs taken during it (or one of its values),
    or an alert from the dosing day (:func:`dosing_alert_ids`) to the independent rater blind
    to dosing, as :func:`check_dosing_read` refuses the records
    (audited as ``read_refused``). :class:`SafetyBlind` refuses most of them too when it is
    active; with ``rater_sees_safety = true`` and ``rater_sees_dosing = false`` it is not, and
    the history would show the session's notes, the doses, the checklist's reasons, the
    readings and the alerts they raised ("systolic 172 mmHg 60 min after the dose")."""
    if actor.role != Role.INDEPENDENT_RATER or not entries:
        return
    table, record_id = entries[0].table_name, entries[0].record_id
    if _dosing_record(read.session, table, record_id):
        check_dosing_read(
            read,
            actor,
            table=table,
            record_id=record_id,
            participant_id=entries[0].participant_id,
        )


def check_dosing_query(
    uow: UnitOfWork, actor: Actor, table: str, record_id: int, participant: Participant | None
) -> None:
    """Refuse the independent rater blind to dosing an answer to a data query on a record of
    the dosing day (a dosing session, a dose, a pre-dose checklist, a form rated during the
    session, a reading of vital signs taken during it, an alert of the dosing day: the answer
    would show the query and its thread, which quote the dosing day; :func:`rater_queries`
    leaves such queries out of their list), audited as ``read_refused``, as
    :meth:`SafetyBlind.check_in` refuses one on a hidden record (which covers most of these
    tables when the safety blind is active)."""
    if actor.role != Role.INDEPENDENT_RATER or not _dosing_record(uow.session, table, record_id):
        return
    key = None if participant is None else participant.id
    _refuse_dosing(uow, actor, None, table, record_id, key)


def without_dosing_forms(read: Read, actor: Actor, rows: Sequence[Assessment]) -> list[Assessment]:
    """The forms of ``rows`` this reader may know of: for the independent rater blind to
    dosing, not those rated during a dosing session (the subjective-effects VAS, linked to
    the session: that they exist, and when, tells the course of a dosing day, which
    :func:`check_dosing_read` refuses; their scores are hidden by :class:`PriorScores`, but
    a list showing the forms would still say they were rated). The protocol is read only
    for the rater and only when a row was rated during a session."""
    if actor.role != Role.INDEPENDENT_RATER or all(a.dosing_session_id is None for a in rows):
        return list(rows)
    if may_see_dosing(protocol_in_force(read.session)[0], actor):
        return list(rows)
    return [a for a in rows if a.dosing_session_id is None]


def check_dosing_form(read: Read, actor: Actor, row: Assessment) -> None:
    """Refuse one form rated during a dosing session to the rater blind to dosing (audited
    as ``read_refused``, as :func:`check_dosing_read`); any other form passes."""
    if row.dosing_session_id is not None:
        check_dosing_read(read, actor, table=Assessment.__tablename__, record_id=row.id)


# --------------------------------------------------------------------------- dosing alerts


#: A form rated during a dosing session (the subjective-effects VAS), a reading of vital signs
#: taken during one: the two records of the dosing day that are not dosing tables themselves.
_RATED_DURING_SESSION = Assessment.dosing_session_id.is_not(None)
_TAKEN_DURING_SESSION = VitalSignReading.dosing_session_id.is_not(None)


def _from_dosing_day(alert: Any) -> ColumnElement[bool]:
    """Whether ``alert`` (the alert table or an alias of it) was raised by a record of the
    dosing day: a dosing session (a missed planned reading), a dose or a pre-dose checklist,
    a form rated during the session (the subjective-effects VAS), a reading of vital signs
    taken during it."""
    return or_(
        alert.source_table.in_(sorted(DOSING_TABLES)),
        (alert.source_table == Assessment.__tablename__)
        & alert.source_id.in_(select(Assessment.id).where(_RATED_DURING_SESSION)),
        (alert.source_table == VitalSignReading.__tablename__)
        & alert.source_id.in_(select(VitalSignReading.id).where(_TAKEN_DURING_SESSION)),
    )


def dosing_alert_ids() -> Select[int]:
    """The ids of the alerts raised from the dosing day (:func:`_from_dosing_day`), and of the
    undeliverable alerts (``source_table`` ``alert``) raised about one of them, whose text
    names the first alert's rule and level: one subquery, whatever the data."""
    original = aliased(Alert)
    about_one = (Alert.source_table == Alert.__tablename__) & Alert.source_id.in_(
        select(original.id).where(_from_dosing_day(original))
    )
    return select(Alert.id).where(or_(_from_dosing_day(Alert), about_one))


def dosing_blind_roles(protocol: Protocol) -> frozenset[str]:
    """The roles that may not be told of an alert from the dosing day: the independent rater
    when the protocol keeps them blind to dosing (:func:`check_rater_may_see_dosing`); none
    otherwise (an open-label protocol, ``rater_sees_dosing = true`` with the safety data).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> sorted(dosing_blind_roles(load_protocol("mdma-mdd-rct-example")))
    ['independent_rater']
    >>> dosing_blind_roles(load_protocol("oslo-mdma-mdd"))
    frozenset()
    """
    rater = Actor(user_id=None, username="independent rater", role=Role.INDEPENDENT_RATER.value)
    if protocol.blinding is None or may_see_dosing(protocol, rater):
        return frozenset()
    return frozenset({Role.INDEPENDENT_RATER.value})


@dataclass(frozen=True)
class DosingAlerts:
    """The read filter of the alerts for the independent rater blind to dosing: the alerts
    raised from the dosing day (:func:`dosing_alert_ids`: a dosing-day reading of vital signs
    beyond its limits, a form rated during the session, a planned reading missed) are left
    out of their alert lists and delivery log, and their audit histories refused, as the
    records that raised them are (:func:`check_dosing_read`). Their rule, level, text and
    their very number differ by arm: MDMA raises the blood pressure and heart rate.

    Active whenever the rater may not see dosing data, whatever ``rater_sees_safety``: with
    ``rater_sees_safety = false`` :class:`SafetyBlind` leaves out every alert not raised by
    a form, and this filter the forms rated during the session as well. Nobody else is
    filtered: the investigators read and act on every alert, and the notification chain
    (:mod:`remit.services.notify`) never tells the rater of one (:func:`dosing_blind_roles`).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> rater = Actor(user_id=3, username="rita", role="independent_rater")
    >>> DosingAlerts.of(load_protocol("mdma-mdd-rct-example"), rater).active
    True
    >>> DosingAlerts.of(load_protocol("oslo-mdma-mdd"), rater).active
    False
    """

    active: bool = False

    @classmethod
    def of(cls, protocol: Protocol, actor: Actor) -> DosingAlerts:
        """The filter for ``actor`` under ``protocol`` (inactive when nothing is hidden)."""
        return cls(actor.role in dosing_blind_roles(protocol))

    @classmethod
    def in_force(cls, session: Session, actor: Actor) -> DosingAlerts:
        """The filter for ``actor`` under the protocol in force (read only for the rater)."""
        if actor.role != Role.INDEPENDENT_RATER:
            return cls()
        return cls.of(protocol_in_force(session)[0], actor)

    def where(self, alert_id: InstrumentedAttribute[int]) -> ColumnElement[bool] | None:
        """The condition that leaves out the alerts from the dosing day (``alert_id``: the
        column naming the alert), or ``None`` when nothing is left out."""
        if not self.active:
            return None
        return alert_id.not_in(dosing_alert_ids())


def _dosing_records(session: Session, table: str, ids: Iterable[int]) -> set[int]:
    """Which of the records ``ids`` of ``table`` come from the dosing day: every dosing
    session, dose and pre-dose checklist; a form rated during a session; a reading of vital
    signs taken during one, and its values; an alert of the dosing day
    (:func:`dosing_alert_ids`). One query per call at most, none for another table."""
    wanted = sorted(set(ids))
    if table in DOSING_TABLES or not wanted:
        return set(wanted)
    if table == Alert.__tablename__:
        query = dosing_alert_ids().where(Alert.id.in_(wanted))
    elif table == Assessment.__tablename__:
        query = select(Assessment.id).where(Assessment.id.in_(wanted), _RATED_DURING_SESSION)
    elif table == VitalSignReading.__tablename__:
        query = select(VitalSignReading.id).where(
            VitalSignReading.id.in_(wanted), _TAKEN_DURING_SESSION
        )
    elif table == VitalSignValue.__tablename__:
        query = (
            select(VitalSignValue.id)
            .join(VitalSignReading, VitalSignValue.vital_sign_id == VitalSignReading.id)
            .where(VitalSignValue.id.in_(wanted), _TAKEN_DURING_SESSION)
        )
    else:
        return set()
    return set(session.scalars(query))


def _dosing_record(session: Session, table: str, record_id: int) -> bool:
    """Whether one record comes from the dosing day (:func:`_dosing_records`): the audit
    histories :func:`check_dosing_audit` refuses, the queries :func:`check_dosing_query`
    refuses to answer."""
    return record_id in _dosing_records(session, table, (record_id,))


# --------------------------------------------------------------------------- prior scores

#: What a rater blind to earlier scores reads where a score, total, answer or band would be.
SCORES_HIDDEN = "hidden: the protocol blinds raters to earlier scores"
#: The columns of an assessment row that carry its scores (masked in its audit history).
SCORE_COLUMNS = frozenset({"answers", "score", "total"})
_UNFINISHED = frozenset(s.value for s in UNFINISHED_STATUSES)


@dataclass(frozen=True)
class PriorScores:
    """The read filter of ``rater_sees_prior_scores = false``: what an actor may read of the
    scores of stored forms. Every read path that returns a form's values passes its results
    through it (forms, alerts, the signing preview, audit histories), so pages, API
    answers and the CLI agree; it filters the results of the read, it never changes a query.

    The independent rater is blind to earlier scores when the protocol blinds them
    (``[blinding]`` lists ``independent_rater``) and ``rater_sees_prior_scores`` is false.
    Then every form of the participant, of every scale, is *earlier* once it is saved
    complete (or signed, locked), or when someone else entered it: not only the scales the
    rater rates (the MADRS) but the self-reports (BDI-II, GAD-7, SDS …, whose course tells the
    course of the illness as well) and the investigator's C-SSRS. Its answers, score, total
    and band read as hidden (:data:`SCORES_HIDDEN`), the alerts it raised are not listed and
    their audit history is refused. The form the rater is entering now (a draft or
    incomplete form they entered themselves) shows what they typed; the answer to the save
    itself (``record_assessment``/``update_assessment``) shows what was just entered, with
    the alerts it raised, and every later read hides it. Nobody else is filtered: the
    investigators read every score (they act on the C-SSRS and its alerts).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> rct = load_protocol("mdma-mdd-rct-example")
    >>> rater = Actor(user_id=3, username="rita", role="independent_rater")
    >>> blind = PriorScores.of(rct, rater)
    >>> blind.hides("complete", 3), blind.hides("draft", 3), blind.hides("draft", 1)
    (True, False, True)
    >>> kari = Actor(user_id=1, username="kari", role="investigator")
    >>> PriorScores.of(rct, kari).active
    False
    >>> PriorScores.of(load_protocol("oslo-mdma-mdd"), rater).active
    False
    """

    active: bool = False
    user_id: int | None = None
    #: Whether a randomisation stratum is read from a form (the RCT's baseline MADRS band
    #: "20-34"/"35+"): then the stratum of an allocation is hidden as well.
    stratum_hidden: bool = False

    @classmethod
    def of(cls, protocol: Protocol, actor: Actor) -> PriorScores:
        """The filter for ``actor`` under ``protocol`` (inactive when nothing is hidden)."""
        b = protocol.blinding
        if (
            b is None
            or b.rater_sees_prior_scores
            or actor.role != Role.INDEPENDENT_RATER
            or not b.blinds(actor.role)
        ):
            return cls()
        strata = protocol.randomisation.strata if protocol.randomisation is not None else ()
        from_forms = any(not isinstance(f.source, str) for f in strata)
        return cls(True, actor.user_id, from_forms)

    @classmethod
    def in_force(cls, session: Session, actor: Actor) -> PriorScores:
        """The filter for ``actor`` under the protocol in force."""
        return cls.of(protocol_in_force(session)[0], actor)

    def hides(self, status: str, rater_user_id: int | None) -> bool:
        """Whether a form in ``status`` entered by ``rater_user_id`` is hidden (every form
        but the reader's own unfinished one, when the filter is active)."""
        if not self.active:
            return False
        return not (status in _UNFINISHED and rater_user_id == self.user_id)

    def hides_form(self, row: Assessment) -> bool:
        """:meth:`hides` for a stored form."""
        return self.hides(row.status, row.rater_user_id)

    def hidden_form_ids(self, session: Session, ids: Iterable[int]) -> frozenset[int]:
        """Which of the assessments ``ids`` are hidden (one query, whatever the arm)."""
        wanted = sorted(set(ids))
        if not self.active or not wanted:
            return frozenset()
        rows = session.execute(
            select(Assessment.id, Assessment.status, Assessment.rater_user_id).where(
                Assessment.id.in_(wanted)
            )
        )
        return frozenset(i for i, status, by in rows if self.hides(status, by))

    def assessment(self, record: AssessmentRecord, row: Assessment) -> AssessmentRecord:
        """The form as this reader may see it: answers, score, total, band, completeness and
        alerts masked when it is hidden (``scores_hidden`` true), the same structure."""
        if not self.active or not self.hides_form(row):
            return record
        return _replace(
            record,
            total=None,
            band=None,
            score={},
            answers={},
            alerts=(),
            not_evaluated=(),
            complete=True,
            missing_required=(),
            scores_hidden=True,
        )

    def alerts(self, session: Session, alerts: Sequence[AlertRecord]) -> list[AlertRecord]:
        """The alerts this reader may see: not those raised by a hidden form (their rule,
        level, deadline and message would tell the answers)."""
        hidden = self.hidden_form_ids(
            session,
            (a.source_id for a in alerts if a.source_table == "assessment" and a.source_id),
        )
        return [a for a in alerts if not (a.source_table == "assessment" and a.source_id in hidden)]

    def preview(self, row: Assessment, record: SigningPreviewRecord) -> SigningPreviewRecord:
        """The signing preview of a hidden form: the items with their labels and hidden
        values, no score, and the signed content without the score columns (its SHA-256 is
        still the stored content's)."""
        if not self.active or not self.hides_form(row):
            return record
        values = dict(record.content.get("values") or {})
        content = dict(record.content) | {
            "values": {k: (SCORES_HIDDEN if k in SCORE_COLUMNS else v) for k, v in values.items()}
        }
        return _replace(
            record,
            items=tuple(SignedItem(i.key, i.label, SCORES_HIDDEN) for i in record.items),
            score={},
            total=None,
            band=None,
            content=content,
            scores_hidden=True,
        )

    def eligibility(self, verdict: EligibilityResult) -> EligibilityResult:
        """Where eligibility stands, as this reader may see it: a criterion read from a form
        (the baseline MADRS, the screening C-SSRS) has its value and reason hidden; its status
        and the checklist's criteria stay."""
        if not self.active:
            return verdict
        return _replace(verdict, criteria=tuple(_hidden_criterion(c) for c in verdict.criteria))

    def audit(self, session: Session, entries: Sequence[AuditEntry]) -> list[AuditEntry]:
        """An audit history as this reader may see it: the score columns of a hidden form
        read :data:`SCORES_HIDDEN`, and so does the stratum of an allocation or list slot when
        it is read from a form, and the values an eligibility check read from forms; the
        history of an alert a hidden form raised is refused."""
        if not self.active:
            return list(entries)
        forms = {e.record_id for e in entries if e.table_name == "assessment"}
        alerts = sorted({e.record_id for e in entries if e.table_name == "alert"})
        raised_by: dict[int, int | None] = dict(
            session.execute(
                select(Alert.id, Alert.source_id).where(
                    Alert.id.in_(alerts), Alert.source_table == "assessment"
                )
            ).all()
        )
        hidden = self.hidden_form_ids(session, forms | {i for i in raised_by.values() if i})
        if any(i in hidden for i in raised_by.values()):
            raise PermissionDeniedError(
                "this alert was raised by an earlier form of the participant, whose scores "
                "the protocol hides from you",
                expected="an investigator, who acts on alerts",
                hint="the protocol's [blinding] rater_sees_prior_scores = true would allow it",
            )
        return [
            _replace(
                e,
                old_value=_hidden_value(e.field, e.old_value),
                new_value=_hidden_value(e.field, e.new_value),
            )
            if (e.table_name == "assessment" and e.record_id in hidden and _scored(e))
            or (self.stratum_hidden and e.table_name in _STRATIFIED and _stratum(e))
            else _replace(
                e,
                old_value=_hidden_results(e.old_value),
                new_value=_hidden_results(e.new_value),
            )
            if e.table_name == "eligibility_check"
            else e
            for e in entries
        ]


def _from_form(source: Any, value: Any) -> bool:
    """Whether an eligibility criterion's value was read from a form."""
    return source not in (None, "checklist") and value is not None


def _hidden_criterion(c: CriterionResult) -> CriterionResult:
    if not _from_form(c.source, c.value):
        return c
    return _replace(c, value=SCORES_HIDDEN, reason=SCORES_HIDDEN)


def _hidden_results(value: Any) -> Any:
    """An eligibility check's ``results`` (or its whole row) with the values read from forms
    hidden."""
    if isinstance(value, dict) and "results" in value:
        return value | {"results": _hidden_results(value["results"])}
    if not isinstance(value, list):
        return value
    return [
        c | {"value": SCORES_HIDDEN, "reason": SCORES_HIDDEN}
        if isinstance(c, dict) and _from_form(c.get("source"), c.get("value"))
        else c
        for c in value
    ]


#: The tables whose rows name a randomisation stratum.
_STRATIFIED = frozenset({"allocation", "randomisation_slot"})


def _stratum(entry: AuditEntry) -> bool:
    return entry.field is None or entry.field == "stratum"


def _scored(entry: AuditEntry) -> bool:
    """Whether an audit row of a form carries scores (a score column, or the whole row)."""
    return entry.field is None or entry.field.split(".", 1)[0] in SCORE_COLUMNS


def _hidden_value(field: str | None, value: Any) -> Any:
    """A hidden value of an audit row: the whole value of a score column (the ``score``
    column's dict too: its band, subscales and derived values tell the answers), the score
    columns and the stratum of a whole row (``field`` ``None``)."""
    if field is None and isinstance(value, dict):
        return {
            k: (SCORES_HIDDEN if k in SCORE_COLUMNS or k == "stratum" else v)
            for k, v in value.items()
        }
    return None if value is None else SCORES_HIDDEN


# --------------------------------------------------------------------------- safety data

#: What a rater blind to the safety data reads where a free text would be (a status reason, a
#: visit's deviation, a data query's text).
SAFETY_HIDDEN = "hidden: the protocol blinds raters to safety data"
#: The tables whose records a rater blind to the safety data may not read, and what the
#: refusal names: MDMA's tell-tale effects (raised blood pressure and heart rate, jaw
#: clenching, euphoria, insomnia) and a new antidepressant or benzodiazepine tell the arm or
#: the course of the illness; a deviation's description, an unblinding's reason and the coded
#: verbatim terms quote them.
SAFETY_TABLES: Mapping[str, str] = {
    AdverseEvent.__tablename__: "adverse events",
    VitalSignReading.__tablename__: "vital signs",
    VitalSignValue.__tablename__: "vital signs",
    ConcomitantMedication.__tablename__: "concomitant medications",
    ClinicalResult.__tablename__: "clinical results",
    CodedTerm.__tablename__: "the coded terms of adverse events and medications",
    ProtocolDeviation.__tablename__: "protocol deviations",
    EmergencyUnblinding.__tablename__: "the reasons for emergency unblindings",
    DosingSession.__tablename__: "dosing sessions, whose notes quote vital signs and adverse "
    "events",
    Dose.__tablename__: "doses, whose reasons quote vital signs and adverse events",
    DosingChecklist.__tablename__: "pre-dose checklists, whose reasons quote results and "
    "vital signs",
    AlertDelivery.__tablename__: "safety alerts",
    DataQuery.__tablename__: "the texts of data queries",
    DataQueryMessage.__tablename__: "the texts of data queries",
}
#: Free-text columns of records the rater reads, masked (a screen-failure reason may quote a
#: C-SSRS answer, a withdrawal reason the course of the illness, a missed visit's reason an
#: adverse event).
FREE_TEXT: Mapping[str, frozenset[str]] = {
    Participant.__tablename__: frozenset({Participant.status_reason.key}),
    Visit.__tablename__: frozenset({Visit.deviation.key}),
}
#: The only source of an alert a rater blind to the safety data is shown: a form (filtered
#: further by :class:`PriorScores`). Alerts of adverse events, vital signs, clinical results,
#: dosing sessions, SAE clocks and emergency unblindings reach the investigators only.
RATER_ALERT_SOURCES = frozenset({Assessment.__tablename__})
_WHY = "the protocol's [blinding] keeps the independent rater blind to the safety data"
_WHY_DOSING = "the protocol's [blinding] keeps the independent rater blind to dosing"


@dataclass(frozen=True)
class SafetyBlind:
    """The read filter of ``rater_sees_safety = false``: what the independent rater may read
    of the safety data.

    Active for the ``independent_rater`` when the protocol's ``[blinding]`` lists the role
    and ``rater_sees_safety`` is false (the RCT example). Then the rater's reads of adverse
    events, vital signs, concomitant medications, clinical results, deviations and their audit
    histories (and those of dosing sessions and doses, whose free text quotes them) are
    refused with "hidden: the protocol blinds raters to …" and the refusal is on the audit
    trail (``read_refused``); lists leave out what the rater may not read (alerts not
    raised by a form, overdue SAEs, queries on those records); the free text that may quote a
    score or an adverse event (a status or screen-failure reason, a visit's deviation, a query
    on a record the rater may not read) reads :data:`SAFETY_HIDDEN`. Nobody else is filtered:
    the alerts still reach the investigators through the notification chain exactly as before.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> rct = load_protocol("mdma-mdd-rct-example")
    >>> rater = Actor(user_id=3, username="rita", role="independent_rater")
    >>> SafetyBlind.of(rct, rater).active
    True
    >>> SafetyBlind.of(rct, Actor(user_id=1, username="kari", role="investigator")).active
    False
    >>> SafetyBlind.of(load_protocol("oslo-mdma-mdd"), rater).active
    False
    """

    active: bool = False

    @classmethod
    def of(cls, protocol: Protocol, actor: Actor) -> SafetyBlind:
        """The filter for ``actor`` under ``protocol`` (inactive when nothing is hidden)."""
        b = protocol.blinding
        return cls(b is not None and b.hides_safety_from(actor.role))

    @classmethod
    def in_force(cls, session: Session, actor: Actor) -> SafetyBlind:
        """The filter for ``actor`` under the protocol in force (read only for the rater:
        nobody else is filtered, and their reads spend no query on it)."""
        if actor.role != Role.INDEPENDENT_RATER:
            return cls()
        return cls.of(protocol_in_force(session)[0], actor)

    def check(self, read: Read, table: str, record_id: int = 0) -> None:
        """Refuse a read of ``table`` (record ``record_id``; 0 for a list) when it is hidden,
        with the refusal on the audit trail."""
        self.check_in(read.uow, table, record_id, read.participant)

    def check_in(
        self, uow: UnitOfWork, table: str, record_id: int, participant: Participant | None
    ) -> None:
        """:meth:`check` in any unit of work (a write that would show the record: the
        answer to a data query on it)."""
        if self.active and table in SAFETY_TABLES:
            key = None if participant is None else participant.id
            refuse_read(uow, table, record_id, key, SAFETY_TABLES[table])

    def alerts(self, alerts: Sequence[AlertRecord]) -> list[AlertRecord]:
        """The alerts this reader may see: those raised by a form only."""
        if not self.active:
            return list(alerts)
        return [a for a in alerts if a.source_table in RATER_ALERT_SOURCES]

    def participant(self, record: ParticipantRecord) -> ParticipantRecord:
        """A participant as this reader may see it: the status reason masked."""
        if not self.active or record.status_reason is None:
            return record
        return _replace(record, status_reason=SAFETY_HIDDEN)

    def visit(self, record: VisitRecord) -> VisitRecord:
        """A visit as this reader may see it: the deviation's text masked."""
        if not self.active or record.deviation is None:
            return record
        return _replace(record, deviation=SAFETY_HIDDEN)

    def signable(
        self, uow: UnitOfWork, table: str, record_id: int, participant: Participant | None
    ) -> None:
        """Refuse a signing preview or signature of anything but a form (what the rater
        authors): the other records carry safety data or free text."""
        if self.active and table != "assessment":
            what = SAFETY_TABLES.get(table, f"{table.replace('_', ' ')} records")
            key = None if participant is None else participant.id
            refuse_read(uow, table, record_id, key, what)

    def audit(self, read: Read, entries: Sequence[AuditEntry]) -> list[AuditEntry]:
        """An audit history as this reader may see it: refused (and the refusal audited) for
        a hidden table or an alert not raised by a form; the free-text columns of
        participants and visits (and the reason of those rows) masked."""
        if not self.active or not entries:
            return list(entries)
        table, record_id = entries[0].table_name, entries[0].record_id
        what = SAFETY_TABLES.get(table)
        if table == "alert":
            source = read.session.scalar(select(Alert.source_table).where(Alert.id == record_id))
            if source not in RATER_ALERT_SOURCES:
                what = "safety alerts"
        if what is not None:
            refuse_read(read.uow, table, record_id, entries[0].participant_id, what)
        return [_masked_free_text(e) for e in entries]


def _refusal(what: str) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"hidden: the protocol blinds raters to {what}",
        expected="an investigator, who reads the safety data and acts on it",
        hint="the protocol's [blinding] rater_sees_safety = true would allow it",
    )


def refuse_read(
    uow: UnitOfWork, table: str, record_id: int, participant_id: int | None, what: str
) -> None:
    """Raise the refusal of a hidden read, written to the audit trail as ``read_refused``
    (after the read's transaction is rolled back, in one of its own)."""
    _audit_refusal(uow, table, record_id, participant_id, what, _WHY)
    raise _refusal(what)


def _audit_refusal(
    uow: UnitOfWork, table: str, record_id: int, participant_id: int | None, what: str, why: str
) -> None:
    """Write the ``read_refused`` row of a hidden read once the read's transaction is rolled
    back (in one of its own)."""
    uow.always(
        lambda u: u.record_event(
            AuditAction.READ_REFUSED,
            table,
            record_id,
            participant_id=participant_id,
            new_value={"hidden": what},
            reason=why,
        )
    )


def _masked_free_text(e: AuditEntry) -> AuditEntry:
    columns = FREE_TEXT.get(e.table_name)
    if columns is None:
        return e
    if e.field is None:
        return _replace(
            e,
            old_value=_masked_columns(e.old_value, columns),
            new_value=_masked_columns(e.new_value, columns),
            reason=None if e.reason is None else SAFETY_HIDDEN,
        )
    if e.field in columns:
        return _replace(
            e,
            old_value=None if e.old_value is None else SAFETY_HIDDEN,
            new_value=None if e.new_value is None else SAFETY_HIDDEN,
            reason=None if e.reason is None else SAFETY_HIDDEN,
        )
    if e.field == "status":  # the status stays; why it changed may quote a score
        return _replace(e, reason=None if e.reason is None else SAFETY_HIDDEN)
    return e


def _masked_columns(value: Any, columns: frozenset[str], marker: str = SAFETY_HIDDEN) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: (marker if k in columns and v is not None else v) for k, v in value.items()}


def rater_queries(
    session: Session, actor: Actor, queries: Sequence[QueryRecord]
) -> list[QueryRecord]:
    """The data queries as this reader may see them. For a rater blind to the safety data
    the queries on hidden records (adverse events, vital signs, medications …) are left out
    and the text and thread of every other query read :data:`SAFETY_HIDDEN`, except those on
    a form the rater may still read (a monitor's free text may quote a score, a C-SSRS
    answer or a reason); for a rater blind to earlier scores only, the text of a query on a
    hidden form reads :data:`SCORES_HIDDEN`; for a rater blind to dosing the queries on
    the records of the dosing day (:func:`_dosing_records`: dosing sessions, doses, pre-dose
    checklists, the forms rated and readings taken during a session, the alerts of the
    dosing day) are left out. The rater's own messages
    stay, and the query's record and field are shown, so the rater can still answer it."""
    if actor.role != Role.INDEPENDENT_RATER:
        return list(queries)
    protocol = protocol_in_force(session)[0]
    safety, prior = SafetyBlind.of(protocol, actor), PriorScores.of(protocol, actor)
    dosing_blind = not may_see_dosing(protocol, actor)
    if not (safety.active or prior.active or dosing_blind):
        return list(queries)
    forms = prior.hidden_form_ids(
        session, (q.record_id for q in queries if q.record_table == "assessment")
    )
    dosing: set[tuple[str, int]] = set()
    if dosing_blind:
        by_table: dict[str, list[int]] = {}
        for q in queries:
            by_table.setdefault(q.record_table, []).append(q.record_id)
        dosing = {(t, i) for t, ids in by_table.items() for i in _dosing_records(session, t, ids)}
    out = []
    for q in queries:
        if safety.active and q.record_table in SAFETY_TABLES:
            continue
        if (q.record_table, q.record_id) in dosing:
            continue  # its text quotes the dosing day, its record is refused to the rater
        on_form = q.record_table == "assessment"
        marker = (
            SCORES_HIDDEN
            if on_form and q.record_id in forms
            else SAFETY_HIDDEN
            if safety.active and not on_form
            else None
        )
        if marker is None:
            out.append(q)
            continue
        thread = tuple((u, m if u == actor.user_id else marker) for u, m in q.messages)
        out.append(_replace(q, text=marker, messages=thread))
    return out


def kit_of(session: Session, participant_id: int) -> int | None:
    """The kit allocated to a participant (``None`` before randomisation)."""
    return session.scalar(select(Allocation.kit).where(Allocation.participant_id == participant_id))


def mask_trial_frames(
    session: Session, protocol: Protocol, actor: Actor, frames: dict[str, pd.DataFrame]
) -> None:
    """Make the analysis frames fit for ``actor`` (in place): every reader gets the
    ``unblinded_at`` flag of each participant (NaT unless unblinded in an emergency); a blinded
    role gets ``arm`` = :data:`BLINDED` for a randomised participant and no dose in mg."""
    people = frames["participants"]
    when: dict[str, datetime] = {}
    allocated: set[str] = set()
    for study_id, at in session.execute(
        select(Participant.study_id, EmergencyUnblinding.unblinded_at)
        .join(EmergencyUnblinding, EmergencyUnblinding.participant_id == Participant.id)
        .order_by(EmergencyUnblinding.id)
    ):
        when.setdefault(study_id, at)
    if protocol.randomisation is not None:
        allocated = set(
            session.scalars(
                select(Participant.study_id).join(
                    Allocation, Allocation.participant_id == Participant.id
                )
            )
        )
    people["unblinded_at"] = pd.Series(
        [when.get(pid) for pid in people["participant_id"]], index=people.index, dtype=object
    )
    if not blinded(protocol, actor.role):
        return
    people["arm"] = [
        BLINDED if (pid in allocated or (not pd.isna(arm) and arm)) else None
        for pid, arm in zip(people["participant_id"], people["arm"], strict=True)
    ]
    doses = frames.get("doses")
    if doses is not None and len(doses):
        doses["dose_mg"] = math.nan


def check_study_locked_for_unblinding(session: Session, protocol: Protocol) -> None:
    """Refuse the arms of every participant for analysis unless the study is locked.

    The analysis by arm (``build_trial_data(..., unblinded=True)``: ``remit analyse|report
    --unblinded``, the exports built from those data) comes after the database lock: once the
    arms are known no data may change. The lock is the data manager's study lock (a ``lock``
    row of level ``study`` that is not unlocked); a study unlocked again after it is refused
    too. An emergency unblinding of one participant (:func:`emergency_unblind`) and the
    unblinded statistician's list reads (allocations, balance) do not need it.
    """
    if open_locks(session, None):
        return
    last = session.scalar(
        select(Lock).where(Lock.level == LockLevel.STUDY).order_by(Lock.id.desc()).limit(1)
    )
    state = (
        "has never been locked"
        if last is None or last.unlocked_at is None
        else f"was unlocked again on {last.unlocked_at:%Y-%m-%d %H:%M} UTC (lock {last.id})"
    )
    raise ConflictError(
        f"the arms of study {protocol.study.id} are not read for analysis before the database "
        f"lock: the study {state}",
        expected="a study locked by the data manager (the database lock) before the analysis "
        "by arm",
        hint="ask the data manager to lock the study once its data are final "
        "(`remit lock study --reason ...`), then run the analysis again; an interim look "
        "for the DSMB needs no lock (`remit report --dsmb --key FILE`: arms coded), nor does "
        "the blinded (pooled) analysis, and an emergency unblinding of one participant is "
        "`remit randomise unblind`",
    )


# --------------------------------------------------------------------------- emergency


@dataclass(frozen=True)
class UnblindingRecord(_Record):
    """One emergency unblinding. ``arm`` is filled only for who may see it: the person who
    unblinded (in the answer to :func:`emergency_unblind`) and the unblinded roles."""

    id: int
    participant_id: str
    kit: int
    reason: str
    unblinded_at: datetime
    unblinded_by: str | None
    arm: str | None = None
    arm_label: str | None = None


def _sealed_arm(session: Session, engine: Engine, allocation: Allocation) -> str:
    slot = session.get_one(RandomisationSlot, allocation.slot_id)
    key = allocation_key_of(engine)
    sealed = key.open(slot.sealed, slot_place(slot.stratum, slot.sequence, slot.kit))
    return str(sealed["arm"])


def _label(protocol: Protocol, arm: str) -> str | None:
    return next((a.label for a in protocol.arms if a.code == arm), None)


def emergency_unblind(
    engine: Engine, actor: Actor, participant: int | str, reason: str | None
) -> UnblindingRecord:
    """Break the blind of one participant in an emergency; the answer names the arm.

    Allowed to the roles of the protocol's ``[blinding] emergency_unblinding`` (investigators),
    with a reason; refused, storing nothing, without a reason, for a protocol without blinding,
    or before the participant is randomised. Audited (the record and the alert), notified (an
    ``urgent`` alert of rule :data:`UNBLINDING_RULE`, whose text names no arm), and the
    participant is flagged in the analysis data (``unblinded_at``).

    Examples
    --------
    ::

        emergency_unblind(engine, investigator, "RCT-001", "serotonin syndrome suspected")
        # -> UnblindingRecord(participant_id='RCT-001', kit=1003, arm='MDMA', ...)
    """
    given_reason = text_given(reason, "reason for the emergency unblinding")
    with writing(
        engine, actor, "emergency_unblind", participant=participant, reason=given_reason
    ) as w:
        session, p, protocol = w.session, w.p, w.protocol
        b = protocol.blinding
        if b is None:
            raise InputError(
                f"protocol {protocol.study.id} is not blinded: there is no blind to break",
                expected="a protocol with [blinding]",
                hint="an open-label participant's arm is on the participant record",
            )
        if actor.role not in b.emergency_unblinding:
            raise PermissionDeniedError(
                f"{actor.username} ({actor.role}) may not unblind a participant",
                expected="one of " + ", ".join(b.emergency_unblinding),
                hint="ask an investigator of the participant's site",
            )
        allocation = session.scalar(select(Allocation).where(Allocation.participant_id == p.id))
        if allocation is None:
            raise ConflictError(
                f"{p.study_id} is not randomised: there is no arm to reveal",
                hint="a participant is randomised when enrolment is confirmed",
            )
        arm = _sealed_arm(session, engine, allocation)
        at = now_utc()
        row = EmergencyUnblinding(
            participant_id=p.id,
            allocation_id=allocation.id,
            reason=given_reason,
            unblinded_at=at,
            unblinded_by=actor.user_id,
        )
        w.create(row)
        alert = SafetyAlert(
            rule_id=UNBLINDING_RULE,
            level=UNBLINDING_LEVEL,
            message=(
                f"{p.study_id} (kit {allocation.kit}) was unblinded in an emergency by "
                f"{actor.username}: {given_reason}"
            ),
            subject="allocation",
            value=None,
            threshold=None,
        )
        store_alerts(w.uow, p, [alert], "emergency_unblinding", row.id, once=True)
        return UnblindingRecord(
            id=row.id,
            participant_id=p.study_id,
            kit=allocation.kit,
            reason=given_reason,
            unblinded_at=at,
            unblinded_by=actor.username,
            arm=arm,
            arm_label=_label(protocol, arm),
        )


def list_unblindings(engine: Engine, actor: Actor) -> list[UnblindingRecord]:
    """Every emergency unblinding, oldest first, with the arm (the unblinded roles only;
    every read logged)."""
    with reading(engine, actor, "view_unblindings", "list_unblindings") as r:
        session = r.session
        protocol, _ = protocol_in_force(session)
        rows = session.execute(
            select(EmergencyUnblinding, Allocation, Participant)
            .join(Allocation, EmergencyUnblinding.allocation_id == Allocation.id)
            .join(Participant, EmergencyUnblinding.participant_id == Participant.id)
            .order_by(EmergencyUnblinding.id)
        ).all()
        out = []
        for u, a, p in rows:
            arm = _sealed_arm(session, engine, a) if actor.role in UNBLINDED_ROLES else None
            out.append(
                UnblindingRecord(
                    id=u.id,
                    participant_id=p.study_id,
                    kit=a.kit,
                    reason=u.reason,
                    unblinded_at=u.unblinded_at,
                    unblinded_by=username_of(session, u.unblinded_by),
                    arm=arm,
                    arm_label=None if arm is None else _label(protocol, arm),
                )
            )
        return r.returning(out)
