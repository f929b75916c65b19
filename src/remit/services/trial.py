"""Setting a trial up: the study, its protocol, its sites, the first admin; more users."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from remit.protocol import Protocol, protocol_from_text
from remit.services.accounts import check_password
from remit.services.records import PasswordResetRecord, TrialRecord, UserRecord
from remit.services.unit import reading, writing
from remit.store import (
    Actor,
    UnitOfWork,
    add_site,
    check_email,
    check_password_rules,
    create_study,
    current_protocol_version,
    find_user,
    set_password,
    store_protocol_version,
    verify_password,
)
from remit.store import add_user as store_add_user
from remit.store.security import log_security_event
from remit.store.tables import Site, Study, UserAccount, UserRole


def study_code_for(protocol: Protocol) -> str:
    """The prefix of participant IDs: the first three letters of the protocol id, upper case.

    ``oslo-mdma-mdd`` → ``OSL`` (participants ``OSL-001``, ``OSL-002`` …).
    """
    letters = re.sub(r"[^A-Za-z0-9]", "", protocol.study.id)
    return (letters[:3] or "RMT").upper()


def user_record(session: Session, user: UserAccount) -> UserRecord:
    """A user row and its roles as a record."""
    rows = session.execute(
        select(UserRole.role, Site.code)
        .join(Site, Site.id == UserRole.site_id, isouter=True)
        .where(UserRole.user_id == user.id)
        .order_by(UserRole.id)
    )
    return UserRecord.from_row(
        user,
        roles=tuple((role, code) for role, code in rows),
        must_change_password=bool(user.must_change_password),
    )


def create_trial(
    engine: Engine,
    protocol: Protocol,
    *,
    sites: Sequence[str] | None = None,
    admin_username: str,
    admin_password: str,
    study_code: str | None = None,
    actor: Actor | None = None,
) -> TrialRecord:
    """Create the study, store the protocol (text + hash), its sites and the first admin.

    ``sites`` are site codes of the protocol (all of them by default); a code the protocol
    does not list is refused. The database must be migrated and empty of studies. This is what
    ``remit init`` does; it runs as the ``system`` actor unless ``actor`` is given.
    """
    return _create_trial(
        engine,
        protocol,
        sites=sites,
        admin=lambda uow: store_add_user(uow, admin_username, admin_password, [("admin", None)]),
        study_code=study_code,
        actor=actor,
    )


def _create_trial(
    engine: Engine,
    protocol: Protocol,
    *,
    sites: Sequence[str] | None,
    admin: Callable[[UnitOfWork], UserAccount],
    study_code: str | None,
    actor: Actor | None,
) -> TrialRecord:
    """:func:`create_trial`, the first admin made by ``admin`` in the same transaction."""
    actor = actor or Actor.system("remit-init")
    known = {s.code: s.name for s in protocol.study.sites}
    wanted = list(sites) if sites else list(known)
    if not wanted:
        raise InputError(
            f"protocol {protocol.study.id} lists no sites and none were given",
            expected="at least one site code",
            hint="pass --site CODE",
        )
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise InputError(
            f"site {', '.join(unknown)} is not a site of protocol {protocol.study.id}",
            expected="one of " + (", ".join(known) or "(none listed)"),
        )
    if len(set(wanted)) != len(wanted):
        raise InputError(f"sites {wanted} name a site twice", expected="distinct site codes")
    code = study_code or study_code_for(protocol)
    with writing(engine, actor, "create_trial", protocol=False, locks=False) as w:
        uow, session = w.uow, w.session
        if session.scalar(select(Study.id).limit(1)) is not None:
            raise ConflictError(
                "this database already holds a study",
                hint="use a new database file for a new trial",
            )
        study = create_study(uow, code, protocol.study.title)
        version = store_protocol_version(
            uow,
            study,
            name=protocol.study.id,
            version=protocol.study.version,
            text=protocol.text,
            sha256=protocol.sha256,
        )
        uow.protocol_version_id = version.id
        for site in wanted:
            add_site(uow, study, site, known[site])
        first_admin = admin(uow)
        return TrialRecord(
            study_id=study.id,
            study_code=study.code,
            title=study.title,
            protocol_id=protocol.study.id,
            protocol_version_id=version.id,
            protocol_sha256=version.sha256,
            sites=tuple(wanted),
            admin=user_record(session, first_admin),
        )


def add_user(
    engine: Engine,
    actor: Actor,
    username: str,
    password: str,
    roles: Iterable[tuple[str, str | None]],
    *,
    full_name: str | None = None,
    email: str | None = None,
    must_change_password: bool = True,
) -> UserRecord:
    """Add a user with roles ``[(role, site code or None for study-wide)]`` (admin only);
    ``email`` is where safety alerts reach them (checked: ``name@domain.tld``).

    The admin chose the password, so the new user must change it at their first login
    (``must_change_password=False`` only where no person will log in with it: simulation,
    test fixtures)."""
    wanted = list(roles)
    if not wanted:
        raise InputError(
            f"user {username!r} would have no role",
            expected="at least one (role, site) pair, e.g. ('investigator', 'OST')",
        )
    with writing(engine, actor, "add_user", protocol=False, locks=False) as w:
        user = store_add_user(
            w.uow,
            username,
            password,
            wanted,
            full_name=full_name,
            email=email,
            must_change_password=must_change_password,
        )
        return user_record(w.session, user)


def set_user_email(engine: Engine, actor: Actor, username: str, email: str | None) -> UserRecord:
    """Set (or with ``None`` or ``""`` remove) the e-mail address alerts reach ``username`` at
    (admin only; audited like every change of a user)."""
    address = check_email(email)
    with writing(engine, actor, "add_user", protocol=False, locks=False) as w:
        user = w.session.scalar(select(UserAccount).where(UserAccount.username == username))
        if user is None:
            raise NotFoundError(
                f"user {username!r} does not exist",
                hint="the users are listed on the Users page (/admin/users)",
            )
        user.email = address
        w.session.flush()
        return user_record(w.session, user)


def list_users(engine: Engine, actor: Actor) -> list[UserRecord]:
    """Every user and their roles (for those who may add users)."""
    with reading(engine, actor, "add_user", "list_users") as r:
        users = r.session.scalars(select(UserAccount).order_by(UserAccount.id))
        return r.returning([user_record(r.session, u) for u in users])


def trial_protocol(engine: Engine, *, source: str | None = None) -> Protocol:
    """The protocol in force in this database (the newest stored version), parsed.

    ``source`` names where it came from in the protocol's provenance (and in any error about
    it); by default ``stored protocol <first 12 digits of its sha256>``.
    """
    from remit.services._common import protocol_in_force

    with Session(engine) as session:
        if source is not None:
            row = current_protocol_version(session)
            return protocol_from_text(row.text, source=source)
        protocol, _ = protocol_in_force(session)
    return protocol


def set_user_active(
    engine: Engine, actor: Actor, username: str, active: bool, *, reason: str | None = None
) -> UserRecord:
    """Deactivate (``active=False``) or reactivate a user (admin only, audited with the reason).

    A deactivated user cannot log in, and their open web sessions and API tokens stop working
    at their next request; their records and signatures stay. An admin cannot deactivate
    themselves (no one could undo it if they were the last admin). Setting the state a user
    already has changes nothing.

    Example::

        set_user_active(engine, ada, "kari", False, reason="left the study")  # .active False
    """
    with writing(engine, actor, "set_user_active", reason=reason, protocol=False, locks=False) as w:
        user = find_user(w.session, username)
        if not active and user.id == actor.user_id:
            raise InputError(
                f"{actor.username} cannot deactivate their own account",
                hint="ask another admin to do it",
            )
        if user.active != active:
            user.active = active
            w.session.flush()
        return user_record(w.session, user)


#: Length of a generated temporary password (``secrets.token_urlsafe`` characters).
TEMPORARY_PASSWORD_BYTES = 12


def _temporary_password(username: str) -> str:
    while True:
        candidate = secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)
        try:
            check_password_rules(candidate, username)
        except InputError:
            continue
        return candidate


def reset_password(
    engine: Engine,
    actor: Actor,
    username: str,
    password: str | None = None,
    *,
    reason: str | None = None,
) -> PasswordResetRecord:
    """Give ``username`` a temporary password (admin only, audited; the hash is not logged).

    With ``password=None`` one is generated and returned in the record, to be shown once and
    never stored in clear. Either way the user must change it at their next login. An admin
    changes their own password with :func:`change_password`, not by a reset.

    Example::

        done = reset_password(engine, ada, "kari", reason="forgot it")
        done.temporary_password  # e.g. 'q3Z…' (16 characters), to hand over in person
        done.user.must_change_password  # True
    """
    with writing(engine, actor, "reset_password", reason=reason, protocol=False, locks=False) as w:
        user = find_user(w.session, username)
        if user.id == actor.user_id:
            raise InputError(
                f"{actor.username} cannot reset their own password",
                hint="change it on the password page (/account/password) with the current one",
            )
        chosen = password if password is not None else _temporary_password(user.username)
        set_password(w.uow, user, chosen, must_change=True)
        done = PasswordResetRecord(
            user=user_record(w.session, user),
            temporary_password=None if password is not None else chosen,
        )
    log_security_event(
        engine, "password_reset", username, user_id=done.user.id, detail=f"by {actor.username}"
    )
    return done


def change_password(
    engine: Engine, actor: Actor, current_password: str, new_password: str
) -> UserRecord:
    """The acting user changes their own password: the current one must match, the new one
    differ from it and pass the password rules. Ends a forced change (after an admin set the
    password). Audited (the hash is not logged).

    Example::

        change_password(engine, kari, "the temporary one", "kari tar bussen hjem")
    """
    # The current password is checked like a login first: throttled, and logged.
    if not check_password(
        engine, actor, current_password, purpose="password change", second_factor=False
    ):
        raise PermissionDeniedError(
            "the current password does not match: the password was not changed",
            hint="enter the password you logged in with",
        )
    with writing(engine, actor, "change_own_password", protocol=False, locks=False) as w:
        user = w.session.get_one(UserAccount, actor.user_id)
        if not verify_password(user.password_hash, current_password):
            raise PermissionDeniedError(
                "the current password does not match: the password was not changed",
                hint="enter the password you logged in with",
            )
        if new_password == current_password:
            raise InputError(
                "the new password is the current one",
                expected="a password you have not used here",
            )
        set_password(w.uow, user, new_password, must_change=False)
        changed = user_record(w.session, user)
    log_security_event(engine, "password_changed", actor.username, user_id=actor.user_id)
    return changed
