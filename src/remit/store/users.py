"""User accounts: argon2id password hashes, roles per site, authentication."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from remit.protocol.roles import Role
from remit.store.audit import Actor, UnitOfWork
from remit.store.tables import EMAIL_LENGTH, Site, UserAccount, UserRole
from remit.store.types import utc_now

#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 12
#: Longest password accepted (argon2 hashes anything, but a megabyte "password" is a mistake).
MAX_PASSWORD_LENGTH = 1024

# argon2-cffi's defaults are argon2id with the RFC 9106 low-memory profile (t=3, m=64 MiB, p=4).
#: The parameters of every password hash made in production (and required of a shipped one).
PRODUCTION_HASH_PARAMETERS = RFC_9106_LOW_MEMORY
_HASHER = PasswordHasher.from_parameters(PRODUCTION_HASH_PARAMETERS)

SiteRef = Site | int | str | None

#: Words that, alone or followed by digits and symbols, make a very common password
#: (``Password2024!``, ``Welcome12345``): a small built-in list, no external one.
COMMON_PASSWORD_WORDS = frozenset(
    {
        "password",
        "passw0rd",
        "p@ssw0rd",
        "welcome",
        "letmein",
        "changeme",
        "iloveyou",
        "admin",
        "administrator",
        "qwerty",
        "qwertyuiop",
        "asdfghjkl",
        "trustno",
        "sunshine",
        "football",
        "princess",
        "dragon",
        "monkey",
        "secret",
        "remit",
        "abcdefgh",
        "abcdefghijkl",
    }
)
#: Whole passwords (lower-cased) that are very common although they pass the other rules.
COMMON_PASSWORDS = frozenset(
    {"123456789012", "1234567890123", "12345678901234", "1q2w3e4r5t6y", "qwertyuiop12"}
)
_TRAILING = re.compile(r"[^a-z@]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of the 10,000 most common passwords (lower-cased; the file
    ``data/common_passwords.txt`` says where it comes from)."""
    text = resources.files("remit.store").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def is_common_password(password: str) -> bool:
    """Whether ``password`` is a very common one: in the bundled list of the 10,000 most
    common passwords or the small built-in sets, or one of those followed only by digits and
    symbols (``password1234``, ``Monkey2024!``).

    >>> is_common_password("Password2024!"), is_common_password("1q2w3e4r5t6y")
    (True, True)
    >>> is_common_password("kari-tar-bussen-hjem")
    False
    """
    lowered = password.lower()
    base = _TRAILING.sub("", lowered)
    listed = common_passwords()
    return (
        lowered in COMMON_PASSWORDS
        or lowered in listed
        or base in COMMON_PASSWORD_WORDS
        or (len(base) >= 4 and base in listed)
    )


def check_password_rules(password: str, username: str | None = None) -> None:
    """Refuse a password that is too short, too long, too uniform, very common or contains the
    username.

    >>> check_password_rules("kari-tar-bussen-hjem", "kari.nordmann")
    >>> check_password_rules("Welcome2024!!", "kari")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    remit.errors.InputError: the password is a very common one
    """
    rules = (
        f"at least {MIN_PASSWORD_LENGTH} characters, at least 5 different characters, "
        "not containing the username, not a very common password"
    )
    if not isinstance(password, str):
        raise InputError("a password must be text", expected=rules)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"the password has {len(password)} characters", expected=rules)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(
            f"the password has {len(password)} characters",
            expected=f"at most {MAX_PASSWORD_LENGTH}",
        )
    if len(set(password)) < 5:
        raise InputError(
            f"the password uses only {len(set(password))} different characters", expected=rules
        )
    if username and username.strip() and username.strip().lower() in password.lower():
        raise InputError("the password contains the username", expected=rules)
    if is_common_password(password):
        raise InputError(
            "the password is a very common one (a common word followed by digits or symbols)",
            expected=rules,
            hint="use a few unrelated words or a password manager's random password",
        )


def hash_password(password: str, username: str | None = None) -> str:
    """Check the password rules and return its argon2id hash (salted, self-describing)."""
    check_password_rules(password, username)
    return _HASHER.hash(password)


def hash_secret(secret: str) -> str:
    """The argon2id hash of a generated secret (a recovery code), kept like a password."""
    return _HASHER.hash(secret)


_DUMMY: dict[int, str] = {}


def verify_dummy(password: str) -> bool:
    """Check ``password`` against a hash of a random password, made with the same parameters
    as real hashes: an unknown username takes as long to refuse as a wrong password. Always
    ``False``."""
    key = id(_HASHER)
    if key not in _DUMMY:
        _DUMMY[key] = _HASHER.hash(secrets.token_urlsafe(24))
    verify_password(_DUMMY[key], password)
    return False


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (constant-time; never raises on mismatch)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


#: Longest e-mail address accepted (RFC 5321's limit on a forward path).
MAX_EMAIL_LENGTH = EMAIL_LENGTH
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s<>(),;:\"\[\]]+@{_LABEL}(?:\.{_LABEL})+$")


def check_email(email: str | None) -> str | None:
    """The e-mail address cleaned of surrounding spaces (``None`` or empty: no address);
    refuse one that is not ``name@domain.tld``.

    >>> check_email("  kari@ost.example.no ")
    'kari@ost.example.no'
    >>> check_email("") is None
    True
    >>> check_email("kari at ost")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    remit.errors.InputError: e-mail address 'kari at ost' is not usable
    """
    if email is None:
        return None
    if not isinstance(email, str):
        raise InputError("an e-mail address must be text", expected="e.g. kari@ost.example.no")
    cleaned = email.strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_EMAIL_LENGTH or not _EMAIL.match(cleaned):
        raise InputError(
            f"e-mail address {cleaned!r} is not usable",
            expected=f"one address name@domain.tld, at most {MAX_EMAIL_LENGTH} characters, "
            "e.g. kari@ost.example.no",
            hint="leave it empty if the user has none (alerts then do not reach them)",
        )
    return cleaned


def _site_id(session: Session, site: SiteRef) -> int | None:
    if site is None:
        return None
    if isinstance(site, Site):
        return site.id
    if isinstance(site, int):
        found = session.get(Site, site)
    else:
        found = session.scalar(select(Site).where(Site.code == site))
    if found is None:
        raise NotFoundError(f"site {site!r} does not exist", hint="add the site first")
    return found.id


def _role(role: Role | str) -> str:
    try:
        return Role(role).value
    except ValueError:
        raise InputError(
            f"role {role!r} is not a Remit role",
            expected="one of " + ", ".join(r.value for r in Role),
        ) from None


def add_user(
    uow: UnitOfWork,
    username: str,
    password: str,
    roles: Iterable[tuple[Role | str, SiteRef]] = (),
    *,
    full_name: str | None = None,
    email: str | None = None,
    must_change_password: bool = False,
) -> UserAccount:
    """Create a user with an argon2id password hash and roles ``[(role, site or None)]``;
    ``email`` (checked by :func:`check_email`) is where alerts reach them;
    ``must_change_password`` makes them choose their own password at their first login."""
    username = _checked_username(uow.session, username)
    return _insert_user(
        uow,
        username,
        hash_password(password, username),
        roles,
        full_name=full_name,
        email=email,
        must_change_password=must_change_password,
    )


def is_production_hash(password_hash: str) -> bool:
    """Whether ``password_hash`` is an argon2id hash made with exactly the production
    parameters (:data:`PRODUCTION_HASH_PARAMETERS`: argon2id version 19, t=3, m=64 MiB, p=4,
    16-byte salt, 32-byte hash): what a stored hash that was not made here must be. Fixed, not
    the current hasher's: cheaper test parameters never make a weak hash acceptable."""
    try:
        return extract_parameters(password_hash) == PRODUCTION_HASH_PARAMETERS
    except (InvalidHashError, ValueError):
        return False


def add_user_with_hash(
    uow: UnitOfWork,
    username: str,
    password_hash: str,
    roles: Iterable[tuple[Role | str, SiteRef]] = (),
    *,
    full_name: str | None = None,
    must_change_password: bool = False,
) -> UserAccount:
    """Create a user whose password hash was computed beforehand (the demo users: public
    passwords whose production-strength hashes ship with Remit, so that building a demo does
    not spend 64 MiB and a tenth of a second per user). Internal to the store and the demo
    path of the services: no command, page or public service takes a hash. A hash that is not
    argon2id with the production parameters (:func:`is_production_hash`) is refused: a
    precomputed hash never weakens an account."""
    if not is_production_hash(password_hash):
        shown = password_hash.split("$")[1] if password_hash.count("$") > 1 else "unparsable"
        raise InputError(
            f"the precomputed password hash of user {username!r} ({shown}) is not usable",
            expected="an argon2id hash with the production parameters (m=65536, t=3, p=4)",
            hint="regenerate it with argon2.PasswordHasher().hash(password)",
        )
    username = _checked_username(uow.session, username)
    return _insert_user(
        uow,
        username,
        password_hash,
        roles,
        full_name=full_name,
        email=None,
        must_change_password=must_change_password,
    )


def _checked_username(session: Session, username: str) -> str:
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise InputError(
            f"username {username!r} is not usable",
            expected="1 to 100 characters without spaces",
        )
    if session.scalar(select(UserAccount.id).where(UserAccount.username == username)):
        raise ConflictError(f"user {username!r} already exists", hint="choose another username")
    return username


def _insert_user(
    uow: UnitOfWork,
    username: str,
    password_hash: str,
    roles: Iterable[tuple[Role | str, SiteRef]],
    *,
    full_name: str | None,
    email: str | None,
    must_change_password: bool,
) -> UserAccount:
    session = uow.session
    address = check_email(email)
    wanted = [(_role(role), _site_id(session, site)) for role, site in roles]
    user = UserAccount(
        username=username,
        password_hash=password_hash,
        full_name=full_name,
        email=address,
        must_change_password=must_change_password,
        password_changed_at=utc_now(),
    )
    session.add(user)
    session.flush()
    for role, site_id in dict.fromkeys(wanted):
        session.add(UserRole(user_id=user.id, role=role, site_id=site_id))
    session.flush()
    return user


def find_user(session: Session, username: str) -> UserAccount:
    """The user called ``username`` (active or not), else :class:`NotFoundError`."""
    user = session.scalar(select(UserAccount).where(UserAccount.username == username))
    if user is None:
        raise NotFoundError(
            f"user {username!r} does not exist",
            hint="the users are listed on the Users page (/admin/users)",
        )
    return user


def set_password(
    uow: UnitOfWork, user: UserAccount, password: str, *, must_change: bool
) -> UserAccount:
    """Give ``user`` a new password (checked by :func:`check_password_rules`);
    ``must_change`` when someone else chose it (an admin's reset), so that the user must
    choose their own at their next login."""
    user.password_hash = hash_password(password, user.username)
    user.must_change_password = must_change
    user.password_changed_at = utc_now()
    uow.session.flush()
    return user


def grant_role(uow: UnitOfWork, user: UserAccount, role: Role | str, site: SiteRef = None) -> None:
    """Give ``user`` ``role`` at ``site`` (study-wide when ``None``); nothing if already held."""
    session = uow.session
    role_value, site_id = _role(role), _site_id(session, site)
    held = session.scalar(
        select(UserRole.id).where(
            UserRole.user_id == user.id,
            UserRole.role == role_value,
            UserRole.site_id.is_(None) if site_id is None else UserRole.site_id == site_id,
        )
    )
    if held is None:
        session.add(UserRole(user_id=user.id, role=role_value, site_id=site_id))
        session.flush()


def authenticate(session: Session, username: str, password: str) -> UserAccount:
    """The active user with this username and password, else :class:`PermissionDeniedError`.

    The error does not say which part was wrong.
    """
    user = session.scalar(select(UserAccount).where(UserAccount.username == username))
    # Always one argon2 verification, so that the time does not tell which part was wrong.
    matches = (
        verify_password(user.password_hash, password)
        if user is not None
        else verify_dummy(password)
    )
    if user is None or not user.active or not matches:
        raise PermissionDeniedError(
            "unknown username, wrong password or inactive account",
            hint="check the username and password, or ask an admin",
        )
    return user


def roles_of(session: Session, user: UserAccount) -> list[tuple[str, int | None]]:
    """The ``(role, site_id)`` pairs ``user`` holds."""
    rows = session.execute(
        select(UserRole.role, UserRole.site_id)
        .where(UserRole.user_id == user.id)
        .order_by(UserRole.id)
    )
    return [(role, site_id) for role, site_id in rows]


def actor_for(
    session: Session, username: str, role: Role | str | None = None, site: SiteRef = None
) -> Actor:
    """An :class:`Actor` for a user acting in one of the roles they hold.

    With ``role=None`` the user must hold exactly one role. A study-wide role also covers every
    site.
    """
    user = session.scalar(select(UserAccount).where(UserAccount.username == username))
    if user is None:
        raise NotFoundError(
            f"user {username!r} does not exist", hint="add it with `remit user add`"
        )
    if not user.active:
        raise PermissionDeniedError(f"user {username!r} is inactive", hint="ask an admin")
    held = roles_of(session, user)
    site_id = _site_id(session, site)
    if role is not None:
        wanted = _role(role)
        held = [(r, s) for r, s in held if r == wanted]
    if site_id is not None:
        held = [(r, s) for r, s in held if s in (None, site_id)]
    if len(held) != 1:
        what = "no" if not held else "several"
        raise PermissionDeniedError(
            f"user {username!r} holds {what} matching roles"
            + (f" ({', '.join(f'{r}@{s}' for r, s in held)})" if held else ""),
            expected="exactly one role (pass role= and site= to choose)",
        )
    chosen_role, chosen_site = held[0]
    return Actor(user.id, user.username, chosen_role, chosen_site)
