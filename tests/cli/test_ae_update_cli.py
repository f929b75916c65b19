"""``remit ae update``: an adverse event upgraded to serious raises its SAE alert with the clock
from ``--became-serious``; an ended outcome without an end date is refused (exit 2, nothing
stored) by ``ae add`` and ``ae update``; on a SQLite file."""

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

    def run(
        *args: str, user: str | None = "kari", stdin: str | None = None, code: int = 0
    ) -> Result:
        env = {"REMIT_USER": user} if user else {}
        result = runner.invoke(app, list(args), input=stdin, env=env)
        assert result.exit_code == code, result.output
        return result

    return run


def test_ae_update_upgrades_to_serious_and_refuses_an_end_without_a_date(
    cli: Callable[..., Result],
) -> None:
    cli("init", "--protocol", "oslo-mdma-mdd", "--admin", "ada", "--password-stdin",
        stdin=PASSWORD + "\n", user=None)  # fmt: skip
    cli("user", "add", "kari", "--role", "investigator@OST", "--password-stdin",
        stdin=PASSWORD, user="ada")  # fmt: skip
    pid = json.loads(cli("participant", "add", "--referral", "2023-01-02", "--json").stdout)[
        "participant_id"
    ]
    cli("consent", "record", "-p", pid, "--version", "1.0", "--at", "2023-01-02T10:00+01:00",
        "-c", "main")  # fmt: skip
    event = ("ae", "add", "-p", pid, "--term", "panic attack", "--onset", "2023-01-03",
             "--severity", "moderate", "--relatedness", "possible",
             "--awareness", "2023-01-03T12:00+01:00")  # fmt: skip
    refused = cli(*event, "--outcome", "recovered", code=2)
    assert "has the outcome recovered but no end date" in refused.output
    ae = json.loads(cli(*event, "--json").stdout)
    assert ae["id"] == 1  # the refused one stored nothing
    update = ("ae", "update", "1")
    no_end = cli(*update, "--reason", "resolved", "--outcome", "recovered", code=2)
    assert "no end date" in no_end.output
    future = cli(*update, "--reason", "admitted", "--serious", "hospitalisation",
                 "--became-serious", "2999-01-01T09:00+01:00", code=2)  # fmt: skip
    assert "is in the future" in future.output
    assert json.loads(cli("alerts", "list", "--json").stdout) == []
    sae = json.loads(
        cli(*update, "--reason", "admitted on day 2", "--serious", "hospitalisation",
            "--became-serious", "2023-01-05T09:00+01:00", "--json").stdout
    )  # fmt: skip
    assert (sae["serious"], sae["seriousness_criteria"]) == (True, ["hospitalisation"])
    assert sae["became_serious_at"].startswith("2023-01-05T08:00")
    assert sae["sae_report_due_at"].startswith("2023-01-06T08:00")
    (alert,) = json.loads(cli("alerts", "list", "--json").stdout)
    assert (alert["rule_id"], alert["level"]) == ("sae", "immediate")
    done = cli(*update, "--reason", "resolved", "--outcome", "recovered", "--end", "2023-01-09")
    assert "adverse event 1 (panic attack) updated; report by 2023-01-06 08:00 UTC" in done.stdout
