"""Initial schema: every table, and triggers that make the audit trail append-only.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 13:25:32.527564
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transaction_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "insert",
                "update",
                "delete",
                "read",
                "read_refused",
                name="audit_action",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=100), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("row_hash", name=op.f("uq_audit_event_row_hash")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_participant", ["participant_id"], unique=False)
        batch_op.create_index("ix_audit_event_record", ["table_name", "record_id"], unique=False)

    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("record_table", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
        sa.UniqueConstraint("key", name=op.f("uq_idempotency_key_key")),
    )
    op.create_table(
        "study",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study")),
        sa.UniqueConstraint("code", name=op.f("uq_study_code")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "protocol_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_protocol_version_study_id_study"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_version")),
        sa.UniqueConstraint("study_id", "sha256", name=op.f("uq_protocol_version_study_id_sha256")),
    )
    with op.batch_alter_table("protocol_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_protocol_version_study_id"), ["study_id"], unique=False
        )

    op.create_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_site_study_id_study"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
        sa.UniqueConstraint("study_id", "code", name=op.f("uq_site_study_id_code")),
    )
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_study_id"), ["study_id"], unique=False)

    op.create_table(
        "participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "screening",
                "eligible",
                "ineligible",
                "enrolled",
                "on_study",
                "in_follow_up",
                "completed",
                "withdrawn",
                "lost_to_follow_up",
                name="participant_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sex", sa.String(length=16), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("age_group", sa.String(length=32), nullable=True),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("baseline_date", sa.Date(), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_participant_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_participant_site_id_site"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant")),
        sa.UniqueConstraint("study_id", name=op.f("uq_participant_study_id")),
    )
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_participant_site_id"), ["site_id"], unique=False)

    op.create_table(
        "user_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "investigator",
                "therapist",
                "independent_rater",
                "monitor",
                "statistician",
                "data_manager",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_user_role_site_id_site"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_role_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_role")),
        sa.UniqueConstraint(
            "user_id", "site_id", "role", name=op.f("uq_user_role_user_id_site_id_role")
        ),
    )
    with op.batch_alter_table("user_role", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_role_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_role_user_id"), ["user_id"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("source_table", sa.String(length=64), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["user_account.id"],
            name=op.f("fk_alert_acknowledged_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"],
            ["user_account.id"],
            name=op.f("fk_alert_closed_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_alert_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index("ix_alert_open", ["closed_at", "level"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alert_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "concomitant_medication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dose", sa.String(length=100), nullable=True),
        sa.Column("indication", sa.String(length=200), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("stop_date", sa.Date(), nullable=True),
        sa.Column("taper_plan", sa.Text(), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_concomitant_medication_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_concomitant_medication_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concomitant_medication")),
    )
    with op.batch_alter_table("concomitant_medication", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_concomitant_medication_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "data_query",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("record_table", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "answered",
                "closed",
                name="query_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("raised_by", sa.Integer(), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by"],
            ["user_account.id"],
            name=op.f("fk_data_query_closed_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_data_query_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["raised_by"],
            ["user_account.id"],
            name=op.f("fk_data_query_raised_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_query")),
    )
    with op.batch_alter_table("data_query", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_query_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index("ix_data_query_record", ["record_table", "record_id"], unique=False)

    op.create_table(
        "eligibility_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("checked_by", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON(),
            nullable=False,
        ),
        sa.Column(
            "results",
            sa.JSON(),
            nullable=False,
        ),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checked_by"],
            ["user_account.id"],
            name=op.f("fk_eligibility_check_checked_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_eligibility_check_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_eligibility_check_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_check")),
    )
    with op.batch_alter_table("eligibility_check", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eligibility_check_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "identity_access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("accessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_identity_access_log_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_access_log")),
    )
    with op.batch_alter_table("identity_access_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_access_log_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "form",
                "participant",
                "study",
                name="lock_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("record_table", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("locked_by", sa.Integer(), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unlocked_by", sa.Integer(), nullable=True),
        sa.Column("unlocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["locked_by"],
            ["user_account.id"],
            name=op.f("fk_lock_locked_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_lock_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unlocked_by"],
            ["user_account.id"],
            name=op.f("fk_lock_unlocked_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lock")),
    )
    with op.batch_alter_table("lock", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lock_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index("ix_lock_record", ["record_table", "record_id"], unique=False)

    op.create_table(
        "participant_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("national_id", sa.String(length=64), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_participant_identity_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_identity")),
        sa.UniqueConstraint("participant_id", name=op.f("uq_participant_identity_participant_id")),
    )
    op.create_table(
        "signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("meaning", sa.String(length=200), nullable=False),
        sa.Column("record_table", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_signature_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_signature_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature")),
    )
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.create_index("ix_signature_record", ["record_table", "record_id"], unique=False)

    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("visit_code", sa.String(length=32), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("window_start_date", sa.Date(), nullable=True),
        sa.Column("window_end_date", sa.Date(), nullable=True),
        sa.Column("actual_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "completed",
                "missed",
                "cancelled",
                name="visit_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "window_status",
            sa.Enum(
                "in_window",
                "early",
                "late",
                name="window_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("deviation", sa.Text(), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_visit_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_visit_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        sa.UniqueConstraint(
            "participant_id", "visit_code", name=op.f("uq_visit_participant_id_visit_code")
        ),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visit_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "data_query_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data_query_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_query_id"],
            ["data_query.id"],
            name=op.f("fk_data_query_message_data_query_id_data_query"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_data_query_message_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_query_message")),
    )
    with op.batch_alter_table("data_query_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_query_message_data_query_id"), ["data_query_id"], unique=False
        )

    op.create_table(
        "dosing_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("session_number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "in_progress",
                "completed",
                "cancelled",
                name="dosing_session_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_dosing_session_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_dosing_session_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_dosing_session_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dosing_session")),
        sa.UniqueConstraint(
            "participant_id",
            "session_number",
            name=op.f("uq_dosing_session_participant_id_session_number"),
        ),
    )
    with op.batch_alter_table("dosing_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dosing_session_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dosing_session_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "protocol_deviation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("occurred_date", sa.Date(), nullable=True),
        sa.Column("reported_by", sa.Integer(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_protocol_deviation_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_protocol_deviation_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"],
            ["user_account.id"],
            name=op.f("fk_protocol_deviation_reported_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_protocol_deviation_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_deviation")),
    )
    with op.batch_alter_table("protocol_deviation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_protocol_deviation_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "adverse_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("dosing_session_id", sa.Integer(), nullable=True),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("onset_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column(
            "severity",
            sa.Enum(
                "mild",
                "moderate",
                "severe",
                name="severity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column(
            "seriousness_criteria",
            sa.JSON(),
            nullable=False,
        ),
        sa.Column(
            "relatedness",
            sa.Enum(
                "not_related",
                "unlikely",
                "possible",
                "probable",
                "definite",
                name="relatedness",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "recovered",
                "recovering",
                "not_recovered",
                "recovered_with_sequelae",
                "fatal",
                "unknown",
                name="ae_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("awareness_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sae_report_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dosing_session_id"],
            ["dosing_session.id"],
            name=op.f("fk_adverse_event_dosing_session_id_dosing_session"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_adverse_event_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_adverse_event_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_adverse_event_recorded_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_event")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_adverse_event_idempotency_key")),
    )
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adverse_event_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("dosing_session_id", sa.Integer(), nullable=True),
        sa.Column("timepoint", sa.String(length=32), nullable=True),
        sa.Column("scale", sa.String(length=64), nullable=False),
        sa.Column("scale_version", sa.String(length=32), nullable=False),
        sa.Column("rater_user_id", sa.Integer(), nullable=True),
        sa.Column("rater_role", sa.String(length=32), nullable=True),
        sa.Column(
            "answers",
            sa.JSON(),
            nullable=False,
        ),
        sa.Column(
            "score",
            sa.JSON(),
            nullable=True,
        ),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "complete",
                "signed",
                "locked",
                name="assessment_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_assessment_version_positive")),
        sa.ForeignKeyConstraint(
            ["dosing_session_id"],
            ["dosing_session.id"],
            name=op.f("fk_assessment_dosing_session_id_dosing_session"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_assessment_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_assessment_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["rater_user_id"],
            ["user_account.id"],
            name=op.f("fk_assessment_rater_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_assessment_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_assessment_idempotency_key")),
    )
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assessment_dosing_session_id"), ["dosing_session_id"], unique=False
        )
        batch_op.create_index(
            "ix_assessment_participant_scale", ["participant_id", "scale"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_assessment_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "dose",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dosing_session_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "initial",
                "supplemental",
                name="dose_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("dose_mg", sa.Float(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "given",
                "offered",
                "withheld",
                name="dose_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withheld_reason", sa.Text(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("override_by", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("dose_mg >= 0", name=op.f("ck_dose_dose_not_negative")),
        sa.ForeignKeyConstraint(
            ["dosing_session_id"],
            ["dosing_session.id"],
            name=op.f("fk_dose_dosing_session_id_dosing_session"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["override_by"],
            ["user_account.id"],
            name=op.f("fk_dose_override_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_dose_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_dose_recorded_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_dose_idempotency_key")),
    )
    with op.batch_alter_table("dose", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dose_dosing_session_id"), ["dosing_session_id"], unique=False
        )

    op.create_table(
        "vital_sign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("dosing_session_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes_after_dose", sa.Integer(), nullable=True),
        sa.Column("systolic", sa.Integer(), nullable=True),
        sa.Column("diastolic", sa.Integer(), nullable=True),
        sa.Column("heart_rate", sa.Integer(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dosing_session_id"],
            ["dosing_session.id"],
            name=op.f("fk_vital_sign_dosing_session_id_dosing_session"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_vital_sign_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_vital_sign_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_vital_sign_recorded_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_vital_sign_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_sign")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_vital_sign_idempotency_key")),
    )
    with op.batch_alter_table("vital_sign", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vital_sign_dosing_session_id"), ["dosing_session_id"], unique=False
        )
        batch_op.create_index(
            "ix_vital_sign_participant_measured", ["participant_id", "measured_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_vital_sign_visit_id"), ["visit_id"], unique=False)

    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()

    with op.batch_alter_table("vital_sign", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vital_sign_visit_id"))
        batch_op.drop_index("ix_vital_sign_participant_measured")
        batch_op.drop_index(batch_op.f("ix_vital_sign_dosing_session_id"))

    op.drop_table("vital_sign")
    with op.batch_alter_table("dose", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dose_dosing_session_id"))

    op.drop_table("dose")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_visit_id"))
        batch_op.drop_index("ix_assessment_participant_scale")
        batch_op.drop_index(batch_op.f("ix_assessment_dosing_session_id"))

    op.drop_table("assessment")
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_event_participant_id"))

    op.drop_table("adverse_event")
    with op.batch_alter_table("protocol_deviation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protocol_deviation_participant_id"))

    op.drop_table("protocol_deviation")
    with op.batch_alter_table("dosing_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dosing_session_visit_id"))
        batch_op.drop_index(batch_op.f("ix_dosing_session_participant_id"))

    op.drop_table("dosing_session")
    with op.batch_alter_table("data_query_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_query_message_data_query_id"))

    op.drop_table("data_query_message")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_participant_id"))

    op.drop_table("visit")
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.drop_index("ix_signature_record")

    op.drop_table("signature")
    op.drop_table("participant_identity")
    with op.batch_alter_table("lock", schema=None) as batch_op:
        batch_op.drop_index("ix_lock_record")
        batch_op.drop_index(batch_op.f("ix_lock_participant_id"))

    op.drop_table("lock")
    with op.batch_alter_table("identity_access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_access_log_participant_id"))

    op.drop_table("identity_access_log")
    with op.batch_alter_table("eligibility_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eligibility_check_participant_id"))

    op.drop_table("eligibility_check")
    with op.batch_alter_table("data_query", schema=None) as batch_op:
        batch_op.drop_index("ix_data_query_record")
        batch_op.drop_index(batch_op.f("ix_data_query_participant_id"))

    op.drop_table("data_query")
    with op.batch_alter_table("concomitant_medication", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_concomitant_medication_participant_id"))

    op.drop_table("concomitant_medication")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_participant_id"))
        batch_op.drop_index("ix_alert_open")

    op.drop_table("alert")
    with op.batch_alter_table("user_role", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_role_user_id"))
        batch_op.drop_index(batch_op.f("ix_user_role_site_id"))

    op.drop_table("user_role")
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participant_site_id"))

    op.drop_table("participant")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_study_id"))

    op.drop_table("site")
    with op.batch_alter_table("protocol_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protocol_version_study_id"))

    op.drop_table("protocol_version")
    op.drop_table("user_account")
    op.drop_table("study")
    op.drop_table("idempotency_key")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_record")
        batch_op.drop_index("ix_audit_event_participant")

    op.drop_table("audit_event")


APPEND_ONLY_TABLES = ("audit_event", "identity_access_log")


def _create_append_only_triggers() -> None:
    # The database itself refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) of the audit
    # trail and the identity access log, whatever the application does.
    if op.get_context().dialect.name == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
                )
        return
    op.execute(
        """
        CREATE FUNCTION remit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION remit_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION remit_refuse_change()"
        )


def _drop_append_only_triggers() -> None:
    if op.get_context().dialect.name == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        return
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS remit_refuse_change()")
