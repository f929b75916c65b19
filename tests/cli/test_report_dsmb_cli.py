"""``remit report --dsmb``: the DSMB closed report of the RCT example by coded arm (SQLite and
PostgreSQL). The unblinded statistician writes it on unlocked data (an interim look, said so on
the cover) or locked data; the counts per coded arm equal a hand count per true arm through the
key; the report names no arm, arm code, arm label or dose in mg (the key file does); every
report and every refusal is audited; a blinded role is refused (exit 2); the key travels apart
from the report; ``--unblinded`` on unlocked data is refused and points to the DSMB report."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.support.trial import STAFF, OsloTrial, Participant, add_participant, build_trial
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app
from remit.protocol import load_protocol

RCT = load_protocol("mdma-mdd-rct-example")
RCT_STAFF = {**STAFF, "kari": (("investigator", None),)}
runner = CliRunner()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def rct(engine: Engine, tmp_path: Path, fast_password_hashing: None) -> OsloTrial:
    """The RCT example: a generated list, six dosed participants (both arms), adverse events
    on three of them (one serious), not locked."""
    key = sv.new_allocation_key_file(tmp_path / "allocation.key")
    trial = build_trial(
        sv.with_allocation_key(engine, key), protocol=RCT, sites=None, staff=RCT_STAFF
    )
    sv.generate_list(trial.engine, _una(trial), n_per_stratum=8, seed=14)
    events = [("V5",), (), ("V4", "V5"), (), (), ("V5",)]
    for planned in events:
        add_participant(
            trial, Participant(through="V5", dosing=True, site="OST", adverse_events=planned)
        )
    serious_for = sorted(_arms(trial))[1]
    onset = sv.list_visits(trial.engine, trial.investigator, serious_for)[4].target_date
    assert onset is not None
    sv.record_adverse_event(
        trial.engine,
        trial.investigator,
        serious_for,
        term="hypertensive crisis after session",
        onset_date=onset,
        severity="severe",
        relatedness="probable",
        serious=True,
        seriousness_criteria=["hospitalisation"],
    )
    return trial


def _una(trial: OsloTrial) -> sv.Actor:
    return trial.actors["unblinded_statistician"]


def _arms(trial: OsloTrial) -> dict[str, str]:
    return {a.participant_id: a.arm for a in sv.list_allocations(trial.engine, _una(trial))}


def _dsmb(
    trial: OsloTrial, tmp_path: Path, user: str, *extra: str, name: str = "closed"
) -> tuple[Any, Path, Path]:
    out, key = tmp_path / name, tmp_path / f"{name}-key.json"
    args = ["report", "--db", _url(trial.engine), "--user", user, "--out", str(out)]
    env = {"REMIT_ALLOCATION_KEY_FILE": str(tmp_path / "allocation.key")}
    done = runner.invoke(app, [*args, "--no-pdf", "--dsmb", "--key", str(key), *extra], env=env)
    return done, out / "dsmb-closed-report.html", key


def _audit(engine: Engine, action: str) -> list[Any]:
    with engine.connect() as c:
        return list(
            c.execute(
                sa.text(
                    "SELECT username, role, reason, new_value FROM audit_event WHERE "
                    "table_name = 'randomisation_list' AND action = :a ORDER BY id"
                ),
                {"a": action},
            )
        )


def _text(html: str) -> str:
    without_svg = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", without_svg)))


def _table(html: str, table_id: str) -> list[list[str]]:
    start = html.index(f'<table id="{table_id}">')
    body = html[start : html.index("</table>", start)]
    body = body[body.index("<tbody>") :]
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


#: What names an arm, a kit's content or a dose: none may be in the closed report.
def _leaks(text: str) -> list[str]:
    patterns = [rf"\b{re.escape(a.code)}\b" for a in RCT.arms]
    patterns += [re.escape(a.label) for a in RCT.arms]
    patterns += [r"(?i)placebo", r"(?i)\bmdma\b(?!-mdd)", r"(?i)\d\s*mg\b", r"(?i)\bmg\b given"]
    return [m.group(0) for p in patterns for m in re.finditer(p, text)]


def test_the_closed_report_codes_the_arms_and_the_key_decodes_them(
    rct: OsloTrial, tmp_path: Path
) -> None:
    arms = _arms(rct)
    assert set(arms.values()) == {"MDMA", "PLACEBO"}
    done, html_path, key_path = _dsmb(rct, tmp_path, "una", "--json")
    assert done.exit_code == 0, done.output
    said = json.loads(done.stdout)
    html = html_path.read_text("utf-8")
    key = json.loads(key_path.read_text("utf-8"))
    assert said["study_locked"] is False
    assert said["report_id"] == key["report_id"]
    assert key_path.stat().st_mode & 0o077 == 0  # the key is its writer's alone
    # the cover: interim, unlocked, the cut-off, the protocol version, arms coded, the key
    text = _text(html)
    assert f"DSMB closed report — interim, data not locked, as of {said['cut_off'][:10]}" in text
    assert f"Protocol {RCT.study.id} version {RCT.study.version}" in text
    assert "Arms are coded (Group A, Group B)" in text
    assert key["key_sha256"] in text
    assert "safety only" in text
    # the key: each code stands for one arm, both arms coded
    code_arm = {c["label"]: c["arm"] for c in key["codes"]}
    assert sorted(code_arm) == ["Group A", "Group B"]
    assert sorted(code_arm.values()) == ["MDMA", "PLACEBO"]
    assert key["report_sha256"] == hashlib.sha256(html_path.read_bytes()).hexdigest()
    # the counts per coded arm are the hand counts per true arm through the key
    events = dict.fromkeys(arms, 0)
    serious = dict.fromkeys(arms, 0)
    for pid in arms:
        for ae in sv.list_adverse_events(rct.engine, rct.investigator, pid):
            events[pid] += 1
            serious[pid] += int(ae.serious)
    rows = {r[0]: r[1:] for r in _table(html, "tbl-dsmb-counts")}
    for label, arm in code_arm.items():
        people = [p for p, a in arms.items() if a == arm]
        randomised, dosed, _withdrawn, n_events, n_with, n_serious = rows[label]
        assert int(randomised) == len(people) == int(dosed), label
        assert int(n_events) == sum(events[p] for p in people), label
        assert int(n_with) == sum(1 for p in people if events[p]), label
        assert int(n_serious) == sum(serious[p] for p in people), label
    assert int(rows["Total"][3]) == sum(events.values()) == 5
    # the SAE is listed under the coded arm of its participant
    sae = _table(html, "tbl-sae")
    group = next(r[0] for r in sae if len(r) == 1)
    who = next(r[0] for r in sae if len(r) > 1)
    assert group == f"Arm: {next(c for c, a in code_arm.items() if a == arms[who])}"
    # nothing names an arm, a label or a dose in mg; the key does
    assert _leaks(html) == []
    assert _leaks(key_path.read_text("utf-8"))


def test_every_closed_report_and_refusal_is_audited_and_blinded_roles_are_refused(
    rct: OsloTrial, tmp_path: Path
) -> None:
    done, _, key_path = _dsmb(rct, tmp_path, "una", "--json")
    assert done.exit_code == 0, done.output
    key = json.loads(key_path.read_text("utf-8"))
    [(username, role, reason, value)] = _audit(rct.engine, "read")
    assert (username, role) == ("una", "unblinded_statistician")
    assert reason == f"remit report --dsmb: DSMB closed report {key['report_id']}"
    recorded = json.loads(value)
    assert recorded["analysis_data"] == "dsmb_interim"
    assert recorded["report_id"] == key["report_id"]
    assert recorded["key_sha256"] == key["key_sha256"]
    assert recorded["cut_off"] == key["cut_off"]
    assert recorded["study_locked"] is False
    assert recorded["participants_with_arm"] == 6
    # a blinded role: exit 2, nothing written, the attempt audited
    for user in ("siri", "kari"):
        refused, html_path, key_file = _dsmb(rct, tmp_path, user, name=f"by-{user}")
        assert refused.exit_code == 2, refused.output
        assert "may not build unblinded trial data" in refused.output
        assert not html_path.exists()
        assert not key_file.exists()
    rows = _audit(rct.engine, "read_refused")
    assert [(r.username, r.role) for r in rows] == [
        ("siri", "statistician"),
        ("kari", "investigator"),
    ]
    assert all(json.loads(r.new_value)["analysis_data"] == "dsmb_interim" for r in rows)
    assert len(_audit(rct.engine, "read")) == 1


def test_the_coding_is_drawn_anew_for_each_report_and_the_key_stays_apart(
    rct: OsloTrial, tmp_path: Path
) -> None:
    first, _, key1 = _dsmb(rct, tmp_path, "una", name="one")
    second, _, key2 = _dsmb(rct, tmp_path, "una", name="two")
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    one, two = (json.loads(k.read_text("utf-8")) for k in (key1, key2))
    assert one["report_id"] != two["report_id"]
    assert one["seed"] != two["seed"]
    # the key may not be written into the report's folder, nor over an existing key
    out = tmp_path / "three"
    args = ["report", "--db", _url(rct.engine), "--user", "una", "--out", str(out), "--dsmb"]
    env = {"REMIT_ALLOCATION_KEY_FILE": str(tmp_path / "allocation.key")}
    inside = runner.invoke(app, [*args, "--key", str(out / "key.json")], env=env)
    assert inside.exit_code == 2
    assert "lies inside the report folder" in inside.output
    again = runner.invoke(app, [*args, "--key", str(key1)], env=env)
    assert again.exit_code == 2
    assert "already exists" in again.output
    missing = runner.invoke(app, args, env=env)
    assert missing.exit_code == 2
    assert "--dsmb needs --key FILE" in missing.output
    other = [*args, "--key", str(tmp_path / "k.json"), "--protocol", "mdma-mdd-rct-example"]
    named = runner.invoke(app, other, env=env)
    assert named.exit_code == 2
    assert "the protocol in force" in named.output
    key_alone = runner.invoke(app, [*args[:-1], "--key", str(tmp_path / "k.json")], env=env)
    assert key_alone.exit_code == 2
    assert "it needs --dsmb" in key_alone.output
    assert not (tmp_path / "k.json").exists()
    assert not out.exists()
    assert len(_audit(rct.engine, "read")) == 2  # the refused options read nothing


def test_a_locked_study_gets_a_locked_closed_report_and_unblinded_needs_the_lock(
    rct: OsloTrial, tmp_path: Path
) -> None:
    env = {"REMIT_ALLOCATION_KEY_FILE": str(tmp_path / "allocation.key")}
    final = ["report", "--db", _url(rct.engine), "--user", "una", "--no-pdf", "--unblinded"]
    refused = runner.invoke(app, [*final, "--out", str(tmp_path / "final")], env=env)
    assert refused.exit_code == 2
    assert "before the database lock: the study has never been locked" in refused.output
    assert "remit report --dsmb --key FILE" in refused.output  # what to do instead
    assert not (tmp_path / "final").exists()
    held = sv.lock(rct.engine, rct.actors["data_manager"], "study", reason="database lock")
    done, html_path, _ = _dsmb(rct, tmp_path, "una", "--json", name="locked")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["study_locked"] is True
    text = _text(html_path.read_text("utf-8"))
    assert "DSMB closed report — data locked, as of" in text
    assert "interim" not in text.split("Participant flow")[0].lower().replace("interim look", "")
    assert json.loads(_audit(rct.engine, "read")[-1].new_value)["study_locked"] is True
    final_done = runner.invoke(app, [*final, "--out", str(tmp_path / "final")], env=env)
    assert final_done.exit_code == 0, final_done.output
    assert held.id > 0


def test_the_cut_off_is_when_the_data_were_read(rct: OsloTrial, tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    done, _, key_path = _dsmb(rct, tmp_path, "una", "--json")
    assert done.exit_code == 0, done.output
    cut_off = datetime.fromisoformat(json.loads(done.stdout)["cut_off"])
    assert before <= cut_off <= datetime.now(UTC) + timedelta(seconds=1)
    assert json.loads(key_path.read_text("utf-8"))["cut_off"] == json.loads(done.stdout)["cut_off"]
