"""The security log for admins, and the tokens that let the CLI act as a logged-in user.

The log itself is written by :mod:`remit.services.accounts` (logins, lockouts,
re-authentication) and here (CLI logins and refused tokens); :func:`security_log` reads it.

CLI tokens: :func:`cli_login` checks the password exactly as a web login does (throttled,
logged) and hands out a random token valid for :data:`CLI_TOKEN_LIFETIME`; the database keeps
only its SHA-256. :func:`check_cli_token` is how every CLI command that acts as a user checks
it: without a live token of that user it refuses (and logs the refusal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import InputError, PermissionDeniedError
from remit.services.accounts import DEFAULT_LOGIN_POLICY, LoginPolicy, login_user
from remit.services.records import _Record
from remit.services.unit import reading
from remit.store import Actor
from remit.store.security import (
    SECURITY_EVENTS,
    SecurityEvent,
    cli_token_user,
    issue_cli_token,
    log_security_event,
    revoke_cli_token,
)
from remit.store.tables import UserAccount

__all__ = [
    "CLI_TOKEN_LIFETIME",
    "SECURITY_EVENTS",
    "SecurityEventRecord",
    "check_cli_password",
    "check_cli_token",
    "cli_login",
    "cli_logout",
    "security_log",
]

#: How long a ``remit login`` token is valid.
CLI_TOKEN_LIFETIME = timedelta(hours=8)


@dataclass(frozen=True)
class SecurityEventRecord(_Record):
    """One row of the security log."""

    id: int
    occurred_at: datetime
    username: str
    user_id: int | None
    event: str
    client: str | None
    detail: str | None


def security_log(
    engine: Engine,
    actor: Actor,
    *,
    event: str | None = None,
    username: str | None = None,
    limit: int = 500,
) -> list[SecurityEventRecord]:
    """The newest ``limit`` events of the security log, newest first, for admins; ``event``
    and ``username`` (as given at login, case ignored) filter it."""
    if event is not None and event not in SECURITY_EVENTS:
        raise InputError(
            f"security event {event!r} is unknown",
            expected="one of " + ", ".join(sorted(SECURITY_EVENTS)),
        )
    if not 1 <= limit <= 10_000:
        raise InputError(f"limit {limit} is out of range", expected="1 to 10000")
    with reading(engine, actor, "view_security_log", "security_log") as r:
        query = select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(limit)
        if event is not None:
            query = query.where(SecurityEvent.event == event)
        if username:
            query = query.where(SecurityEvent.username.ilike(username.strip()))
        rows = r.session.scalars(query)
        return r.returning([SecurityEventRecord.from_row(row) for row in rows])


def cli_login(
    engine: Engine,
    username: str,
    password: str,
    *,
    client: str = "cli",
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    lifetime: timedelta = CLI_TOKEN_LIFETIME,
    totp_code: str | None = None,
) -> str:
    """Check the password (and, for a user with MFA, ``totp_code``) like a web login
    (throttled, logged) and return a new CLI token; :class:`MfaRequiredError` when the code
    is missing or the user must set MFA up first (on the web).

    The user need not choose a role here: each command chooses with ``--role`` as before.
    """
    user_id = _checked(engine, username, password, client=client, policy=policy, code=totp_code)
    token = issue_cli_token(engine, user_id, lifetime)
    log_security_event(
        engine, "cli_login", username, user_id=user_id, client=client,
        detail=f"token valid {lifetime.total_seconds() / 3600:g} h",
    )  # fmt: skip
    return token


def _checked(
    engine: Engine,
    username: str,
    password: str,
    *,
    client: str,
    policy: LoginPolicy,
    code: str | None = None,
) -> int:
    return login_user(engine, username, password, client=client, policy=policy, totp_code=code)


def cli_logout(engine: Engine, token: str, *, client: str = "cli") -> bool:
    """Revoke a CLI token; whether the database knew it."""
    user_id = revoke_cli_token(engine, token)
    if user_id is None:
        return False
    with Session(engine) as session:
        user = session.get(UserAccount, user_id)
        name = user.username if user is not None else str(user_id)
    log_security_event(engine, "cli_logout", name, user_id=user_id, client=client)
    return True


def check_cli_token(
    engine: Engine, tokens: Sequence[str], username: str, *, client: str = "cli"
) -> None:
    """Accept ``username`` if one of ``tokens`` is a live CLI token of that active user;
    otherwise :class:`PermissionDeniedError` (and the refusal is in the security log)."""
    with Session(engine) as session:
        user = session.scalar(select(UserAccount).where(UserAccount.username == username))
        owners = {cli_token_user(session, token) for token in tokens}
        if user is not None and user.active and user.id in owners:
            return
        why = "no token" if not tokens else "no live token of this user on this database"
        log_security_event(
            engine,
            "cli_token_refused",
            username,
            user_id=None if user is None else user.id,
            client=client,
            detail=why,
        )
    raise PermissionDeniedError(
        f"not logged in as {username!r} on this database ({why})",
        hint=f"run `remit login --db DB --user {username}` first, "
        "or `remit --password-stdin COMMAND …` with the password on standard input",
    )


def check_cli_password(
    engine: Engine,
    username: str,
    password: str,
    *,
    client: str = "cli",
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    totp_code: str | None = None,
) -> None:
    """Accept ``username`` for one command if ``password`` (and, with MFA, ``totp_code``) is
    theirs: checked and throttled like a login, and logged (``login_ok``/``login_failed``)."""
    _checked(engine, username, password, client=client, policy=policy, code=totp_code)
