"""CDISC Dataset-JSON 1.1 files."""

from __future__ import annotations

import json
import json.encoder
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remit.interop.dataset import Dataset, Variable

#: Dataset-JSON version written.
DATASET_JSON_VERSION = "1.1.0"

# ISO 8601 --DTC values may be partial dates: Dataset-JSON carries them as strings
_TYPES = {"text": "string", "integer": "integer", "float": "double", "datetime": "string"}


def _column(dataset: Dataset, v: Variable) -> dict[str, Any]:
    col: dict[str, Any] = {
        "itemOID": f"IT.{dataset.name}.{v.name}",
        "name": v.name,
        "label": v.label,
    }
    if v.type == "date" and dataset.standard == "ADaM":
        # a SAS date number in XPT, ISO 8601 text here (Dataset-JSON 1.1 targetDataType)
        col["dataType"] = "date"
        col["targetDataType"] = "integer"
        col["displayFormat"] = "DATE9."
    elif v.type == "date":
        col["dataType"] = "string"
    else:
        col["dataType"] = _TYPES[v.type]
    if v.length is not None and col["dataType"] in ("string", "date"):
        col["length"] = v.length
    if v.key is not None:
        col["keySequence"] = v.key
    return col


def _iso_from_sas(days: int) -> str:
    from datetime import date, timedelta

    return (date(1960, 1, 1) + timedelta(days=days)).isoformat()


def dataset_json(
    dataset: Dataset,
    *,
    study_oid: str,
    created_at: datetime | None = None,
    source_version: str = "",
) -> dict[str, Any]:
    """The Dataset-JSON 1.1 document of ``dataset`` as a dict (missing values are ``null``)."""
    created = (created_at or datetime.now(UTC)).astimezone(UTC)
    date_cols = {
        i
        for i, v in enumerate(dataset.variables)
        if v.type == "date" and dataset.standard == "ADaM"
    }
    rows = dataset.rows()
    if date_cols:
        for row in rows:
            for i in date_cols:
                if row[i] is not None:
                    row[i] = _iso_from_sas(int(row[i]))
    return {
        "datasetJSONCreationDateTime": created.strftime("%Y-%m-%dT%H:%M:%S"),
        "datasetJSONVersion": DATASET_JSON_VERSION,
        "fileOID": f"{study_oid}.{dataset.name}",
        "originator": "Remit",
        "sourceSystem": {"name": "Remit", "version": source_version or "unknown"},
        "studyOID": study_oid,
        "metaDataVersionOID": f"MDV.{dataset.standard}",
        "metaDataRef": "define.json",
        "itemGroupOID": f"IG.{dataset.name}",
        "records": dataset.records,
        "name": dataset.name,
        "label": dataset.label,
        "columns": [_column(dataset, v) for v in dataset.variables],
        "rows": rows,
    }


_encode_text: Any = getattr(json.encoder, "c_encode_basestring", None) or (
    json.encoder.py_encode_basestring
)


def _scalar(value: Any) -> str:
    """A cell as ``json.dumps`` writes it (``KeyError`` for a type written otherwise)."""
    kind = type(value)
    if kind is str:
        text: str = _encode_text(value)
        return text
    if value is None:
        return "null"
    if kind is float:
        if value != value:
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    raise KeyError(kind)


def dataset_json_text(doc: dict[str, Any]) -> str:
    """``json.dumps(doc, ensure_ascii=False, indent=1)`` of a Dataset-JSON document, its rows
    (the bulk of the file) written cell by cell without the pure-Python indenting encoder;
    a cell of any other type than text, a number, a flag or null leaves the whole document to
    ``json.dumps``."""
    rows = doc["rows"]
    if not rows or list(doc)[-1] != "rows" or not all(rows):
        return json.dumps(doc, ensure_ascii=False, indent=1)
    head = json.dumps({**doc, "rows": []}, ensure_ascii=False, indent=1)
    encode = _encode_text
    try:
        if all(len(row) == len(rows[0]) for row in rows):  # a column at a time, text inline
            columns = [
                [encode(v) if type(v) is str else _scalar(v) for v in column]
                for column in zip(*rows, strict=True)
            ]
            cells: Any = zip(*columns, strict=True)
        else:
            cells = ([_scalar(v) for v in row] for row in rows)
        printed = ["  [\n   " + ",\n   ".join(row) + "\n  ]" for row in cells]
    except KeyError:
        return json.dumps(doc, ensure_ascii=False, indent=1)
    return head.removesuffix("[]\n}") + "[\n" + ",\n".join(printed) + "\n ]\n}"


def write_dataset_json(dataset: Dataset, path: str | Path, *, study_oid: str, **kw: Any) -> Path:
    """Write ``dataset`` as a Dataset-JSON 1.1 file; return the path."""
    target = Path(path)
    doc = dataset_json(dataset, study_oid=study_oid, **kw)
    target.write_text(dataset_json_text(doc) + "\n", encoding="utf-8")
    return target
