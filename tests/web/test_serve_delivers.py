"""``remit serve --smtp-url`` e-mails a new alert within a few seconds (its background loop)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from tests.support.smtp import LocalSmtp, local_smtp
from tests.support.trial import ROLE_USER
from tests.support.waiting import CEILING_S, wait_until
from tests.support.web import free_port

from remit import services as sv

REMIT = str(Path(sys.executable).parent / "remit")


@pytest.fixture
def smtp() -> Iterator[LocalSmtp]:
    """A local SMTP server collecting what it receives."""
    with local_smtp() as server:
        yield server


def test_serve_with_smtp_e_mails_a_new_alert(
    trial_db: Path, tmp_path: Path, smtp: LocalSmtp
) -> None:
    engine = sv.open_database(str(trial_db))
    try:
        admin = sv.actor_for(engine, ROLE_USER["admin"])
        sv.set_user_email(engine, admin, ROLE_USER["investigator"], "kari@ost.example.no")
        investigator = sv.actor_for(engine, ROLE_USER["investigator"])
    finally:
        sv.close_database(engine)
    log_path = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMIT_SMTP")}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [REMIT, "serve", "--db", str(trial_db), "--port", str(free_port()),
             "--smtp-url", smtp.url, "--smtp-from", "remit@trial.example.no",
             "--deliver-every", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:

            def stopped() -> str | None:
                if process.poll() is None:
                    return None
                return f"remit serve exited with {process.returncode}:\n{log_path.read_text()}"

            wait_until(
                lambda: "Alerts are e-mailed through" in log_path.read_text() or None,
                "remit serve to start its delivery loop",
                alive=stopped,
            )
            engine = sv.open_database(str(trial_db))
            try:
                sv.record_adverse_event(
                    engine,
                    investigator,
                    "OSL-001",
                    term="hospitalised",
                    onset_date=date.today(),
                    severity="severe",
                    relatedness="possible",
                    serious=True,
                    seriousness_criteria=["hospitalisation"],
                )
            finally:
                sv.close_database(engine)
            (mail,) = wait_until(
                lambda: smtp.messages or None, "the alert e-mail from remit serve", alive=stopped
            )
            assert mail.to == ("kari@ost.example.no",)
            assert "OSL-001" in mail.subject
        finally:
            process.terminate()
            process.wait(timeout=CEILING_S)
