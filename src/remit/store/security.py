"""Authentication state in the database: the security log, login throttling, CLI tokens.

``security_event`` is the append-only security log (triggers refuse UPDATE and DELETE,
revision 0018): every login, logout, failure, lockout, password change and signature
re-authentication, with the username as given, the user id when known and the client.

``login_throttle`` holds one row per username tried: failed attempts in the current window. A
login first *claims* an attempt with one conditional UPDATE (``failures < limit``, or the
window has passed), so concurrent attempts — in one process or many — check at most ``limit``
passwords per window; a success clears the row. Unknown usernames are throttled the same way
and checked against a dummy hash, so that neither the time of the answer nor the lockout tells
whether an account exists.

``cli_token`` holds the SHA-256 of each token ``remit login`` hands out (never the token), its
user and its expiry.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Engine,
    Integer,
    String,
    Table,
    Text,
    case,
    delete,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from remit.store.engine import write_engine
from remit.store.tables import Base, UserAccount
from remit.store.types import UTCDateTime, utc_now

#: The events the security log knows (``security_event.event``).
SECURITY_EVENTS = frozenset(
    {
        "login_ok",
        "login_failed",
        "lockout",
        "logout",
        "password_changed",
        "password_reset",
        "reauth_ok",
        "reauth_failed",
        "cli_login",
        "cli_logout",
        "cli_token_refused",
        "mfa_setup",
        "mfa_confirmed",
        "mfa_code_ok",
        "mfa_code_failed",
        "mfa_recovery_used",
        "mfa_reset",
        "mfa_setup_required",
    }
)


class SecurityEvent(Base):
    """One security-relevant event (append-only; not part of the clinical audit trail)."""

    __tablename__ = "security_event"
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    username: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32), index=True)
    client: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(Text)


class LoginThrottle(Base):
    """Failed logins for one username (lower-cased) in the current window (``window_start``)."""

    __tablename__ = "login_throttle"
    __audited__ = False

    username: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)


class CliToken(Base):
    """A token ``remit login`` handed out: only its SHA-256 is kept."""

    __tablename__ = "cli_token"
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


_EVENTS = cast(Table, SecurityEvent.__table__)
_THROTTLE = cast(Table, LoginThrottle.__table__)
_TOKENS = cast(Table, CliToken.__table__)


def token_sha256(token: str) -> str:
    """The SHA-256 (hex) under which a token is kept."""
    return hashlib.sha256(token.encode()).hexdigest()


def log_security_event(
    engine: Engine,
    event: str,
    username: str,
    *,
    user_id: int | None = None,
    client: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one row to the security log, in a transaction of its own (a failed login is
    recorded although the login itself writes nothing)."""
    if event not in SECURITY_EVENTS:
        raise ValueError(f"unknown security event {event!r}")  # a programming error
    # Core statements on a connection: the ORM session refuses bulk statements (they would
    # bypass the audit trail, which these tables are not part of).
    with write_engine(engine).begin() as connection:
        connection.execute(
            insert(_EVENTS).values(
                occurred_at=utc_now(),
                username=username[:200],
                user_id=user_id,
                event=event,
                client=None if client is None else client[:100],
                detail=detail,
            )
        )


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a login attempt: ``allowed`` or, if not, ``retry_after_s``."""

    allowed: bool
    retry_after_s: float = 0.0


#: One claim in this many also deletes the throttle rows whose window has passed.
PRUNE_ONE_IN = 100


def throttle_key(username: str) -> str:
    """The throttle's key for a username as typed (case and surrounding spaces ignored)."""
    return username.strip().lower()[:200]


def claim_attempt(engine: Engine, username: str, limit: int, window_s: float) -> Claim:
    """Claim one password check for ``username``: atomic under concurrency (one conditional
    UPDATE; the row is created first if missing), so at most ``limit`` checks run per window.

    The claim counts as a failure until :func:`clear_attempts` is called after a success.
    """
    key = throttle_key(username)
    now = utc_now()
    cutoff = now - timedelta(seconds=window_s)
    table = _THROTTLE
    with write_engine(engine).begin() as connection:
        if secrets.randbelow(PRUNE_ONE_IN) == 0:
            # Now and then forget rows whose window has passed (a spray of made-up usernames
            # must not grow the table without end); such a row counts as empty anyway.
            connection.execute(delete(table).where(table.c.window_start < cutoff))
        # Create the row if missing; a concurrent creator wins quietly (no duplicate-key error).
        insert_row = (
            pg_insert(table) if connection.dialect.name == "postgresql" else sqlite_insert(table)
        )
        connection.execute(
            insert_row.values(username=key, failures=0, window_start=now).on_conflict_do_nothing()
        )
        claimed = connection.execute(
            update(table)
            .where(
                LoginThrottle.username == key,
                (LoginThrottle.failures < limit) | (LoginThrottle.window_start < cutoff),
            )
            .values(
                failures=_next_failures(cutoff),
                window_start=_next_window_start(cutoff, now),
            )
        )
        if claimed.rowcount == 1:
            return Claim(True)
        start: datetime = connection.execute(
            select(table.c.window_start).where(table.c.username == key)
        ).scalar_one()
        left = (start - cutoff).total_seconds()
        return Claim(False, max(left, 1.0))


def _next_failures(cutoff: datetime) -> Any:
    return case((LoginThrottle.window_start < cutoff, 1), else_=LoginThrottle.failures + 1)


def _next_window_start(cutoff: datetime, now: datetime) -> Any:
    return case(
        (LoginThrottle.window_start < cutoff, literal(now, UTCDateTime())),
        else_=LoginThrottle.window_start,
    )


def clear_attempts(engine: Engine, username: str) -> None:
    """Forget the username's failures (after a successful login)."""
    table = _THROTTLE
    with write_engine(engine).begin() as connection:
        connection.execute(
            update(table).where(table.c.username == throttle_key(username)).values(failures=0)
        )


def user_by_name(session: Session, username: str) -> UserAccount | None:
    """The account named ``username``, or ``None``."""
    return session.scalar(select(UserAccount).where(UserAccount.username == username))


def issue_cli_token(engine: Engine, user_id: int, lifetime: timedelta) -> str:
    """A new random token for ``user_id`` valid for ``lifetime``; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    now = utc_now()
    with write_engine(engine).begin() as connection:
        connection.execute(
            insert(_TOKENS).values(
                token_sha256=token_sha256(token),
                user_id=user_id,
                created_at=now,
                expires_at=now + lifetime,
                revoked=False,
            )
        )
    return token


def cli_token_user(session: Session, token: str) -> int | None:
    """The user id of a live (unexpired, unrevoked) token, else ``None``."""
    row = session.scalar(select(CliToken).where(CliToken.token_sha256 == token_sha256(token)))
    if row is None or row.revoked or row.expires_at <= utc_now():
        return None
    return row.user_id


def revoke_cli_token(engine: Engine, token: str) -> int | None:
    """Revoke a token; returns its user id (``None`` when the database does not know it)."""
    digest = token_sha256(token)
    with write_engine(engine).begin() as connection:
        user_id: int | None = connection.execute(
            select(_TOKENS.c.user_id).where(_TOKENS.c.token_sha256 == digest)
        ).scalar_one_or_none()
        if user_id is not None:
            connection.execute(
                update(_TOKENS).where(_TOKENS.c.token_sha256 == digest).values(revoked=True)
            )
        return user_id
