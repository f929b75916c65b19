"""The medical-coding tables: loaded dictionaries (MedDRA, WHODrug) and the codes assigned to
adverse events and concomitant medications.

``coding_dictionary`` holds one row per dictionary version loaded (kind ``meddra`` or
``whodrug``, the version as the distribution names it, the SHA-256 of the files read, who
loaded it and when); it is audited. Its terms are reference data, not clinical data, so
``meddra_term`` (one row per lowest level term with its primary-SOC path: PT, HLT, HLGT, SOC)
and ``whodrug_term`` (one row per drug name with its drug code, preferred name and ATC
assignment) are not audited field by field: the audited dictionary row records the load and
the SHA-256 of the files the terms came from.

``coded_term`` holds the code of one adverse event or medication (``record_table`` and
``record_id``), the dictionary version it was coded with, how (``exact``, ``synonym`` or
``manual``) and the coded values (``values``: the MedDRA hierarchy, or the WHODrug drug code,
preferred name and ATC class). It is audited; changing a stored code (a manual recode, a recode
on a new dictionary version) needs a reason. A record without a ``coded_term`` row is in the
manual coding queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remit.store.tables import Base, ReasonRule, _fk
from remit.store.types import JSONType, UTCDateTime, utc_now

#: The dictionaries Remit loads.
DICTIONARY_KINDS = ("meddra", "whodrug")
#: How a term was coded.
CODING_METHODS = ("exact", "synonym", "manual")
#: The records that are coded, and the dictionary each is coded with.
CODED_TABLES = {"adverse_event": "meddra", "concomitant_medication": "whodrug"}


class CodingDictionary(Base):
    """One version of a coding dictionary, as loaded from its distribution files."""

    __tablename__ = "coding_dictionary"
    __table_args__ = (
        UniqueConstraint("kind", "version"),
        CheckConstraint("kind IN ('meddra', 'whodrug')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(32))
    files_sha256: Mapped[str] = mapped_column(String(64))
    term_count: Mapped[int] = mapped_column(Integer)
    loaded_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class MeddraTerm(Base):
    """A MedDRA lowest level term with its primary path up to the system organ class."""

    __tablename__ = "meddra_term"
    __audited__ = False
    __table_args__ = (
        UniqueConstraint("dictionary_id", "llt_code"),
        Index("ix_meddra_term_dictionary_key", "dictionary_id", "llt_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dictionary_id: Mapped[int] = _fk("coding_dictionary.id", index=False)
    llt_code: Mapped[int] = mapped_column(Integer)
    llt_name: Mapped[str] = mapped_column(String(200))
    llt_key: Mapped[str] = mapped_column(String(200))
    current: Mapped[bool] = mapped_column(Boolean)
    pt_code: Mapped[int] = mapped_column(Integer)
    pt_name: Mapped[str] = mapped_column(String(200))
    hlt_code: Mapped[int] = mapped_column(Integer)
    hlt_name: Mapped[str] = mapped_column(String(200))
    hlgt_code: Mapped[int] = mapped_column(Integer)
    hlgt_name: Mapped[str] = mapped_column(String(200))
    soc_code: Mapped[int] = mapped_column(Integer)
    soc_name: Mapped[str] = mapped_column(String(200))
    soc_abbrev: Mapped[str | None] = mapped_column(String(16))


class WhodrugTerm(Base):
    """A WHODrug drug name (trade or non-proprietary) with its preferred name and ATC class."""

    __tablename__ = "whodrug_term"
    __audited__ = False
    __table_args__ = (
        UniqueConstraint("dictionary_id", "drug_code"),
        Index("ix_whodrug_term_dictionary_key", "dictionary_id", "name_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dictionary_id: Mapped[int] = _fk("coding_dictionary.id", index=False)
    drug_code: Mapped[str] = mapped_column(String(11))
    drug_name: Mapped[str] = mapped_column(String(1500))
    name_key: Mapped[str] = mapped_column(String(1500))
    preferred: Mapped[bool] = mapped_column(Boolean)
    preferred_code: Mapped[str] = mapped_column(String(11))
    preferred_name: Mapped[str] = mapped_column(String(1500))
    atc_code: Mapped[str | None] = mapped_column(String(7))
    atc_text: Mapped[str | None] = mapped_column(String(200))


class CodedTerm(Base):
    """The dictionary code of one adverse event or concomitant medication."""

    __tablename__ = "coded_term"
    __reason_rule__ = ReasonRule(always=True)
    __table_args__ = (
        UniqueConstraint("record_table", "record_id"),
        CheckConstraint(
            "record_table IN ('adverse_event', 'concomitant_medication')", name="table_known"
        ),
        CheckConstraint("method IN ('exact', 'synonym', 'manual')", name="method_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id")
    record_table: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column(Integer)
    dictionary_id: Mapped[int] = _fk("coding_dictionary.id")
    verbatim: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16))
    decod: Mapped[str] = mapped_column(String(1500))
    values: Mapped[dict[str, Any]] = mapped_column(JSONType)
    coded_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    coded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
