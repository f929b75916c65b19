"""CDISC QRS (questionnaires, ratings and scales) terminology of the scales Remit ships.

``data/qrs.toml`` maps each scale (and C-SSRS version) to the category CDISC publishes for it
(``QSCAT``/``RSCAT``) and its parts to the CDISC test codes; the test names and C-codes come from
the CT package (:func:`remit.interop.ct.terminology`). A part CDISC has no code for keeps a
sponsor-defined code (:mod:`remit.interop.codes`, or ``<prefix><item number>`` where CDISC
publishes the instrument's short name but no test codes), marked ``cdisc=False`` so define.xml
lists it without a C-code. A scale the file does not know (e.g. one imported from REDCap) gets
its upper-case code as category and sponsor codes throughout.

>>> t = qrs_test("gad7", None, "items", "feeling_nervous")
>>> t.code, t.name, t.c_code
('GAD0101', 'GAD01-Feeling Nervous Anxious or On Edge', 'C103565')
>>> qrs_category("madrs", None).clinical_classification
True
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from remit.errors import InputError, RemitError
from remit.interop.codes import code_for, scale_codes
from remit.interop.ct import Term, terminology
from remit.interop.dataset import Dataset
from remit.scales import load_scale

#: The CT codelist of a questionnaire's category (QS) and of a clinical classification's (RS).
QUESTIONNAIRE = "QSCAT"
CLINICAL_CLASSIFICATION = "CCCAT"


@dataclass(frozen=True)
class QrsCategory:
    """The ``--CAT`` of a scale: the term, its C-code, the CT codelist holding it (``None``: a
    sponsor category) and the CDISC test code/name codelists (``GAD01TC``/``GAD01TN``)."""

    value: str
    c_code: str | None
    codelist: str | None
    testcd_codelist: str | None = None
    test_codelist: str | None = None

    @property
    def clinical_classification(self) -> bool:
        """CDISC lists the instrument as a clinical classification (SDTM RS)."""
        return self.codelist == CLINICAL_CLASSIFICATION


@dataclass(frozen=True)
class QrsTest:
    """``--TESTCD``/``--TEST`` of one scored part; ``cdisc``: published by CDISC (with its
    C-code) rather than sponsor-defined."""

    code: str
    name: str
    c_code: str | None
    cdisc: bool


@cache
def _qrs() -> dict[str, Any]:
    text = files("remit.interop").joinpath("data", "qrs.toml").read_text(encoding="utf-8")
    scales: dict[str, Any] = tomllib.loads(text)["scales"]
    return scales


def _entry(scale: str, version: str | None) -> Mapping[str, Any] | None:
    entry = _qrs().get(scale)
    if entry is None:
        return None
    if "versions" in entry:
        found: Mapping[str, Any] | None = entry["versions"].get(version or "")
        return found
    return dict(entry)


def _short_name(scale: str) -> str:
    try:
        return (load_scale(scale).short_name or scale).upper()
    except (RemitError, OSError):  # an unknown scale: its code
        return scale.upper()


def qrs_category(scale: str, version: str | None) -> QrsCategory:
    """The category of ``scale`` (``version`` matters for C-SSRS)."""
    entry = _entry(scale, version)
    if entry is None or "category_codelist" not in entry:
        # a sponsor category; a user scale's short name is read afresh (it may change)
        value = entry["category"] if entry else _short_name(scale)
        return QrsCategory(value, None, None)
    return _cdisc_category(scale, version)


@cache
def _cdisc_category(scale: str, version: str | None) -> QrsCategory:
    entry = _entry(scale, version)
    assert entry is not None
    cl = entry["category_codelist"]
    term = terminology()[cl].term(entry["category"])
    if term is None:
        raise InputError(
            f"data/qrs.toml: category {entry['category']!r} of {scale} is not in the CT "
            f"codelist {cl}",
            expected="a term of the shipped CT package",
            hint="rebuild data/cdisc_ct.json with remit.interop.ct_build",
        )
    base = entry.get("codelist")
    return QrsCategory(
        term.value,
        term.c_code,
        cl,
        f"{base}TC" if base else None,
        f"{base}TN" if base else None,
    )


def qrs_test(scale: str, version: str | None, part: str, key: str) -> QrsTest:
    """``--TESTCD``/``--TEST`` of one part (``items``, ``total``, ``subscales``, ``derived``)."""
    entry = _entry(scale, version)
    cdisc = (entry or {}).get("codes", {}).get(f"{part}.{key}")
    if cdisc is not None:
        cat = qrs_category(scale, version)
        assert cat.testcd_codelist is not None
        term = terminology()[cat.testcd_codelist].term(cdisc)
        if term is None:
            raise InputError(
                f"data/qrs.toml: test code {cdisc!r} of {scale} is not in the CT codelist "
                f"{cat.testcd_codelist}",
                expected="a term of the shipped CT package",
                hint="rebuild data/cdisc_ct.json with remit.interop.ct_build",
            )
        return QrsTest(term.value, term.decode or term.value, term.c_code, True)
    sponsor = code_for(scale, part, key)
    prefix = (entry or {}).get("sponsor_prefix")
    if prefix and part == "items":
        items = [k for (p, k) in scale_codes(scale) if p == "items"]
        if key in items:
            return QrsTest(f"{prefix}{items.index(key) + 1:02d}", sponsor.label, None, False)
    return QrsTest(sponsor.code, sponsor.label, None, False)


def _entries() -> Iterable[Mapping[str, Any]]:
    for entry in _qrs().values():
        yield from entry["versions"].values() if "versions" in entry else [entry]


@cache
def cdisc_terms(variable: str) -> dict[str, Term]:
    """The CDISC terms (with their C-codes) that a QS/RS ``variable`` may take from the QRS
    codelists ``data/qrs.toml`` names: ``TESTCD`` (test codes), ``TEST`` (test names) or
    ``CAT`` (categories), by submission value. A value of the data not here is sponsor-defined.
    """
    ct = terminology()
    out: dict[str, Term] = {}
    for entry in _entries():
        if variable == "CAT" and "category_codelist" in entry:
            term = ct[entry["category_codelist"]].term(entry["category"])
            if term is not None:
                out[term.value] = term
        elif variable in ("TESTCD", "TEST") and "codelist" in entry:
            suffix = "TC" if variable == "TESTCD" else "TN"
            for term in ct[entry["codelist"] + suffix].terms:
                out[term.value] = term
    return out


@cache
def cdisc_categories() -> dict[str, QrsCategory]:
    """Every CDISC category ``data/qrs.toml`` uses, by value (with its test codelists)."""
    out: dict[str, QrsCategory] = {}
    for scale, entry in _qrs().items():
        for version in entry.get("versions", [None]):
            cat = qrs_category(scale, version)
            if cat.codelist is not None:
                out[cat.value] = cat
    return out


def check_qrs(datasets: Iterable[Dataset]) -> None:
    """Refuse QS/RS records that break the CDISC QRS terminology of their category: a test
    code in the instrument's (non-extensible) codelist namespace that the codelist lacks, a
    CDISC test code with another test name than CDISC's, or a questionnaire in RS.

    Raises :class:`~remit.errors.InputError` naming the dataset, the value and the codelist.
    """
    ct = terminology()
    for ds in datasets:
        if ds.name not in ("QS", "RS"):
            continue
        p = ds.name
        f = ds.frame
        if f.empty:
            continue
        for (cat, code, name), _ in f.groupby([f"{p}CAT", f"{p}TESTCD", f"{p}TEST"]):
            found = cdisc_categories().get(str(cat))
            if found is None:
                continue
            if p == "RS" and found.codelist == QUESTIONNAIRE:
                raise InputError(
                    f"RS holds {cat!r}, which CDISC terminology lists as a questionnaire",
                    expected="questionnaires in QS, clinical classifications in RS",
                    hint="export without moving this scale to RS",
                )
            if found.testcd_codelist is None:
                continue
            codelist = ct[found.testcd_codelist]
            term = codelist.term(str(code))
            if term is None and str(code).startswith(found.testcd_codelist.removesuffix("TC")):
                raise InputError(
                    f"{p}.{p}TESTCD holds {code!r} ({cat}), not in the non-extensible codelist "
                    f"{codelist.name} ({codelist.c_code})",
                    expected="a CDISC test code of the instrument or a sponsor code outside its "
                    "namespace",
                    hint="correct the mapping in data/qrs.toml",
                )
            if term is not None and term.decode != name:
                raise InputError(
                    f"{p}.{p}TEST of {code} is {name!r}, not CDISC's {term.decode!r}",
                    expected=f"the test name of {found.test_codelist}",
                    hint="take the name from the CT package (remit.interop.qrs.qrs_test)",
                )


def clinical_classifications(scales: Iterable[str]) -> set[str]:
    """The scales SDTM RS takes with ``--rs-for-clinician``: those CDISC lists as clinical
    classifications (MADRS) and, for a scale CDISC has no category for, one rated by a
    clinician. A scale CDISC lists as a questionnaire (C-SSRS) stays in QS."""
    out = set()
    for s in scales:
        entry = _qrs().get(s)
        entries = list(entry["versions"]) if entry and "versions" in entry else [None]
        cats = [qrs_category(s, v) for v in entries]
        if any(c.clinical_classification for c in cats):
            out.add(s)
        elif all(c.codelist is None for c in cats):
            try:
                if load_scale(s).respondent == "clinician":
                    out.add(s)
            except (RemitError, OSError):  # an unknown scale is not
                continue
    return out


__all__ = [
    "CLINICAL_CLASSIFICATION",
    "QUESTIONNAIRE",
    "QrsCategory",
    "QrsTest",
    "cdisc_categories",
    "cdisc_terms",
    "check_qrs",
    "clinical_classifications",
    "qrs_category",
    "qrs_test",
]
