"""Medical coding: load MedDRA / WHODrug, autocode adverse events and medications, and the
manual coding queue of the data manager.

- :func:`load_meddra` / :func:`load_whodrug` read a user-supplied dictionary in its
  distribution format (:mod:`remit.services.coding_files`) into the database, its version
  recorded (audited). Loading the same version twice is refused.
- Autocoding matches the verbatim term, case- and space-normalised
  (:func:`~remit.services.coding_files.term_key`), against the newest loaded version: an AE
  against the *current* MedDRA lowest level terms (``exact`` when the LLT is also the PT's
  name, else ``synonym``), a medication against WHODrug drug names (``exact`` for a preferred
  name, ``synonym`` for any other name of the drug record). It runs when an AE or medication
  is recorded (:func:`code_new_record`, in the same transaction) and for every uncoded record on
  :func:`autocode`, which also recodes records coded with an older version.
- What cannot be matched is in the queue (:func:`coding_queue`); the data manager searches
  (:func:`search_terms`) and assigns a code (:func:`assign_code`), audited; changing a code
  needs a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from remit.errors import InputError, NotFoundError
from remit.services.coding_files import read_meddra, read_whodrug, term_key
from remit.services.unit import reading, writing
from remit.store import Actor, UnitOfWork
from remit.store.coding import (
    CODED_TABLES,
    CodedTerm,
    CodingDictionary,
    MeddraTerm,
    WhodrugTerm,
)
from remit.store.tables import AdverseEvent, Base, ConcomitantMedication, Participant

_MEDDRA_TABLE = Base.metadata.tables["meddra_term"]
_WHODRUG_TABLE = Base.metadata.tables["whodrug_term"]

#: The kinds of record coded, as callers name them.
RECORD_KINDS = {"ae": "adverse_event", "cm": "concomitant_medication"}
_BATCH = 5000


@dataclass(frozen=True)
class DictionaryRecord:
    """A loaded dictionary version."""

    id: int
    kind: str
    version: str
    language: str | None
    term_count: int
    files_sha256: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)


@dataclass(frozen=True)
class CodeRecord:
    """The code of one record (``None`` fields: uncoded)."""

    record_table: str
    record_id: int
    participant_id: str
    verbatim: str
    dictionary: str | None
    method: str | None
    code: str | None
    decod: str | None
    values: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)


@dataclass(frozen=True)
class TermMatch:
    """A dictionary entry found by :func:`search_terms`."""

    code: str
    name: str
    decod: str
    detail: str
    current: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)


@dataclass(frozen=True)
class AutocodeResult:
    """What :func:`autocode` did."""

    coded: int
    recoded: int
    uncoded_again: int
    queued: int

    def to_dict(self) -> dict[str, int]:
        """Plain values."""
        return asdict(self)

    def summary(self) -> str:
        """One line."""
        return (
            f"coded {self.coded}, recoded {self.recoded} on the newest version, "
            f"{self.uncoded_again} back in the queue; {self.queued} in the queue"
        )


def _dictionary_record(row: CodingDictionary) -> DictionaryRecord:
    return DictionaryRecord(
        row.id, row.kind, row.version, row.language, row.term_count, row.files_sha256
    )


def _new_dictionary(
    session: Session, uow: UnitOfWork, kind: str, version: str, language: str | None,
    sha256: str, count: int, actor: Actor,
) -> CodingDictionary:  # fmt: skip
    if session.scalar(
        select(CodingDictionary.id).where(
            CodingDictionary.kind == kind, CodingDictionary.version == version
        )
    ):
        raise InputError(
            f"{kind} version {version} is already loaded",
            expected="a version not loaded before",
            hint="list the loaded versions with `remit coding dictionaries`",
        )
    row = CodingDictionary(
        kind=kind, version=version, language=language, files_sha256=sha256,
        term_count=count, loaded_by=actor.user_id,
    )  # fmt: skip
    uow.add(row)
    uow.flush()
    return row


def load_meddra(
    engine: Engine, actor: Actor, directory: str | Path, *, version: str | None = None
) -> DictionaryRecord:
    """Load a MedDRA ASCII release (``llt.asc`` … ``mdhier.asc``) from ``directory``.

    Examples
    --------
    ::

        load_meddra(engine, data_manager, "MedDRA_27_0_English/MedAscii")
        # -> DictionaryRecord(kind="meddra", version="27.0", term_count=80000, ...)
    """
    release = read_meddra(directory, version)
    with writing(
        engine,
        actor,
        "load_dictionary",
        reason=f"load MedDRA {release.version}",
        locks=False,
        protocol=False,
    ) as w:
        row = _new_dictionary(
            w.session, w.uow, "meddra", release.version, release.language,
            release.sha256, len(release.terms), actor,
        )  # fmt: skip
        rows = [
            {**asdict(t), "dictionary_id": row.id, "llt_key": term_key(t.llt_name)}
            for t in release.terms
        ]
        for start in range(0, len(rows), _BATCH):
            # reference data, not audited (the audited dictionary row records the load): a
            # Core insert, since ORM bulk writes are refused for every mapped table
            w.session.connection().execute(insert(_MEDDRA_TABLE), rows[start : start + _BATCH])
        return _dictionary_record(row)


def load_whodrug(
    engine: Engine, actor: Actor, directory: str | Path, *, version: str
) -> DictionaryRecord:
    """Load a WHODrug release from ``directory``: B3 (``DD.txt``, ``DDA.txt``, ``INA.txt``) or
    C3 (``MP.txt``, ``ThG.txt``, ``ATC.txt``), found from the files.

    Examples
    --------
    ::

        load_whodrug(engine, data_manager, "whodrug_b3", version="GLOBAL B3 2024 MAR 1")
    """
    release = read_whodrug(directory, version)
    with writing(
        engine,
        actor,
        "load_dictionary",
        reason=f"load WHODrug {release.version}",
        locks=False,
        protocol=False,
    ) as w:
        row = _new_dictionary(
            w.session, w.uow, "whodrug", release.version, None, release.sha256,
            len(release.terms), actor,
        )  # fmt: skip
        rows = [
            {
                **asdict(t),
                "dictionary_id": row.id,
                "name_key": term_key(t.drug_name),
                "preferred": t.drug_code == t.preferred_code,
            }
            for t in release.terms
        ]
        for start in range(0, len(rows), _BATCH):
            w.session.connection().execute(insert(_WHODRUG_TABLE), rows[start : start + _BATCH])
        return _dictionary_record(row)


def list_dictionaries(engine: Engine, actor: Actor) -> list[DictionaryRecord]:
    """The dictionary versions loaded, oldest first."""
    with reading(engine, actor, "view_coding_queue", "list_dictionaries") as r:
        rows = r.session.scalars(select(CodingDictionary).order_by(CodingDictionary.id))
        return r.returning([_dictionary_record(d) for d in rows])


# --- matching --------------------------------------------------------------------------------


def newest_dictionary(session: Session, kind: str) -> CodingDictionary | None:
    """The newest loaded version of ``kind`` (the last loaded)."""
    return session.scalar(
        select(CodingDictionary)
        .where(CodingDictionary.kind == kind)
        .order_by(CodingDictionary.id.desc())
        .limit(1)
    )


def _meddra_values(t: MeddraTerm) -> tuple[str, str, dict[str, Any]]:
    values = {
        "llt_code": t.llt_code, "llt_name": t.llt_name, "pt_code": t.pt_code,
        "pt_name": t.pt_name, "hlt_code": t.hlt_code, "hlt_name": t.hlt_name,
        "hlgt_code": t.hlgt_code, "hlgt_name": t.hlgt_name, "soc_code": t.soc_code,
        "soc_name": t.soc_name,
    }  # fmt: skip
    return str(t.llt_code), t.pt_name, values


def _whodrug_values(t: WhodrugTerm) -> tuple[str, str, dict[str, Any]]:
    values = {
        "drug_code": t.drug_code, "drug_name": t.drug_name,
        "preferred_code": t.preferred_code, "preferred_name": t.preferred_name,
        "atc_code": t.atc_code, "atc_text": t.atc_text,
    }  # fmt: skip
    return t.drug_code, t.preferred_name, values


def match_term(
    session: Session, dictionary: CodingDictionary, verbatim: str
) -> tuple[str, str, str, dict[str, Any]] | None:
    """(method, code, decod, values) of the entry ``verbatim`` matches, or ``None``.

    A verbatim that matches two entries leading to different codes (two PTs, two drug
    records) is not autocoded: the data manager decides.
    """
    key = term_key(verbatim)
    if dictionary.kind == "meddra":
        hits = list(
            session.scalars(
                select(MeddraTerm).where(
                    MeddraTerm.dictionary_id == dictionary.id,
                    MeddraTerm.llt_key == key,
                    MeddraTerm.current.is_(True),
                )
            )
        )
        if len({t.pt_code for t in hits}) != 1:
            return None
        t = hits[0]
        method = "exact" if term_key(t.pt_name) == key else "synonym"
        return (method, *_meddra_values(t))
    found = list(
        session.scalars(
            select(WhodrugTerm).where(
                WhodrugTerm.dictionary_id == dictionary.id, WhodrugTerm.name_key == key
            )
        )
    )
    if len({t.preferred_code for t in found}) != 1:
        return None
    best = min(found, key=lambda t: (not t.preferred, t.drug_code))
    return ("exact" if best.preferred else "synonym", *_whodrug_values(best))


def _store_code(
    uow: UnitOfWork, participant_id: int, table: str, record_id: int, verbatim: str,
    dictionary: CodingDictionary, hit: tuple[str, str, str, dict[str, Any]],
) -> CodedTerm:  # fmt: skip
    method, code, decod, values = hit
    row = CodedTerm(
        participant_id=participant_id, record_table=table, record_id=record_id,
        dictionary_id=dictionary.id, verbatim=verbatim[:200], method=method, code=code,
        decod=decod, values=values, coded_by=uow.actor.user_id,
    )  # fmt: skip
    uow.add(row)
    uow.flush()
    return row


def code_new_record(
    uow: UnitOfWork, participant_id: int, table: str, record_id: int, verbatim: str
) -> CodedTerm | None:
    """Autocode a record just written, in the writer's transaction: the code stored, or
    ``None`` (no dictionary loaded, or no unambiguous match: the record is in the queue)."""
    dictionary = newest_dictionary(uow.session, CODED_TABLES[table])
    if dictionary is None:
        return None
    hit = match_term(uow.session, dictionary, verbatim)
    if hit is None:
        return None
    return _store_code(uow, participant_id, table, record_id, verbatim, dictionary, hit)


def uncode_record(uow: UnitOfWork, table: str, record_id: int) -> None:
    """Drop the code of a record whose verbatim changed (its reason is the change's reason)."""
    row = uow.session.scalar(
        select(CodedTerm).where(CodedTerm.record_table == table, CodedTerm.record_id == record_id)
    )
    if row is not None:
        uow.session.delete(row)
        uow.flush()


def _verbatims(session: Session, site_id: int | None = None) -> list[tuple[str, int, int, str]]:
    """(table, record id, participant key, verbatim) of every AE and medication."""
    out: list[tuple[str, int, int, str]] = []
    for model, column, table in (
        (AdverseEvent, AdverseEvent.term, "adverse_event"),
        (ConcomitantMedication, ConcomitantMedication.name, "concomitant_medication"),
    ):
        query = select(model.id, model.participant_id, column).order_by(model.id)
        if site_id is not None:
            query = query.join(Participant, Participant.id == model.participant_id).where(
                Participant.site_id == site_id
            )
        out += [(table, rid, pid, text) for rid, pid, text in session.execute(query)]
    return out


def autocode(engine: Engine, actor: Actor) -> AutocodeResult:
    """Autocode every uncoded AE and medication with the newest dictionary of its kind, and
    recode the records coded with an older version: an autocoded one by its verbatim, a
    manually coded one by the same code in the new version; one that no longer matches goes
    back to the queue (the audit trail keeps the old code).

    Examples
    --------
    ::

        autocode(engine, data_manager).summary()
        # 'coded 12, recoded 0 on the newest version, 0 back in the queue; 3 in the queue'
    """
    with writing(
        engine, actor, "autocode", reason="recode on the newest dictionary version", locks=False
    ) as w:
        session, uow = w.session, w.uow
        newest = {k: newest_dictionary(session, k) for k in ("meddra", "whodrug")}
        coded = recoded = dropped = queued = 0
        existing = {(c.record_table, c.record_id): c for c in session.scalars(select(CodedTerm))}
        for table, rid, pid, verbatim in _verbatims(session):
            dictionary = newest[CODED_TABLES[table]]
            old = existing.get((table, rid))
            if dictionary is None:
                queued += old is None
                continue
            if old is not None and old.dictionary_id == dictionary.id:
                continue
            if old is not None and old.method == "manual":
                hit = _by_code(session, dictionary, old.code)
                hit = None if hit is None else ("manual", *hit[1:])
            else:
                hit = match_term(session, dictionary, verbatim)
            if old is None:
                if hit is None:
                    queued += 1
                else:
                    _store_code(uow, pid, table, rid, verbatim, dictionary, hit)
                    coded += 1
            elif hit is None:
                session.delete(old)
                dropped += 1
                queued += 1
            else:
                old.dictionary_id = dictionary.id
                old.method, old.code, old.decod, old.values = hit
                recoded += 1
        session.flush()
        return AutocodeResult(coded, recoded, dropped, queued)


def _by_code(
    session: Session, dictionary: CodingDictionary, code: str
) -> tuple[str, str, str, dict[str, Any]] | None:
    """The entry with ``code`` (a current LLT code, or a drug code) in ``dictionary``."""
    code = str(code).strip()
    if dictionary.kind == "meddra":
        if not code.isdigit():
            return None
        t = session.scalar(
            select(MeddraTerm).where(
                MeddraTerm.dictionary_id == dictionary.id, MeddraTerm.llt_code == int(code)
            )
        )
        if t is None or not t.current:
            return None
        return ("manual", *_meddra_values(t))
    d = session.scalar(
        select(WhodrugTerm).where(
            WhodrugTerm.dictionary_id == dictionary.id, WhodrugTerm.drug_code == code
        )
    )
    return None if d is None else ("manual", *_whodrug_values(d))


# --- the queue, search and manual coding -------------------------------------------------------


def _record_table(kind: str) -> str:
    table = RECORD_KINDS.get(str(kind).lower(), str(kind))
    if table not in CODED_TABLES:
        raise InputError(
            f"record kind {kind!r} is not coded",
            expected="ae (adverse event) or cm (concomitant medication)",
        )
    return table


def coding_queue(engine: Engine, actor: Actor, kind: str | None = None) -> list[CodeRecord]:
    """The AEs and medications without a code (of the actor's site for a site-bound actor),
    in the order recorded; ``kind`` ``ae`` or ``cm`` keeps to one."""
    table = None if kind is None else _record_table(kind)
    with reading(engine, actor, "view_coding_queue", "coding_queue") as r:
        session = r.session
        coded = set(session.execute(select(CodedTerm.record_table, CodedTerm.record_id)))
        ids = dict(session.execute(select(Participant.id, Participant.study_id)).all())
        out = [
            CodeRecord(t, rid, ids[pid], text, None, None, None, None, {})
            for t, rid, pid, text in _verbatims(session, actor.site_id)
            if (t, rid) not in coded and (table is None or t == table)
        ]
        return r.returning(out)


def codes_of(session: Session) -> dict[tuple[str, int], CodedTerm]:
    """Every stored code by (record table, record id) — for the exports."""
    return {(c.record_table, c.record_id): c for c in session.scalars(select(CodedTerm))}


def search_terms(
    engine: Engine, actor: Actor, dictionary: str, text: str, *, limit: int = 25
) -> list[TermMatch]:
    """Entries of the newest ``meddra`` or ``whodrug`` version whose name contains ``text``
    (case-insensitive), exact matches first. Non-current LLTs are listed, marked, but cannot
    be assigned."""
    if dictionary not in ("meddra", "whodrug"):
        raise InputError(f"dictionary {dictionary!r} is unknown", expected="meddra or whodrug")
    key = term_key(text_of(text))
    with reading(engine, actor, "view_coding_queue", "search_terms") as r:
        d = newest_dictionary(r.session, dictionary)
        if d is None:
            raise NotFoundError(
                f"no {dictionary} dictionary is loaded",
                hint=f"load one with `remit coding load-{dictionary}`",
            )
        pattern = f"%{key.replace('%', '').replace('_', '')}%"
        out: list[TermMatch] = []
        if d.kind == "meddra":
            rows = r.session.scalars(
                select(MeddraTerm)
                .where(MeddraTerm.dictionary_id == d.id, MeddraTerm.llt_key.like(pattern))
                .order_by(MeddraTerm.llt_key != key, func.length(MeddraTerm.llt_key))
                .limit(limit)
            )
            out = [
                TermMatch(str(t.llt_code), t.llt_name, t.pt_name,
                          f"PT {t.pt_code} · SOC {t.soc_name}", t.current)
                for t in rows
            ]  # fmt: skip
        else:
            found = r.session.scalars(
                select(WhodrugTerm)
                .where(WhodrugTerm.dictionary_id == d.id, WhodrugTerm.name_key.like(pattern))
                .order_by(WhodrugTerm.name_key != key, func.length(WhodrugTerm.name_key))
                .limit(limit)
            )
            out = [
                TermMatch(t.drug_code, t.drug_name, t.preferred_name,
                          f"ATC {t.atc_code or '-'} {t.atc_text or ''}".strip(), True)
                for t in found
            ]  # fmt: skip
        return r.returning(out)


def text_of(text: str) -> str:
    """A non-empty search text."""
    if text is None or not str(text).strip():
        raise InputError("search text is empty", expected="part of a term or drug name")
    return str(text)


def _record_row(session: Session, table: str, record_id: int) -> tuple[int, str]:
    model: Any = AdverseEvent if table == "adverse_event" else ConcomitantMedication
    row = session.get(model, record_id)
    if row is None:
        what = "adverse event" if table == "adverse_event" else "concomitant medication"
        raise NotFoundError(f"{what} {record_id} does not exist")
    return row.participant_id, row.term if table == "adverse_event" else row.name


def _owner(table: str, record_id: int) -> Any:
    def find(session: Session) -> Participant | None:
        pid, _ = _record_row(session, table, record_id)
        return session.get_one(Participant, pid)

    return find


def assign_code(
    engine: Engine,
    actor: Actor,
    kind: str,
    record_id: int,
    code: str,
    *,
    reason: str | None = None,
) -> CodeRecord:
    """Code an AE (``kind`` ``ae``: a current LLT code) or a medication (``cm``: a WHODrug
    drug code) by hand with the newest dictionary version; audited. Changing an existing code
    needs a ``reason``.

    Examples
    --------
    ::

        assign_code(engine, data_manager, "ae", 7, "90000003")
    """
    table = _record_table(kind)
    with writing(
        engine, actor, "assign_code", participant=_owner(table, record_id), reason=reason
    ) as w:
        session = w.session
        pid, verbatim = _record_row(session, table, record_id)
        dictionary = newest_dictionary(session, CODED_TABLES[table])
        if dictionary is None:
            raise NotFoundError(
                f"no {CODED_TABLES[table]} dictionary is loaded",
                hint=f"load one with `remit coding load-{CODED_TABLES[table]}`",
            )
        hit = _by_code(session, dictionary, code)
        if hit is None:
            raise InputError(
                f"code {code!r} is not a current entry of {dictionary.kind} {dictionary.version}",
                expected="a current LLT code" if dictionary.kind == "meddra" else "a drug code",
                hint="find it with `remit coding search`",
            )
        old = session.scalar(
            select(CodedTerm).where(
                CodedTerm.record_table == table, CodedTerm.record_id == record_id
            )
        )
        if old is None:
            row = _store_code(w.uow, pid, table, record_id, verbatim, dictionary, hit)
        else:
            if not (reason or "").strip():
                raise InputError(
                    f"{kind} {record_id} is already coded ({old.code} {old.decod})",
                    expected="a reason for changing the code",
                    hint="give --reason",
                )
            old.dictionary_id = dictionary.id
            old.method, old.code, old.decod, old.values = hit
            old.coded_by = actor.user_id
            session.flush()
            row = old
        return _code_record(session, row)


def _code_record(session: Session, c: CodedTerm) -> CodeRecord:
    d = session.get_one(CodingDictionary, c.dictionary_id)
    return CodeRecord(
        c.record_table, c.record_id, session.get_one(Participant, c.participant_id).study_id,
        c.verbatim, f"{d.kind} {d.version}", c.method, c.code, c.decod, dict(c.values),
    )  # fmt: skip


def codes(engine: Engine, actor: Actor, kind: str | None = None) -> list[CodeRecord]:
    """Every code assigned (of the actor's site for a site-bound actor)."""
    table = None if kind is None else _record_table(kind)
    with reading(engine, actor, "view_coding_queue", "codes") as r:
        query = select(CodedTerm).order_by(CodedTerm.record_table, CodedTerm.record_id)
        if table is not None:
            query = query.where(CodedTerm.record_table == table)
        if actor.site_id is not None:
            query = query.join(Participant, Participant.id == CodedTerm.participant_id).where(
                Participant.site_id == actor.site_id
            )
        return r.returning([_code_record(r.session, c) for c in r.session.scalars(query)])


__all__: Sequence[str] = (
    "AutocodeResult", "CodeRecord", "DictionaryRecord", "TermMatch", "assign_code",
    "autocode", "code_new_record", "codes", "codes_of", "coding_queue", "list_dictionaries",
    "load_meddra", "load_whodrug", "match_term", "search_terms", "uncode_record",
)  # fmt: skip
