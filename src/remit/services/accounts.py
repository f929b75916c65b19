"""Who acts: an :class:`Actor` for a stored user, logging in, re-checking a password.

Every other service takes the actor these functions return. ``Actor`` and ``SYSTEM_ROLE`` (the
pseudo-role of work Remit does itself, which cannot log in) are re-exported here so that the
outer layers need not import :mod:`remit.store`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from remit.errors import InputError, PermissionDeniedError, RemitError
from remit.protocol.roles import SYSTEM_ROLE
from remit.services.access import ROLES
from remit.store import Actor, authenticate, roles_of
from remit.store import actor_for as store_actor_for
from remit.store.tables import Site, UserAccount
from remit.store.users import MIN_PASSWORD_LENGTH

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "SYSTEM_ROLE",
    "AccountStanding",
    "Actor",
    "account_standing",
    "actor_for",
    "actors_for",
    "check_password",
    "login",
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


def login(engine: Engine, username: str, password: str, role: str | None = None) -> Actor:
    """Check ``username``/``password`` (argon2id) and return the actor in the chosen role.

    ``role`` is ``"role"`` or ``"role@SITE"`` and needed only when the user holds several.
    Raises :class:`PermissionDeniedError` for wrong credentials (without saying which part was
    wrong) and :class:`InputError` listing the roles when the choice is missing or not held.
    """
    with Session(engine) as session:
        user = authenticate(session, username, password)
        held = _held(session, user)
        chosen = [h for h in held if role in (_key(h[0], h[1]), h[0])] if role else held
        if len(chosen) != 1:
            listed = ", ".join(_key(r, s) for r, s, _ in held) or "none"
            raise InputError(
                f"choose the role to act in (given {role or 'none'})",
                expected=f"one of the roles held: {listed}",
            )
        chosen_role, _, site_id = chosen[0]
        return Actor(user.id, user.username, chosen_role, site_id)


def check_password(engine: Engine, actor: Actor, password: str) -> bool:
    """Whether ``password`` is the acting user's own (re-entry before a sensitive step)."""
    try:
        with Session(engine) as session:
            user = authenticate(session, actor.username, password)
            return bool(user.id == actor.user_id)
    except PermissionDeniedError:
        return False


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
