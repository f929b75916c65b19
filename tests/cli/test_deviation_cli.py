"""``remit deviation add|list`` on a SQLite trial: a logged deviation is listed as JSON and
filtered; a refused one stores nothing and exits with code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.db import count_all
from tests.support.trial import stage, trial_file
from typer.testing import CliRunner

from remit.cli.app import app
from remit.store import make_engine


def test_log_and_list_deviations(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "trial.db"
    trial = trial_file(db, participants=[stage("enrolled")])
    (pid,) = trial.participants
    monkeypatch.setenv("REMIT_DATABASE_URL", str(db))
    runner = CliRunner()

    def run(*args: str, user: str = "dag", code: int = 0) -> str:
        result = runner.invoke(
            app, ["deviation", *args], env={"REMIT_USER": user, "COLUMNS": "200"}
        )
        assert result.exit_code == code, result.output
        return result.output

    added = json.loads(
        run("add", "-p", pid, "--visit", "V1", "--category", "procedure", "--severity", "major",
            "--date", "2024-02-20", "--description", "session held by one therapist", "--json")
    )  # fmt: skip
    assert (added["participant_id"], added["visit_code"], added["severity"]) == (pid, "V1", "major")
    assert "logged" in run("add", "--category", "other", "--date", "2024-02-21",
                           "--description", "monitoring visit postponed")  # fmt: skip

    run("list", user="mona")  # mona logs in (the CLI fixture) before the rows are counted
    engine = make_engine(db)
    before = count_all(engine)
    out = run("add", "-p", pid, "--category", "paperwork", "--date", "2024-02-20",
              "--description", "x", code=2)  # fmt: skip
    assert "deviation category 'paperwork' is unknown" in out
    run("add", "-p", pid, "--category", "other", "--date", "2024-02-20", "--description", "x",
        user="mona", code=2)  # fmt: skip
    assert count_all(engine) == before
    engine.dispose()

    listed = json.loads(run("list", "--json", user="mona"))
    assert [(d["category"], d["participant_id"]) for d in listed] == [
        ("other", None),
        ("procedure", pid),
    ]
    majors = json.loads(run("list", "--severity", "major", "--source", "manual", "--json"))
    assert [d["id"] for d in majors] == [added["id"]]
    assert (
        json.loads(run("list", "--from", "2024-02-21", "--to", "2024-02-21", "--json"))[0][
            "description"
        ]
        == "monitoring visit postponed"
    )
    assert "session held by one therapist" in run("list", "-p", pid)
