"""`remit user deactivate|activate|reset-password` on a SQLite file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from tests.support.trial import PASSWORD
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app
from remit.errors import PermissionDeniedError


@pytest.fixture
def cli(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()

    def run(
        *args: str, user: str | None = "ada", stdin: str | None = None, code: int = 0
    ) -> Result:
        env = {"REMIT_USER": user} if user else {}
        result = runner.invoke(app, list(args), input=stdin, env=env)
        assert result.exit_code == code, result.output
        return result

    run("init", "--protocol", "oslo-mdma-mdd", "--admin", "ada", "--password-stdin",
        stdin=PASSWORD + "\n", user=None)  # fmt: skip
    run("user", "add", "kari", "--role", "investigator@OST", "--password-stdin", stdin=PASSWORD)
    return run


def test_deactivate_activate_and_reset_from_the_command_line(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    engine = sv.open_database(str(tmp_path / "trial.db"))
    try:
        added = sv.actor_for(engine, "kari")
        assert sv.account_standing(engine, added).must_change_password  # chosen by the admin
        out = cli("user", "deactivate", "kari", "--reason", "left the study")
        assert "kari deactivated" in out.stdout
        with pytest.raises(PermissionDeniedError):
            sv.login(engine, "kari", PASSWORD)
        refused = cli("user", "deactivate", "ada", code=2)
        assert "cannot deactivate their own account" in refused.output
        cli("user", "activate", "kari")
        reset = json.loads(cli("user", "reset-password", "kari", "--json").stdout)
        temporary = reset["temporary_password"]
        assert reset["user"]["must_change_password"] is True
        kari = sv.login(engine, "kari", temporary)
        assert sv.account_standing(engine, kari).must_change_password
        chosen = cli(
            "user", "reset-password", "kari", "--password-stdin", stdin="a temporary one 7\n"
        )
        assert "temporary password" not in chosen.stdout
        assert sv.login(engine, "kari", "a temporary one 7").username == "kari"
        cli("user", "deactivate", "kari", user="kari", code=2)  # not an admin
    finally:
        sv.close_database(engine)
