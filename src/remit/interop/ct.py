"""Controlled terminology: the CDISC/NCI codelists Remit's SDTM and ADaM exports use, shipped
as a versioned data file (``data/cdisc_ct.json``), and ISO 3166-1 country codes
(``data/iso3166.json``).

:data:`VARIABLE_CODELISTS` says which codelist each exported variable takes its values from;
:func:`check_terminology` refuses a dataset whose value lies outside a non-extensible codelist
(naming the dataset, variable and value), and define.xml
(:mod:`remit.interop.define_xml`) lists the codelists with their CDISC C-codes and the CT
version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from remit.errors import InputError
from remit.interop.dataset import Dataset, is_missing

#: The external codelist (ISO 3166-1 alpha-3) of ``COUNTRY``.
COUNTRY = "ISO3166"


@dataclass(frozen=True)
class Term:
    """One term of a codelist: its submission value, NCI C-code (``None``: none published) and
    decode."""

    value: str
    c_code: str | None
    decode: str | None


@dataclass(frozen=True)
class Codelist:
    """A CDISC/NCI codelist (or the subset of it Remit uses) with its C-code and whether
    sponsors may extend it."""

    id: str
    c_code: str | None
    name: str
    extensible: bool
    terms: tuple[Term, ...]

    @property
    def values(self) -> frozenset[str]:
        """The submission values."""
        return frozenset(t.value for t in self.terms)

    def term(self, value: str) -> Term | None:
        """The term of ``value`` (``None`` when the codelist does not hold it)."""
        return next((t for t in self.terms if t.value == value), None)


@dataclass(frozen=True)
class Terminology:
    """The shipped CT package: its standard name, version and codelists by id."""

    standard: str
    version: str
    codelists: dict[str, Codelist]

    def __getitem__(self, codelist: str) -> Codelist:
        return self.codelists[codelist]


def _data(name: str) -> Any:
    return json.loads(files("remit.interop").joinpath("data", name).read_text(encoding="utf-8"))


@cache
def terminology() -> Terminology:
    """The CDISC/NCI controlled terminology shipped with Remit."""
    raw = _data("cdisc_ct.json")
    lists = {
        cid: Codelist(
            cid,
            c["c_code"],
            c["name"],
            bool(c["extensible"]),
            tuple(Term(t["value"], t["c_code"], t["decode"]) for t in c["terms"]),
        )
        for cid, c in raw["codelists"].items()
    }
    return Terminology(raw["standard"], raw["version"], lists)


@cache
def _countries() -> dict[str, str]:
    return {c["alpha_2"]: c["alpha_3"] for c in _data("iso3166.json")["countries"]}


@cache
def iso3166_alpha3() -> frozenset[str]:
    """Every ISO 3166-1 alpha-3 country code."""
    return frozenset(_countries().values())


def country_alpha3(code: str | None) -> str | None:
    """``COUNTRY`` of a protocol's site country: ISO 3166-1 alpha-3 (``NO`` → ``NOR``).

    An alpha-3 code is kept; anything else is refused.

    >>> country_alpha3("NO"), country_alpha3("nor"), country_alpha3(None)
    ('NOR', 'NOR', None)
    """
    if code is None:
        return None
    c = code.strip().upper()
    if len(c) == 2 and c in _countries():
        return _countries()[c]
    if len(c) == 3 and c in iso3166_alpha3():
        return c
    raise InputError(
        f"site country {code!r}",
        expected="an ISO 3166-1 alpha-2 or alpha-3 country code (NO, NOR, GB, USA ...)",
        hint="correct the site's country in the protocol file",
    )


#: The codelist of each (dataset, variable); dataset ``*`` matches every dataset.
VARIABLE_CODELISTS: dict[tuple[str, str], str] = {
    ("DM", "SEX"): "SEX",
    ("DM", "RACE"): "RACE",
    ("DM", "ETHNIC"): "ETHNIC",
    ("DM", "AGEU"): "AGEU",
    ("DM", "COUNTRY"): COUNTRY,
    ("*", "EPOCH"): "EPOCH",
    ("AE", "AEOUT"): "OUT",
    ("AE", "AESEV"): "AESEV",
    ("AE", "AESER"): "NY",
    ("AE", "AEACN"): "ACN",
    ("DM", "DTHFL"): "NY",
    ("DS", "DSCAT"): "DSCAT",
    ("VS", "VSTESTCD"): "VSTESTCD",
    ("VS", "VSTEST"): "VSTEST",
    ("VS", "VSORRESU"): "VSRESU",
    ("VS", "VSSTRESU"): "VSRESU",
    ("EX", "EXDOSU"): "UNIT",
    ("EC", "ECDOSU"): "UNIT",
    ("EX", "EXROUTE"): "ROUTE",
    ("EC", "ECOCCUR"): "NY",
    ("QS", "QSSTAT"): "ND",
    ("RS", "RSSTAT"): "ND",
    ("VS", "VSSTAT"): "ND",
    ("QS", "QSDRVFL"): "NY",
    ("RS", "RSDRVFL"): "NY",
    ("TS", "TSPARMCD"): "TSPARMCD",
    ("TS", "TSPARM"): "TSPARM",
    ("ADSL", "SEX"): "SEX",
    ("ADSL", "RACE"): "RACE",
    ("ADSL", "AGEU"): "AGEU",
    ("ADSL", "DCSREAS"): "NCOMPLT",
}

#: ADaM flag variables (``*FL``) take ``Y``/``N`` (NY codelist).
_FLAG_DATASETS = ("ADSL", "ADQS")


def codelist_id(dataset: str, variable: str) -> str | None:
    """The codelist id of a variable (``ISO3166`` for COUNTRY), or ``None``."""
    found = VARIABLE_CODELISTS.get((dataset, variable)) or VARIABLE_CODELISTS.get(("*", variable))
    if found is None and dataset in _FLAG_DATASETS and variable.endswith("FL"):
        return "NY"
    return found


def check_terminology(datasets: Iterable[Dataset]) -> None:
    """Refuse a value outside a non-extensible codelist (or a COUNTRY not ISO 3166 alpha-3).

    Raises :class:`~remit.errors.InputError` naming the dataset, the variable, the value, the
    codelist and its allowed values.
    """
    ct = terminology()
    for ds in datasets:
        for v in ds.variables:
            cid = codelist_id(ds.name, v.name)
            if cid is None:
                continue
            if cid == COUNTRY:
                allowed: frozenset[str] = iso3166_alpha3()
                name = "ISO 3166-1 alpha-3"
            else:
                cl = ct[cid]
                if cl.extensible:
                    continue
                allowed = cl.values
                name = f"{cl.name} ({cl.c_code})"
            bad = sorted({str(x) for x in ds.frame[v.name] if not is_missing(x)} - allowed)
            if bad:
                shown = ", ".join(sorted(allowed)) if len(allowed) < 30 else f"{len(allowed)} codes"
                raise InputError(
                    f"{ds.name}.{v.name} holds {bad[0]!r}, not in the non-extensible codelist "
                    f"{name}",
                    expected=shown,
                    hint="map the value to a term of the codelist before export",
                )


__all__ = [
    "COUNTRY",
    "VARIABLE_CODELISTS",
    "Codelist",
    "Term",
    "Terminology",
    "check_terminology",
    "codelist_id",
    "country_alpha3",
    "iso3166_alpha3",
    "terminology",
]
