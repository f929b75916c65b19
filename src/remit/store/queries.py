"""Small lookups shared by services, the CLI and tests; and creating a study."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.sql import Select, TextClause

from remit.errors import ConflictError, InputError, NotFoundError
from remit.store.audit import UnitOfWork, session_connection
from remit.store.consent import Consent
from remit.store.cursor import compiled_once, run_compiled
from remit.store.tables import Participant, ProtocolVersion, Site, Study

_KEPT = "remit_kept_rows"

#: A participant by study ID with their site, in one statement (the site then comes from the
#: session's identity map: the services ask for it for its code and time zone). Built once.
_BY_STUDY_ID = (
    select(Participant, Site)
    .join(Site, Site.id == Participant.site_id)
    .where(Participant.study_id == bindparam("study_id"))
)


def hot_rows(
    session: Session, statement: Select[Any] | TextClause, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` (a SELECT of columns, or a text statement such as a lock's,
    built once at import: its compiled form
    is kept by its identity) run in the session's transaction through the DB-API cursor, as
    tuples (changes pending in the session are flushed first, as a query of the session
    would).

    For the reads every write runs (the account, the protocol in force, the participant, the
    visit of a form): SQLAlchemy's execution, result and ORM loading objects cost several
    times the query itself on SQLite (issue 16). The statement is compiled once per dialect;
    parameters and results go through the column types' own conversions. The engine's
    ``before_cursor_execute`` and ``after_cursor_execute`` listeners see the statement (so
    statement counts stay honest), and a DB-API error is raised as SQLAlchemy's
    ``DBAPIError`` (a dropped connection invalidated), as the other statements' are."""
    if session.autoflush:
        session.flush()  # nothing to do (and cheap) when nothing is pending
    connection = session_connection(session)
    query = compiled_once(connection.dialect, statement)
    return run_compiled(connection, query, params, fetch=True)[0]


def get_participant(session: Session, participant: int | str) -> Participant:
    """A participant by database id or study ID (``"OSL-001"``)."""
    if isinstance(participant, int):
        found = session.get(Participant, participant)
    else:
        row = session.execute(_BY_STUDY_ID, {"study_id": participant}).first()
        found = None
        if row is not None:
            found, site = row
            # the identity map holds objects weakly: the session keeps the site to its end
            session.info.setdefault(_KEPT, []).append(site)
    if found is None:
        raise NotFoundError(
            f"participant {participant!r} is not in this database",
            hint="list participants with `remit participant list`",
        )
    return found


#: Each model's column attribute keys (the mapper's order, the id first) by model.
_KEYS: dict[type[Any], tuple[str, ...]] = {}


def model_columns(model: type[Any]) -> tuple[Any, ...]:
    """The columns of every column attribute of ``model``, the id first (what
    :func:`as_loaded` and :func:`as_read` take the values of, in this order)."""
    props = list(model.__mapper__.column_attrs)
    if props[0].key != "id":  # as_loaded takes the first value for the id
        raise TypeError(f"{model.__name__}: its first column is not its id")
    _KEYS[model] = tuple(prop.key for prop in props)
    return tuple(prop.columns[0] for prop in props)


def as_read(model: type[Any], values: Sequence[Any]) -> Any:
    """A ``model`` object holding a stored row's ``values`` (of :func:`model_columns`), as the
    ORM builds one it loads, but in no session (for reading only)."""
    found = model.__mapper__.class_manager.new_instance()
    found.__dict__.update(zip(_KEYS[model], values, strict=True))
    return found


def unsaved(model: type[Any], **values: Any) -> Any:
    """A new ``model`` object holding ``values`` (column attributes), in no session, as
    ``model(**values)`` makes one but with no change tracked: for a row written by
    :meth:`~remit.store.UnitOfWork.insert`, never added to a session (issue 16: the
    constructor's instrumented assignments cost more than the row's INSERT)."""
    keys = _COLUMN_KEYS.get(model)
    if keys is None:
        keys = _COLUMN_KEYS[model] = frozenset(p.key for p in model.__mapper__.column_attrs)
    unknown = set(values).difference(keys)
    if unknown:  # as the constructor refuses them
        raise TypeError(f"{sorted(unknown)!r}: not column attributes of {model.__name__}")
    found = model.__mapper__.class_manager.new_instance()
    found.__dict__.update(values)
    return found


#: Each model's column attribute keys (:func:`unsaved`).
_COLUMN_KEYS: dict[type[Any], frozenset[str]] = {}


def as_loaded(session: Session, model: type[Any], values: Sequence[Any]) -> Any:
    """The session's object of a stored row read as columns (``values`` of
    :func:`model_columns`): the one in its identity map, else one made from ``values`` and put
    there as if the ORM had loaded it (changes to it are flushed and audited as any loaded
    object's). Cheaper than the ORM's loading of a query's entities (issue 16)."""
    identity = model.__mapper__.identity_key_from_primary_key((values[0],))
    found = session.identity_map.get(identity)
    if found is None:
        found = as_read(model, values)
        make_transient_to_detached(found)
        session.add(found)
    return found


_PARTICIPANT_COLUMNS = model_columns(Participant)
_SITE_COLUMNS = model_columns(Site)
_CONSENT_COLUMNS = model_columns(Consent)


def _with_consents(where: Any) -> Any:  # a Select (typed differently by SA 2.0/2.1)
    return (
        select(*_PARTICIPANT_COLUMNS, *_SITE_COLUMNS, *_CONSENT_COLUMNS)
        .join(Site, Site.id == Participant.site_id)
        .outerjoin(Consent, Consent.participant_id == Participant.id)
        .where(where)
        .order_by(Consent.consented_at, Consent.id)
    )


#: A participant with their site and their consents (oldest first), in one statement of
#: columns (:func:`hot_rows`): the writes that need consent read both. Built once.
_WITH_CONSENTS = {
    True: _with_consents(Participant.id == bindparam("participant")),
    False: _with_consents(Participant.study_id == bindparam("participant")),
}


def get_participant_with_consents(
    session: Session, participant: int | str
) -> tuple[Participant, list[Consent]]:
    """A participant by database id or study ID (as :func:`get_participant`) and their
    consents, oldest first (by when they were given), in one query.

    The row is read as columns (:func:`hot_rows`); the participant and their site are the
    session's objects (loaded ones when the session had them), the consents objects outside
    the session, for reading."""
    rows = hot_rows(
        session, _WITH_CONSENTS[isinstance(participant, int)], {"participant": participant}
    )
    if not rows:
        raise NotFoundError(
            f"participant {participant!r} is not in this database",
            hint="list participants with `remit participant list`",
        )
    n_participant, n_site = len(_PARTICIPANT_COLUMNS), len(_SITE_COLUMNS)
    first = rows[0]
    found = as_loaded(session, Participant, first[:n_participant])
    site = as_loaded(session, Site, first[n_participant : n_participant + n_site])
    # the identity map holds objects weakly: the session keeps the site to its end
    session.info.setdefault(_KEPT, []).append(site)
    consents = [
        as_read(Consent, row[n_participant + n_site :])
        for row in rows
        if row[n_participant + n_site] is not None
    ]
    return found, consents


def current_protocol_version(session: Session, study: Study | int | None = None) -> ProtocolVersion:
    """The newest stored protocol version (of ``study``, if given)."""
    query = select(ProtocolVersion).order_by(ProtocolVersion.id.desc()).limit(1)
    if study is not None:
        study_id = study.id if isinstance(study, Study) else study
        query = query.where(ProtocolVersion.study_id == study_id)
    found = session.scalar(query)
    if found is None:
        raise NotFoundError(
            "no protocol is stored in this database", hint="initialise it with `remit init`"
        )
    return found


def create_study(uow: UnitOfWork, code: str, title: str) -> Study:
    """Create a study (its code is the prefix of participant study IDs, e.g. ``OSL``)."""
    code = code.strip()
    if not code or len(code) > 32:
        raise InputError(f"study code {code!r} is not usable", expected="1 to 32 characters")
    if uow.session.scalar(select(Study.id).where(Study.code == code)) is not None:
        raise ConflictError(f"study {code!r} already exists")
    study = Study(code=code, title=title)
    uow.session.add(study)
    uow.session.flush()
    return study


def store_protocol_version(
    uow: UnitOfWork,
    study: Study,
    *,
    name: str,
    version: str,
    text: str,
    sha256: str | None = None,
) -> ProtocolVersion:
    """Store a protocol's text and SHA-256; the same text again returns the stored row.

    When ``sha256`` is given (e.g. ``Protocol.sha256``) it must match the text.
    """
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if sha256 is not None and sha256.lower() != digest:
        raise InputError(
            f"protocol {name!r}: the given SHA-256 {sha256} does not match its text ({digest})",
            hint="pass the protocol's own text and hash",
        )
    existing = uow.session.scalar(
        select(ProtocolVersion).where(
            ProtocolVersion.study_id == study.id, ProtocolVersion.sha256 == digest
        )
    )
    if existing is not None:
        return existing
    row = ProtocolVersion(study_id=study.id, name=name, version=version, sha256=digest, text=text)
    uow.session.add(row)
    uow.session.flush()
    return row


def add_site(uow: UnitOfWork, study: Study, code: str, name: str) -> Site:
    """Add a site to ``study``."""
    if (
        uow.session.scalar(select(Site.id).where(Site.study_id == study.id, Site.code == code))
        is not None
    ):
        raise ConflictError(f"site {code!r} already exists in study {study.code}")
    site = Site(study_id=study.id, code=code, name=name)
    uow.session.add(site)
    uow.session.flush()
    return site
