"""A define-style metadata summary of exported datasets, as JSON and as a self-contained HTML
page."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from remit.interop.dataset import Dataset

_TYPES = {
    "text": "text",
    "integer": "integer",
    "float": "float",
    "date": "date",
    "datetime": "datetime",
}


def define_metadata(
    datasets: Iterable[Dataset], *, study_id: str, protocol_version: str, notes: str = ""
) -> dict[str, Any]:
    """Datasets (name, label, standard, structure, keys, records) and their variables (name,
    label, type, length, origin, key sequence, comment)."""
    out: dict[str, Any] = {
        "study": study_id,
        "protocol_version": protocol_version,
        "notes": notes,
        "datasets": [],
    }
    for ds in datasets:
        out["datasets"].append(
            {
                "name": ds.name,
                "label": ds.label,
                "standard": ds.standard,
                "structure": ds.structure,
                "records": ds.records,
                "keys": [v.name for v in sorted(ds.variables, key=lambda v: v.key or 0) if v.key],
                "files": [f"{ds.name.lower()}.xpt", f"{ds.name.lower()}.json"],
                "variables": [
                    {
                        "name": v.name,
                        "label": v.label,
                        "type": _TYPES[v.type],
                        "length": v.length,
                        "origin": v.origin,
                        "key_sequence": v.key,
                        "comment": v.comment,
                    }
                    for v in ds.variables
                ],
            }
        )
    return out


def define_html(meta: dict[str, Any]) -> str:
    """The metadata as an HTML page (no scripts, no external resources)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Define: {e(meta['study'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:2em}td,th{border:1px solid #999;padding:2px 6px;text-align:left}"
        "th{background:#eee}</style></head><body>",
        f"<h1>Dataset definitions: {e(meta['study'])}</h1>",
        f"<p>Protocol version {e(meta['protocol_version'])}. {e(meta['notes'])}</p>",
        "<h2>Datasets</h2><table><tr><th>Dataset</th><th>Label</th><th>Standard</th>"
        "<th>Structure</th><th>Keys</th><th>Records</th></tr>",
    ]
    for ds in meta["datasets"]:
        parts.append(
            f'<tr><td><a href="#{e(ds["name"])}">{e(ds["name"])}</a></td><td>{e(ds["label"])}'
            f"</td><td>{e(ds['standard'])}</td><td>{e(ds['structure'])}</td>"
            f"<td>{e(', '.join(ds['keys']))}</td><td>{ds['records']}</td></tr>"
        )
    parts.append("</table>")
    for ds in meta["datasets"]:
        parts.append(f'<h2 id="{e(ds["name"])}">{e(ds["name"])}: {e(ds["label"])}</h2>')
        parts.append(
            "<table><tr><th>Variable</th><th>Label</th><th>Type</th><th>Length</th>"
            "<th>Origin</th><th>Key</th><th>Comment</th></tr>"
        )
        for v in ds["variables"]:
            parts.append(
                f"<tr><td>{e(v['name'])}</td><td>{e(v['label'])}</td><td>{e(v['type'])}</td>"
                f"<td>{v['length'] if v['length'] is not None else ''}</td>"
                f"<td>{e(v['origin'])}</td><td>{v['key_sequence'] or ''}</td>"
                f"<td>{e(v['comment'])}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_define(meta: dict[str, Any], directory: str | Path) -> tuple[Path, Path]:
    """Write ``define.json`` and ``define.html`` into ``directory``."""
    d = Path(directory)
    j = d / "define.json"
    h = d / "define.html"
    j.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    h.write_text(define_html(meta), encoding="utf-8")
    return j, h
