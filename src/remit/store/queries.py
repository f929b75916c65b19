"""Small lookups shared by services, the CLI and tests; and creating a study."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError, NotFoundError
from remit.store.audit import UnitOfWork
from remit.store.consent import Consent
from remit.store.tables import Participant, ProtocolVersion, Site, Study

_KEPT = "remit_kept_rows"

#: A participant by study ID with their site, in one statement (the site then comes from the
#: session's identity map: the services ask for it for its code and time zone). Built once.
_BY_STUDY_ID = (
    select(Participant, Site)
    .join(Site, Site.id == Participant.site_id)
    .where(Participant.study_id == bindparam("study_id"))
)


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


def _with_consents(where: Any) -> Any:  # a Select (typed differently by SA 2.0/2.1)
    return (
        select(Participant, Site, Consent)
        .join(Site, Site.id == Participant.site_id)
        .outerjoin(Consent, Consent.participant_id == Participant.id)
        .where(where)
        .order_by(Consent.consented_at, Consent.id)
    )


#: A participant with their site and their consents (oldest first), in one statement: the
#: writes that need consent read both. Built once.
_WITH_CONSENTS = {
    True: _with_consents(Participant.id == bindparam("participant")),
    False: _with_consents(Participant.study_id == bindparam("participant")),
}


def get_participant_with_consents(
    session: Session, participant: int | str
) -> tuple[Participant, list[Consent]]:
    """A participant by database id or study ID (as :func:`get_participant`) and their
    consents, oldest first (by when they were given), in one query."""
    rows = session.execute(
        _WITH_CONSENTS[isinstance(participant, int)], {"participant": participant}
    ).all()
    if not rows:
        raise NotFoundError(
            f"participant {participant!r} is not in this database",
            hint="list participants with `remit participant list`",
        )
    found, site = rows[0][0], rows[0][1]
    session.info.setdefault(_KEPT, []).append(site)
    return found, [row[2] for row in rows if row[2] is not None]


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
