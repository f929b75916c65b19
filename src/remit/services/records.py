"""What the services return: plain frozen dataclasses, never ORM objects — the one shape of a
record from the services outward.

The web API's response schemas are these classes (FastAPI builds the OpenAPI schema from the
dataclass fields), and the one JSON conversion, :func:`remit.json_values.to_json_value`, turns
a record into what the API answers, what ``--json`` prints and what the audit trail hashes:
``record.to_dict()``, with dates ISO 8601 and times UTC ISO 8601 (``…T09:30:00.000000Z``).
A new record is a frozen dataclass here (subclass of :class:`_Record`) whose fields are plain
values, tuples and other records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import date, datetime
from typing import Any, Self

from remit.json_values import to_json_value
from remit.protocol import VitalSign
from remit.store import canonical_json


class _Record:
    @classmethod
    def from_row(cls, row: object, **given: Any) -> Self:
        """The record of a stored row: each field named in ``given`` takes that value, every
        other field without a default the row's attribute of the same name (a field with a
        default keeps it unless given). The one ORM → record conversion of the services.

        ``participant_id`` is the participant's study ID, never the row's key: a record with
        that field must be given it.
        """
        names = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        if "participant_id" in names and "participant_id" not in given:
            raise TypeError(f"{cls.__name__}.from_row needs participant_id (the study ID)")
        values = {
            name: getattr(row, name)
            for name, f in names.items()
            if name not in given and f.default is MISSING and f.default_factory is MISSING
        }
        return cls(**values, **given)

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON values (:func:`remit.json_values.to_json_value`)."""
        out: dict[str, Any] = to_json_value(self)
        return out

    def to_json(self) -> str:
        """Canonical JSON text of :meth:`to_dict`."""
        return canonical_json(self)


@dataclass(frozen=True)
class UserRecord(_Record):
    """A user and the roles they hold (``(role, site code or None)``); ``email`` is where
    alerts reach them (``None``: nowhere)."""

    id: int
    username: str
    full_name: str | None
    email: str | None
    active: bool
    roles: tuple[tuple[str, str | None], ...]
    must_change_password: bool = False


@dataclass(frozen=True)
class PasswordResetRecord(_Record):
    """What an admin's password reset did: the user, and the generated temporary password
    (``None`` when the admin chose it) — shown once, never stored in clear."""

    user: UserRecord
    temporary_password: str | None


@dataclass(frozen=True)
class TrialRecord(_Record):
    """What :func:`create_trial` made."""

    study_id: int
    study_code: str
    title: str
    protocol_id: str
    protocol_version_id: int
    protocol_sha256: str
    sites: tuple[str, ...]
    admin: UserRecord


@dataclass(frozen=True)
class ParticipantRecord(_Record):
    """A participant under their pseudonymous study ID (no identifying data)."""

    id: int
    participant_id: str
    site: str
    arm: str | None
    status: str
    status_reason: str | None
    sex: str | None
    birth_year: int | None
    screened_at: datetime | None
    enrolled_at: datetime | None
    baseline_date: date | None
    simulated: bool
    referral_source: str | None
    phone_screen_outcome: str | None
    phone_screened_at: datetime | None
    screen_failure_code: str | None
    enrolment_confirmed_at: datetime | None
    #: CDISC RACE / ETHNIC term, when the protocol's ``[demographics]`` collects it
    race: str | None
    ethnicity: str | None
    enrolled_by: str | None = None
    enrolment_confirmed_by: str | None = None
    #: The kit allocated at randomisation (never the arm, which stays sealed in the list).
    kit: int | None = None


@dataclass(frozen=True)
class ConsentRecord(_Record):
    """One informed consent to a version of the consent form, and its withdrawal if any.

    ``obtained_by`` and ``withdrawal_recorded_by`` are usernames.
    """

    id: int
    participant_id: str
    version: str
    components: tuple[str, ...]
    consented_at: datetime
    obtained_by: str | None
    recorded_at: datetime
    withdrawn_at: datetime | None
    withdrawal_scope: str | None
    withdrawn_components: tuple[str, ...]
    withdrawal_reason: str | None


@dataclass(frozen=True)
class ConsentStatusRecord(_Record):
    """A participant's consent at one time: whether study procedures may be done, and why not.

    ``current`` is the latest consent given by ``at``; ``agreed`` its components not
    withdrawn; ``version_in_force`` the protocol's version effective on that date;
    ``problem`` what stops study procedures (``None``: they may be done); ``history`` every
    consent, oldest first.
    """

    participant_id: str
    at: datetime
    consent_required: bool
    current: ConsentRecord | None
    agreed: tuple[str, ...]
    version_in_force: str | None
    procedures_allowed: bool
    problem: str | None
    history: tuple[ConsentRecord, ...]


@dataclass(frozen=True)
class EligibilityRecord(_Record):
    """One stored eligibility check."""

    id: int
    participant_id: str
    eligible: bool
    complete: bool
    criteria: tuple[dict[str, Any], ...]
    summary: str
    status: str


@dataclass(frozen=True)
class VisitRecord(_Record):
    """A scheduled visit, its window and what happened."""

    id: int
    participant_id: str
    visit_code: str
    label: str
    target_date: date | None
    window_start_date: date | None
    window_end_date: date | None
    actual_date: date | None
    status: str
    window_status: str | None
    deviation: str | None


@dataclass(frozen=True)
class DeliveryRecord(_Record):
    """One event of the alert delivery log: an attempt to tell ``recipient`` (a username;
    empty for a step that reached nobody) of step ``step`` (0: the first) of alert
    ``alert_id``, and its ``outcome`` (sending, sent, failed, undeliverable)."""

    id: int
    alert_id: int
    participant_id: str
    step: int
    recipient: str
    channel: str
    address: str | None
    attempt: int
    outcome: str
    error: str | None
    attempt_at: datetime


@dataclass(frozen=True)
class AlertRecord(_Record):
    """A stored safety alert."""

    id: int
    participant_id: str
    rule_id: str
    level: str
    message: str
    source_table: str | None
    source_id: int | None
    raised_at: datetime
    due_at: datetime | None
    status: str
    acknowledged_by: int | None
    acknowledged_at: datetime | None
    closed_by: int | None
    closed_at: datetime | None
    note: str | None


@dataclass(frozen=True)
class AssessmentRecord(_Record):
    """A stored form with its score and the alerts its save raised.

    ``version`` is the save counter to pass back as ``expected_version`` when editing.
    ``not_evaluated`` lists safety rules that could not be applied (e.g. no baseline, or a
    safety item left blank). ``complete`` is false when a required item is blank (the form is
    then stored ``incomplete``); ``missing_required`` names those items as a person types them
    (``("10",)`` for MADRS item 10).
    """

    id: int
    participant_id: str
    visit_code: str | None
    scale: str
    scale_version: str
    status: str
    version: int
    total: float | None
    band: str | None
    score: dict[str, Any]
    answers: dict[str, Any]
    rater_role: str | None
    timepoint: str | None
    assessed_at: datetime | None
    alerts: tuple[AlertRecord, ...] = ()
    not_evaluated: tuple[tuple[str, str], ...] = ()
    complete: bool = True
    missing_required: tuple[str, ...] = ()
    scores_hidden: bool = False


@dataclass(frozen=True)
class DosingSessionRecord(_Record):
    """A participant's dosing day."""

    id: int
    participant_id: str
    visit_code: str
    session_number: int
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    notes: str | None
    discharge_signed_off_by: int | None
    discharge_signed_off_at: datetime | None
    discharge_note: str | None
    follow_up_due_date: date | None
    follow_up_status: str | None
    follow_up_at: datetime | None
    follow_up_note: str | None


@dataclass(frozen=True)
class DischargeCriterionRecord(_Record):
    """One discharge criterion of a dosing session (the protocol's ``[dosing.discharge]``):
    ``name`` (``vital_signs``, ``no_ongoing_severe_ae``, ``investigator_sign_off``), what it asks,
    whether it is met and why."""

    name: str
    text: str
    met: bool
    detail: str


@dataclass(frozen=True)
class DoseRecord(_Record):
    """A dose given, offered or withheld; ``warnings`` about the latest vital signs;
    ``deviations``: the categories of the protocol deviations recorded with it
    (``dose_stop_override``, ``dose_above_cap``)."""

    id: int
    participant_id: str
    visit_code: str
    session_number: int
    kind: str
    #: ``None`` for a role blind to the allocation (a placebo kit's dose would name the arm).
    dose_mg: float | None
    status: str
    offered_at: datetime | None
    given_at: datetime | None
    withheld_reason: str | None
    override_reason: str | None
    warnings: tuple[str, ...] = ()
    deviations: tuple[str, ...] = ()
    #: The participant's kit (a randomised protocol).
    kit: int | None = None
    #: How the dose is shown: "80 mg given", or in blinded form "kit 1042, initial dose given".
    shown: str = ""


@dataclass(frozen=True)
class VitalsRecord(_Record):
    """One reading of vital signs: values by sign code (``remit.protocol.VITAL_SIGNS``, in its
    order; whole numbers for integer signs) and the alerts it raised.

    ``not_evaluated`` (on the record returned when the reading is stored) pairs a threshold
    rule with the reason it was not applied (no threshold for a sign read, a sign not read).
    """

    id: int
    participant_id: str
    visit_code: str | None
    measured_at: datetime
    minutes_after_dose: int | None
    values: Mapping[VitalSign, float | int]
    alerts: tuple[AlertRecord, ...] = ()
    not_evaluated: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AdverseEventRecord(_Record):
    """An adverse event; for an SAE the reporting deadline and the alert it raised."""

    id: int
    participant_id: str
    term: str
    description: str | None
    onset_date: date
    end_date: date | None
    severity: str
    serious: bool
    seriousness_criteria: tuple[str, ...]
    relatedness: str
    outcome: str
    #: action taken with the study treatment (:class:`~remit.protocol.adverse_event.ActionTaken`)
    action_taken: str | None
    awareness_at: datetime
    sae_report_due_at: datetime | None
    reported_at: datetime | None
    #: when the team learnt that the event, recorded as non-serious, had become serious (its
    #: SAE clock starts here); ``None`` when it was recorded serious or is not serious
    became_serious_at: datetime | None = None
    alerts: tuple[AlertRecord, ...] = ()


@dataclass(frozen=True)
class TaperStepRecord:
    """One row of a dated taper plan: from ``date`` on, the medication is taken at ``dose``."""

    date: date
    dose: str


@dataclass(frozen=True)
class ConmedRecord(_Record):
    """A concomitant medication: its ATC code and class, the prohibited class of the protocol
    it belongs to (``prohibited``, its label; ``None`` when allowed) with the first day a dose is
    allowed after it (``earliest_dose``: stop date + washout; ``None`` while it has no stop
    date), and its dated taper plan (``taper_plan`` is the free text of older records)."""

    id: int
    participant_id: str
    name: str
    atc_code: str | None
    atc_class: str | None
    route: str | None
    dose: str | None
    indication: str | None
    start_date: date | None
    stop_date: date | None
    taper_plan: str | None
    taper_steps: tuple[TaperStepRecord, ...] = ()
    prohibited: str | None = None
    washout_days: int | None = None
    earliest_dose: date | None = None


@dataclass(frozen=True)
class DeviationRecord(_Record):
    """A protocol deviation: ``severity`` is ``major`` or ``minor`` (``major`` says the same
    as a flag), ``source`` ``automatic`` (recorded by Remit) or ``manual`` (logged by a
    person); ``site`` is the participant's site code (``None`` for a study-wide deviation or
    where not read)."""

    id: int
    participant_id: str | None
    visit_code: str | None
    category: str
    description: str
    major: bool
    severity: str
    source: str
    occurred_date: date | None
    reported_at: datetime
    site: str | None = None


@dataclass(frozen=True)
class SignatureRecord(_Record):
    """An electronic signature; ``valid`` is false once voided."""

    id: int
    record_table: str
    record_id: int
    user_id: int
    meaning: str
    content_sha256: str
    signed_at: datetime
    voided_at: datetime | None
    void_reason: str | None

    @property
    def valid(self) -> bool:
        """Whether the signature still stands."""
        return self.voided_at is None


@dataclass(frozen=True)
class SignedItem(_Record):
    """One answer or value of a record to be signed: its key, its label, the value."""

    key: str
    label: str
    value: Any


@dataclass(frozen=True)
class SigningPreviewRecord(_Record):
    """What signing a record would sign, as it is now: whose record (participant study ID,
    visit), which form (scale, name, version), every answer with its item label, the score,
    the record's save counter, who entered it, the exact ``content`` a signature binds to and
    its SHA-256, and the meanings the reader may sign it with."""

    record_table: str
    record_id: int
    participant_id: str | None
    visit_code: str | None
    title: str
    scale: str | None
    scale_version: str | None
    items: tuple[SignedItem, ...]
    score: dict[str, Any]
    total: float | None
    band: str | None
    status: str | None
    version: int | None
    author: str | None
    content: dict[str, Any]
    content_sha256: str
    meanings: tuple[str, ...]
    #: True when the protocol blinds the reader to this form's scores (values hidden).
    scores_hidden: bool = False


@dataclass(frozen=True)
class LockRecord(_Record):
    """A lock on a form, a participant or the study."""

    id: int
    level: str
    participant_id: str | None
    record_table: str | None
    record_id: int | None
    locked_at: datetime
    unlocked_at: datetime | None
    reason: str | None
    #: Who locked it and who opened it again (usernames), and why it was opened (the reason
    #: on the audit trail of the unlock).
    locked_by: str | None = None
    unlocked_by: str | None = None
    unlock_reason: str | None = None


@dataclass(frozen=True)
class UnsignedFormRecord(_Record):
    """A complete form that nobody has signed yet (its status is still ``complete``)."""

    id: int
    participant_id: str | None
    visit_code: str | None
    scale: str
    scale_version: str
    entered_at: datetime


@dataclass(frozen=True)
class QueryRecord(_Record):
    """A data query and its thread of messages ``(user id, message)``."""

    id: int
    participant_id: str | None
    record_table: str
    record_id: int
    field: str | None
    text: str
    status: str
    messages: tuple[tuple[int | None, str], ...]
