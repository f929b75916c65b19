"""``remit vitals sheet``: a dosing session's monitor sheet (CSV) entered in one transaction; a
bad reading refuses the whole sheet (exit 2, the line's reading named, nothing stored); alerts
are printed; a retry with the same key stores nothing twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.support.forms import at
from tests.support.predose import ready_for_dose
from tests.support.trial import enrolled, trial_file, visit_date
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app
from remit.store import unit_of_work
from remit.store.vitals import VitalSignReading


def test_a_monitor_sheet_from_the_command_line(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = trial_file(tmp_path / "trial.db")
    pid = enrolled(trial, "V5")
    day = visit_date(trial, pid, "V5")
    e, inv, the = trial.engine, trial.investigator, trial.therapist
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    ready_for_dose(e, trial.protocol, inv, the, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))

    def readings() -> int:
        with unit_of_work(e, inv) as uow:
            return uow.session.scalar(select(func.count()).select_from(VitalSignReading)) or 0

    before = readings()
    e.dispose()
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()
    d = day.isoformat()
    sheet = tmp_path / "sheet.csv"
    good = (
        "measured_at,systolic_bp,diastolic_bp,heart_rate,temperature\n"
        f"{d}T09:30Z,128,82,76,36.9\n"
        f"{d}T10:00Z,165,90,96,\n"
        f"{d}T10:30Z,131,84,88,37.1\n"
    )
    # a temperature in °F on line 3: the whole sheet is refused, nothing stored
    sheet.write_text(good.replace("96,\n", "96,99.1\n"), encoding="utf-8")
    args = ["vitals", "sheet", "-p", pid, "--visit", "V5", "--file", str(sheet)]
    refused = runner.invoke(app, args, env={"REMIT_USER": "tor"})
    assert refused.exit_code == 2, refused.output
    said = " ".join(refused.output.split())
    assert "reading 2 of 3 measured at" in said, said
    assert "looks like" in said
    assert "nothing was stored" in said
    assert readings() == before
    sheet.write_text(good, encoding="utf-8")
    done = runner.invoke(app, [*args, "--key", "sheet-1"], env={"REMIT_USER": "tor"})
    assert done.exit_code == 0, done.output
    said = " ".join(done.output.split())
    assert "3 readings of vital signs recorded" in said
    assert "ALERT urgent: 10:00 UTC vital signs beyond" in said, said
    assert "systolic_bp 165 mmHg above the urgent limit 160" in said
    assert readings() == before + 3
    again = runner.invoke(app, [*args, "--key", "sheet-1", "--json"], env={"REMIT_USER": "tor"})
    assert again.exit_code == 0, again.output
    records = json.loads(again.output)
    assert [r["minutes_after_dose"] for r in records] == [30, 60, 90]
    assert "temperature" not in records[1]["values"]
    assert readings() == before + 3
    # a cell that is not a number names its line and column
    sheet.write_text(good.replace("88,", "eighty,"), encoding="utf-8")
    bad = runner.invoke(app, args, env={"REMIT_USER": "tor"})
    assert bad.exit_code == 2
    assert "line 4: heart_rate 'eighty' is not a number" in " ".join(bad.output.split())
