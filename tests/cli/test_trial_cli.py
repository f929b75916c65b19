"""The trial CLI end to end on a SQLite file: init, users, a participant, forms, alerts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from tests.support.forms import fill
from tests.support.trial import ELIGIBLE, PASSWORD
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


def _enrol_through_v3(cli: Callable[..., Result], pid: str, tmp_path: Path) -> None:
    """Record the visits up to V3 on their target dates: consent and screened eligible at SCR,
    enrolled at V0."""
    screening = tmp_path / "screening.json"
    screening.write_text(json.dumps(ELIGIBLE))
    for visit in ("PHONE", "SCR", "V0", "V1", "V2", "V3"):
        target = next(
            v
            for v in json.loads(cli("visit", "list", "-p", pid, "--json").stdout)
            if v["visit_code"] == visit
        )["target_date"]
        cli("visit", "record", "-p", pid, "--visit", visit, "--date", target)
        if visit == "SCR":  # written informed consent before any study procedure
            cli("consent", "record", "-p", pid, "--version", "1.0", "-c", "main",
                "--at", f"{target}T08:00Z")  # fmt: skip
            # the C-SSRS criteria read the screening form; the checklist is typed in
            cssrs = tmp_path / "cssrs.json"
            cssrs.write_text(json.dumps(fill("cssrs", "baseline")))
            cli("enter", "cssrs", "-p", pid, "--visit", "SCR", "--answers", str(cssrs))
            assert "eligible" in cli("participant", "check", pid, "--data", str(screening)).stdout
        if visit == "V0":
            cli("participant", "enrol", pid, "--at", f"{target}T10:00Z")


def test_running_a_trial_from_the_command_line(cli: Callable[..., Result], tmp_path: Path) -> None:
    out = cli(
        "init",
        "--protocol",
        "oslo-mdma-mdd",
        "--admin",
        "ada",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
        user=None,
    )
    assert json.loads(out.stdout)["study_code"] == "OSL"
    for name, role in [("kari", "investigator@OST"), ("rita", "independent_rater@OST")]:
        cli("user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD, user="ada")
    cli(
        "user",
        "add",
        "eve",
        "--role",
        "monitor",
        "--password-stdin",
        stdin=PASSWORD,
        user="kari",
        code=2,
    )

    out = cli("participant", "add", "--name", "Kari Nordmann", "--referral", "2023-01-02", "--json")
    pid = json.loads(out.stdout)["participant_id"]
    assert pid == "OSL-001"
    moved = cli("visit", "anchor", "-p", pid, "referral", "2023-01-03", code=2)
    assert "reason" in moved.output
    visits = json.loads(cli("visit", "list", "-p", pid, "--json").stdout)
    _enrol_through_v3(cli, pid, tmp_path)
    assert len(visits) == 18  # PHONE, SCR, V0–V14, FU7

    answers = tmp_path / "madrs.json"
    answers.write_text(json.dumps({str(i): 3 for i in range(1, 10)} | {"10": 4}))
    # MADRS is the independent rater's: the investigator is refused with one line, exit 2
    refused = cli("enter", "madrs", "-p", pid, "--visit", "V3", "--answers", str(answers), code=2)
    assert "independent rater" in refused.output
    out = cli(
        "enter",
        "madrs",
        "-p",
        pid,
        "--visit",
        "V3",
        "--answers",
        str(answers),
        "--key",
        "madrs-v3",
        "--json",
        user="rita",
    )
    form = json.loads(out.stdout)
    assert form["total"] == 31
    assert [a["rule_id"] for a in form["alerts"]] == ["madrs_item10"]
    again = cli(
        "enter",
        "madrs",
        "-p",
        pid,
        "--visit",
        "V3",
        "--answers",
        str(answers),
        "--key",
        "madrs-v3",
        "--json",
        user="rita",
    )
    assert json.loads(again.stdout)["id"] == form["id"]

    alerts = json.loads(cli("alerts", "list", "--status", "open", "--json").stdout)
    assert [a["level"] for a in alerts] == ["same_day"]
    cli("alerts", "ack", str(alerts[0]["id"]), "--note", "called the participant")
    cli("alerts", "close", str(alerts[0]["id"]), "--note", "safety plan in place")
    assert json.loads(cli("alerts", "list", "--status", "unclosed", "--json").stdout) == []

    shown = json.loads(cli("participant", "show", pid, "--json").stdout)
    assert shown["participant"]["status"] == "enrolled"
    assert "Nordmann" not in json.dumps(shown)
    listed = cli("participant", "list")
    assert pid in listed.stdout

    bad = cli(
        "vitals",
        "add",
        "-p",
        pid,
        "--visit",
        "V3",
        "--at",
        "2023-03-01T09:00Z",
        "--temp",
        "99.1",
        code=2,
    )
    assert "Fahrenheit" in bad.output
    read = ["vitals", "add", "-p", pid, "--visit", "V3", "--at", "2023-03-01T09:05Z"]
    stored = json.loads(
        cli(*read, "--sign", "respiratory_rate=18", "--sign", "oxygen_saturation=97", "--hr",
            "70", "--json").stdout
    )  # fmt: skip
    assert stored["values"] == {"heart_rate": 70, "respiratory_rate": 18, "oxygen_saturation": 97}
    assert "not a vital sign" in cli(*read, "--sign", "pulse_ox=97", code=2).output
    assert "SIGN=VALUE" in cli(*read, "--sign", "respiratory_rate", code=2).output
    naive = cli("dose", "start", "-p", pid, "--visit", "V5", "--at", "2023-03-01T09:00", code=2)
    assert "has no time-zone offset" in naive.output
    # the sweep for missed dosing-day readings: no session has begun, nothing is flagged
    swept = cli("alerts", "sweep", "--at", "2023-03-01T20:00Z", "--json")
    assert json.loads(swept.stdout) == []
    assert "0 missed readings flagged" in cli("alerts", "sweep").stdout
    assert "may not sweep missed readings" in cli("alerts", "sweep", user="rita", code=2).output

    verify = cli("audit", "verify", "--json")
    assert json.loads(verify.stdout)["ok"] is True


def _madrs_due(cli: Callable[..., Result], tmp_path: Path) -> str:
    """A new Oslo trial with kari (investigator) and rita (independent rater), and one
    participant taken to V3, where the baseline MADRS is due; returns the study ID."""
    cli("init", "--protocol", "oslo-mdma-mdd", "--admin", "ada", "--password-stdin",
        stdin=PASSWORD + "\n", user=None)  # fmt: skip
    for name, role in [("kari", "investigator@OST"), ("rita", "independent_rater@OST")]:
        cli("user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD, user="ada")
    out = cli("participant", "add", "--name", "Kari Nordmann", "--referral", "2023-01-02", "--json")
    pid = json.loads(out.stdout)["participant_id"]
    _enrol_through_v3(cli, pid, tmp_path)
    return str(pid)


def test_enter_keeps_a_madrs_without_item_10_as_incomplete_and_says_so(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    pid = _madrs_due(cli, tmp_path)
    blank10 = tmp_path / "madrs-no-10.json"
    blank10.write_text(json.dumps({str(i): 3 for i in range(1, 10)}))
    half = cli("enter", "madrs", "-p", pid, "--visit", "V3", "--answers", str(blank10), user="rita")
    text = " ".join(half.stdout.split())
    assert "saved as incomplete" in text
    assert "INCOMPLETE: required item 10 not answered" in text
    assert "not evaluated: safety rule madrs_item10" in text
    assert "Saved." not in text
    shown = json.loads(cli("participant", "show", pid, "--json").stdout)
    assert '"incomplete"' in json.dumps(shown)


def test_enter_takes_the_clinical_time_and_a_window_reason(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    pid = _madrs_due(cli, tmp_path)
    v3 = next(
        v
        for v in json.loads(cli("visit", "list", "-p", pid, "--json").stdout)
        if v["visit_code"] == "V3"
    )
    answers = tmp_path / "madrs.json"
    answers.write_text(json.dumps({str(i): 3 for i in range(1, 11)}))
    enter = ("enter", "madrs", "-p", pid, "--visit", "V3", "--answers", str(answers), "--json")
    late_day = _days_after(v3["window_end_date"], 3)
    late = f"{late_day}T10:30+01:00"
    before = cli("participant", "show", pid, "--json").stdout
    # dated after the window closed: refused with one line, exit 2, until a reason is given
    refused = cli(*enter, "--assessed-at", late, user="rita", code=2)
    assert "after it closed" in refused.output
    assert cli("participant", "show", pid, "--json").stdout == before
    form = json.loads(
        cli(*enter, "--assessed-at", late, "--window-reason", "participant ill", user="rita").stdout
    )
    assert form["assessed_at"].startswith(f"{late_day}T09:30")
    deviations = json.loads(cli("deviation", "list", "-p", pid, "--json").stdout)
    assert [d["category"] for d in deviations] == ["visit_out_of_window"]


def _days_after(day: str, days: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def test_screening_and_two_step_enrolment_from_the_command_line(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    cli("init", "--protocol", "oslo-mdma-mdd", "--admin", "ada", "--password-stdin",
        stdin=PASSWORD + "\n", user=None)  # fmt: skip
    cli("user", "add", "kari", "--role", "investigator@OST", "--password-stdin",
        stdin=PASSWORD, user="ada")  # fmt: skip
    first = json.loads(cli("participant", "add", "--json").stdout)["participant_id"]
    out = cli("participant", "referral", first, "--date", "2023-01-02", "--source", "GP", "--json")
    assert json.loads(out.stdout)["referral_source"] == "GP"
    refused = cli("participant", "phone-screen", first, "fail", "--at", "2023-01-09T10:00Z",
                  code=2)  # fmt: skip
    assert "needs its reason" in refused.output
    out = cli("participant", "phone-screen", first, "fail", "--at", "2023-01-09T10:00Z",
              "--reason", "distance", "--json")  # fmt: skip
    failed = json.loads(out.stdout)
    assert (failed["status"], failed["screen_failure_code"]) == ("ineligible", "distance")

    second = json.loads(cli("participant", "add", "--json").stdout)["participant_id"]
    refused = cli("participant", "phone-screen", second, "pass", "--at", "2023-01-09T10:00Z",
                  code=2)  # fmt: skip
    assert "record referral first" in refused.output  # the phone screen follows a referral
    cli("participant", "referral", second, "--date", "2023-01-02", "--source", "self")
    cli("participant", "phone-screen", second, "pass", "--at", "2023-01-09T10:00Z")
    refused = cli("participant", "confirm", second, code=2)
    assert "has no informed consent recorded" in refused.output  # consent comes first
    out = cli("participant", "screen-fail", second, "--reason", "declined", "--json")
    assert json.loads(out.stdout)["status_reason"] == "declined: candidate declined to take part"
