"""`remit protocol …` through Typer's CliRunner: JSON parsed, exit codes, problem codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from remit.cli.app import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["protocol", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list() -> None:
    code, out, _ = run("list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["mdma-mdd-rct-example", "oslo-mdma-mdd"]
    assert all(len(r["sha256"]) == 64 for r in rows)
    code, out, _ = run("list")
    assert code == 0
    assert "oslo-mdma-mdd" in out


def test_show_json_contract() -> None:
    code, out, _ = run("show", "oslo-mdma-mdd", "--json")
    assert code == 0
    data = json.loads(out)
    visits = {v["code"]: v for v in data["visits"]}
    assert list(visits)[:3] == ["PHONE", "SCR", "V0"]
    v13 = visits["V13"]
    assert set(v13) >= {"code", "label", "kind", "target_day", "window", "assessments"}
    assert v13["window"] == [-7, 7]
    assert v13["day"] == 91
    assert {"scale": "madrs", "version": None, "rater": "independent_rater", "timing": None,
            "required": True} in v13["assessments"]  # fmt: skip
    sessions = data["dosing_sessions"]
    assert [(s["visit"], s["initial_mg"], s["supplemental_mg"]) for s in sessions] == [
        ("V5", 80, 40), ("V9", 120, 60),
    ]  # fmt: skip
    assert sessions[0]["supplemental_offer_min"] == [90, 150]
    assert sessions[0]["max_total_mg"] == 180


def test_show_table_has_every_visit_and_the_doses() -> None:
    result = runner.invoke(app, ["protocol", "show", "oslo-mdma-mdd"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    for code in ("PHONE", "SCR", "V0", "V4", "V9", "V13", "V14", "FU7"):
        assert code in result.stdout
    assert "80 + 40 mg MDMA" in result.stdout
    assert "120 + 60 mg MDMA" in result.stdout
    assert "90–150 min after the initial dose" in result.stdout
    assert "9 therapy sessions" in result.stdout
    assert "Vital-sign alert limits (at every visit)" in result.stdout
    assert "> 180 or < 80 mmHg" in result.stdout  # systolic BP, immediate


def test_check_sound_and_unsound(tmp_path: Path, mini: str, bend: Callable[..., str]) -> None:
    code, out, _ = run("check", "oslo-mdma-mdd")
    assert code == 0
    assert "sound" in out
    bad = tmp_path / "bad.toml"
    text = bend('anchor = "SCR"', 'anchor = "SCRN"')
    text = bend("supplemental_mg = 40", "supplemental_mg = 120", text)
    bad.write_text(text, encoding="utf-8")
    code, out, err = run("check", str(bad))
    assert code == 2
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["P007", "P012"]
    assert lines[0].startswith("P007 visits[1].anchor (line 37):")
    assert "2 problems" in err
    code, out, _ = run("check", str(bad), "--json")
    assert code == 2
    assert [p["code"] for p in json.loads(out)["problems"]] == ["P007", "P012"]


def test_check_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\n", encoding="utf-8")
    code, out, _ = run("check", str(bad))
    assert code == 2
    assert out.startswith("P001 line 1")
    code, _, err = run("check", str(tmp_path / "nope.toml"))
    assert code == 2
    assert "no protocol file or built-in protocol called" in err


def test_show_refuses_a_bad_file_in_one_line(tmp_path: Path, bend: Callable[..., str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(bend("item = 10", "item = 11"), encoding="utf-8")
    code, _, err = run("show", str(bad))
    assert code == 2
    assert "P016" in err
    assert "remit protocol check" in err
    assert len(err.strip().splitlines()) == 1


def test_diff_json_and_words() -> None:
    code, out, _ = run("diff", "oslo-mdma-mdd", "mdma-mdd-rct-example", "--json")
    assert code == 0
    changes = json.loads(out)["changes"]
    placebo = "arm PLACEBO (Placebo with the same therapy, ratio 1) added"
    assert {"kind": "added", "topic": "arm", "where": "arms.PLACEBO", "text": placebo} in changes
    result = runner.invoke(
        app, ["protocol", "diff", "oslo-mdma-mdd", "mdma-mdd-rct-example"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0
    assert "dosing session 3 at V13" in result.stdout
    assert "window of FU7 moved from -14/+14 days to -7/+21 days" in result.stdout


def test_schedule_command() -> None:
    code, out, _ = run(
        "schedule", "oslo-mdma-mdd", "--actual", "V4=2023-01-16", "--actual", "V5=2023-01-24",
        "--json",
    )  # fmt: skip
    assert code == 0
    visits = {v["code"]: v for v in json.loads(out)["visits"]}
    assert visits["V5"]["timing"]["status"] == "late"
    assert visits["V6"]["target_date"] == "2023-01-25"
    assert visits["FU7"]["target_date"] == "2023-08-14"
    assert visits["V1"]["status"] == "awaiting_anchor"
    code, _, err = run("schedule", "oslo-mdma-mdd", "--actual", "V4=16.01.2023")
    assert code == 2
    assert "is not CODE=DATE" in err


def test_show_json_of_the_rct_has_arm_doses() -> None:
    code, out, _ = run("show", "mdma-mdd-rct-example", "--json")
    assert code == 0
    data = json.loads(out)
    assert [a["code"] for a in data["arms"]] == ["MDMA", "PLACEBO"]
    third = data["dosing_sessions"][2]
    assert third["visit"] == "V13"
    assert third["arm_doses"]["PLACEBO"]["initial_mg"] == 0


def test_show_lists_the_baseline_visits() -> None:
    result = runner.invoke(app, ["protocol", "show", "oslo-mdma-mdd", "--json"])
    assert result.exit_code == 0, result.output
    baseline = json.loads(result.stdout)["baseline"]
    assert baseline["madrs"] == "V3"
    assert baseline["cssrs"] == "SCR"
    assert "se_vas" not in baseline


def _oslo_variant(tmp_path: Path, old: str, new: str) -> Path:
    """The Oslo protocol file with ``old`` (which must occur) replaced once by ``new``."""
    from remit.protocol import load_protocol

    text = load_protocol("oslo-mdma-mdd").text
    assert old in text, old
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_check_catches_the_four_examples_of_issue_11(tmp_path: Path) -> None:
    temp = "high = { review = 37.5, urgent = %s, immediate = 39.0 }"
    ideation = 'field = "ideation_type"\nop = ">="\nvalue = %d'
    madrs = '{ scale = "madrs", rater = "%s" }'
    examples = [
        (
            ("max_total = 10\n", "max_total = 70\n"),
            "P029",
            "endpoint madrs_remission: madrs total ≤ 70 is always true on a total of 0–60",
        ),
        (
            # refused where the protocol is read (the safety table's model), so P004
            (temp % "38.0", temp % "100.4"),
            "P004",
            "urgent tier: temperature high limit 100.4 °C is above the plausible range 25–45 °C, "
            "so no reading can ever cross it: 100.4 looks like degrees Fahrenheit (°F); in °C it "
            "is 38.0",
        ),
        (
            (ideation % 4, ideation % 9),
            "P027",
            "ideation_type of cssrs ranges 0–5, so >= 9 is never true: the rule can never fire",
        ),
        (
            (madrs % "independent_rater", madrs % "self_report"),
            "P031",
            "V3 gives madrs, a clinician-rated scale, to rater 'self_report'",
        ),
    ]
    for (old, new), problem, words in examples:
        path = _oslo_variant(tmp_path, old, new)
        code, out, err = run("check", str(path))
        assert code == 2, (problem, out)
        assert out.startswith(problem + " "), out
        assert words in out
        assert len(out.strip().splitlines()) == 1, out
        assert "1 problem" in err
        code, out, _ = run("check", str(path), "--json")
        assert code == 2
        assert [p["code"] for p in json.loads(out)["problems"]] == [problem]


def test_check_catches_a_rule_on_what_madrs_lacks(tmp_path: Path) -> None:
    rule = 'scale = "madrs"\nitem = 10\n'
    for new, problem, words in [
        ('scale = "madrs"\nitem = 11\n', "P016", "no item 11; use an item number 1–10"),
        ('scale = "madrs"\nfield = "totl"\n', "P016", "did you mean 'total'"),
        ('scale = "madrs"\nitem = 10\nversions = ["weekly"]\n', "P006", "no version 'weekly'"),
    ]:
        code, out, _ = run("check", str(_oslo_variant(tmp_path, rule, new)))
        assert code == 2
        assert out.startswith(problem + " safety.rules[4]"), out
        assert words in out


def test_check_builtins_stay_sound() -> None:
    for name in ("oslo-mdma-mdd", "mdma-mdd-rct-example"):
        code, out, _ = run("check", name)
        assert code == 0, out
        assert "sound" in out
