"""The tables of a trial database (SQLAlchemy 2 typed declarative mapping).

Tables are created only by the Alembic migrations in ``remit/store/migrations`` (run
:func:`remit.store.upgrade`); the classes here describe them for the ORM and for autogenerate.

Every table has an integer ``id``. Clinical records carry ``protocol_version_id``, the protocol in
force when they were written (filled in automatically by the unit of work when left empty).
Writes to every table except ``audit_event`` and ``identity_access_log`` are audited field by
field (see :mod:`remit.store.audit`). The dosing-day tables are in :mod:`remit.store.dosing`
(sessions, doses) and :mod:`remit.store.vitals` (vital-sign readings and their values).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from remit.protocol.adverse_event import ActionTaken, AEOutcome, Relatedness, Severity
from remit.protocol.demographics import Ethnicity, Race
from remit.protocol.deviation import DeviationSeverity, source_of
from remit.protocol.roles import Role
from remit.protocol.status import (
    AssessmentStatus,
    ParticipantStatus,
    VisitStatus,
    WindowStatus,
    values,
)
from remit.store.types import JSONType, UTCDateTime, utc_now
from remit.store.vocab import AuditAction, LockLevel, QueryStatus

_A = AssessmentStatus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


@dataclass(frozen=True)
class ReasonRule:
    """When a change to a row needs a reason.

    A change (or delete) of a row whose stored ``status`` is in ``statuses`` needs a reason,
    except a move along ``forward`` (e.g. complete → signed) that touches nothing but
    ``status`` and the columns in ``bookkeeping``. With ``always``, every change or delete of a
    stored row needs one, whatever its status (for tables without a status).
    """

    statuses: frozenset[str] = frozenset()
    forward: frozenset[tuple[str, str]] = frozenset()
    bookkeeping: frozenset[str] = frozenset()
    always: bool = False


class Base(DeclarativeBase):
    """Declarative base of every Remit table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    #: Whether writes to this table are audited automatically.
    __audited__: ClassVar[bool] = True
    #: Columns whose values never enter the audit trail (stored as a placeholder).
    __audit_redact__: ClassVar[frozenset[str]] = frozenset()
    #: When changing a row needs a reason.
    __reason_rule__: ClassVar[ReasonRule | None] = None


def _choice(enum: Any, name: str, length: int = 32) -> TypeEngine[str]:
    return Enum(
        *values(enum),
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        validate_strings=True,
    )


def _fk(target: str, *, nullable: bool = False, index: bool = True) -> Mapped[Any]:
    return mapped_column(
        Integer, ForeignKey(target, ondelete="RESTRICT"), nullable=nullable, index=index
    )


class ProtocolTagged:
    """Mixin: the protocol version in force when the record was written."""

    protocol_version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("protocol_version.id", ondelete="RESTRICT"), nullable=False
    )


# --- study, protocol, sites, users -----------------------------------------------------------


class Study(Base):
    """One trial (a database usually holds one)."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ProtocolVersion(Base):
    """The protocol file as loaded: its text and SHA-256, so any record can be traced to it."""

    __tablename__ = "protocol_version"
    __table_args__ = (UniqueConstraint("study_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = _fk("study.id")
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Site(Base):
    """A place where participants are seen."""

    __tablename__ = "site"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = _fk("study.id")
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))


#: The longest e-mail address stored (RFC 5321 path limit), for every address column.
EMAIL_LENGTH = 254


class UserAccount(Base):
    """A person who logs in; the password is kept only as an argon2id hash."""

    __tablename__ = "user_account"
    __audit_redact__ = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    #: The password was set by an admin (new user, reset): the user must choose their own
    #: before doing anything else.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserRole(Base):
    """A role held by a user at one site, or study-wide when ``site_id`` is null."""

    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "site_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _fk("user_account.id")
    site_id: Mapped[int | None] = _fk("site.id", nullable=True)
    role: Mapped[str] = mapped_column(_choice(Role, "role"))


# --- participants ----------------------------------------------------------------------------


class Participant(ProtocolTagged, Base):
    """A participant under a pseudonymous study ID (``OSL-001``); no identifying data here."""

    __tablename__ = "participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int] = _fk("site.id")
    arm: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(
        _choice(ParticipantStatus, "participant_status"), default=ParticipantStatus.SCREENING.value
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sex: Mapped[str | None] = mapped_column(String(16))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    age_group: Mapped[str | None] = mapped_column(String(32))
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    screened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    baseline_date: Mapped[date | None] = mapped_column(Date)
    # screening and the two-step enrolment (migration 0012); user ids without a foreign key,
    # as the columns are added to an existing table
    referral_source: Mapped[str | None] = mapped_column(String(64))
    phone_screen_outcome: Mapped[str | None] = mapped_column(String(16))
    phone_screened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone_screened_by: Mapped[int | None] = mapped_column(Integer)
    screen_failure_code: Mapped[str | None] = mapped_column(String(64))
    enrolled_by: Mapped[int | None] = mapped_column(Integer)
    enrolment_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolment_confirmed_by: Mapped[int | None] = mapped_column(Integer)
    # collected when the protocol's [demographics] says so (migration 0025): CDISC terms
    race: Mapped[str | None] = mapped_column(_choice(Race, "participant_race", length=64))
    ethnicity: Mapped[str | None] = mapped_column(_choice(Ethnicity, "participant_ethnicity"))


class ParticipantIdentity(Base):
    """Identifying data, kept apart; read only through :func:`remit.store.read_identity`."""

    __tablename__ = "participant_identity"
    __audit_redact__ = frozenset({"name", "national_id", "contact"})

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="RESTRICT"), unique=True
    )
    name: Mapped[str] = mapped_column(String(200))
    national_id: Mapped[str | None] = mapped_column(String(64))
    contact: Mapped[str | None] = mapped_column(Text)


#: ``resource`` of an access-log row for a read of a participant's identity.
IDENTITY_RESOURCE = "participant_identity"


class IdentityAccessLog(Base):
    """The access log: every read of identity data (granted or refused) and every read of
    trial data through a read service, one row per read (append-only, like the audit trail).

    ``resource`` says what was read (``participant_identity``, or the read service's name such
    as ``build_trial_data``); ``participant_id`` is set when one participant's data were read,
    ``site_id`` is the reader's site scope (``None``: study-wide) and ``n_records`` how many
    records the read returned."""

    __tablename__ = "identity_access_log"
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int | None] = _fk("participant.id", nullable=True)
    resource: Mapped[str] = mapped_column(String(64), server_default=IDENTITY_RESOURCE)
    site_id: Mapped[int | None] = mapped_column(Integer)
    n_records: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    purpose: Mapped[str | None] = mapped_column(Text)
    accessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class EligibilityCheck(ProtocolTagged, Base):
    """One eligibility check: the data entered and the verdict per criterion."""

    __tablename__ = "eligibility_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id")
    checked_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    eligible: Mapped[bool] = mapped_column(Boolean)


# --- visits and assessments ------------------------------------------------------------------


class Visit(ProtocolTagged, Base):
    """A scheduled visit, its window and what actually happened."""

    __tablename__ = "visit"
    __table_args__ = (UniqueConstraint("participant_id", "visit_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id")
    visit_code: Mapped[str] = mapped_column(String(32))
    target_date: Mapped[date | None] = mapped_column(Date)
    window_start_date: Mapped[date | None] = mapped_column(Date)
    window_end_date: Mapped[date | None] = mapped_column(Date)
    actual_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(
        _choice(VisitStatus, "visit_status"), default=VisitStatus.SCHEDULED.value
    )
    window_status: Mapped[str | None] = mapped_column(_choice(WindowStatus, "window_status"))
    deviation: Mapped[str | None] = mapped_column(Text)


class ParticipantEvent(ProtocolTagged, Base):
    """The date of a protocol event (``referral``, ``consent`` …) for one participant.

    Events are the protocol's ``[[events]]``: the dates visits may be anchored to. They are not
    visits, so they are kept apart from the ``visit`` table. Changing or deleting a recorded
    date needs a reason; ``recorded_at`` is when the date now stored was recorded (the audit
    trail keeps the earlier ones).
    """

    __tablename__ = "participant_event"
    __table_args__ = (UniqueConstraint("participant_id", "event_code"),)
    __reason_rule__ = ReasonRule(always=True)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id")
    event_code: Mapped[str] = mapped_column(String(32))
    event_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Assessment(ProtocolTagged, Base):
    """A completed scale: answers, the scoring engine's result, who rated and its state.

    ``version`` counts saves (1 on insert, +1 on each update); SQLAlchemy adds it to the
    ``WHERE`` of every UPDATE, so a concurrent save surfaces as a conflict, never a lost update.
    Subjective-effects ratings (scale ``se_vas``) link to a dosing session and a ``timepoint``.
    """

    __tablename__ = "assessment"
    __reason_rule__ = ReasonRule(
        statuses=frozenset({_A.COMPLETE, _A.SIGNED, _A.LOCKED}),
        forward=frozenset(
            {(_A.COMPLETE, _A.SIGNED), (_A.COMPLETE, _A.LOCKED), (_A.SIGNED, _A.LOCKED)}
        ),
        bookkeeping=frozenset({"version"}),
    )
    __table_args__ = (
        Index("ix_assessment_participant_scale", "participant_id", "scale"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id", index=False)
    visit_id: Mapped[int | None] = _fk("visit.id", nullable=True)
    dosing_session_id: Mapped[int | None] = _fk("dosing_session.id", nullable=True)
    timepoint: Mapped[str | None] = mapped_column(String(32))
    scale: Mapped[str] = mapped_column(String(64))
    scale_version: Mapped[str] = mapped_column(String(32))
    rater_user_id: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    rater_role: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType)
    score: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    total: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(
        _choice(AssessmentStatus, "assessment_status"), default=AssessmentStatus.DRAFT.value
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


# --- safety ----------------------------------------------------------------------------------


class AdverseEvent(ProtocolTagged, Base):
    """An adverse event; a serious one starts a reporting clock at ``awareness_at`` (at
    ``became_serious_at`` when it was upgraded to serious after it was recorded)."""

    __tablename__ = "adverse_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id")
    dosing_session_id: Mapped[int | None] = _fk("dosing_session.id", nullable=True, index=False)
    term: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    onset_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    severity: Mapped[str] = mapped_column(_choice(Severity, "severity"))
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    seriousness_criteria: Mapped[list[str]] = mapped_column(JSONType, default=list)
    relatedness: Mapped[str] = mapped_column(_choice(Relatedness, "relatedness"))
    outcome: Mapped[str] = mapped_column(
        _choice(AEOutcome, "ae_outcome"), default=AEOutcome.UNKNOWN.value
    )
    awareness_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: when the team learnt that an event recorded as non-serious had become serious (migration
    #: 0027): its SAE clock starts here; ``None`` for an event recorded as serious (its clock
    #: starts at ``awareness_at``) and for one that is not serious
    became_serious_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: action taken with the study treatment (migration 0025; ``None``: not recorded)
    action_taken: Mapped[str | None] = mapped_column(_choice(ActionTaken, "ae_action"))
    sae_report_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class ConcomitantMedication(ProtocolTagged, Base):
    """A medication taken alongside the study treatment, and its taper plan.

    ``atc_code`` is the WHO ATC code of the substance (its class is the first 5 characters);
    ``taper_steps`` the dated taper plan, a list of ``{"date": "YYYY-MM-DD", "dose": "…"}`` in
    date order (``taper_plan`` is the free text of records made before it). Every change of a
    stored row needs a reason.
    """

    __tablename__ = "concomitant_medication"
    __reason_rule__ = ReasonRule(always=True)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id")
    name: Mapped[str] = mapped_column(String(200))
    dose: Mapped[str | None] = mapped_column(String(100))
    indication: Mapped[str | None] = mapped_column(String(200))
    start_date: Mapped[date | None] = mapped_column(Date)
    stop_date: Mapped[date | None] = mapped_column(Date)
    taper_plan: Mapped[str | None] = mapped_column(Text)
    atc_code: Mapped[str | None] = mapped_column(String(7))
    route: Mapped[str | None] = mapped_column(String(50))
    taper_steps: Mapped[list[dict[str, str]] | None] = mapped_column(JSONType)


class ProtocolDeviation(ProtocolTagged, Base):
    """A departure from the protocol."""

    __tablename__ = "protocol_deviation"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int | None] = _fk("participant.id", nullable=True)
    visit_id: Mapped[int | None] = _fk("visit.id", nullable=True, index=False)
    category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    occurred_date: Mapped[date | None] = mapped_column(Date)
    reported_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    @property
    def severity(self) -> str:
        """``major`` or ``minor`` (:class:`~remit.protocol.deviation.DeviationSeverity`): read
        from ``major``, the one stored truth."""
        return DeviationSeverity.of(major=bool(self.major)).value

    @property
    def source(self) -> str:
        """``automatic`` or ``manual``: follows from the category (never stored twice)."""
        return source_of(self.category).value


class Alert(Base):
    """A safety alert raised by a rule, acknowledged and closed by people allowed to."""

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_open", "closed_at", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id")
    rule_id: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    source_table: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[int | None] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


# --- data management -------------------------------------------------------------------------


class DataQuery(Base):
    """A question about one field of one record, answered in a thread of messages."""

    __tablename__ = "data_query"
    __table_args__ = (Index("ix_data_query_record", "record_table", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int | None] = _fk("participant.id", nullable=True)
    record_table: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        _choice(QueryStatus, "query_status"), default=QueryStatus.OPEN.value
    )
    raised_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    closed_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DataQueryMessage(Base):
    """One message in a data query's thread."""

    __tablename__ = "data_query_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    data_query_id: Mapped[int] = _fk("data_query.id")
    user_id: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    message: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Signature(Base):
    """An electronic signature: who, meaning, when, bound to the SHA-256 of the signed content."""

    __tablename__ = "signature"
    __table_args__ = (Index("ix_signature_record", "record_table", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int | None] = _fk("participant.id", nullable=True, index=False)
    user_id: Mapped[int] = _fk("user_account.id", index=False)
    meaning: Mapped[str] = mapped_column(String(200))
    record_table: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)


class Lock(Base):
    """A lock on a form, a participant's data or the whole study (open while unlocked_at null)."""

    __tablename__ = "lock"
    __table_args__ = (Index("ix_lock_record", "record_table", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(_choice(LockLevel, "lock_level"))
    participant_id: Mapped[int | None] = _fk("participant.id", nullable=True)
    record_table: Mapped[str | None] = mapped_column(String(64))
    record_id: Mapped[int | None] = mapped_column(Integer)
    locked_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    unlocked_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    unlocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    """A submission key: the hash of the request and the record it created."""

    __tablename__ = "idempotency_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    __table_args__ = (UniqueConstraint("scope", "key"),)

    key: Mapped[str] = mapped_column(String(200))
    #: Whose key it is (``user:<id>``; ``system:<username>``): keys are unique per scope
    #: (revision 0018), so one user's key is never replayed to another.
    scope: Mapped[str] = mapped_column(String(120), server_default="")
    request_sha256: Mapped[str] = mapped_column(String(64))
    record_table: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


# --- the audit trail -------------------------------------------------------------------------


class AuditEvent(Base):
    """One audited fact (append-only, hash-chained; written only by :mod:`remit.store.audit`).

    ``id`` is assigned by the writer as the previous id + 1 under the append lock, so the chain
    order is the id order. ``old_value`` and ``new_value`` are canonical JSON text.
    """

    __tablename__ = "audit_event"
    __audited__ = False
    __table_args__ = (
        Index("ix_audit_event_record", "table_name", "record_id"),
        Index("ix_audit_event_participant", "participant_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    transaction_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    site_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(_choice(AuditAction, "audit_action"))
    table_name: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    participant_id: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(100))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


def audited_tables() -> dict[str, type[Base]]:
    """Table name → mapped class, for every table whose writes are audited."""
    found: dict[str, type[Base]] = {}
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        if cls.__audited__:
            found[cls.__tablename__] = cls
    return dict(sorted(found.items()))


def __getattr__(name: str) -> Any:
    # Dose and DosingSession moved to remit.store.dosing; old imports from here still work.
    if name in ("Dose", "DosingSession"):
        from remit.store import dosing

        return getattr(dosing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
