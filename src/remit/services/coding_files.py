"""Reading coding dictionaries in their distribution formats (no database here).

MedDRA ASCII (the ``MedAscii`` folder of a MedDRA release)
    ``$``-separated fields, one record a line, every line ending in ``$``:

    ========================  =====================================================
    ``llt.asc``   (11 fields) llt_code, llt_name, pt_code, llt_whoart_code,
                              llt_harts_code, llt_costart_sym, llt_icd9_code,
                              llt_icd9cm_code, llt_icd10_code, llt_currency (Y/N),
                              llt_jart_code
    ``pt.asc``    (11 fields) pt_code, pt_name, null_field, pt_soc_code (primary SOC),
                              pt_whoart_code, pt_harts_code, pt_costart_sym,
                              pt_icd9_code, pt_icd9cm_code, pt_icd10_code, pt_jart_code
    ``hlt.asc``    (9 fields) hlt_code, hlt_name, then seven legacy code fields
    ``hlgt.asc``   (9 fields) hlgt_code, hlgt_name, then seven legacy code fields
    ``soc.asc``   (10 fields) soc_code, soc_name, soc_abbrev, then seven legacy fields
    ``mdhier.asc``(12 fields) pt_code, hlt_code, hlgt_code, soc_code, pt_name,
                              hlt_name, hlgt_name, soc_name, soc_abbrev, null_field,
                              pt_soc_code, primary_soc_fg (Y/N)
    ``meddra_release.asc``    version, language, … (optional: else give the version)
    ========================  =====================================================

    Each lowest level term is loaded with its PT and the PT's *primary* path (the
    ``mdhier.asc`` row flagged ``Y``), which is what SDTM AE carries.

WHODrug Global, B3 format (text files, fixed width) — the subset Remit reads
    ``DD.txt`` (drug names): drug record number (columns 1–6), sequence number 1 (7–8),
    sequence number 2 (9–11), check digit (12), designation, source, company, number of
    ingredients, salt/ester code and year quarter (13–30) and the drug name (31 to the end of
    the line). The drug code is columns 1–11; the preferred name of a drug record is the
    name with sequence numbers ``01`` and ``001``.
    ``DDA.txt`` (ATC assignments): drug code (1–11), check digit (12), ATC code (13–19,
    left-aligned, blank-padded), further fields (year quarter, official flag) ignored.
    ``INA.txt`` (ATC texts): ATC code (1–7), level (8), text (9 to the end).

WHODrug Global, C3 format (text files, fixed width) — the subset Remit reads
    ``MP.txt`` (medicinal products): medicinal product ID (columns 1–10), MedID (11–45),
    drug record number (46–51), sequence number 1 (52–53), sequence number 2 (54–56),
    sequence numbers 3 and 4 (57–76), generic flag (77), drug name (78–1577); the fields
    after the name (name specifier, marketing authorisation, country, company, dates) are
    ignored. The drug code is the drug record number and the two sequence numbers (11
    digits, as in B3); several products (countries, companies) share one drug code and name.
    ``ThG.txt`` (therapeutic groups): therapeutic group ID (1–10), ATC code (11–20),
    create date (21–28), official ATC flag (29, ``Y``/``N``), medicinal product ID (30–39).
    ``ATC.txt`` (ATC texts): ATC code (1–10), level (11), text (12–121).

    Each drug code takes the ATC codes of its products, an official one first.

What was checked (recorded in ``docs/coding.md``): UMC's file descriptions themselves are
licensed with the dictionary and were not available here. The B3 positions above agree with an
independent reader of the B3 files (drug name from column 31; ``DDA`` drug record number 1–6,
sequence number 1 7–8, check digit 12, ATC code 13–19; ``INA`` code 1–7, level 8, text
9–), so they were kept as they were; the C3 positions follow a published reader of the C3
files of the WHODrug distribution (the ``vigicaen`` R package). Neither was checked against a
real release.

Every refusal is an :class:`~remit.errors.InputError` naming the file and the line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from remit.errors import InputError

#: Fields of each MedDRA ASCII file (without the empty field after the final ``$``).
MEDDRA_FIELDS = {"llt.asc": 11, "pt.asc": 11, "hlt.asc": 9, "hlgt.asc": 9, "soc.asc": 10,
                 "mdhier.asc": 12}  # fmt: skip
#: Where the WHODrug B3 drug name starts (1-based column of ``DD.txt``).
DD_NAME_COLUMN = 31
#: WHODrug C3 fields Remit reads: name → (first, last) 1-based column, per file.
C3_FIELDS: dict[str, dict[str, tuple[int, int]]] = {
    "MP.txt": {"product": (1, 10), "record": (46, 51), "seq1": (52, 53), "seq2": (54, 56),
               "name": (78, 1577)},
    "ThG.txt": {"group": (1, 10), "atc": (11, 20), "official": (29, 29), "product": (30, 39)},
    "ATC.txt": {"atc": (1, 10), "level": (11, 11), "text": (12, 121)},
}  # fmt: skip
_CODE = re.compile(r"^\d{1,9}$")
_DRUG_CODE = re.compile(r"^\d{11}$")
_ATC = re.compile(r"^[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?$")


def term_key(text: str) -> str:
    """The matching key of a term: case-folded, inner white space collapsed to one space.

    >>> term_key("  Head  ACHE ")
    'head ache'
    """
    return " ".join(str(text).split()).casefold()


@dataclass(frozen=True)
class MeddraRow:
    """One lowest level term and its primary path."""

    llt_code: int
    llt_name: str
    current: bool
    pt_code: int
    pt_name: str
    hlt_code: int
    hlt_name: str
    hlgt_code: int
    hlgt_name: str
    soc_code: int
    soc_name: str
    soc_abbrev: str | None


@dataclass(frozen=True)
class MeddraRelease:
    """A MedDRA release as read: version, language, the terms and the files' SHA-256."""

    version: str
    language: str | None
    terms: tuple[MeddraRow, ...]
    sha256: str


@dataclass(frozen=True)
class WhodrugRow:
    """One WHODrug drug name with its preferred name and (first) ATC assignment."""

    drug_code: str
    drug_name: str
    preferred_code: str
    preferred_name: str
    atc_code: str | None
    atc_text: str | None


@dataclass(frozen=True)
class WhodrugRelease:
    """A WHODrug release as read."""

    version: str
    terms: tuple[WhodrugRow, ...]
    sha256: str


def _read(path: Path, digest: hashlib._Hash) -> list[str]:
    data = path.read_bytes()
    digest.update(path.name.encode() + b"\0" + data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.splitlines()


def _optional(directory: Path, name: str) -> Path | None:
    """``name`` in ``directory``, whatever its case (releases ship ``LLT.ASC`` or ``llt.asc``)."""
    for candidate in sorted(directory.iterdir()):
        if candidate.is_file() and candidate.name.lower() == name.lower():
            return candidate
    return None


def _file(directory: Path, name: str) -> Path:
    found = _optional(directory, name)
    if found is None:
        raise InputError(
            f"{directory} has no {name}",
            expected=f"the distribution's files in one folder ({name} among them)",
            hint="give the folder the release unpacks to (MedAscii for MedDRA)",
        )
    return found


def _dollar_rows(path: Path, lines: list[str], fields: int) -> Iterator[tuple[int, list[str]]]:
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("$")
        if len(parts) != fields + 1 or parts[-1].strip():
            raise InputError(
                f"{path.name} line {n}: {len(parts) - 1} '$'-terminated fields in {line[:60]!r}",
                expected=f"{fields} fields, each ended by '$' (the MedDRA ASCII layout)",
                hint="give the files of the MedDRA ASCII distribution unchanged",
            )
        yield n, parts[:fields]


def _code(path: Path, n: int, value: str, what: str) -> int:
    value = value.strip()
    if not _CODE.match(value):
        raise InputError(
            f"{path.name} line {n}: {what} {value!r} is not a MedDRA code",
            expected="a number of up to 9 digits",
        )
    return int(value)


def _name(path: Path, n: int, value: str, what: str) -> str:
    if not value.strip():
        raise InputError(f"{path.name} line {n}: {what} is empty", expected=f"the {what}")
    return value.strip()


def read_meddra(directory: str | Path, version: str | None = None) -> MeddraRelease:
    """Read a MedDRA ASCII release from ``directory`` (see the module for the layout).

    The version is ``version`` or the first field of ``meddra_release.asc``.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder", expected="the MedDRA ASCII folder")
    digest = hashlib.sha256()
    tables: dict[str, tuple[Path, list[str]]] = {}
    for name in MEDDRA_FIELDS:
        path = _file(folder, name)
        tables[name] = (path, _read(path, digest))

    def rows(name: str) -> Iterator[tuple[Path, int, list[str]]]:
        path, lines = tables[name]
        for n, parts in _dollar_rows(path, lines, MEDDRA_FIELDS[name]):
            yield path, n, parts

    names: dict[str, dict[int, str]] = {"hlt.asc": {}, "hlgt.asc": {}, "soc.asc": {}}
    for name, found in names.items():
        for path, n, parts in rows(name):
            found[_code(path, n, parts[0], "code")] = _name(path, n, parts[1], "name")
    pts: dict[int, str] = {}
    for path, n, parts in rows("pt.asc"):
        pts[_code(path, n, parts[0], "pt_code")] = _name(path, n, parts[1], "pt_name")
    primary: dict[int, tuple[int, int, int, str | None]] = {}
    for path, n, parts in rows("mdhier.asc"):
        pt, hlt, hlgt, soc = (
            _code(path, n, parts[i], what)
            for i, what in enumerate(("pt_code", "hlt_code", "hlgt_code", "soc_code"))
        )
        for code, table, what in (
            (pt, pts, "pt_code"),
            (hlt, names["hlt.asc"], "hlt_code"),
            (hlgt, names["hlgt.asc"], "hlgt_code"),
            (soc, names["soc.asc"], "soc_code"),
        ):
            if code not in table:
                raise InputError(
                    f"{path.name} line {n}: {what} {code} is not in {what.split('_')[0]}.asc",
                    expected="a hierarchy whose codes are all in the term files",
                )
        flag = parts[11].strip().upper()
        if flag not in ("Y", "N"):
            raise InputError(
                f"{path.name} line {n}: primary_soc_fg {parts[11]!r}", expected="Y or N"
            )
        if flag == "Y":
            primary[pt] = (hlt, hlgt, soc, parts[8].strip() or None)
    terms: list[MeddraRow] = []
    seen: set[int] = set()
    for path, n, parts in rows("llt.asc"):
        llt = _code(path, n, parts[0], "llt_code")
        pt = _code(path, n, parts[2], "pt_code")
        if llt in seen:
            raise InputError(f"{path.name} line {n}: llt_code {llt} appears twice")
        seen.add(llt)
        if pt not in pts:
            raise InputError(
                f"{path.name} line {n}: pt_code {pt} of LLT {llt} is not in pt.asc",
                expected="every LLT under a PT of pt.asc",
            )
        if pt not in primary:
            raise InputError(
                f"{path.name} line {n}: PT {pt} has no primary path in mdhier.asc",
                expected="one mdhier.asc row of each PT with primary_soc_fg Y",
            )
        currency = parts[9].strip().upper()
        if currency not in ("Y", "N"):
            raise InputError(f"{path.name} line {n}: llt_currency {parts[9]!r}", expected="Y or N")
        hlt, hlgt, soc, abbrev = primary[pt]
        terms.append(
            MeddraRow(
                llt_code=llt,
                llt_name=_name(path, n, parts[1], "llt_name"),
                current=currency == "Y",
                pt_code=pt,
                pt_name=pts[pt],
                hlt_code=hlt,
                hlt_name=names["hlt.asc"][hlt],
                hlgt_code=hlgt,
                hlgt_name=names["hlgt.asc"][hlgt],
                soc_code=soc,
                soc_name=names["soc.asc"][soc],
                soc_abbrev=abbrev,
            )
        )
    if not terms:
        raise InputError(f"{folder}/llt.asc has no terms", expected="the lowest level terms")
    language = None
    release = _optional(folder, "meddra_release.asc")
    if release is not None:
        first = next((ln for ln in _read(release, digest) if ln.strip()), "")
        parts = first.split("$")
        if len(parts) < 2 or not parts[0].strip():
            raise InputError(
                f"{release.name} line 1: {first[:60]!r}",
                expected="version$language$… (the MedDRA release file)",
            )
        version = version or parts[0].strip()
        language = parts[1].strip() or None
    if not version or not str(version).strip():
        raise InputError(
            f"{folder} has no meddra_release.asc and no version was given",
            expected="the MedDRA version (e.g. 27.0)",
            hint="pass --version",
        )
    return MeddraRelease(str(version).strip(), language, tuple(terms), digest.hexdigest())


def _fixed_lines(path: Path, lines: list[str]) -> Iterator[tuple[int, str]]:
    for n, line in enumerate(lines, start=1):
        if line.strip():
            yield n, line.rstrip("\r\n")


def _atc_text(texts: dict[str, str], code: str | None) -> str | None:
    """The text of ``code``, or of its nearest level above that has one."""
    for length in (7, 5, 4, 3, 1):
        if code and len(code) >= length and code[:length] in texts:
            return texts[code[:length]]
    return None


def _release(
    version: str,
    names: dict[str, str],
    atc: dict[str, str],
    atc_text: dict[str, str],
    digest: hashlib._Hash,
    file: str,
    what: str,
    first_line: dict[str, int] | None = None,
) -> WhodrugRelease:
    """The release from its drug names (drug code → name), their ATC codes and the ATC texts:
    each name with its preferred name (the record's sequence numbers 01 and 001), which every
    drug record must have (refused naming the file, and the line where known)."""
    terms: list[WhodrugRow] = []
    for code, name in names.items():
        preferred = code[:6] + "01001"
        if preferred not in names:
            where = file if first_line is None else f"{file} line {first_line[code]}"
            raise InputError(
                f"{where}: drug record {code[:6]} has no preferred name ({preferred})",
                expected="each drug record's name with sequence numbers 01 and 001",
            )
        found = atc.get(code) or atc.get(preferred)
        terms.append(
            WhodrugRow(
                drug_code=code,
                drug_name=name,
                preferred_code=preferred,
                preferred_name=names[preferred],
                atc_code=found,
                atc_text=_atc_text(atc_text, found),
            )
        )
    if not terms:
        raise InputError(f"{file} has no {what}", expected="the drug names")
    return WhodrugRelease(str(version).strip(), tuple(terms), digest.hexdigest())


def whodrug_format(directory: str | Path) -> str:
    """``"B3"`` or ``"C3"``: the WHODrug format of the text files in ``directory`` (``DD.txt``
    or ``MP.txt``); refused when it holds both or neither."""
    folder = Path(directory)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder", expected="the WHODrug B3 or C3 text files")
    b3, c3 = _optional(folder, "DD.txt"), _optional(folder, "MP.txt")
    if b3 is not None and c3 is not None:
        raise InputError(
            f"{folder} holds both DD.txt (B3) and MP.txt (C3)",
            expected="the files of one format in one folder",
            hint="give the folder of the B3 files or that of the C3 files",
        )
    if b3 is None and c3 is None:
        raise InputError(
            f"{folder} has no DD.txt (B3) and no MP.txt (C3)",
            expected="the WHODrug text files (B3: DD.txt, DDA.txt, INA.txt; C3: MP.txt, "
            "ThG.txt, ATC.txt)",
        )
    return "B3" if b3 is not None else "C3"


def read_whodrug(directory: str | Path, version: str) -> WhodrugRelease:
    """Read a WHODrug release in the B3 (``DD.txt``, ``DDA.txt``, ``INA.txt``) or C3
    (``MP.txt``, ``ThG.txt``, ``ATC.txt``) format, found from the files (see the module)."""
    if not version or not str(version).strip():
        raise InputError(
            "no WHODrug version given", expected="the release (e.g. 'GLOBAL B3 2024 MAR 1')"
        )
    if whodrug_format(directory) == "C3":
        return _read_c3(Path(directory), version)
    folder = Path(directory)
    digest = hashlib.sha256()
    dd = _file(folder, "DD.txt")
    dda = _file(folder, "DDA.txt")
    ina = _optional(folder, "INA.txt")
    atc_text: dict[str, str] = {}
    if ina is not None:
        for n, line in _fixed_lines(ina, _read(ina, digest)):
            code = line[:7].strip()
            if not _ATC.match(code) or len(line) < 9 or not line[7].isdigit():
                raise InputError(
                    f"{ina.name} line {n}: {line[:40]!r}",
                    expected="an ATC code (columns 1-7), its level (8) and text (9-)",
                )
            atc_text[code] = line[8:].strip()
    atc: dict[str, str] = {}
    for n, line in _fixed_lines(dda, _read(dda, digest)):
        code, atc_code = line[:11], line[12:19].strip()
        if not _DRUG_CODE.match(code) or not _ATC.match(atc_code):
            raise InputError(
                f"{dda.name} line {n}: {line[:40]!r}",
                expected="a drug code (columns 1-11, digits) and an ATC code (13-19)",
                hint="give the B3 text files unchanged",
            )
        atc.setdefault(code, atc_code)
    names: dict[str, str] = {}
    for n, line in _fixed_lines(dd, _read(dd, digest)):
        code = line[:11]
        name = line[DD_NAME_COLUMN - 1 :].strip()
        if not _DRUG_CODE.match(code) or not name:
            raise InputError(
                f"{dd.name} line {n}: {line[:40]!r}",
                expected=f"a drug code (columns 1-11, digits) and a drug name "
                f"(from column {DD_NAME_COLUMN})",
                hint="give the B3 text files unchanged",
            )
        if code in names:
            raise InputError(f"{dd.name} line {n}: drug code {code} appears twice")
        names[code] = name
    return _release(version, names, atc, atc_text, digest, dd.name, "drug names")


def _field(line: str, name: str, file: str) -> str:
    first, last = C3_FIELDS[file][name]
    return line[first - 1 : last].strip()


def _c3_refusal(path: Path, n: int, line: str, what: str) -> InputError:
    fields = ", ".join(f"{k} {a}-{b}" for k, (a, b) in C3_FIELDS[_c3_name(path)].items())
    return InputError(
        f"{path.name} line {n}: {what} in {line[:60]!r}",
        expected=f"the WHODrug C3 layout of {_c3_name(path)} (columns: {fields})",
        hint="give the C3 text files unchanged",
    )


def _c3_name(path: Path) -> str:
    return next(k for k in C3_FIELDS if k.lower() == path.name.lower())


def _read_c3(folder: Path, version: str) -> WhodrugRelease:
    digest = hashlib.sha256()
    mp = _file(folder, "MP.txt")
    thg = _file(folder, "ThG.txt")
    atc_file = _optional(folder, "ATC.txt")
    atc_text: dict[str, str] = {}
    if atc_file is not None:
        for n, line in _fixed_lines(atc_file, _read(atc_file, digest)):
            code, level = _field(line, "atc", "ATC.txt"), _field(line, "level", "ATC.txt")
            if not _ATC.match(code) or not level.isdigit():
                raise _c3_refusal(atc_file, n, line, "no ATC code and level")
            atc_text[code] = _field(line, "text", "ATC.txt")
    names: dict[str, str] = {}
    first_line: dict[str, int] = {}
    product_code: dict[str, str] = {}
    for n, line in _fixed_lines(mp, _read(mp, digest)):
        product = _field(line, "product", "MP.txt")
        code = "".join(_field(line, k, "MP.txt") for k in ("record", "seq1", "seq2"))
        name = _field(line, "name", "MP.txt")
        if not product.isdigit():
            raise _c3_refusal(mp, n, line, f"medicinal product ID {product!r} is not a number")
        if not _DRUG_CODE.match(code) or len(line[45:56].strip()) != 11:
            raise _c3_refusal(mp, n, line, f"drug code {line[45:56]!r} is not 11 digits")
        if not name:
            raise _c3_refusal(mp, n, line, "no drug name")
        if product in product_code:
            raise _c3_refusal(mp, n, line, f"medicinal product ID {product} appears twice")
        product_code[product] = code
        if code in names and term_key(names[code]) != term_key(name):
            raise _c3_refusal(
                mp, n, line,
                f"drug code {code} is named {name!r} here and {names[code]!r} on line "
                f"{first_line[code]}",
            )  # fmt: skip
        names.setdefault(code, name)
        first_line.setdefault(code, n)
    assigned: dict[str, list[tuple[bool, str]]] = {}
    for n, line in _fixed_lines(thg, _read(thg, digest)):
        code = _field(line, "atc", "ThG.txt")
        official = _field(line, "official", "ThG.txt").upper()
        product = _field(line, "product", "ThG.txt")
        if not _ATC.match(code):
            raise _c3_refusal(thg, n, line, f"ATC code {code!r} is not one")
        if official not in ("Y", "N"):
            raise _c3_refusal(thg, n, line, f"official ATC flag {official!r} is not Y or N")
        if product not in product_code:
            raise _c3_refusal(thg, n, line, f"medicinal product ID {product!r} is not in {mp.name}")
        assigned.setdefault(product_code[product], []).append((official != "Y", code))
    atc = {code: sorted(found)[0][1] for code, found in assigned.items()}
    return _release(
        version, names, atc, atc_text, digest, mp.name, "medicinal products", first_line
    )
