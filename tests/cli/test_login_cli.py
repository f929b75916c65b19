"""``remit login``: CLI commands that act as a user need a login (issue 13, part 5).

These tests opt out of the CLI fixture's automatic login (``no_auto_login``)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from tests.support.db import count_data
from tests.support.trial import PASSWORD, trial_file
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app

pytestmark = pytest.mark.no_auto_login
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, fast_password_hashing: None) -> Path:
    path = tmp_path / "trial.db"
    trial_file(path)
    return path


def _run(db: Path, *args: str, user: str = "kari", stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [*args], input=stdin, env={"REMIT_DATABASE_URL": str(db),
                                                         "REMIT_USER": user})  # fmt: skip


ADD = ("participant", "add", "--site", "OST", "--sex", "female", "--birth-year", "1980")


def test_a_write_without_login_is_refused_with_exit_2_and_nothing_stored(db: Path) -> None:
    engine = sv.open_database(str(db))
    before = count_data(engine)
    result = _run(db, *ADD)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "not logged in as 'kari'" in lines[0]
    assert "remit login" in lines[0]
    assert count_data(engine) == before
    sv.close_database(engine)
    # a read acting as a user needs the login too (it is logged under that user's name)
    assert _run(db, "participant", "list").exit_code == 2


def test_login_then_write_then_logout(db: Path, tmp_path: Path) -> None:
    wrong = _run(db, "login", "--password-stdin", stdin="not my password at all\n")
    assert wrong.exit_code == 2
    assert not Path(os.environ["REMIT_TOKEN_FILE"]).exists()
    good = _run(db, "login", "--password-stdin", stdin=PASSWORD + "\n")
    assert good.exit_code == 0, good.output
    token_file = Path(os.environ["REMIT_TOKEN_FILE"])
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    stored = json.loads(token_file.read_text())
    assert list(stored) == ["kari"]
    # the database keeps the token's hash, never the token
    engine = sv.open_database(str(db))
    with engine.connect() as connection:
        from sqlalchemy import text

        hashes = [r[0] for r in connection.execute(text("SELECT token_sha256 FROM cli_token"))]
    sv.close_database(engine)
    assert stored["kari"][0] not in hashes
    assert len(hashes) == 1
    added = _run(db, *ADD, "--json")
    assert added.exit_code == 0, added.output
    # another user's token does not let someone act as kari's colleague
    assert _run(db, *ADD, user="tor").exit_code == 2
    out = _run(db, "logout")
    assert out.exit_code == 0
    refused = _run(db, *ADD)
    assert refused.exit_code == 2
    assert "not logged in" in refused.stderr


def test_password_on_stdin_per_command(db: Path) -> None:
    ok = runner.invoke(
        app,
        ["--password-stdin", *ADD, "--db", str(db), "--user", "kari"],
        input=PASSWORD + "\n",
    )
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(
        app,
        ["--password-stdin", *ADD, "--db", str(db), "--user", "kari"],
        input="not the password at all\n",
    )
    assert bad.exit_code == 2
    assert "wrong password" in bad.stderr


def test_the_security_log_shows_cli_logins_and_refusals_to_admins(db: Path) -> None:
    assert _run(db, *ADD).exit_code == 2  # refused: no login
    assert _run(db, "login", "--password-stdin", user="ada", stdin=PASSWORD + "\n").exit_code == 0
    shown = _run(db, "security", "log", "--json", user="ada")
    assert shown.exit_code == 0, shown.output
    events = [(e["event"], e["username"]) for e in json.loads(shown.stdout)]
    assert ("cli_token_refused", "kari") in events
    assert ("cli_login", "ada") in events
    assert _run(db, "login", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    assert _run(db, "security", "log", "--json").exit_code == 2  # kari is no admin
