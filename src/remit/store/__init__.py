"""Database tables, engine factory, migrations, the hash-chained audit trail, queries.

Typical use::

    from remit.store import Actor, make_engine, unit_of_work, upgrade

    engine = make_engine("trial.db")          # or postgresql://user@host/db
    upgrade(engine)                            # migrations: the only way tables are created
    with unit_of_work(engine, Actor(1, "kari", "investigator"), reason=None) as uow:
        uow.add(...)                           # every field change is audited in this transaction

See ``docs/store.md``.
"""

from remit.store.allocation import (
    Allocation,
    AllocationKey,
    EmergencyUnblinding,
    RandomisationList,
    RandomisationSlot,
    allocation_key_from_env,
    allocation_key_of,
    load_allocation_key,
    new_allocation_key_file,
    with_allocation_key,
)
from remit.store.audit import (
    AUDIT_LOCK_KEY,
    Actor,
    UnitOfWork,
    current_unit_of_work,
    unit_of_work,
)
from remit.store.audit_anchor import AuditAnchor, make_anchor, sign_anchor
from remit.store.audit_keys import (
    AuditKeyRing,
    audit_keys_of,
    default_key_file,
    load_key_ring,
    rotate_key_file,
    with_audit_keys,
    write_key_file,
)
from remit.store.audit_read import (
    SOURCE_AUDIT_TABLE,
    AuditEntry,
    AuditVerifyResult,
    StateDifference,
    audit_log,
    compare_state,
    replay_audit,
    require_matching_keys,
    snapshot_tables,
    verify_audit,
    verify_audit_chain,
)
from remit.store.canonical import canonical_json, content_sha256
from remit.store.coding import CodedTerm, CodingDictionary, MeddraTerm, WhodrugTerm
from remit.store.consent import Consent
from remit.store.delivery import AlertDelivery
from remit.store.dosing import Dose, DosingSession
from remit.store.engine import database_url, is_sqlite, make_engine
from remit.store.epro import EproLink, ParticipantEpro
from remit.store.identity import (
    IdentityRecord,
    log_read,
    may_read_identity,
    read_identity,
    set_identity,
)
from remit.store.mfa import MfaRecoveryCode, UserMfa
from remit.store.migrate import (
    current_revision,
    downgrade,
    head_revision,
    require_current,
    upgrade,
)
from remit.store.observations import ServerObservation
from remit.store.queries import (
    add_site,
    create_study,
    current_protocol_version,
    get_participant,
    get_participant_with_consents,
    store_protocol_version,
)
from remit.store.results import ClinicalResult, DosingChecklist
from remit.store.roles import create_app_role
from remit.store.scales import TrialScale
from remit.store.security import CliToken, LoginThrottle, SecurityEvent
from remit.store.users import (
    actor_for,
    add_user,
    authenticate,
    check_email,
    check_password_rules,
    find_user,
    grant_role,
    hash_password,
    roles_of,
    set_password,
    verify_password,
)
from remit.store.vitals import VitalSignReading, VitalSignValue, reading_values
from remit.store.web_sessions import LoginAddress, WebSessionRow

__all__ = [
    "AUDIT_LOCK_KEY",
    "SOURCE_AUDIT_TABLE",
    "Actor",
    "AlertDelivery",
    "Allocation",
    "AllocationKey",
    "AuditAnchor",
    "AuditEntry",
    "AuditKeyRing",
    "AuditVerifyResult",
    "CliToken",
    "ClinicalResult",
    "CodedTerm",
    "CodingDictionary",
    "Consent",
    "Dose",
    "DosingChecklist",
    "DosingSession",
    "EmergencyUnblinding",
    "EproLink",
    "IdentityRecord",
    "LoginAddress",
    "LoginThrottle",
    "MeddraTerm",
    "MfaRecoveryCode",
    "ParticipantEpro",
    "RandomisationList",
    "RandomisationSlot",
    "SecurityEvent",
    "ServerObservation",
    "StateDifference",
    "TrialScale",
    "UnitOfWork",
    "UserMfa",
    "VitalSignReading",
    "VitalSignValue",
    "WebSessionRow",
    "WhodrugTerm",
    "actor_for",
    "add_site",
    "add_user",
    "allocation_key_from_env",
    "allocation_key_of",
    "audit_keys_of",
    "audit_log",
    "authenticate",
    "canonical_json",
    "check_email",
    "check_password_rules",
    "compare_state",
    "content_sha256",
    "create_app_role",
    "create_study",
    "current_protocol_version",
    "current_revision",
    "current_unit_of_work",
    "database_url",
    "default_key_file",
    "downgrade",
    "find_user",
    "get_participant",
    "get_participant_with_consents",
    "grant_role",
    "hash_password",
    "head_revision",
    "is_sqlite",
    "load_allocation_key",
    "load_key_ring",
    "log_read",
    "make_anchor",
    "make_engine",
    "may_read_identity",
    "new_allocation_key_file",
    "read_identity",
    "reading_values",
    "replay_audit",
    "require_current",
    "require_matching_keys",
    "roles_of",
    "rotate_key_file",
    "set_identity",
    "set_password",
    "sign_anchor",
    "snapshot_tables",
    "store_protocol_version",
    "unit_of_work",
    "upgrade",
    "verify_audit",
    "verify_audit_chain",
    "verify_password",
    "with_allocation_key",
    "with_audit_keys",
    "write_key_file",
]
