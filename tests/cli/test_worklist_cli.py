"""`remit worklist`: the rater's MADRS due, as a table and as JSON; a bad ``--today`` is one
clear line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.trial import Participant, add_participant, trial_file
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app


def test_worklist_on_the_command_line(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = trial_file(tmp_path / "trial.db")
    pid = add_participant(trial, Participant(through="V2"))
    v3 = {v.visit_code: v for v in sv.list_visits(trial.engine, trial.investigator, pid)}["V3"]
    assert v3.target_date is not None
    trial.engine.dispose()
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()
    day = v3.target_date.isoformat()

    table = runner.invoke(app, ["worklist", "--today", day], env={"REMIT_USER": "rita"})
    assert table.exit_code == 0, table.output
    shown = " ".join(table.output.split())
    assert f"Worklist of rita (independent_rater@OST) on {day}" in shown
    assert "Overdue: 0" in shown
    assert "Today: 1" in shown
    assert "MADRS" in shown  # the table wraps its columns to the terminal
    assert pid in shown

    raw = runner.invoke(app, ["worklist", "--today", day, "--json"], env={"REMIT_USER": "rita"})
    assert raw.exit_code == 0, raw.output
    body = json.loads(raw.output)
    assert [(i["participant_id"], i["visit_code"], i["kind"]) for i in body["due_today"]] == [
        (pid, "V3", "form_due")
    ]

    stats = runner.invoke(app, ["worklist", "--json"], env={"REMIT_USER": "siri"})
    assert json.loads(stats.output)["notes"] == ["nothing is assigned to the role statistician"]

    bad = runner.invoke(app, ["worklist", "--today", "4 March"], env={"REMIT_USER": "rita"})
    assert bad.exit_code == 2
    assert "--today '4 March' is not a date" in " ".join(bad.output.split())
