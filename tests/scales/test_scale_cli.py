"""`remit scales list|show|score`: JSON contracts and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remit.cli.app import app

runner = CliRunner()

MADRS = {"1": 4, "2": 4, "3": 3, "4": 4, "5": 2, "6": 3, "7": 3, "8": 4, "9": 3, "10": 2}


def test_list_json() -> None:
    result = runner.invoke(app, ["scales", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["code"] for d in data] == [
        "bdi2",
        "cssrs",
        "gad7",
        "isi",
        "madrs",
        "pcl5",
        "psqi",
        "sds",
        "se_vas",
    ]
    madrs = next(d for d in data if d["code"] == "madrs")
    assert madrs["total_range"] == [0, 60]
    assert madrs["items"] == 10


def test_list_table() -> None:
    result = runner.invoke(app, ["scales", "list"])
    assert result.exit_code == 0
    assert "madrs" in result.stdout
    assert "Sheehan" in result.stdout


def test_show_json() -> None:
    result = runner.invoke(app, ["scales", "show", "madrs", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["code"] == "madrs"
    assert data["items"][9]["code"] == "suicidal_thoughts"
    assert data["items"][9]["range"] == [0, 6]
    assert [b["label"] for b in data["bands"]] == ["normal", "mild", "moderate", "severe"]
    assert data["missing_rule"] == {"kind": "none", "max_missing": 0}


def test_show_json_gives_the_skip_logic_as_data() -> None:
    result = runner.invoke(app, ["scales", "show", "cssrs", "-v", "since_last_visit", "--json"])
    assert result.exit_code == 0, result.output
    items = {it["code"]: it for it in json.loads(result.stdout)["items"]}
    # the official form asks questions 3-5 only when question 2 is yes
    assert items["active_ideation_methods"]["skip_when"] == {
        "kind": "all_false",
        "items": ["non_specific_active_thoughts"],
    }
    assert items["potential_lethality"]["skip_when"] == {
        "kind": "not_zero",
        "items": ["actual_lethality"],
    }
    assert items["wish_to_be_dead"]["skip_when"] is None


def test_show_version_and_table() -> None:
    result = runner.invoke(app, ["scales", "show", "cssrs", "--version", "since_last_visit"])
    assert result.exit_code == 0, result.output
    assert "wish_to_be_dead" in result.stdout
    assert "ideation_type" in result.stdout
    result = runner.invoke(app, ["scales", "show", "psqi"])
    assert result.exit_code == 0
    assert "c4_efficiency" in result.stdout


def test_score_inline_json() -> None:
    result = runner.invoke(
        app, ["scales", "score", "madrs", "--answers", json.dumps(MADRS), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"scale", "total", "band", "subscales", "n_missing", "prorated"} <= set(data)
    assert data["scale"] == "madrs"
    assert data["total"] == 32
    assert data["band"] == "moderate"
    assert data["subscales"] == {}
    assert data["n_missing"] == 0
    assert data["prorated"] is False


def test_score_from_file_with_codes_and_version(tmp_path: Path) -> None:
    f = tmp_path / "cssrs.json"
    f.write_text(
        json.dumps(
            {"wish_to_be_dead": False, "non_specific_active_thoughts": False, "suicide": None}
        ),
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        [
            "scales",
            "score",
            "cssrs",
            "--answers",
            str(f),
            "--version",
            "since_last_visit",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] is None
    assert data["derived"]["ideation_type"] == 0
    assert data["version"] == "since_last_visit"


def test_score_human_output() -> None:
    result = runner.invoke(
        app, ["scales", "score", "gad7", "--answers", '{"1":3,"2":3,"3":3,"4":3,"5":3,"6":0,"7":0}']
    )
    assert result.exit_code == 0
    assert "total 15 — severe" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["scales", "score", "madrs", "--answers", '{"1": 7}'], "out of range: 7"),
        (["scales", "score", "madrs", "--answers", '{"1": 3.5}'], "not a whole number"),
        (["scales", "score", "madrs", "--answers", '{"99": 1}'], "no item '99'"),
        (["scales", "score", "madrs", "--answers", "{not json"], "not valid JSON"),
        (["scales", "score", "madrs", "--answers", "[1, 2]"], "neither a JSON object"),
        (["scales", "score", "madrs", "--answers", "/no/such/file.json"], "neither a JSON object"),
        (["scales", "score", "hamd", "--answers", "{}"], "scale 'hamd' is not known"),
        (["scales", "show", "hamd"], "scale 'hamd' is not known"),
        (["scales", "show", "cssrs", "--version", "weekly"], "no version 'weekly'"),
        (["scales", "score", "sds", "--answers", '{"not_working": true, "1": 4}'], "skips it"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr.strip()
    assert fragment in " ".join(err.split())
    assert err.startswith("error:")


def test_json_array_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text("[1, 2]", encoding="utf-8")
    result = runner.invoke(app, ["scales", "score", "madrs", "--answers", str(f)])
    assert result.exit_code == 2
    assert "not an object" in result.stderr


def test_show_with_a_local_wording_file(tmp_path: Path) -> None:
    f = tmp_path / "w.csv"
    f.write_text("item,wording\nsuicidal_thoughts,Local licensed text\n", encoding="utf-8")
    result = runner.invoke(app, ["scales", "show", "madrs", "--wording", str(f), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items"][9]["wording"] == "Local licensed text"
    result = runner.invoke(app, ["scales", "show", "madrs", "--wording", str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
