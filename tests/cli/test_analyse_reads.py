"""``remit analyse`` and ``remit report`` read a database as a user (``--user``): without one
they exit 2 with one line naming the option; a site-bound user analyses their site only, and
the read is in the access log (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.services.two_sites import access_rows, two_site_protocol, two_site_trial
from tests.support.trial import PASSWORD
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app

runner = CliRunner()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.mark.parametrize("command", [["analyse"], ["report", "--out", "{tmp}/report"]])
def test_a_database_read_without_user_exits_2_naming_the_option(
    engine: Engine, command: list[str], tmp_path: Path
) -> None:
    sv.create_trial(engine, two_site_protocol(), admin_username="ada", admin_password=PASSWORD)
    args = [a.format(tmp=tmp_path) for a in command] + ["--db", _url(engine)]
    result = runner.invoke(app, args, env={"REMIT_USER": ""})
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"remit {command[0]} --db needs --user" in lines[0]
    assert access_rows(engine, "build_trial_data") == []
    assert not (tmp_path / "report").exists()


def test_a_site_bound_statistician_analyses_their_site_only(
    engine: Engine, fast_password_hashing: None
) -> None:
    trial = two_site_trial(engine)
    result = runner.invoke(app, ["analyse", "--db", _url(engine), "--user", "stine", "--json"])
    assert result.exit_code == 0, result.output
    analysed = json.loads(result.stdout)
    assert analysed["n_population"] == len(trial.by_site["OUS"]) == 3
    assert sorted(analysed["population"]) == trial.by_site["OUS"]
    [row] = access_rows(engine, "build_trial_data")
    assert (row.username, row.role, row.site_id, row.n_records) == ("stine", "statistician", 2, 3)
