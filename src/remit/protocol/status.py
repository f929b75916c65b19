"""Lifecycle statuses of a trial's records: participants, visits, windows, forms, doses.

This module is the one place that lists them. The store turns each enum into a CHECK
constraint, the services move records between them, and the analysis data carries the stored
value unchanged; the sets below say which statuses count as what, so no layer keeps its own
list or translates one status into another.

Examples
--------
>>> ParticipantStatus("eligible") in SCREENING_STATUSES
True
>>> sorted(s.value for s in ENROLLED_STATUSES)
['completed', 'enrolled', 'in_follow_up', 'on_study']
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class ParticipantStatus(StrEnum):
    """Where a participant is in the trial's lifecycle."""

    SCREENING = "screening"
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    ENROLLED = "enrolled"
    ON_STUDY = "on_study"
    IN_FOLLOW_UP = "in_follow_up"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"


_P = ParticipantStatus

#: Screened and not yet decided out or enrolled (CONSORT's "still in screening").
SCREENING_STATUSES: frozenset[ParticipantStatus] = frozenset({_P.SCREENING, _P.ELIGIBLE})

#: Statuses that can only follow enrolment. ``withdrawn`` and ``lost_to_follow_up`` can also
#: end a screening, so they mean "enrolled" only together with an enrolment date.
ENROLLED_STATUSES: frozenset[ParticipantStatus] = frozenset(
    {_P.ENROLLED, _P.ON_STUDY, _P.IN_FOLLOW_UP, _P.COMPLETED}
)

#: Enrolled and still taking part (the ongoing bars of the swimmer plot).
ONGOING_STATUSES: frozenset[ParticipantStatus] = frozenset(
    {_P.ENROLLED, _P.ON_STUDY, _P.IN_FOLLOW_UP}
)

#: Left the trial before its end.
LEFT_EARLY_STATUSES: frozenset[ParticipantStatus] = frozenset({_P.WITHDRAWN, _P.LOST_TO_FOLLOW_UP})

#: Statuses a participant can no longer leave by an ordinary status change.
FINAL_STATUSES: frozenset[ParticipantStatus] = frozenset(
    {_P.INELIGIBLE, _P.COMPLETED, *LEFT_EARLY_STATUSES}
)

#: Still in the trial: every status that is not final.
ACTIVE_STATUSES: frozenset[ParticipantStatus] = frozenset(set(_P) - FINAL_STATUSES)

#: No new data may be entered for a participant in these statuses.
NO_DATA_STATUSES: frozenset[ParticipantStatus] = frozenset({_P.INELIGIBLE, _P.WITHDRAWN})


class VisitStatus(StrEnum):
    """Whether a scheduled visit took place."""

    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    MISSED = "missed"
    CANCELLED = "cancelled"


class WindowStatus(StrEnum):
    """Where a visit's actual date fell relative to its window."""

    IN_WINDOW = "in_window"
    EARLY = "early"
    LATE = "late"


class AssessmentStatus(StrEnum):
    """A form's life: draft, incomplete, complete, signed, locked.

    ``incomplete`` is a draft-like state the services give a form saved as complete while a
    required item (always a safety item) is blank: kept, never counted as complete; an edit
    that fills the items makes it complete.
    """

    DRAFT = "draft"
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"
    SIGNED = "signed"
    LOCKED = "locked"


#: Statuses a form may be saved in by the person entering it (signing and locking are
#: separate steps). A ``Literal`` so that input schemas can use it; the set follows from it.
#: A form asked for ``complete`` with required items blank is stored ``incomplete``.
EntryStatus = Literal["draft", "complete"]
ENTRY_STATUSES: frozenset[AssessmentStatus] = frozenset(
    map(AssessmentStatus, get_args(EntryStatus))
)

#: Statuses of a form still being filled in: it may be edited without a reason and cannot be
#: signed or locked. (Its total, when the protocol's missing-item rule gives one, still counts.)
UNFINISHED_STATUSES: frozenset[AssessmentStatus] = frozenset(
    {AssessmentStatus.DRAFT, AssessmentStatus.INCOMPLETE}
)


#: Statuses of a form its rater may still edit (entry statuses and ``incomplete``).
EDITABLE_STATUSES: frozenset[AssessmentStatus] = ENTRY_STATUSES | {AssessmentStatus.INCOMPLETE}


def entry_status(requested: str, complete: bool) -> AssessmentStatus:
    """The status a form is stored in: ``requested`` unless a form asked to be complete
    lacks required items, which is stored ``incomplete`` (kept, never called complete).

    Examples
    --------
    >>> entry_status("complete", complete=False).value
    'incomplete'
    >>> entry_status("complete", complete=True).value, entry_status("draft", False).value
    ('complete', 'draft')
    """
    status = AssessmentStatus(requested)
    if status == AssessmentStatus.COMPLETE and not complete:
        return AssessmentStatus.INCOMPLETE
    return status


#: Statuses of a form an investigator may sign (a draft is unfinished, a locked form frozen).
SIGNABLE_STATUSES: frozenset[AssessmentStatus] = frozenset(
    {AssessmentStatus.COMPLETE, AssessmentStatus.SIGNED}
)


class DoseKind(StrEnum):
    """Initial or supplemental dose of a dosing session."""

    INITIAL = "initial"
    SUPPLEMENTAL = "supplemental"


class DoseStatus(StrEnum):
    """Whether a dose was given, only offered, or withheld."""

    GIVEN = "given"
    OFFERED = "offered"
    WITHHELD = "withheld"


#: Doses whose outcome is decided (the analysis data has these; an offer alone is not a dose).
DECIDED_DOSE_STATUSES: frozenset[DoseStatus] = frozenset({DoseStatus.GIVEN, DoseStatus.WITHHELD})


class DosingSessionStatus(StrEnum):
    """A dosing session's life."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class FollowUpCallStatus(StrEnum):
    """The next-day follow-up call of a dosing session: scheduled when the session ends, then
    done or the participant not reached (with a note)."""

    SCHEDULED = "scheduled"
    DONE = "done"
    NOT_REACHED = "not_reached"


#: Follow-up calls still to make (the dashboard lists them).
OPEN_CALL_STATUSES: frozenset[FollowUpCallStatus] = frozenset(
    {FollowUpCallStatus.SCHEDULED, FollowUpCallStatus.NOT_REACHED}
)


class DeviationCategory(StrEnum):
    """What kind of departure from the protocol a deviation record (``category``) is, when
    Remit records it itself. People may record deviations of other categories in their own
    words; these are the ones the services write and the report can count.

    ``dose_stop_override``: the supplemental dose was given despite a dose-stop (an open
    immediate alert, vital signs beyond the dose-stop limits or no recent reading), on an
    investigator's override. ``dose_above_cap``: a dose took the session total above the
    protocol's ``max_total_mg``. ``washout_override``: a dose was given while a prohibited
    medication (``[[medications.prohibited]]``) was ongoing or within its washout, on an
    investigator's override. ``checklist_override``: an item of the pre-dose checklist
    (``[dosing.checklist]``) that the protocol marks overridable was given over, on an
    investigator's override.
    """

    VISIT_OUT_OF_WINDOW = "visit_out_of_window"
    DOSE_STOP_OVERRIDE = "dose_stop_override"
    DOSE_ABOVE_CAP = "dose_above_cap"
    WASHOUT_OVERRIDE = "washout_override"
    CHECKLIST_OVERRIDE = "checklist_override"


class AlertStatus(StrEnum):
    """An alert's state, read from its acknowledged and closed times (not stored as a word)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


#: The alert filter for "not closed yet" (open or acknowledged).
UNCLOSED = "unclosed"
#: Alert states that still need someone: the ``unclosed`` filter.
UNCLOSED_ALERT_STATUSES: frozenset[AlertStatus] = frozenset(
    {AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED}
)


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The string values of ``enum`` in declaration order.

    Examples
    --------
    >>> values(WindowStatus)
    ('in_window', 'early', 'late')
    """
    return tuple(member.value for member in enum)


#: Every word an alert list can be filtered by: a state, or ``unclosed``.
ALERT_FILTERS: tuple[str, ...] = (*values(AlertStatus), UNCLOSED)
