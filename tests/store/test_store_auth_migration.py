"""Migration 0018: the security log, login throttle and CLI tokens; idempotency keys get the
scope of the user who made them and are unique per scope (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

from remit.store import downgrade, make_engine, upgrade

KEYS = sa.table(
    "idempotency_key",
    sa.column("key", sa.String()),
    sa.column("request_sha256", sa.String()),
    sa.column("record_table", sa.String()),
    sa.column("record_id", sa.Integer()),
    sa.column("user_id", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _key(key: str, user_id: int | None) -> dict[str, object]:
    return {
        "key": key,
        "request_sha256": "0" * 64,
        "record_table": "assessment",
        "record_id": 1,
        "user_id": user_id,
        "created_at": sa.func.current_timestamp(),
    }


def test_keys_get_their_users_scope_and_are_unique_per_scope(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0011")
        with engine.begin() as connection:
            connection.execute(sa.insert(KEYS).values(_key("tablet-1", 7)))
            connection.execute(sa.insert(KEYS).values(_key("sweep-1", None)))
        upgrade(engine, "0018")
        assert {"security_event", "login_throttle", "cli_token"} <= set(
            inspect(engine).get_table_names()
        )
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT key, scope FROM idempotency_key"))
            scopes = {str(row[0]): str(row[1]) for row in rows}
        assert scopes == {"tablet-1": "user:7", "sweep-1": "system:"}
        scoped = sa.table(
            "idempotency_key",
            *(sa.column(c.name, c.type) for c in KEYS.columns),
            sa.column("scope", sa.String()),
        )
        with engine.begin() as connection:  # the same key string for another user: allowed
            connection.execute(sa.insert(scoped).values(_key("tablet-1", 8) | {"scope": "user:8"}))
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(sa.insert(scoped).values(_key("tablet-1", 7) | {"scope": "user:7"}))
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM idempotency_key WHERE scope = 'user:8'"))
        downgrade(engine, "0011")
        assert "security_event" not in inspect(engine).get_table_names()
        assert "scope" not in {c["name"] for c in inspect(engine).get_columns("idempotency_key")}
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM idempotency_key")).scalar() == 2
    finally:
        engine.dispose()
