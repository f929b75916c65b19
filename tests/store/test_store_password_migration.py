"""Migration 0011 adds ``user_account.must_change_password`` (existing users: false) and
``password_changed_at``; downgrade drops both and keeps the users (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import inspect

from remit.store import downgrade, make_engine, upgrade

USERS = sa.table(
    "user_account",
    sa.column("username", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("user_account")}


def test_existing_users_are_not_forced_and_downgrade_keeps_them(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0008")
        assert "must_change_password" not in _columns(engine)
        with engine.begin() as connection:
            connection.execute(
                sa.insert(USERS).values(
                    username="old", password_hash="x", active=True,
                    created_at=sa.func.current_timestamp(),
                )
            )  # fmt: skip
        upgrade(engine, "0011")
        assert {"must_change_password", "password_changed_at"} <= _columns(engine)
        with engine.connect() as connection:
            flag = connection.execute(
                sa.text("SELECT must_change_password FROM user_account WHERE username = 'old'")
            ).scalar_one()
        assert not flag
        downgrade(engine, "0008")
        assert "must_change_password" not in _columns(engine)
        assert "password_changed_at" not in _columns(engine)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM user_account")).scalar() == 1
    finally:
        engine.dispose()
