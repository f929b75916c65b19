"""``remit lock``: the data manager locks the study from the command line (the lock an analysis
by arm waits for), nothing can change under it, the list shows it, and it is opened again only
with a reason, by the data manager; on a SQLite file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from tests.support.trial import PASSWORD
from typer.testing import CliRunner

from remit.cli.app import app


@pytest.fixture
def cli(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()

    def run(*args: str, user: str | None, stdin: str | None = None, code: int = 0) -> Result:
        env = {"REMIT_USER": user} if user else {}
        result = runner.invoke(app, list(args), input=stdin, env=env)
        assert result.exit_code == code, result.output
        return result

    return run


def test_the_data_manager_locks_the_study_and_opens_it_again_with_a_reason(
    cli: Callable[..., Result],
) -> None:
    cli("init", "--protocol", "oslo-mdma-mdd", "--admin", "ada", "--password-stdin",
        stdin=PASSWORD + "\n", user=None)  # fmt: skip
    for name, role in (("kari", "investigator@OST"), ("dora", "data_manager")):
        cli("user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD, user="ada")
    pid = json.loads(
        cli("participant", "add", "--referral", "2023-01-02", "--json", user="kari").stdout
    )["participant_id"]
    consent = ("consent", "record", "-p", pid, "--version", "1.0",
               "--at", "2023-01-02T10:00+01:00", "-c", "main")  # fmt: skip

    refused = cli("lock", "study", "--reason", "clean", user="kari", code=2)
    assert "lock_study" in refused.output or "may not" in refused.output
    assert json.loads(cli("lock", "list", "--json", user="dora").stdout) == []

    locked = json.loads(
        cli("lock", "study", "--reason", "database lock", "--json", user="dora").stdout
    )
    assert (locked["level"], locked["unlocked_at"]) == ("study", None)
    again = json.loads(cli("lock", "study", "--json", user="dora").stdout)
    assert again["id"] == locked["id"]  # locking what is locked returns the open lock
    under_lock = cli(*consent, user="kari", code=2)
    assert "lock" in under_lock.output
    listed = cli("lock", "list", user="kari").stdout
    assert "study" in listed
    assert "database" in listed

    missing_reason = cli("lock", "open", str(locked["id"]), user="dora", code=2)
    assert "--reason" in missing_reason.output
    cli("lock", "open", str(locked["id"]), "--reason", "query", user="kari", code=2)
    opened = json.loads(
        cli("lock", "open", str(locked["id"]), "--reason", "late query", "--json",
            user="dora").stdout
    )  # fmt: skip
    assert opened["unlocked_at"] is not None
    assert json.loads(cli("lock", "list", "--open", "--json", user="dora").stdout) == []
    cli(*consent, user="kari")
    participant_lock = cli("lock", "participant", pid, "--reason", "complete", user="kari")
    assert f"participant {pid}" in participant_lock.stdout
    (only,) = json.loads(cli("lock", "list", "--open", "-p", pid, "--json", user="dora").stdout)
    assert (only["level"], only["participant_id"]) == ("participant", pid)
