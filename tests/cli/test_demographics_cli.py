"""``remit participant add --race/--ethnicity`` (taken when the protocol collects them, refused
with exit 2 when it does not) and ``remit ae add --end --action-taken`` on a SQLite file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from tests.support.trial import PASSWORD
from typer.testing import CliRunner

from remit.cli.app import app

Cli = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()

    def run(
        *args: str, user: str | None = "kari", stdin: str | None = None, code: int = 0
    ) -> Result:
        env = {"REMIT_USER": user} if user else {}
        result = runner.invoke(app, list(args), input=stdin, env=env)
        assert result.exit_code == code, result.output
        return result

    return run


def _init(cli: Cli, protocol: str) -> None:
    cli("init", "--protocol", protocol, "--admin", "ada", "--password-stdin",
        stdin=PASSWORD + "\n", user=None)  # fmt: skip
    cli("user", "add", "kari", "--role", "investigator@OST", "--password-stdin",
        stdin=PASSWORD, user="ada")  # fmt: skip


def test_race_is_refused_by_a_protocol_that_does_not_collect_it(cli: Cli) -> None:
    _init(cli, "oslo-mdma-mdd")
    refused = cli("participant", "add", "--race", "WHITE", code=2)
    assert "does not collect race" in refused.output
    listed = json.loads(cli("participant", "list", "--json").stdout)
    assert listed == []


def test_race_and_ethnicity_are_taken_by_the_rct_example(cli: Cli) -> None:
    _init(cli, "mdma-mdd-rct-example")
    unknown = cli("participant", "add", "--race", "Scandinavian", code=2)
    assert "race 'SCANDINAVIAN' is unknown" in unknown.output
    added = json.loads(
        cli(
            "participant",
            "add",
            "--race",
            "black or african american",
            "--ethnicity",
            "HISPANIC OR LATINO",
            "--json",
        ).stdout
    )
    assert (added["race"], added["ethnicity"]) == (
        "BLACK OR AFRICAN AMERICAN",
        "HISPANIC OR LATINO",
    )


def test_an_adverse_event_carries_end_date_and_action_taken(cli: Cli) -> None:
    _init(cli, "oslo-mdma-mdd")
    pid = json.loads(cli("participant", "add", "--referral", "2023-01-02", "--json").stdout)[
        "participant_id"
    ]
    cli("consent", "record", "-p", pid, "--version", "1.0", "--at", "2023-01-02T10:00+01:00",
        "-c", "main")  # fmt: skip
    common = ("ae", "add", "-p", pid, "--term", "headache", "--onset", "2023-01-03",
              "--severity", "mild", "--relatedness", "possible")  # fmt: skip
    refused = cli(*common, "--action-taken", "paused", code=2)
    assert "action taken with the treatment 'paused' is unknown" in refused.output
    assert "drug_interrupted" in refused.output
    ae = json.loads(
        cli(
            *common,
            "--outcome",
            "recovered",
            "--end",
            "2023-01-05",
            "--action-taken",
            "not_applicable",
            "--json",
        ).stdout
    )
    assert (ae["action_taken"], ae["end_date"], ae["outcome"]) == (
        "not_applicable",
        "2023-01-05",
        "recovered",
    )
