"""`remit conmed` on the command line: a medication is added with its ATC code and dated taper,
listed with its prohibited class, edited with a reason and stopped; the dose that its washout
stops is refused (exit 2, the medication and the earliest dose named) until the day the washout
ends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from tests.support.forms import NORMAL_VITALS, at
from tests.support.predose import ready_for_dose
from tests.support.trial import enrolled, trial_file, visit_date
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app


def test_conmed_add_list_edit_stop_and_the_washout(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = trial_file(tmp_path / "trial.db")
    pid = enrolled(trial, "V5")
    day = visit_date(trial, pid, "V5")
    sv.start_dosing_session(trial.engine, trial.investigator, pid, "V5", started_at=at(day, 8))
    sv.record_vitals(
        trial.engine, trial.therapist, pid, "V5", measured_at=at(day, 8, 45), values=NORMAL_VITALS
    )
    # the C-SSRS and the pre-dose reading; the screen and the ticks are given on the CLI below
    ready_for_dose(
        trial.engine, trial.protocol, trial.investigator, trial.therapist, pid, "V5",
        at(day, 8, 55), complete=False,
    )  # fmt: skip
    trial.engine.dispose()
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()

    def cli(user: str, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env={"REMIT_USER": user})
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())

    taper_start = day - timedelta(days=30)
    stop = day - timedelta(days=13)
    added = cli(
        "tor", "conmed", "add", "-p", pid, "--name", "sertraline", "--atc", "N06AB06",
        "--dose", "100 mg", "--route", "oral", "--start", "2022-01-01",
        "--taper", f"{taper_start}=50 mg", "--taper", f"{stop}=0 mg",
    )  # fmt: skip
    assert "medication 1: sertraline (N06AB06); prohibited: SSRIs, washout 14 days" in added
    bad = cli("tor", "conmed", "add", "-p", pid, "--name", "x", "--atc", "N6AB06", code=2)
    assert "not of the shape" in bad
    listed = json.loads(cli("tor", "conmed", "list", "-p", pid, "--json"))
    assert [(m["atc_class"], m["prohibited"], m["taper_steps"]) for m in listed] == [
        ("N06AB", "SSRIs", [{"date": str(taper_start), "dose": "50 mg"},
                            {"date": str(stop), "dose": "0 mg"}]),
    ]  # fmt: skip
    empty = cli("kari", "conmed", "edit", "1", "--reason", " ", "--dose", "50 mg", code=2)
    assert "reason for the change is empty" in empty
    cli("kari", "conmed", "edit", "1", "--reason", "dose was daily", "--dose", "100 mg daily")
    stopped = cli("tor", "conmed", "stop", "1", "--date", str(stop))
    assert f"stopped {stop}" in stopped

    give = ["dose", "give", "-p", pid, "--visit", "V5", "--kind", "initial", "--mg", "80"]
    refused = cli("kari", *give, "--at", at(day, 9).isoformat(), code=2)
    assert "sertraline (N06AB06, SSRIs)" in refused
    assert f"earliest dose {day + timedelta(days=1)}" in refused
    cli("kari", "conmed", "edit", "1", "--reason", "stop date was a day early on the chart",
        "--stop", str(day - timedelta(days=14)), "--taper", f"{taper_start}=50 mg")  # fmt: skip
    # the pre-dose checklist on the command line: shown, refused while an item is not ticked
    checklist = [
        "dose",
        "checklist",
        "-p",
        pid,
        "--visit",
        "V5",
        "--at",
        at(day, 8, 56).isoformat(),
    ]
    shown = json.loads(cli("tor", *checklist, "--json"))
    assert {i["id"]: i["status"] for i in shown["items"]}["fasting"] == "not_yet"
    half = cli("tor", *checklist, "--complete", "--confirm", "fasting", code=2)
    assert "escort_home (not_yet): not confirmed" in half
    positive = cli("kari", "result", "add", "-p", pid, "--visit", "V5", "--test", "tsh",
                   "--value", "1", "--at", at(day, 8).isoformat(), code=2)  # fmt: skip
    assert "TSH is not taken at V5" in positive
    uds = ["--test", "urine_drug_screen", "--value", "negative"]
    added = cli("kari", "result", "add", "-p", pid, "--visit", "V5", *uds,
                "--at", at(day, 8, 20).isoformat())  # fmt: skip
    assert "(negative)" in added
    listed = json.loads(cli("tor", "result", "list", "-p", pid, "--json"))
    assert [(r["test_code"], r["interpretation"]) for r in listed][-1] == (
        "urine_drug_screen",
        "negative",
    )
    done = cli("tor", *checklist, "--complete", "--confirm", "fasting", "--confirm", "escort_home")
    assert "complete; completed (id" in done
    given = cli("kari", *give, "--at", at(day, 9).isoformat())
    assert "protocol deviation" not in given
    (shown,) = json.loads(cli("tor", "conmed", "list", "-p", pid, "--json"))
    assert (shown["stop_date"], shown["dose"]) == (str(day - timedelta(days=14)), "100 mg daily")
    assert "(14 d)" in cli("tor", "conmed", "list", "-p", pid)  # the table shows the class
