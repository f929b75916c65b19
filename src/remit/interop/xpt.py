"""SAS XPORT version 5 files (the FDA's transport format), written and read with pyreadstat."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat

from remit.errors import InputError
from remit.interop.dataset import Dataset


def xpt_frame(dataset: Dataset) -> pd.DataFrame:
    """The frame as XPORT stores it: text with ``""`` for missing, numbers as doubles."""
    out = pd.DataFrame(index=dataset.frame.index)
    for v in dataset.variables:
        col = dataset.frame[v.name]
        if v.type in ("integer", "float") or (v.type == "date" and dataset.standard == "ADaM"):
            out[v.name] = pd.to_numeric(col).astype(float)
        else:
            # plain object cells: pyreadstat then reads them without going through a pandas
            # string array cell by cell
            out[v.name] = pd.Series(
                ["" if x is None else str(x) for x in col], index=out.index, dtype=object
            )
    return out


def write_xpt(dataset: Dataset, path: str | Path) -> Path:
    """Write ``dataset`` as a SAS XPORT v5 file (member name = dataset name); return the path.

    Text is encoded as UTF-8; ADaM dates carry the ``DATE9.`` format.
    """
    target = Path(path)
    formats = {
        v.name: "DATE9."
        for v in dataset.variables
        if v.type == "date" and dataset.standard == "ADaM"
    }
    pyreadstat.write_xport(
        xpt_frame(dataset),
        str(target),
        file_label=dataset.label,
        column_labels=[v.label for v in dataset.variables],
        table_name=dataset.name,
        file_format_version=5,
        variable_format=formats or None,
    )
    return target


def read_xpt(path: str | Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read an XPORT file back: the frame and ``{variable: label}``."""
    try:
        frame, meta = pyreadstat.read_xport(str(path))
    except pyreadstat.ReadstatError as error:
        raise InputError(f"{path} is not a readable SAS XPORT file: {error}") from error
    labels = [label or "" for label in meta.column_labels]
    return frame, dict(zip(meta.column_names, labels, strict=True))
