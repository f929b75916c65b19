"""``remit report`` on a data folder: files written, JSON, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remit.analysis import TrialData
from remit.cli import report_cmd
from remit.cli.app import app
from remit.reports import ReportResult


def test_report_from_a_data_folder(trial: TrialData, tmp_path: Path) -> None:
    folder = trial.to_directory(tmp_path / "data")
    out = tmp_path / "out"
    args = ["report", "--data", str(folder), "--protocol", "oslo-mdma-mdd"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--no-pdf", "--json"])
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written["html"] == str(out / "report.html")
    assert written["pdf"] is None
    assert written["simulated"] is True
    assert "fig-consort" in written["figures"]
    assert (out / "report.html").read_text("utf-8").startswith("<!DOCTYPE html>")


def test_report_prints_what_it_wrote(
    trial: TrialData, report: ReportResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the rendering itself is tested elsewhere: here only what the command prints
    monkeypatch.setattr(report_cmd, "render_report", lambda *args, **kwargs: report)
    folder = trial.to_directory(tmp_path / "data")
    args = ["report", "--data", str(folder), "--protocol", "oslo-mdma-mdd", "--out", "x"]
    result = CliRunner().invoke(app, [*args, "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert "SIMULATED DATA" in result.stdout
    assert str(report.html_path) in result.stdout.replace("\n", "")
    assert "pdf: not written (not asked for)" in result.stdout


def test_report_of_an_empty_trial_says_there_is_nothing_to_analyse(tmp_path: Path) -> None:
    folder = TrialData().to_directory(tmp_path / "empty")
    result = CliRunner().invoke(
        app,
        ["report", "--data", str(folder), "--protocol", "oslo-mdma-mdd", "--out", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "nothing to analyse" in result.output
    assert not (tmp_path / "report.html").exists()


def test_report_needs_one_source_of_data(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["report", "--out", str(tmp_path)], env={"REMIT_DATABASE_URL": None}
    )
    assert result.exit_code == 2
    assert "no data given" in result.output
