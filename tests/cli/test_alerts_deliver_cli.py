"""``remit user add --email``, ``remit user email``, ``remit alerts deliver`` and
``remit alerts deliveries`` on a SQLite file, with a local SMTP server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from tests.support.smtp import LocalSmtp, local_smtp
from tests.support.trial import PASSWORD
from tests.support.waiting import wait_until
from typer.testing import CliRunner

from remit.cli.app import app


@pytest.fixture
def smtp() -> Iterator[LocalSmtp]:
    """A local SMTP server collecting what it receives."""
    with local_smtp() as server:
        yield server


@pytest.fixture
def cli(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    for name in ("REMIT_SMTP_URL", "REMIT_SMTP_FROM", "REMIT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(
        *args: str, user: str | None = "kari", stdin: str | None = None, code: int = 0
    ) -> Result:
        env = {"REMIT_USER": user} if user else {}
        result = runner.invoke(app, list(args), input=stdin, env=env)
        assert result.exit_code == code, result.output
        return result

    return run


def test_an_alert_is_e_mailed_from_the_command_line(
    cli: Callable[..., Result], smtp: LocalSmtp
) -> None:
    cli("init", "--protocol", "oslo-mdma-mdd", "--admin", "ada", "--password-stdin",
        stdin=PASSWORD + "\n", user=None)  # fmt: skip
    refused = cli("user", "add", "kari", "--role", "investigator@OST", "--email", "kari@ost",
                  "--password-stdin", stdin=PASSWORD, user="ada", code=2)  # fmt: skip
    assert "'kari@ost' is not usable" in refused.output
    cli("user", "add", "kari", "--role", "investigator@OST", "--email", "kari@ost.example.no",
        "--password-stdin", stdin=PASSWORD, user="ada")  # fmt: skip
    cli("user", "add", "mona", "--role", "monitor", "--password-stdin", stdin=PASSWORD, user="ada")
    shown = cli("user", "email", "mona", "mona@trial.example.no", "--json", user="ada")
    assert json.loads(shown.stdout)["email"] == "mona@trial.example.no"
    pid = json.loads(cli("participant", "add", "--referral", "2023-01-02", "--json").stdout)[
        "participant_id"
    ]
    cli("consent", "record", "-p", pid, "--version", "1.0", "--at", "2023-01-02T10:00+01:00",
        "-c", "main")  # fmt: skip
    serious = ("--severity", "severe", "--relatedness", "possible", "--serious", "hospitalisation")
    cli("ae", "add", "-p", pid, "--term", "hospitalised", "--onset", "2023-01-03", *serious)

    no_server = cli("alerts", "deliver", code=2)
    assert "--smtp-url" in no_server.output
    out = cli("alerts", "deliver", "--smtp-url", smtp.url, "--smtp-from", "remit@trial.example.no",
              "--base-url", "https://remit.example.no", "--json")  # fmt: skip
    assert json.loads(out.stdout)["sent"] == 1
    (mail,) = wait_until(lambda: smtp.messages or None, "the alert e-mail")
    assert mail.to == ("kari@ost.example.no",)
    assert "https://remit.example.no/alerts#alert-1" in mail.body
    log = json.loads(cli("alerts", "deliveries", "--alert", "1", "--json").stdout)
    assert [(d["recipient"], d["outcome"]) for d in log] == [("kari", "sending"), ("kari", "sent")]
    again = cli(
        "alerts", "deliver", "--smtp-url", smtp.url, "--smtp-from", "remit@trial.example.no"
    )
    assert "0 sent, 0 failed" in again.stdout
