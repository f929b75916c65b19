"""TOTP multi-factor authentication: set-up with recovery codes, the second login step, an
admin's reset.

Which users must use it is configuration: :attr:`LoginPolicy.mfa_roles
<remit.services.accounts.LoginPolicy>` (``remit serve --mfa-role``, ``$REMIT_MFA_ROLES``). A
user holding any of those roles must set TOTP up before doing anything else; a user who set it
up is asked for a code at every login, whatever their role.

Codes are checked with a window of one 30-second step either side, and a step's code is
accepted once only (the last used step is kept per user). Wrong codes count toward the same
per-username throttle as wrong passwords (:func:`remit.store.security.claim_attempt`). A
recovery code (ten are shown once at set-up, kept only as argon2id hashes) replaces a code
once. Every event is written to the security log.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyotp
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from remit.errors import InputError, NotFoundError, PermissionDeniedError, TooManyAttemptsError
from remit.services.access import require
from remit.services.unit import writing
from remit.store import Actor, roles_of
from remit.store.mfa import (
    RECOVERY_CODE_COUNT,
    claim_step,
    confirm_setup,
    mfa_row,
    remove_mfa,
    start_setup,
    unused_recovery_codes,
    use_recovery_code,
    user_secret,
)
from remit.store.security import claim_attempt, clear_attempts, log_security_event, user_by_name
from remit.store.tables import UserAccount
from remit.store.users import hash_secret, verify_password

if TYPE_CHECKING:
    from remit.services.accounts import LoginPolicy

__all__ = [
    "MFA_ISSUER",
    "MfaSetup",
    "MfaStatus",
    "confirm_mfa_setup",
    "mfa_required",
    "mfa_status",
    "reset_mfa",
    "start_mfa_setup",
    "verify_mfa_code",
]

#: The issuer an authenticator app shows beside the account.
MFA_ISSUER = "Remit"
#: Seconds per TOTP step (RFC 6238's default, what authenticator apps use).
STEP_S = 30
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class MfaSetup:
    """A new TOTP secret to enter in an authenticator app: ``secret`` (base32, to type in) and
    ``uri`` (``otpauth://``, for a QR code)."""

    secret: str
    uri: str


@dataclass(frozen=True)
class MfaStatus:
    """Whether the user ``enrolled`` (a confirmed set-up), has a ``pending`` one, must use MFA
    (``required``, by their roles) and how many recovery codes are left."""

    enrolled: bool
    pending: bool
    required: bool
    recovery_codes_left: int


def mfa_required(engine: Engine, user_id: int, policy: LoginPolicy) -> bool:
    """Whether the user holds a role ``policy.mfa_roles`` names."""
    if not policy.mfa_roles:
        return False
    with Session(engine) as session:
        user = session.get(UserAccount, user_id)
        if user is None:
            return False
        return any(role in policy.mfa_roles for role, _ in roles_of(session, user))


def mfa_enrolled(engine: Engine, user_id: int) -> bool:
    """Whether the user has a confirmed TOTP set-up."""
    row = mfa_row(engine, user_id)
    return row is not None and row.confirmed_at is not None


def mfa_status(engine: Engine, actor: Actor, policy: LoginPolicy) -> MfaStatus:
    """The acting user's own MFA standing."""
    require(actor, "set_up_own_mfa")
    user_id = _user_id(actor)
    row = mfa_row(engine, user_id)
    return MfaStatus(
        enrolled=row is not None and row.confirmed_at is not None,
        pending=row is not None and row.confirmed_at is None,
        required=mfa_required(engine, user_id, policy),
        recovery_codes_left=len(unused_recovery_codes(engine, user_id)),
    )


def _user_id(actor: Actor) -> int:
    if actor.user_id is None:
        raise PermissionDeniedError("the system actor has no MFA")
    return actor.user_id


def start_mfa_setup(engine: Engine, actor: Actor, *, client: str | None = None) -> MfaSetup:
    """A new TOTP secret for the acting user, kept unconfirmed (encrypted) until
    :func:`confirm_mfa_setup` sees a code from it; a previous unconfirmed one is replaced.

    Refused when the user has a confirmed set-up (an admin resets it first)."""
    require(actor, "set_up_own_mfa")
    user_id = _user_id(actor)
    if mfa_enrolled(engine, user_id):
        raise InputError(
            "MFA is set up already", hint="ask an admin to reset it if the authenticator is lost"
        )
    secret = pyotp.random_base32()
    start_setup(engine, user_id, secret)
    log_security_event(engine, "mfa_setup", actor.username, user_id=user_id, client=client)
    return MfaSetup(secret, setup_uri(secret, actor.username))


def setup_uri(secret: str, username: str) -> str:
    """The ``otpauth://totp/…`` URI of ``secret`` for ``username``."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=MFA_ISSUER)


def pending_setup(engine: Engine, actor: Actor) -> MfaSetup | None:
    """The acting user's unconfirmed set-up (to show again), else ``None``."""
    require(actor, "set_up_own_mfa")
    found = user_secret(engine, _user_id(actor))
    if found is None or found[1]:
        return None
    return MfaSetup(found[0], setup_uri(found[0], actor.username))


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (±1 around ``now``) whose code is ``code``, else ``None``."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    found = None
    for offset in (-1, 0, 1):
        moment = now + offset * STEP_S
        if secrets.compare_digest(totp.at(moment), code):
            found = int(moment // STEP_S)
    return found


def _throttled(
    engine: Engine, username: str, user_id: int, client: str | None, policy: LoginPolicy
) -> None:
    claim = claim_attempt(engine, username, policy.max_failures, policy.window_s)
    if claim.allowed:
        return
    log_security_event(
        engine,
        "lockout",
        username,
        user_id=user_id,
        client=client,
        detail=f"MFA code: {policy.max_failures} failed attempts within {policy.window_s:.0f} s",
    )
    raise TooManyAttemptsError(
        f"too many failed checks for {username!r}: try again in {int(claim.retry_after_s) + 1} s",
        retry_after_s=claim.retry_after_s,
        hint="wait, or ask an admin",
    )


def confirm_mfa_setup(
    engine: Engine,
    actor: Actor,
    code: str,
    *,
    client: str | None = None,
    policy: LoginPolicy,
    now: float | None = None,
) -> list[str]:
    """Confirm the acting user's pending set-up with a current code from it; returns the ten
    recovery codes, to be shown once (only their argon2id hashes are kept).

    A wrong code counts toward the login throttle and is logged; :class:`PermissionDeniedError`.
    """
    require(actor, "set_up_own_mfa")
    user_id = _user_id(actor)
    found = user_secret(engine, user_id)
    if found is None or found[1]:
        raise InputError("there is no MFA set-up to confirm", hint="start the set-up first")
    _throttled(engine, actor.username, user_id, client, policy)
    step = _matching_step(found[0], _clean(code), time.time() if now is None else now)
    if step is None:
        log_security_event(
            engine, "mfa_code_failed", actor.username, user_id=user_id, client=client,
            detail="set-up confirmation",
        )  # fmt: skip
        raise PermissionDeniedError(
            "the code does not match the new secret",
            hint="check the authenticator app's clock and enter the code it shows now",
        )
    codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    if not confirm_setup(engine, user_id, step, [hash_secret(_clean(c)) for c in codes]):
        raise InputError("there is no MFA set-up to confirm", hint="start the set-up again")
    clear_attempts(engine, actor.username)
    log_security_event(
        engine, "mfa_confirmed", actor.username, user_id=user_id, client=client,
        detail=f"{RECOVERY_CODE_COUNT} recovery codes issued",
    )  # fmt: skip
    return codes


def _recovery_code() -> str:
    chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def verify_mfa_code(
    engine: Engine,
    user_id: int,
    username: str,
    code: str,
    *,
    client: str | None = None,
    policy: LoginPolicy,
    purpose: str = "login",
    now: float | None = None,
) -> bool:
    """Whether ``code`` is a current TOTP code of the user (not used before) or one of their
    unused recovery codes (then used up). Throttled with the username's login count (raises
    :class:`TooManyAttemptsError` when locked out); a success clears the count. Logged as
    ``mfa_code_ok``, ``mfa_recovery_used`` or ``mfa_code_failed`` with ``purpose``."""
    found = user_secret(engine, user_id)
    if found is None or not found[1]:
        raise InputError("MFA is not set up for this user", hint="set it up on /account/mfa")
    _throttled(engine, username, user_id, client, policy)
    cleaned = _clean(code)
    step = _matching_step(found[0], cleaned, time.time() if now is None else now)
    why = "wrong code"
    if step is not None:
        if claim_step(engine, user_id, step):
            clear_attempts(engine, username)
            log_security_event(
                engine, "mfa_code_ok", username, user_id=user_id, client=client, detail=purpose
            )
            return True
        why = "code already used"
    elif len(cleaned) == 10 and not cleaned.isdigit():
        for code_id, code_hash in unused_recovery_codes(engine, user_id):
            if verify_password(code_hash, cleaned) and use_recovery_code(engine, code_id):
                clear_attempts(engine, username)
                left = len(unused_recovery_codes(engine, user_id))
                log_security_event(
                    engine, "mfa_recovery_used", username, user_id=user_id, client=client,
                    detail=f"{purpose}; {left} recovery codes left",
                )  # fmt: skip
                return True
        why = "wrong or used recovery code"
    log_security_event(
        engine, "mfa_code_failed", username, user_id=user_id, client=client,
        detail=f"{purpose}: {why}",
    )  # fmt: skip
    return False


def reset_mfa(
    engine: Engine, actor: Actor, username: str, *, reason: str, client: str | None = None
) -> bool:
    """Remove ``username``'s TOTP set-up and recovery codes (admin only, with a reason): they
    set it up again at their next login when their role requires it. Whether there was one."""
    if not reason or not reason.strip():
        raise InputError("a reason is needed to reset MFA", expected="why, e.g. 'phone lost'")
    with writing(engine, actor, "reset_mfa", reason=reason, protocol=False, locks=False) as w:
        user = user_by_name(w.session, username)
        if user is None:
            raise NotFoundError(f"user {username!r} does not exist")
        user_id = int(user.id)
    removed = remove_mfa(engine, user_id)
    log_security_event(
        engine, "mfa_reset", username, user_id=user_id, client=client,
        detail=f"by {actor.username}: {reason.strip()}" + ("" if removed else " (none set up)"),
    )  # fmt: skip
    return removed
