"""Every command that works on a trial database opens it and finds the acting user the same way
(``remit.cli.common``): one clear line and exit code 2 when either is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app
from remit.errors import StoreError

runner = CliRunner()

#: Commands given a database and (where they need one) an acting user.
DATABASE_COMMANDS = [
    ["participant", "list", "--user", "kari"],
    ["alerts", "list", "--user", "kari"],
    ["audit", "log"],
    ["audit", "verify"],
    ["audit", "anchor", "--out", "{tmp}/anchor.json"],
    ["backup", "--out", "{tmp}/backup"],
    ["export", "--out", "{tmp}/export"],
    ["import", "odm", "{tmp}/data.xml", "--user", "kari"],
    ["analyse"],
    ["report", "--out", "{tmp}/report"],
    ["serve"],
]


def _args(command: list[str], db: Path, tmp_path: Path) -> list[str]:
    return [a.format(tmp=tmp_path) for a in command] + ["--db", str(db)]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unmigrated_database_is_refused_alike(command: list[str], tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    db.touch()  # an empty SQLite file: no tables
    result = runner.invoke(app, _args(command, db, tmp_path))
    assert result.exit_code == StoreError.exit_code, result.output
    assert "is at migration none (empty)" in result.stderr
    assert "remit db upgrade" in result.stderr


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_missing_database_is_refused_and_not_created(command: list[str], tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    result = runner.invoke(app, _args(command, db, tmp_path))
    assert result.exit_code == 2, result.output
    assert "there is no SQLite database at" in result.stderr
    assert not db.exists()


@pytest.mark.parametrize(
    "command",
    [["participant", "list"], ["dose", "start", "-p", "OSL-001", "--visit", "V5", "--at", "x"],
     ["import", "odm", "data.xml"], ["export", "--out", "out"]],
    ids=lambda c: c[0],
)  # fmt: skip
def test_the_acting_user_is_named_or_refused_alike(command: list[str], tmp_path: Path) -> None:
    db = tmp_path / "trial.db"
    sv.close_database(sv.create_database(db))
    result = runner.invoke(app, [*command, "--db", str(db), "--user", "nobody"])
    assert result.exit_code == 2, result.output
    # an import acts in every role the user holds; other commands in the one role held
    unknown = "holds no role" if command[0] == "import" else "does not exist"
    assert f"user 'nobody' {unknown}" in result.stderr
    if command[0] != "export":  # export without a user reads as the local user
        blank = runner.invoke(app, [*command, "--db", str(db), "--user", ""])
        assert blank.exit_code == 2, blank.output
        assert "no acting user" in blank.stderr
