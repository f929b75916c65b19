"""Web sessions and the per-address login slowdown, kept in the database (migration 0020).

``web_session`` holds one row per logged-in browser session or API bearer token, under the
SHA-256 of its token (the token itself is never stored: a copy of the database gives no usable
token): the acting user (id, username, role, site), the kind (``cookie`` or ``bearer``), the
MFA stage it is confined to (``""`` for a full session), its CSRF token and its times. Every
process serving the same database — the workers of one ``remit serve``, the servers of several
hosts behind a load balancer — sees the same rows, so a session survives a restart, a login
made through one worker is honoured by the others, and deleting the row (logout, a password
change ending the user's other sessions) takes effect at once everywhere.

Times are the database rows' UTC wall-clock times, so servers on several hosts need their
clocks synchronised (NTP); a session ends when it was idle longer than the idle timeout or
began longer ago than the absolute timeout. ``last_seen_at`` is written at most once per
``touch_every_s`` (a small fraction of the idle timeout), so that reading a page is not a
database write each time; the idle timeout therefore counts from the last recorded use, which
may end a session up to that fraction early — never late. Expired rows are deleted when they
are met and, all of them, whenever a session is created.

``login_address`` counts failed logins per client address in a window (the brake on one
address spraying many usernames; the per-username count is ``login_throttle``,
:mod:`remit.store.security`). Rows whose window has passed are deleted at each new failure.

Neither table is in the audit trail (logins and logouts go to ``security_event``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Dialect,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from remit.store.audit import Actor
from remit.store.cursor import log_statement
from remit.store.engine import write_engine
from remit.store.tables import Base, UserAccount
from remit.store.types import UTCDateTime

#: The kinds of session: a browser's cookie, an API bearer token.
SESSION_KINDS = frozenset({"cookie", "bearer"})
#: The MFA stages a session may be confined to (``""``: none, a full session).
SESSION_STAGES = frozenset({"", "code", "setup"})


class WebSessionRow(Base):
    """One live web session or API token, kept under the SHA-256 of its token."""

    __tablename__ = "web_session"
    __audited__ = False

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    site_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16), default="")
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: The ePRO link token of a running tablet hand-over, sealed with a key derived from the
    #: session's own token (which the database does not hold): ``""`` when none runs.
    handover: Mapped[str] = mapped_column(String(255), default="")


class LoginAddress(Base):
    """Failed logins from one client address in the current window (``window_start``)."""

    __tablename__ = "login_address"
    __audited__ = False

    client: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


_SESSIONS = cast(Table, WebSessionRow.__table__)
_ADDRESSES = cast(Table, LoginAddress.__table__)


def session_digest(token: str) -> str:
    """The SHA-256 (hex) under which a session token is kept."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionTimeouts:
    """When a session ends: idle this long, or this long after it began (seconds)."""

    idle_s: float
    absolute_s: float

    @functools.cached_property
    def touch_every_s(self) -> float:
        """How often a session's use is written (a twentieth of the idle timeout, at most a
        minute): between two writes the session may end that much early, never late."""
        return min(60.0, self.idle_s / 20)


@dataclass(frozen=True)
class StoredSession:
    """A live session as the database holds it."""

    actor: Actor
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    kind: str
    stage: str
    #: The ePRO link token handed over on this session's device (``""``: no hand-over).
    handover: str = ""
    #: The user's standing, read with the session (:func:`live_session`; ``None`` when not
    #: read): their account exists under the session's username and is active, and whether
    #: they must change their password first.
    user_active: bool | None = None
    must_change_password: bool | None = None


def _handover_key(token: str) -> AESGCM:
    return AESGCM(hashlib.sha256(b"remit-web-handover:" + token.encode()).digest())


def _seal(token: str, handover: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = _handover_key(token).encrypt(nonce, handover.encode(), None)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _unseal(token: str, sealed: str) -> str:
    if not sealed:
        return ""
    raw = base64.urlsafe_b64decode(sealed.encode())
    return _handover_key(token).decrypt(raw[:12], raw[12:], None).decode()


def set_handover(engine: Engine, token: str, handover: str) -> bool:
    """Start (``handover``: an ePRO link's token) or end (``""``) a tablet hand-over on the
    session of ``token``; whether the session exists. The link token is stored sealed with a
    key derived from the session token, so a copy of the database does not give it."""
    value = _seal(token, handover) if handover else ""
    with write_engine(engine).begin() as connection:
        done = connection.execute(
            update(_SESSIONS)
            .where(_SESSIONS.c.token_sha256 == session_digest(token))
            .values(handover=value)
        )
    return bool(done.rowcount)


def create_session(
    engine: Engine,
    actor: Actor,
    *,
    now: datetime,
    timeouts: SessionTimeouts,
    kind: str = "cookie",
    stage: str = "",
    replaces: str | None = None,
) -> tuple[str, StoredSession]:
    """Start a session for ``actor``; return its new random token and the session.

    ``replaces`` (a token) ends in the same transaction (rotation at login and after an MFA
    step); every expired session is deleted too.
    """
    if kind not in SESSION_KINDS or stage not in SESSION_STAGES:
        raise ValueError(f"unknown session kind {kind!r} or stage {stage!r}")  # a bug
    if actor.user_id is None:
        raise ValueError("a web session needs a user id")  # a bug: system actors do not log in
    token = secrets.token_urlsafe(32)
    session = StoredSession(actor, secrets.token_urlsafe(32), now, now, kind, stage)
    with write_engine(engine).begin() as connection:
        if replaces:
            connection.execute(
                delete(_SESSIONS).where(_SESSIONS.c.token_sha256 == session_digest(replaces))
            )
        connection.execute(delete(_SESSIONS).where(_expired(now, timeouts)))
        connection.execute(
            insert(_SESSIONS).values(
                token_sha256=session_digest(token),
                user_id=actor.user_id,
                username=actor.username[:200],
                role=actor.role,
                site_id=actor.site_id,
                kind=kind,
                stage=stage,
                csrf_token=session.csrf_token,
                created_at=now,
                last_seen_at=now,
            )
        )
    return token, session


def _expired(now: datetime, timeouts: SessionTimeouts) -> ColumnElement[bool]:
    return or_(
        _SESSIONS.c.last_seen_at < now - timedelta(seconds=timeouts.idle_s),
        _SESSIONS.c.created_at < now - timedelta(seconds=timeouts.absolute_s),
    )


_USERS = cast(Table, UserAccount.__table__)
#: The session of a token digest with its user's standing, in one statement.
_LIVE_SESSION = (
    select(
        _SESSIONS,
        _USERS.c.username.label("account_username"),
        _USERS.c.active.label("account_active"),
        _USERS.c.must_change_password.label("account_must_change"),
    )
    .outerjoin(_USERS, _USERS.c.id == _SESSIONS.c.user_id)
    .where(_SESSIONS.c.token_sha256 == bindparam("digest"))
)


class _SessionQuery:
    """:data:`_LIVE_SESSION` compiled once for one dialect: its SQL text, how the digest is
    passed (``?`` or ``%(digest)s``), and each column's result conversion (the column types'
    own, e.g. :class:`~remit.store.types.UTCDateTime`'s aware UTC times, SQLite's 0/1 as
    booleans)."""

    def __init__(self, dialect: Dialect) -> None:
        compiled = _LIVE_SESSION.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        self.names = [str(column.key) for column in _LIVE_SESSION.selected_columns]
        convert = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in _LIVE_SESSION.selected_columns
        ]
        #: The columns whose values are converted, and how (the others are taken as read).
        self.converted = [(n, c) for n, c in zip(self.names, convert, strict=True) if c]

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        row = dict(zip(self.names, raw, strict=True))
        for name, convert in self.converted:
            row[name] = convert(row[name])
        return row


_QUERIES: weakref.WeakKeyDictionary[Dialect, _SessionQuery] = weakref.WeakKeyDictionary()


def _read_session(engine: Engine, digest: str) -> dict[str, Any] | None:
    """The row of :data:`_LIVE_SESSION` for ``digest`` (``None``: no such session).

    This runs on every request of a logged-in user, so it is the one statement sent on a
    connection of the engine's pool through the DB-API cursor: SQLAlchemy's connection,
    transaction and result objects cost several times the query itself (issue 16), and a
    lone SELECT needs no explicit transaction (SQLite runs it in its own read transaction;
    PostgreSQL's implicit one ends when the pool rolls the connection back on its return).
    The pool is the engine's, so a busy pool still answers 503 and a dropped PostgreSQL
    connection is invalidated; a DB-API error is raised as SQLAlchemy's ``DBAPIError``, as the
    other statements' are."""
    dialect = engine.dialect
    query = _QUERIES.get(dialect)
    if query is None:
        query = _QUERIES[dialect] = _SessionQuery(dialect)
    params: tuple[str] | dict[str, str] = (digest,) if query.positional else {"digest": digest}
    if engine.echo:
        log_statement(engine, query.sql, params)
    connection = engine.raw_connection()
    # PostgreSQL: the SELECT alone, in autocommit (no BEGIN before it, no ROLLBACK when the
    # pool takes the connection back: one round trip instead of three); a connection comes
    # out of the pool with no transaction open, so the mode may be switched without one
    driver = connection.dbapi_connection
    autocommit = dialect.name == "postgresql" and driver is not None
    try:
        if autocommit:
            driver.autocommit = True  # type: ignore[union-attr]
        cursor = connection.cursor()
        try:
            cursor.execute(query.sql, params)
            found = cursor.fetchone()
        except dialect.loaded_dbapi.Error as error:
            lost = dialect.is_disconnect(error, connection.dbapi_connection, cursor)
            if lost:
                connection.invalidate(error)
            raise DBAPIError.instance(
                query.sql,
                params,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=dialect,
            ) from error
        finally:
            cursor.close()
    finally:
        try:
            if autocommit and connection.dbapi_connection is not None:  # (None: invalidated)
                connection.dbapi_connection.autocommit = False
        except BaseException as error:
            # never back to the pool in autocommit: other writes would commit statement by
            # statement; a connection that cannot leave it is dropped
            connection.invalidate(error if isinstance(error, Exception) else None)
            raise
        finally:
            connection.close()  # back to the pool (which rolls back any implicit transaction)
    return None if found is None else query.row(found)


def live_session(
    engine: Engine,
    token: str,
    *,
    now: datetime,
    timeouts: SessionTimeouts,
    kind: str | None = None,
) -> StoredSession | None:
    """The live session of ``token`` (of ``kind`` when given), recording its use, with its
    user's standing read in the same statement; ``None`` for an unknown, ended or expired
    token (an expired one is deleted)."""
    digest = session_digest(token)
    row = _read_session(engine, digest)
    if row is None or (kind is not None and row["kind"] != kind):
        return None
    created_at: datetime = row["created_at"]
    last_seen: datetime = row["last_seen_at"]
    idle = (now - last_seen).total_seconds()
    if idle > timeouts.idle_s or (now - created_at).total_seconds() > timeouts.absolute_s:
        end_session(engine, token)
        return None
    if idle >= timeouts.touch_every_s:
        with write_engine(engine).begin() as connection:
            # another worker may have touched it meanwhile: never move the time back
            connection.execute(
                update(_SESSIONS)
                .where(_SESSIONS.c.token_sha256 == digest, _SESSIONS.c.last_seen_at < now)
                .values(last_seen_at=now)
            )
        last_seen = now
    actor = Actor(row["user_id"], row["username"], row["role"], row["site_id"])
    return StoredSession(
        actor,
        row["csrf_token"],
        created_at,
        last_seen,
        row["kind"],
        row["stage"],
        _unseal(token, row["handover"]) if row["handover"] else "",
        user_active=bool(row["account_active"]) and row["account_username"] == row["username"],
        must_change_password=bool(row["account_must_change"]),
    )


def end_session(engine: Engine, token: str) -> bool:
    """Delete the session of ``token``; whether there was one."""
    with write_engine(engine).begin() as connection:
        ended = connection.execute(
            delete(_SESSIONS).where(_SESSIONS.c.token_sha256 == session_digest(token))
        )
    return bool(ended.rowcount)


def end_user_sessions(engine: Engine, user_id: int, *, keep: str | None = None) -> int:
    """Delete every session and API token of ``user_id`` but ``keep`` (a token); how many."""
    condition = _SESSIONS.c.user_id == user_id
    if keep:
        condition = condition & (_SESSIONS.c.token_sha256 != session_digest(keep))
    with write_engine(engine).begin() as connection:
        return int(connection.execute(delete(_SESSIONS).where(condition)).rowcount)


def count_sessions(engine: Engine) -> int:
    """How many session rows there are (expired ones not yet deleted included)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(_SESSIONS)).scalar_one())


def address_failures(engine: Engine, client: str, *, now: datetime, window_s: float) -> int:
    """Failed logins from ``client`` in the current window (0 once it has passed)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(_ADDRESSES.c.failures, _ADDRESSES.c.window_start).where(
                _ADDRESSES.c.client == client[:100]
            )
        ).one_or_none()
    if row is None or (now - row.window_start).total_seconds() >= window_s:
        return 0
    return int(row.failures)


def count_address_failure(engine: Engine, client: str, *, now: datetime, window_s: float) -> None:
    """Count one failed login from ``client`` (a new window when the last one has passed);
    delete the rows of every address whose window has passed."""
    key = client[:100]
    cutoff = now - timedelta(seconds=window_s)
    table = _ADDRESSES
    with write_engine(engine).begin() as connection:
        connection.execute(delete(table).where(table.c.window_start <= cutoff))
        insert_row = (
            pg_insert(table) if connection.dialect.name == "postgresql" else sqlite_insert(table)
        )
        connection.execute(
            insert_row.values(client=key, failures=1, window_start=now).on_conflict_do_update(
                index_elements=[table.c.client], set_={"failures": table.c.failures + 1}
            )
        )


def count_addresses(engine: Engine) -> int:
    """How many addresses have failures counted (rows of ``login_address``)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(_ADDRESSES)).scalar_one())
