"""Use cases of a trial, each one audited transaction: the library under the CLI and the web app.

Every function takes the engine and the acting :class:`remit.store.Actor` and opens with the
one preamble of :mod:`remit.services.unit` (``writing``: access table, site, idempotency key,
protocol in force, locks; ``reading``: access table, site, one access-log row), in one
:func:`remit.store.unit_of_work` (so the audit trail is written in the same transaction), and
returns plain frozen records (:mod:`remit.services.records`, the shape the web API answers
too). A refused call raises a :class:`remit.errors.RemitError` and writes nothing. See
``docs/services.md``.

The outer layers (simulate, interop, cli, web) reach the store only through this package:
opening, creating and migrating a database (:mod:`remit.services.database`, with ``Engine``
re-exported for annotations), who acts (:mod:`remit.services.accounts`: ``Actor``,
``actor_for``, ``login``) and the audit trail (:mod:`remit.services.audit`).
"""

from typing import TYPE_CHECKING, Any

from remit.services.access import ACCESS, RATER_ROLES, access_matrix, allowed
from remit.services.accounts import (
    SYSTEM_ROLE,
    AccountStanding,
    Actor,
    account_standing,
    actor_for,
    actors_for,
    check_password,
    login,
)
from remit.services.assessments import (
    get_assessment,
    list_assessments,
    record_assessment,
    update_assessment,
)
from remit.services.audit import (
    AUDIT_HIDDEN_TABLES,
    AuditEntry,
    AuditVerifyResult,
    audit_history,
    audit_log,
    verify_audit_chain,
)
from remit.services.conmeds import edit_conmed, list_conmeds, record_conmed, stop_conmed
from remit.services.consent import consent_status, record_consent, withdraw_consent
from remit.services.database import (
    DatabaseCensus,
    Engine,
    close_database,
    create_app_role,
    create_database,
    database_census,
    database_revision,
    head_revision,
    open_database,
    upgrade_database,
)
from remit.services.deviations import list_deviations, record_deviation
from remit.services.dosing import (
    end_dosing_session,
    list_dosing_sessions,
    record_dose,
    record_follow_up_call,
    record_vas,
    sign_off_discharge,
    start_dosing_session,
)
from remit.services.dosing_day import DosingDay, dosing_day
from remit.services.durability import is_disk_full, unsafe_durability
from remit.services.events import (
    acknowledge_alert,
    close_alert,
    list_adverse_events,
    list_alerts,
    list_overdue_saes,
    mark_sae_reported,
    record_adverse_event,
    update_adverse_event,
)
from remit.services.notify import (
    PERIODIC_JOBS,
    DeliveryResult,
    PeriodicContext,
    deliver_due,
    list_deliveries,
    periodic_loop,
    run_periodic,
)
from remit.services.participants import (
    change_status,
    check_eligibility,
    enrol,
    get_participant,
    list_participants,
    read_identity,
    screen_participant,
    withdraw,
)
from remit.services.records import (
    AdverseEventRecord,
    AlertRecord,
    AssessmentRecord,
    ConmedRecord,
    ConsentRecord,
    ConsentStatusRecord,
    DeliveryRecord,
    DeviationRecord,
    DischargeCriterionRecord,
    DoseRecord,
    DosingSessionRecord,
    EligibilityRecord,
    LockRecord,
    ParticipantRecord,
    PasswordResetRecord,
    QueryRecord,
    SignatureRecord,
    SignedItem,
    SigningPreviewRecord,
    TaperStepRecord,
    TrialRecord,
    UserRecord,
    VisitRecord,
    VitalsRecord,
)
from remit.services.safety_sweep import raise_missed_readings
from remit.services.senders import CHANNELS, Sender, sender_from_url
from remit.services.signing import (
    answer_query,
    close_query,
    list_queries,
    lock,
    open_query,
    role_meanings,
    sign,
    signatures_of,
    signing_preview,
    unlock,
)
from remit.services.trial import (
    add_user,
    change_password,
    create_trial,
    list_users,
    reset_password,
    set_user_active,
    set_user_email,
    trial_protocol,
)
from remit.services.visits import (
    anchor_dates,
    list_visits,
    mark_visit_missed,
    record_visit,
    set_anchor_date,
)
from remit.services.vitals import record_vitals
from remit.services.worklist import WorkItemRecord, WorklistRecord, worklist

if TYPE_CHECKING:
    from remit.services.trial_data import build_trial_data


def __getattr__(name: str) -> Any:
    # build_trial_data needs remit.analysis (pandas, scipy): loaded on first use, so that
    # capture (the CLI, writer processes) starts fast.
    if name == "build_trial_data":
        from remit.services.trial_data import build_trial_data

        return build_trial_data
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACCESS",
    "AUDIT_HIDDEN_TABLES",
    "CHANNELS",
    "PERIODIC_JOBS",
    "RATER_ROLES",
    "SYSTEM_ROLE",
    "AccountStanding",
    "Actor",
    "AdverseEventRecord",
    "AlertRecord",
    "AssessmentRecord",
    "AuditEntry",
    "AuditVerifyResult",
    "ConmedRecord",
    "ConsentRecord",
    "ConsentStatusRecord",
    "DatabaseCensus",
    "DeliveryRecord",
    "DeliveryResult",
    "DeviationRecord",
    "DischargeCriterionRecord",
    "DoseRecord",
    "DosingDay",
    "DosingSessionRecord",
    "EligibilityRecord",
    "Engine",
    "LockRecord",
    "ParticipantRecord",
    "PasswordResetRecord",
    "PeriodicContext",
    "QueryRecord",
    "Sender",
    "SignatureRecord",
    "SignedItem",
    "SigningPreviewRecord",
    "TaperStepRecord",
    "TrialRecord",
    "UserRecord",
    "VisitRecord",
    "VitalsRecord",
    "WorkItemRecord",
    "WorklistRecord",
    "access_matrix",
    "account_standing",
    "acknowledge_alert",
    "actor_for",
    "actors_for",
    "add_user",
    "allowed",
    "anchor_dates",
    "answer_query",
    "audit_history",
    "audit_log",
    "build_trial_data",
    "change_password",
    "change_status",
    "check_eligibility",
    "check_password",
    "close_alert",
    "close_database",
    "close_query",
    "consent_status",
    "create_app_role",
    "create_database",
    "create_trial",
    "database_census",
    "database_revision",
    "deliver_due",
    "dosing_day",
    "edit_conmed",
    "end_dosing_session",
    "enrol",
    "get_assessment",
    "get_participant",
    "head_revision",
    "is_disk_full",
    "list_adverse_events",
    "list_alerts",
    "list_assessments",
    "list_conmeds",
    "list_deliveries",
    "list_deviations",
    "list_dosing_sessions",
    "list_overdue_saes",
    "list_participants",
    "list_queries",
    "list_users",
    "list_visits",
    "lock",
    "login",
    "mark_sae_reported",
    "mark_visit_missed",
    "open_database",
    "open_query",
    "periodic_loop",
    "raise_missed_readings",
    "read_identity",
    "record_adverse_event",
    "record_assessment",
    "record_conmed",
    "record_consent",
    "record_deviation",
    "record_dose",
    "record_follow_up_call",
    "record_vas",
    "record_visit",
    "record_vitals",
    "reset_password",
    "role_meanings",
    "run_periodic",
    "screen_participant",
    "sender_from_url",
    "set_anchor_date",
    "set_user_active",
    "set_user_email",
    "sign",
    "sign_off_discharge",
    "signatures_of",
    "signing_preview",
    "start_dosing_session",
    "stop_conmed",
    "trial_protocol",
    "unlock",
    "unsafe_durability",
    "update_adverse_event",
    "update_assessment",
    "upgrade_database",
    "verify_audit_chain",
    "withdraw",
    "withdraw_consent",
    "worklist",
]
