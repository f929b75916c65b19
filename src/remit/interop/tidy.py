"""Tidy CSV files: one per form (scale) with raw answers, scores and derived values, and one
per analysis dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from remit.analysis import TrialData
from remit.interop.dataset import is_missing


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return value


def form_frames(data: TrialData) -> dict[str, pd.DataFrame]:
    """``{scale: frame}``: one row per completed form; columns for the form's keys, the total,
    band, missing count, then ``item_<code>``, ``subscale_<code>``, ``derived_<name>``."""
    out: dict[str, pd.DataFrame] = {}
    s = data.scores
    for scale in sorted(s["scale"].astype(str).unique()):
        rows = []
        for r in s[s["scale"] == scale].itertuples(index=False):
            row: dict[str, Any] = {
                "participant_id": r.participant_id,
                "visit_code": r.visit_code,
                "timepoint": getattr(r, "timepoint", None),
                "study_day": r.study_day,
                "version": r.version,
                "assessed_at": r.assessed_at,
                "total": r.total,
                "band": r.band,
                "n_missing": r.n_missing,
                "prorated": r.prorated,
            }
            row |= {f"item_{k}": v for k, v in r.items.items()}
            row |= {f"subscale_{k}": v for k, v in r.subscales.items()}
            row |= {f"derived_{k}": v for k, v in r.derived.items()}
            rows.append(row)
        frame = pd.DataFrame(rows)
        fixed = list(rows[0])[:10]
        rest = [c for c in frame.columns if c not in fixed]
        order = (
            [c for c in rest if c.startswith("item_")]
            + [c for c in rest if c.startswith("subscale_")]
            + [c for c in rest if c.startswith("derived_")]
        )
        out[scale] = frame[fixed + order]
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame as UTF-8 CSV (lists and dicts as JSON text, missing as empty)."""
    clean = frame.copy()
    for col in clean.columns:
        if clean[col].dtype == object:
            clean[col] = [None if is_missing(v) else _cell(v) for v in clean[col]]
    clean.to_csv(path, index=False, encoding="utf-8")
    return path
