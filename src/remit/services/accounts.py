"""Who acts: an :class:`Actor` for a stored user, logging in, re-checking a password.

Every other service takes the actor these functions return. ``Actor`` and ``SYSTEM_ROLE`` (the
pseudo-role of work Remit does itself, which cannot log in) are re-exported here so that the
outer layers need not import :mod:`remit.store`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from remit.errors import (
    InputError,
    MfaRequiredError,
    PermissionDeniedError,
    RemitError,
    TooManyAttemptsError,
)
from remit.protocol.roles import SYSTEM_ROLE
from remit.services.access import ROLES
from remit.services.mfa import mfa_enrolled, mfa_required, verify_mfa_code
from remit.store import Actor, authenticate, roles_of
from remit.store import actor_for as store_actor_for
from remit.store.security import (
    claim_attempt,
    clear_attempts,
    log_security_event,
    user_by_name,
)
from remit.store.tables import Site, UserAccount
from remit.store.users import MIN_PASSWORD_LENGTH

__all__ = [
    "DEFAULT_LOGIN_POLICY",
    "DEFAULT_MFA_ROLES",
    "MIN_PASSWORD_LENGTH",
    "SYSTEM_ROLE",
    "AccountStanding",
    "Actor",
    "LoginPolicy",
    "LoginStep",
    "account_standing",
    "actor_for",
    "actors_for",
    "check_password",
    "log_logout",
    "login",
    "login_password_step",
    "login_second_step",
    "login_user",
    "mfa_roles_from",
]


def actor_for(
    engine: Engine,
    username: str,
    role: str | None = None,
    site: str | int | None = None,
) -> Actor:
    """The actor for ``username`` acting in one of the roles they hold.

    With ``role=None`` the user must hold exactly one role; ``site`` (a site code or id)
    chooses among roles held at several sites, a study-wide role covering every site. No
    password is checked: this is for callers that already know who acts (the CLI on the
    server, simulation, imports). An unknown or inactive user, or a role not held, is refused.
    """
    with Session(engine) as session:
        return store_actor_for(session, username, role, site)


def actors_for(engine: Engine, username: str) -> dict[str, Actor]:
    """``username`` as an actor in each role they hold (study-wide or at exactly one site).

    For work whose steps need different roles (an import enters forms as the rater the
    protocol names). A user holding no usable role is an :class:`InputError`.
    """
    found: dict[str, Actor] = {}
    with Session(engine) as session:
        for role in ROLES:
            try:
                found[role] = store_actor_for(session, username, role)
            except RemitError:
                continue
    if not found:
        raise InputError(f"user {username!r} holds no role", hint="add roles with `remit user add`")
    return found


def _held(session: Session, user: UserAccount) -> list[tuple[str, str | None, int | None]]:
    """``(role, site code, site id)`` for each role ``user`` holds."""
    out = []
    for role, site_id in roles_of(session, user):
        site = session.get(Site, site_id) if site_id is not None else None
        out.append((role, site.code if site is not None else None, site_id))
    return out


def _key(role: str, site: str | None) -> str:
    return f"{role}@{site}" if site else role


#: Roles that must use TOTP MFA unless configured otherwise (``remit serve --mfa-role``,
#: ``$REMIT_MFA_ROLES``): none, for now (MFA is opt-in per site; docs/security.md recommends
#: at least admin). A user who set MFA up is asked for a code whatever this says.
DEFAULT_MFA_ROLES: frozenset[str] = frozenset()


def mfa_roles_from(text: str | None) -> frozenset[str]:
    """The MFA roles a setting names: comma-separated roles, ``none`` for no role, unset
    (``None`` or blank) for :data:`DEFAULT_MFA_ROLES`.

    >>> sorted(mfa_roles_from("admin, investigator")), mfa_roles_from("none")
    (['admin', 'investigator'], frozenset())
    """
    if text is None or not text.strip():
        return DEFAULT_MFA_ROLES
    if text.strip().lower() == "none":
        return frozenset()
    roles = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(roles - set(ROLES))
    if unknown:
        raise InputError(
            f"MFA role {', '.join(unknown)} is not a Remit role",
            expected="roles among " + ", ".join(ROLES) + ", or none",
        )
    return roles


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed password (or MFA code) checks one username may have in ``window_s``
    seconds before further attempts are refused until the window ends, and which roles must
    use TOTP MFA (``mfa_roles``: a user holding any of them) (the web settings pass theirs)."""

    max_failures: int = 5
    window_s: float = 15 * 60.0
    mfa_roles: frozenset[str] = field(default=DEFAULT_MFA_ROLES)


DEFAULT_LOGIN_POLICY = LoginPolicy()


def _checked_user(
    engine: Engine,
    username: str,
    password: str,
    *,
    client: str | None,
    policy: LoginPolicy,
    failed: str,
    locked: str = "lockout",
    expected_user_id: int | None = None,
    clear: bool = True,
) -> int:
    """The id of the active user ``username`` whose password this is, after claiming one
    attempt of the username's throttle; every failure is written to the security log as
    ``failed`` (``locked`` when the throttle refused the attempt). An unknown username costs the
    same argon2 verification and the same database work as a wrong password. With
    ``clear=False`` the claimed attempt stays counted (a TOTP code is still to come: the count
    clears when it is right, so that guessing codes cannot reset it with the password)."""
    # PostgreSQL refuses NUL in text (a 500 found by the fuzz battery): no username holds one,
    # so it becomes U+FFFD for the throttle, the lookup and the security log (an unknown user)
    username = username.replace("\x00", "\ufffd")
    claim = claim_attempt(engine, username, policy.max_failures, policy.window_s)
    # One database connection at a time (the session is closed before the log is written), so
    # that many parallel attempts cannot exhaust the connection pool.
    with Session(engine) as session:
        user = user_by_name(session, username)
        user_id = None if user is None else int(user.id)
        refused: PermissionDeniedError | None = None
        if claim.allowed:
            try:
                found = authenticate(session, username, password)
                if expected_user_id is not None and found.id != expected_user_id:
                    raise PermissionDeniedError("the password is not the acting user's")
            except PermissionDeniedError as error:
                refused = error
    if not claim.allowed:
        log_security_event(
            engine,
            locked,
            username,
            user_id=user_id,
            client=client,
            detail=f"{policy.max_failures} failed attempts within {policy.window_s:.0f} s",
        )
        raise TooManyAttemptsError(
            f"too many failed password checks for {username!r}: "
            f"try again in {int(claim.retry_after_s) + 1} s",
            retry_after_s=claim.retry_after_s,
            hint="wait, or ask an admin to reset the password",
        )
    if refused is not None or user_id is None:
        log_security_event(
            engine,
            failed,
            username,
            user_id=user_id,
            client=client,
            detail="unknown username" if user_id is None else "wrong password or inactive",
        )
        raise refused or PermissionDeniedError("unknown username")
    if clear:
        clear_attempts(engine, username)
    return user_id


@dataclass(frozen=True)
class LoginStep:
    """A login whose password was right: the actor, and what MFA still needs (``"none"``,
    ``"code"``: a TOTP or recovery code, ``"setup"``: the user must set TOTP up before
    anything else)."""

    actor: Actor
    mfa: Literal["none", "code", "setup"]


def login_password_step(
    engine: Engine,
    username: str,
    password: str,
    role: str | None = None,
    *,
    client: str | None = None,
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
) -> LoginStep:
    """The first step of a login: check the password (see :func:`login`) and say what MFA
    still needs. A login with nothing more to do is logged ``login_ok``; one that still needs
    a code is logged when the code is checked (:func:`login_second_step`)."""
    # looked up for every username (known or not), so that the time tells nothing
    enrolled = mfa_enrolled(engine, _user_id_of(engine, username))
    user_id = _checked_user(
        engine,
        username,
        password,
        client=client,
        policy=policy,
        failed="login_failed",
        clear=not enrolled,
    )
    with Session(engine) as session:
        user = session.get_one(UserAccount, user_id)
        held = _held(session, user)
        chosen = [h for h in held if role in (_key(h[0], h[1]), h[0])] if role else held
        if len(chosen) != 1:
            listed = ", ".join(_key(r, s) for r, s, _ in held) or "none"
            raise InputError(
                f"choose the role to act in (given {role or 'none'})",
                expected=f"one of the roles held: {listed}",
            )
        chosen_role, site_code, site_id = chosen[0]
        actor = Actor(user.id, user.username, chosen_role, site_id)
    if enrolled:
        return LoginStep(actor, "code")
    detail = f"role {_key(chosen_role, site_code)}"
    if mfa_required(engine, user_id, policy):
        log_security_event(
            engine, "mfa_setup_required", username, user_id=user_id, client=client, detail=detail
        )
        return LoginStep(actor, "setup")
    log_security_event(engine, "login_ok", username, user_id=user_id, client=client, detail=detail)
    return LoginStep(actor, "none")


def _user_id_of(engine: Engine, username: str) -> int:
    with Session(engine) as session:
        user = user_by_name(session, username.replace("\x00", "\ufffd"))
        return -1 if user is None else int(user.id)


def login_second_step(
    engine: Engine,
    actor: Actor,
    code: str,
    *,
    client: str | None = None,
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
) -> bool:
    """The second step of a login that needs a code: whether ``code`` (TOTP or recovery) is
    right (throttled with the password count, logged); a right one logs ``login_ok``."""
    if actor.user_id is None:
        raise PermissionDeniedError("the system actor cannot log in")
    if not verify_mfa_code(
        engine, actor.user_id, actor.username, code, client=client, policy=policy
    ):
        return False
    _log_mfa_login(engine, actor, client)
    return True


def _log_mfa_login(engine: Engine, actor: Actor, client: str | None) -> None:
    log_security_event(
        engine, "login_ok", actor.username, user_id=actor.user_id, client=client,
        detail=f"role {actor.role}, with MFA",
    )  # fmt: skip


def login_user(
    engine: Engine,
    username: str,
    password: str,
    *,
    client: str | None = None,
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    totp_code: str | None = None,
) -> int:
    """Check the password and, for a user with MFA, ``totp_code``, without choosing a role
    (the CLI chooses one per command); the user's id. Errors and the log as :func:`login`."""
    enrolled = mfa_enrolled(engine, _user_id_of(engine, username))
    user_id = _checked_user(
        engine, username, password, client=client, policy=policy, failed="login_failed",
        clear=not enrolled,
    )  # fmt: skip
    if enrolled:
        _demand_code(engine, user_id, username, totp_code, client=client, policy=policy)
    elif mfa_required(engine, user_id, policy):
        log_security_event(engine, "mfa_setup_required", username, user_id=user_id, client=client)
        raise _setup_needed(username)
    log_security_event(
        engine, "login_ok", username, user_id=user_id, client=client,
        detail="with MFA" if enrolled else None,
    )  # fmt: skip
    return user_id


def _setup_needed(username: str) -> MfaRequiredError:
    return MfaRequiredError(
        f"{username} must set up MFA (an authenticator app) before logging in here",
        setup=True,
        hint="log in on the web page and follow the set-up (/account/mfa)",
    )


def _demand_code(
    engine: Engine,
    user_id: int,
    username: str,
    code: str | None,
    *,
    client: str | None,
    policy: LoginPolicy,
) -> None:
    """Refuse unless ``code`` is a right MFA code of the user (:class:`MfaRequiredError` when
    missing, :class:`PermissionDeniedError` when wrong or used)."""
    if not code:
        raise MfaRequiredError(
            "a TOTP code is needed: the user has MFA",
            hint="give the 6-digit code of the authenticator app (or a recovery code)",
        )
    if not verify_mfa_code(engine, user_id, username, code, client=client, policy=policy):
        raise PermissionDeniedError(
            "the MFA code is wrong or was used already", hint="wait for the next code"
        )


def login(
    engine: Engine,
    username: str,
    password: str,
    role: str | None = None,
    *,
    client: str | None = None,
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    totp_code: str | None = None,
) -> Actor:
    """Check ``username``/``password`` (argon2id) and, when the user set MFA up, ``totp_code``
    (a TOTP or recovery code); return the actor in the chosen role.

    ``role`` is ``"role"`` or ``"role@SITE"`` and needed only when the user holds several.
    Raises :class:`PermissionDeniedError` for wrong credentials (without saying which part was
    wrong), :class:`MfaRequiredError` when the password was right but a code is missing
    (``setup=True``: the user's role requires MFA and they have not set it up: that is done on
    the web account page), :class:`TooManyAttemptsError` when the username had
    ``policy.max_failures`` failures within the window (atomic across processes: the count is
    in the database), and :class:`InputError` listing the roles when the choice is missing or
    not held. Every success, failure and lockout is written to the security log with ``client``.
    """
    step = login_password_step(engine, username, password, role, client=client, policy=policy)
    if step.mfa == "setup":
        raise _setup_needed(username)
    if step.mfa == "code":
        actor = step.actor
        _demand_code(engine, actor.user_id or 0, username, totp_code, client=client, policy=policy)
        _log_mfa_login(engine, actor, client)
    return step.actor


def check_password(
    engine: Engine,
    actor: Actor,
    password: str,
    *,
    client: str | None = None,
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    purpose: str = "signature",
    totp_code: str | None = None,
    second_factor: bool = True,
) -> bool:
    """Whether ``password`` is the acting user's own (re-entry before a sensitive step) and,
    when the user set MFA up (and ``second_factor``), ``totp_code`` is a right code.

    Throttled like a login (the same per-username count: a wrong password or code here counts
    toward the lockout) and written to the security log (``reauth_ok``/``reauth_failed``,
    ``mfa_code_ok``/``mfa_code_failed``, ``purpose`` in the detail). Raises
    :class:`TooManyAttemptsError` when the username is locked out and
    :class:`MfaRequiredError` when the password was right but the code is missing.
    """
    needs_code = second_factor and actor.user_id is not None and mfa_enrolled(engine, actor.user_id)
    try:
        _checked_user(
            engine,
            actor.username,
            password,
            client=client,
            policy=policy,
            failed="reauth_failed",
            expected_user_id=actor.user_id,
            clear=not needs_code,
        )
    except TooManyAttemptsError:
        raise
    except PermissionDeniedError:
        return False
    if needs_code and actor.user_id is not None:
        if not totp_code:
            raise MfaRequiredError(
                "the MFA code is needed too", hint="enter the authenticator app's current code"
            )
        if not verify_mfa_code(
            engine,
            actor.user_id,
            actor.username,
            totp_code,
            client=client,
            policy=policy,
            purpose=purpose,
        ):
            return False
    log_security_event(
        engine, "reauth_ok", actor.username, user_id=actor.user_id, client=client, detail=purpose
    )
    return True


def log_logout(engine: Engine, actor: Actor, *, client: str | None = None) -> None:
    """Write a logout to the security log."""
    log_security_event(engine, "logout", actor.username, user_id=actor.user_id, client=client)


@dataclass(frozen=True)
class AccountStanding:
    """Whether a logged-in user may go on: ``active`` (else every session ends) and
    ``must_change_password`` (else nothing but changing the password is allowed)."""

    active: bool
    must_change_password: bool


def account_standing(engine: Engine, actor: Actor) -> AccountStanding:
    """The acting user's standing now (read on every web request, so that deactivating a user
    or resetting their password takes effect on open sessions and tokens).

    An unknown user, or one whose username no longer matches, stands as inactive.
    """
    with Session(engine) as session:
        user = session.get(UserAccount, actor.user_id) if actor.user_id is not None else None
        if user is None or user.username != actor.username:
            return AccountStanding(active=False, must_change_password=False)
        return AccountStanding(bool(user.active), bool(user.must_change_password))
