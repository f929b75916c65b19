"""`remit epro link|language|remind`: a link for V3 shown once, the participant's language,
reminders through a local SMTP server; missing options are one clear line, exit code 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from tests.support.smtp import local_smtp
from tests.support.trial import Participant, add_participant, trial_file
from tests.support.waiting import wait_until
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app
from remit.store.epro import EproLink


def test_epro_on_the_command_line(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = trial_file(tmp_path / "trial.db")
    referral = datetime.now(UTC).date() - timedelta(days=50)  # V3 was yesterday
    pid = add_participant(trial, Participant(through="V3", referral=referral))
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()
    kari, tor = {"REMIT_USER": "kari"}, {"REMIT_USER": "tor"}

    lang = runner.invoke(
        app, ["epro", "language", "-p", pid, "--language", "en", "--email", "o@x.org"], env=kari
    )
    assert lang.exit_code == 0, lang.output
    assert f"{pid}: pages in en; e-mail reminders on" in lang.output

    made = runner.invoke(
        app,
        [
            "epro",
            "link",
            "-p",
            pid,
            "--visit",
            "V3",
            "--scale",
            "gad7",
            "--json",
            "--base-url",
            "https://remit.example",
        ],
        env=tor,
    )
    assert made.exit_code == 0, made.output
    body = json.loads(made.output)
    assert body["link"]["scales"] == ["gad7"]
    assert body["link"]["language"] == "en"
    token = body["address"].removeprefix("https://remit.example/epro/")
    assert sv.open_epro_link(trial.engine, token).scales == ("gad7",)

    with trial.engine.begin() as conn:
        conn.execute(update(EproLink).values(issued_at=datetime.now(UTC) - timedelta(days=2)))
    trial.engine.dispose()
    with local_smtp() as smtp:
        sent = runner.invoke(
            app,
            [
                "epro",
                "remind",
                "--json",
                "--smtp-url",
                smtp.url,
                "--smtp-from",
                "r@t.example",
                "--base-url",
                "https://remit.example",
            ],
            env=tor,
        )
        assert sent.exit_code == 0, sent.output
        assert [r["sent"] for r in json.loads(sent.output)] == [True]
        (mail,) = wait_until(lambda: smtp.messages or None, "the reminder")
    assert mail.to == ("o@x.org",)
    assert "https://remit.example/epro/" in mail.body

    bad = runner.invoke(app, ["epro", "remind"], env={**tor, "REMIT_SMTP_URL": ""})
    assert bad.exit_code == 2
    assert "reminders need an SMTP server" in " ".join(bad.output.split())
