"""Tidy CSV files: one per form (scale) with raw answers, scores and derived values, and one
per analysis dataset."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from remit.analysis import TrialData
from remit.interop.dataset import is_missing

#: First characters that make a spreadsheet read a cell as a formula (or, for tab and carriage
#: return, that some spreadsheets strip before doing so).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralised(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made inert by a leading ``'``
    (CSV formula injection: an adverse-event term ``=HYPERLINK(...)`` typed by anyone who
    may enter data would otherwise run on the statistician's machine). Numbers, and text that
    is only a number such as ``-3``, are left as they are.

    >>> print(neutralised('=HYPERLINK("http://x.example","click")'))
    '=HYPERLINK("http://x.example","click")
    >>> neutralised("@SUM(A1)"), neutralised(-3), neutralised("-3"), neutralised("nausea")
    ("'@SUM(A1)", -3, '-3', 'nausea')
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


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
    """Write a frame as UTF-8 CSV (lists and dicts as JSON text, missing as empty, text that
    a spreadsheet would run as a formula :func:`neutralised`; column names too)."""
    clean = frame.copy()
    for col in clean.columns:
        if clean[col].dtype == object or pd.api.types.is_string_dtype(clean[col]):
            # non-empty text (the usual cell) checked here, without a call unless it starts
            # like a formula
            clean[col] = [
                (neutralised(v) if v.startswith(FORMULA_STARTS) else v)
                if type(v) is str and v
                else (None if is_missing(v) else neutralised(_cell(v)))
                for v in clean[col].to_numpy(dtype=object)
            ]
    clean.columns = [neutralised(str(c)) for c in clean.columns]
    clean.to_csv(path, index=False, encoding="utf-8")
    return path
