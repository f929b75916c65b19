"""SUPP-- datasets: the part of a free text over 200 bytes (SDTMIG 4.5.3.2).

The parent variable keeps the first 200 bytes (:func:`remit.interop.dataset.make_dataset`);
each further 200-byte part is one SUPP-- record with ``QNAM`` the variable name (cut to 7
characters) and the part's number (``AETERM1``, ``AETERM2`` …), linked to the parent record by
``IDVAR = --SEQ`` and ``IDVARVAL``.
"""

from __future__ import annotations

from remit.interop.dataset import Dataset, make_dataset
from remit.interop.sdtm.base import var


def build_supp(parent: Dataset) -> Dataset | None:
    """``SUPP<domain>`` of ``parent``'s overflowing text (``None`` when nothing overflows)."""
    if not parent.overflow:
        return None
    seq = f"{parent.name}SEQ"
    rows = []
    for row, name, parts in parent.overflow:
        record = parent.frame.iloc[row]
        label = parent.column(name).label
        for n, part in enumerate(parts, start=1):
            rows.append(
                {
                    "STUDYID": record["STUDYID"],
                    "RDOMAIN": parent.name,
                    "USUBJID": record["USUBJID"],
                    "IDVAR": seq,
                    "IDVARVAL": str(int(record[seq])),
                    "QNAM": f"{name[:7]}{n}",
                    "QLABEL": f"{label[: 40 - len(str(n)) - 1]} {n}",
                    "QVAL": part,
                    "QORIG": parent.column(name).origin,
                    "QEVAL": None,
                }
            )
    variables = [
        var("STUDYID", "Study Identifier", origin="Assigned", key=1),
        var("RDOMAIN", "Related Domain Abbreviation", origin="Assigned", key=2),
        var("USUBJID", "Unique Subject Identifier", origin="Assigned", key=3),
        var("IDVAR", "Identifying Variable", origin="Assigned", key=4),
        var("IDVARVAL", "Identifying Variable Value", origin="Assigned", key=5),
        var("QNAM", "Qualifier Variable Name", origin="Assigned", key=6),
        var("QLABEL", "Qualifier Variable Label", origin="Assigned"),
        var("QVAL", "Data Value"),
        var("QORIG", "Origin", origin="Assigned"),
        var("QEVAL", "Evaluator", origin="Assigned"),
    ]
    return make_dataset(
        f"SUPP{parent.name}",
        f"Supplemental Qualifiers for {parent.name}",
        "SDTM",
        variables,
        rows,
        structure="One record per IDVAR, IDVARVAL, and QNAM value per subject",
    )
