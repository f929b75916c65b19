"""`remit consent` on the command line: a form before consent is refused (exit 2, what to
record named), consent is recorded and shown, a full withdrawal stops study procedures."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.forms import at
from tests.support.trial import REFERRAL, Participant, add_participant, trial_file
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app


def test_consent_record_show_and_withdraw(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = trial_file(tmp_path / "trial.db")
    pid = add_participant(trial, Participant(through=None, enrol=False, consent=False))
    trial.engine.dispose()
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()

    def cli(user: str, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env={"REMIT_USER": user})
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())

    shown = cli("kari", "consent", "show", "-p", pid)
    assert f"{pid} has no informed consent recorded" in shown
    assert "record consent (version 1.0) first" in shown
    when = at(REFERRAL, 9).isoformat()
    record = ["consent", "record", "-p", pid, "--version", "1.0", "--at", when]
    refused = cli("kari", *record, "-c", "future_contact", code=2)
    assert "required ['main'] missing" in refused
    recorded = cli("kari", *record, "-c", "main", "-c", "future_contact")
    assert f"{pid} consented to version 1.0 (main, future_contact)" in recorded
    shown = cli("kari", "consent", "show", "-p", pid)
    assert "version 1.0 (main, future_contact) at 2023-01-02T09:00+00:00 by kari" in shown
    assert f"{pid}: study procedures allowed" in shown

    later = at(REFERRAL, 18).isoformat()
    partly = cli("kari", "consent", "withdraw", "-p", pid, "--reason", "no calls", "--at", later,
                 "-c", "future_contact")  # fmt: skip
    assert "withdrew consent (future_contact)" in partly
    gone = cli("kari", "consent", "withdraw", "-p", pid, "--reason", "moved", "--at", later)
    assert "withdrew consent (fully)" in gone
    shown = cli("kari", "consent", "show", "-p", pid, "--json")
    assert '"procedures_allowed": false' in shown
    assert sv.get_participant(trial.engine, trial.investigator, pid).status == "withdrawn"
