"""Web sessions and the per-address login count in the database (stateless web workers).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 13:30:00.000000

``web_session`` holds each browser session and API bearer token under the SHA-256 of its token
(the acting user, kind, MFA stage, CSRF token, created and last-seen times, and the sealed
ePRO link token of a running tablet hand-over);
``login_address`` the failed logins per client address in the current window
(:mod:`remit.store.web_sessions`); ``server_observation`` what the web servers saw of their
requests (the scheme, ``X-Forwarded-Proto``), for ``remit doctor``
(:mod:`remit.store.observations`). None is in the audit trail.

Downgrade drops the three tables: everyone is logged out, the address counts and the
observations are forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handover", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_web_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_user_id"), "web_session", ["user_id"], unique=False)
    op.create_index(
        op.f("ix_web_session_last_seen_at"), "web_session", ["last_seen_at"], unique=False
    )
    op.create_table(
        "login_address",
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client", name=op.f("pk_login_address")),
    )
    op.create_index(
        op.f("ix_login_address_window_start"), "login_address", ["window_start"], unique=False
    )
    op.create_table(
        "server_observation",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_observation")),
    )


def downgrade() -> None:
    op.drop_table("server_observation")
    op.drop_index(op.f("ix_login_address_window_start"), table_name="login_address")
    op.drop_table("login_address")
    op.drop_index(op.f("ix_web_session_last_seen_at"), table_name="web_session")
    op.drop_index(op.f("ix_web_session_user_id"), table_name="web_session")
    op.drop_table("web_session")
