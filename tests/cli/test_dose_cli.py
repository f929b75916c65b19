"""`remit dose` on the command line: a supplemental dose over a dose stop is refused (exit 2,
the reason named), an investigator's override records the deviation, the discharge is signed
off before the session ends and the next-day call is recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.support.forms import NORMAL_VITALS, at
from tests.support.predose import ready_for_dose
from tests.support.trial import enrolled, trial_file, visit_date
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app


def test_dose_stop_override_discharge_and_call(
    tmp_path: Path, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = trial_file(tmp_path / "trial.db")
    pid = enrolled(trial, "V5")
    day = visit_date(trial, pid, "V5")
    e, inv, the = trial.engine, trial.investigator, trial.therapist
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 8, 45), values=NORMAL_VITALS)
    ready_for_dose(e, trial.protocol, inv, the, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))
    high = {**NORMAL_VITALS, "systolic_bp": 200, "diastolic_bp": 125}
    sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 11), values=high)
    e.dispose()
    monkeypatch.setenv("REMIT_DATABASE_URL", str(tmp_path / "trial.db"))
    runner = CliRunner()

    def cli(user: str, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env={"REMIT_USER": user})
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())

    def when(hour: int, minute: int = 0) -> str:
        return at(day, hour, minute).isoformat()

    give = ["dose", "give", "-p", pid, "--visit", "V5", "--kind", "supplemental", "--mg", "40"]
    refused = cli("kari", *give, "--at", when(11, 5), code=2)
    assert "dose refused" in refused
    assert "systolic BP 200 mmHg above the limit of 180" in refused
    given = cli("kari", *give, "--at", when(11, 5), "--override", "repeat BP 150/95")
    assert "protocol deviation recorded: dose_stop_override" in given

    session = ["-p", pid, "--visit", "V5"]
    assert "not signed off yet" in cli("tor", "dose", "end", *session, "--at", when(17), code=2)
    vitals = ["vitals", "add", *session, "--at", when(16, 50)]
    for sign, value in NORMAL_VITALS.items():
        vitals += ["--sign", f"{sign}={value}"]
    cli("tor", *vitals)
    cli("tor", "dose", "sign-off", *session, "--at", when(16, 55), code=2)  # investigators only
    cli("kari", "dose", "sign-off", *session, "--at", when(16, 55), "--note", "settled")
    ended = cli("tor", "dose", "end", *session, "--at", when(17))
    assert f"follow-up call due {day + timedelta(days=1)}" in ended
    call = ["dose", "call", *session, "--at", at(day + timedelta(days=1), 10).isoformat()]
    assert "note on the call" in cli("tor", *call, "--status", "not_reached", code=2)
    assert ": done" in cli("tor", *call, "--status", "done")
