"""`remit coding` on the command line: load the tiny test dictionaries (made-up codes, not
MedDRA/WHODrug content), autocode, list the queue, search and assign a code; a broken file is
refused with exit 2 naming the file and the line, and nothing is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support import coding_dictionaries as cd
from tests.support.trial import enrolled, trial_file, visit_date
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app


def test_coding_commands(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = trial_file(tmp_path / "trial.db")
    pid = enrolled(trial, "V3")
    ae = sv.record_adverse_event(
        trial.engine, trial.investigator, pid, term="sore elbow",
        onset_date=visit_date(trial, pid, "V3"), severity="mild", relatedness="possible",
    )  # fmt: skip
    sv.record_adverse_event(
        trial.engine, trial.investigator, pid, term="Feeling sick",
        onset_date=visit_date(trial, pid, "V3"), severity="mild", relatedness="possible",
    )  # fmt: skip
    trial.engine.dispose()
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()

    def cli(user: str, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env={"REMIT_USER": user})
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())

    broken = cd.meddra_files(tmp_path / "broken")
    mdhier = broken / "mdhier.asc"
    mdhier.write_text(mdhier.read_text().replace("$Y$\n", "$\n", 1))
    refused = cli("dag", "coding", "load-meddra", str(broken), code=2)
    assert "mdhier.asc line 1" in refused
    assert "12 fields" in refused
    assert json.loads(cli("dag", "coding", "dictionaries", "--json")) == []
    loaded = cli("dag", "coding", "load-meddra", str(cd.meddra_files(tmp_path / "meddra")))
    assert "loaded meddra 99.0: 7 terms" in loaded
    cli("dag", "coding", "load-whodrug", str(cd.whodrug_files(tmp_path / "w")),
        "--version", "TEST B3 2099")  # fmt: skip
    assert "coded 1" in cli("dag", "coding", "autocode")
    queue = json.loads(cli("dag", "coding", "queue", "--json"))
    assert [(q["record_table"], q["record_id"], q["verbatim"]) for q in queue] == [
        ("adverse_event", ae.id, "sore elbow")
    ]
    found = json.loads(cli("dag", "coding", "search", "meddra", "pain", "--json"))
    assert [m["code"] for m in found] == [str(cd.LLT_HEAD_PAIN)]
    denied = cli("kari", "coding", "assign", "ae", str(ae.id), str(cd.LLT_HEAD_PAIN), code=2)
    assert "may not assign code" in denied
    done = cli("dag", "coding", "assign", "ae", str(ae.id), str(cd.LLT_HEAD_PAIN))
    assert f"coded {cd.LLT_HEAD_PAIN} Headache (meddra 99.0)" in done
    assert "0 to code" in cli("dag", "coding", "queue")
