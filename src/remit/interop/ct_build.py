"""Build Remit's controlled-terminology subset (``data/cdisc_ct.json``) from a published CDISC
CT package: the tab-separated ``SDTM Terminology.txt`` NCI EVS distributes for each release
(https://evs.nci.nih.gov/ftp1/CDISC/SDTM/).

Remit ships only the codelists and terms its exports use; this module takes every C-code,
codelist name, extensibility and test name from the package, so none is typed by hand:

.. code-block:: console

    $ python -m remit.interop.ct_build "SDTM Terminology.txt" --version 2025-03-28

keeps the codelists and terms already in ``cdisc_ct.json`` plus the QRS codelists and categories
``data/qrs.toml`` names (every term of a QRS test code/name codelist), and refuses a term the
package does not hold (naming it) instead of writing it without a code.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remit.errors import InputError

#: The columns of an NCI EVS CDISC terminology text file, in order.
COLUMNS = (
    "Code",
    "Codelist Code",
    "Codelist Extensible (Yes/No)",
    "Codelist Name",
    "CDISC Submission Value",
    "CDISC Synonym(s)",
    "CDISC Definition",
    "NCI Preferred Term",
)


@dataclass
class PackageCodelist:
    """One codelist of a CT package: its C-code, name, extensibility and terms by value."""

    c_code: str
    submission_value: str
    name: str
    extensible: bool
    terms: dict[str, tuple[str, str]] = field(default_factory=dict)  # value → (c_code, synonym)


def read_package(path: str | Path) -> dict[str, PackageCodelist]:
    """The codelists of an NCI EVS terminology text file, by submission value (``EPOCH``)."""
    by_code: dict[str, PackageCodelist] = {}
    members: list[list[str]] = []
    with Path(path).open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header is None or tuple(h.strip() for h in header) != COLUMNS:
            raise InputError(
                f"{path}: not an NCI EVS CDISC terminology text file",
                expected="a tab-separated file whose header is " + ", ".join(COLUMNS),
                hint="download 'SDTM Terminology.txt' of the release from NCI EVS",
            )
        for row in rows:
            if len(row) < len(COLUMNS):
                continue
            if row[1] == "":
                by_code[row[0]] = PackageCodelist(row[0], row[4], row[3], row[2] == "Yes")
            else:
                members.append(row)
    for row in members:
        parent = by_code.get(row[1])
        if parent is not None:
            synonym = row[5].split(";")[0].strip()
            parent.terms[row[4]] = (row[0], synonym)
    return {c.submission_value: c for c in by_code.values()}


def subset(
    package: Mapping[str, PackageCodelist],
    selection: Mapping[str, Iterable[str] | None],
    version: str,
    decodes: Mapping[tuple[str, str], str] | None = None,
    about: str = "",
) -> dict[str, Any]:
    """The ``cdisc_ct.json`` document of ``selection`` (codelist → its terms, ``None``: all;
    a non-extensible codelist is always taken whole).

    Raises :class:`InputError` naming every codelist or term the package lacks.
    """
    decodes = decodes or {}
    missing: list[str] = []
    lists: dict[str, Any] = {}
    for cid, wanted in selection.items():
        cl = package.get(cid)
        if cl is None:
            missing.append(f"codelist {cid}")
            continue
        # a non-extensible codelist is enforced at export, so all of it is shipped
        whole = wanted is None or not cl.extensible
        values = sorted(cl.terms) if whole else sorted(set(wanted or ()))
        terms = []
        for value in values:
            found = cl.terms.get(value)
            if found is None:
                missing.append(f"{cid} term {value!r}")
                continue
            code, synonym = found
            terms.append(
                {
                    "value": value,
                    "c_code": code,
                    "decode": decodes.get((cid, value)) or synonym or value,
                }
            )
        lists[cid] = {
            "c_code": cl.c_code,
            "name": cl.name,
            "extensible": cl.extensible,
            "terms": terms,
        }
    if missing:
        raise InputError(
            f"the CT package {version} lacks " + "; ".join(missing),
            expected="every codelist and term Remit's exports use",
            hint="map the value to a term of the new package before rebuilding",
        )
    return {
        "standard": "CDISC/NCI SDTM Controlled Terminology",
        "version": version,
        "about": about,
        "codelists": lists,
    }


ABOUT = (
    "The subset of CDISC/NCI SDTM controlled terminology that Remit's exports use, built by "
    "remit.interop.ct_build from the NCI EVS file 'SDTM Terminology.txt' of the release named "
    "in 'version' (https://evs.nci.nih.gov/ftp1/CDISC/SDTM/): every C-code, codelist name, "
    "extensibility and QRS test name comes from that file. Extensible is the CDISC codelist "
    "attribute: values outside a non-extensible codelist are refused at export."
)


def current_selection(document: Mapping[str, Any]) -> dict[str, list[str] | None]:
    """The codelists and term values a ``cdisc_ct.json`` document holds."""
    return {
        cid: [t["value"] for t in c["terms"]] for cid, c in document.get("codelists", {}).items()
    }


def qrs_selection(qrs: Mapping[str, Any]) -> dict[str, list[str] | None]:
    """The CT codelists ``qrs.toml`` needs: the categories it uses and, whole, every QRS test
    code/name codelist it names."""
    out: dict[str, list[str] | None] = {}
    for entry in _qrs_entries(qrs):
        if "category_codelist" not in entry:  # no CDISC terminology: a sponsor category
            continue
        out.setdefault(entry["category_codelist"], [])
        cats = out[entry["category_codelist"]]
        assert cats is not None
        cats.append(entry["category"])
        if "codelist" in entry:
            out[entry["codelist"] + "TC"] = None
            out[entry["codelist"] + "TN"] = None
    return out


def _qrs_entries(qrs: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for scale in qrs.get("scales", {}).values():
        if "versions" in scale:
            yield from scale["versions"].values()
        else:
            yield scale


def main(argv: list[str] | None = None) -> int:
    """``python -m remit.interop.ct_build PACKAGE --version V``: rewrite ``cdisc_ct.json``."""
    import tomllib
    from importlib.resources import files

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="the release's 'SDTM Terminology.txt' (NCI EVS)")
    parser.add_argument("--version", required=True, help="the release date, e.g. 2025-03-28")
    parser.add_argument("--out", help="where to write (default: the shipped cdisc_ct.json)")
    args = parser.parse_args(argv)
    data = files("remit.interop").joinpath("data")
    current = json.loads(data.joinpath("cdisc_ct.json").read_text(encoding="utf-8"))
    qrs = tomllib.loads(data.joinpath("qrs.toml").read_text(encoding="utf-8"))
    selection: dict[str, list[str] | None] = current_selection(current)
    for cid, values in qrs_selection(qrs).items():
        if values is None or selection.get(cid, []) is None:
            selection[cid] = None
        else:
            selection[cid] = sorted(set(selection.get(cid) or []) | set(values))
    decodes = {
        (cid, t["value"]): t["decode"]
        for cid, c in current.get("codelists", {}).items()
        for t in c["terms"]
        if t.get("decode")
    }
    try:
        document = subset(read_package(args.package), selection, args.version, decodes, ABOUT)
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(str(data.joinpath("cdisc_ct.json")))
    out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(document['codelists'])} codelists, CT {args.version}")
    return 0


if __name__ == "__main__":  # pragma: no cover - command-line entry
    raise SystemExit(main())
