"""PostgreSQL roles: the application's login role may append to the audit trail, never change it."""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from remit.errors import InputError, StoreError
from remit.store.tables import Base

#: Tables the application may only read and append to.
APPEND_ONLY_TABLES = (
    "audit_event",
    "identity_access_log",
    "alert_delivery",
    "randomisation_list",
    "randomisation_slot",
    "allocation",
)

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def create_app_role(engine: Engine, role_name: str, password: str | None = None) -> None:
    """Create (or update) the PostgreSQL role the application connects as.

    The role gets SELECT/INSERT/UPDATE/DELETE on the clinical tables, SELECT and INSERT only on
    the append-only tables (:data:`APPEND_ONLY_TABLES`: no UPDATE, DELETE or TRUNCATE), and the
    use of the sequences. Run it as the owner of the tables (the role that ran the migrations): the
    owner itself can alter or disable triggers, so the application must not connect as it.
    """
    if engine.dialect.name != "postgresql":
        raise StoreError(
            f"database roles exist only on PostgreSQL, not on {engine.dialect.name}",
            hint="on SQLite the append-only triggers are the protection",
        )
    if not _NAME.match(role_name):
        raise InputError(
            f"role name {role_name!r} is not a plain PostgreSQL identifier",
            expected="lower-case letters, digits and underscores, starting with a letter",
        )
    append_only = set(APPEND_ONLY_TABLES)
    clinical = sorted(name for name in Base.metadata.tables if name not in append_only)
    with engine.begin() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": role_name}
        ).scalar()
        if not exists:
            connection.execute(text(f"CREATE ROLE {role_name} LOGIN"))
        if password is not None:
            quoted = connection.exec_driver_sql("SELECT quote_literal(%s)", (password,)).scalar()
            connection.execute(text(f"ALTER ROLE {role_name} PASSWORD {quoted}"))
        schema = connection.execute(text("SELECT current_schema()")).scalar()
        connection.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role_name}'))
        for table in clinical:
            connection.execute(
                text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{table}" TO {role_name}')
            )
        connection.execute(text(f"GRANT SELECT ON alembic_version TO {role_name}"))
        for table in APPEND_ONLY_TABLES:
            connection.execute(
                text(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{table}" FROM {role_name}')
            )
            connection.execute(text(f'GRANT SELECT, INSERT ON "{table}" TO {role_name}'))
        connection.execute(
            text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role_name}')
        )
