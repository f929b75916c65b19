"""Controlled vocabularies stored in the database (each becomes a CHECK constraint).

Values are plain strings in the tables; these enums are the one place that lists them.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user may do, study-wide or at one site."""

    INVESTIGATOR = "investigator"
    THERAPIST = "therapist"
    INDEPENDENT_RATER = "independent_rater"
    MONITOR = "monitor"
    STATISTICIAN = "statistician"
    DATA_MANAGER = "data_manager"
    ADMIN = "admin"


#: The pseudo-role of work done by Remit itself (initialising a study, migrations, simulation).
SYSTEM_ROLE = "system"

#: Roles allowed to read a participant's identity (name, national ID, contact).
IDENTITY_ROLES = frozenset({Role.INVESTIGATOR, Role.ADMIN})


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
    """A form's life: draft, complete, signed, locked."""

    DRAFT = "draft"
    COMPLETE = "complete"
    SIGNED = "signed"
    LOCKED = "locked"


class DosingSessionStatus(StrEnum):
    """A dosing session's life."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DoseKind(StrEnum):
    """Initial or supplemental dose of a dosing session."""

    INITIAL = "initial"
    SUPPLEMENTAL = "supplemental"


class DoseStatus(StrEnum):
    """Whether a dose was given, only offered, or withheld."""

    GIVEN = "given"
    OFFERED = "offered"
    WITHHELD = "withheld"


class Severity(StrEnum):
    """Severity of an adverse event."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class Relatedness(StrEnum):
    """Relation of an adverse event to the study treatment."""

    NOT_RELATED = "not_related"
    UNLIKELY = "unlikely"
    POSSIBLE = "possible"
    PROBABLE = "probable"
    DEFINITE = "definite"


class AEOutcome(StrEnum):
    """Outcome of an adverse event."""

    RECOVERED = "recovered"
    RECOVERING = "recovering"
    NOT_RECOVERED = "not_recovered"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae"
    FATAL = "fatal"
    UNKNOWN = "unknown"


class QueryStatus(StrEnum):
    """A data query's life."""

    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class LockLevel(StrEnum):
    """What a lock covers."""

    FORM = "form"
    PARTICIPANT = "participant"
    STUDY = "study"


class AuditAction(StrEnum):
    """What an audit row records."""

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    READ = "read"
    READ_REFUSED = "read_refused"


def values(enum: type[StrEnum]) -> list[str]:
    """The string values of ``enum`` in declaration order."""
    return [member.value for member in enum]
