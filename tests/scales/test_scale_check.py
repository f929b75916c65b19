"""Each problem code of a scale definition, provoked by bending a small sound definition.

Every problem is reported at once, with its code, key path and line (as protocols are).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.scales import TINY_SCALE
from typer.testing import CliRunner

from remit.cli.app import app
from remit.errors import NotFoundError, ScaleDefinitionError
from remit.scales import PROBLEM_CODES, check_scale, check_scale_text, list_scales, parse_scale

SOUND = TINY_SCALE


def bend(old: str, new: str, text: str = SOUND) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def only(text: str, code: str) -> str:
    """The single problem of ``text``, which must have ``code``; returned as a line."""
    problems = check_scale_text(text, "tiny.toml")
    assert [p.code for p in problems] == [code], [str(p) for p in problems]
    return str(problems[0])


def test_sound_definition_and_shipped_scales_have_no_problem() -> None:
    assert check_scale_text(SOUND) == []
    d = parse_scale(SOUND)
    assert d.short_name == "TINY-2"
    assert d.safety.items == ("b",)  # item number 2, as its code
    for code in list_scales():
        assert check_scale(code) == [], code


def test_s001_bad_toml_names_the_line() -> None:
    line = only(bend("[[bands]]", "[[bands]"), "S001")
    assert "line 33" in line
    assert "not valid TOML" in line


def test_s002_unknown_key_with_suggestion_and_line() -> None:
    line = only(bend('label = "B"', 'labl = "B"\nlabel = "B"'), "S002")
    assert "items[1].labl (line 22)" in line
    assert "did you mean 'label'" in line


def test_s003_required_key_missing() -> None:
    line = only(bend('recall = "today"\n', ""), "S003")
    assert "'recall'" in line


def test_s004_wrong_type_names_key_and_line() -> None:
    line = only(bend("max = 3", 'max = "3"'), "S004")
    assert "items[0].max (line 18)" in line
    assert "'3'" in line


def test_s004_code_must_be_snake_case() -> None:
    assert "snake_case" in only(bend('code = "b"', 'code = "B b"'), "S004")


def test_s005_duplicate_item_code() -> None:
    text = bend('code = "flag"', 'code = "a"')
    text = bend('params = { item = "flag" }', 'params = { item = "a" }', text)
    assert "used twice" in only(text, "S005")


def test_s005_duplicate_item_number() -> None:
    line = only(bend('code = "flag"', 'code = "flag"\nref = "1"'), "S005")
    assert "item number '1' is used twice" in line


def test_s006_numeric_item_without_range() -> None:
    assert "without min and max" in only(
        bend('min = 0\nmax = 3\n\n[[items]]\ncode = "flag"', '\n[[items]]\ncode = "flag"'), "S006"
    )


def test_s006_inverted_item_range() -> None:
    text = bend(
        'min = 0\nmax = 3\n\n[[items]]\ncode = "flag"',
        'min = 3\nmax = 0\n\n[[items]]\ncode = "flag"',
    )
    problems = check_scale_text(text)
    assert problems[0].code == "S006"
    assert "above max" in problems[0].what


def test_s007_choice_without_options() -> None:
    text = bend('kind = "boolean"\nscored = false', 'kind = "choice"\nscored = false')
    assert "without options" in only(text, "S007")


def test_s007_scored_choice_needs_a_score_per_option() -> None:
    text = bend(
        'kind = "boolean"\nscored = false',
        'kind = "choice"\nscored = false\noptions = { no = "No", yes = "Yes" }\n'
        "recode = { maybe = 1 }",
    )
    assert "not among its options" in only(text, "S007")


def test_s008_scored_text_item() -> None:
    text = bend('kind = "boolean"\nscored = false', 'kind = "text"')
    text = bend('params = { item = "flag" }', 'params = { item = "a" }', text)
    assert "scored text item" in only(text, "S008")


def test_s009_unknown_recode_table() -> None:
    text = bend(
        'kind = "boolean"\nscored = false',
        'kind = "choice"\nscored = false\noptions = { "0" = "No" }\nrecode = "yes_no"',
    )
    assert "'yes_no'" in only(text, "S009")


def test_s010_bins_without_catch_all() -> None:
    text = bend('code = "b"', 'code = "b"\nbins = [{ le = 1, value = 0 }, { le = 3, value = 1 }]')
    assert "catch-all" in only(text, "S010")


def test_s011_skip_condition_on_a_non_yes_no_item() -> None:
    text = bend('code = "b"', 'code = "b"\nskip_when = { any_true = ["a"] }')
    assert "not a yes/no item" in only(text, "S011")


def test_s011_skip_cycle() -> None:
    text = bend("scored = false\n", 'scored = false\nskip_when = { any_true = ["flag"] }\n')
    assert "cycle" in only(text, "S011")


def test_s011_not_zero_condition_on_a_yes_no_item() -> None:
    text = bend('code = "b"', 'code = "b"\nskip_when = { not_zero = ["flag"] }')
    assert "not a numeric item" in only(text, "S011")


def test_not_zero_condition_asks_the_item_only_when_the_other_is_0() -> None:
    text = bend('code = "b"', 'code = "b"\nskip_when = { not_zero = ["a"] }')
    assert check_scale_text(text) == []
    tiny = parse_scale(text, "tiny.toml")
    from remit.scales import score

    assert score(tiny, {"a": 0, "b": 2, "flag": False}).total == 2
    assert score(tiny, {"a": 3, "flag": False}).complete  # b is not asked
    assert score(tiny, {"a": 0, "flag": False}).missing_required == ("2",)


def test_s012_implies_on_a_non_yes_no_item() -> None:
    assert "non-yes/no" in only(bend('code = "b"', 'code = "b"\nimplies = ["flag"]'), "S012")


def test_s013_subscale_with_unknown_item() -> None:
    text = SOUND + '\n[[subscales]]\ncode = "s"\nlabel = "S"\nitems = ["a", "zz"]\n'
    assert "'zz'" in only(text, "S013")


def test_s013_total_part_that_does_not_exist() -> None:
    line = only(bend('parts = ["a", "b"]', 'parts = ["a", "b", "c"]'), "S013")
    assert "'c'" in line
    assert "total.parts" in line


def test_s014_unknown_version() -> None:
    line = only(bend('code = "b"', 'code = "b"\nversions = ["long"]'), "S014")
    assert "'long'" in line


def test_s015_unknown_rule_lists_the_known_ones() -> None:
    line = only(bend('rule = "item"', 'rule = "magic"'), "S015")
    assert "'magic'" in line
    assert "cssrs_ideation" in line


def test_s016_rule_param_names_unknown_item() -> None:
    line = only(bend('params = { item = "flag" }', 'params = { item = "zz" }'), "S016")
    assert "unknown item 'zz'" in line


def test_s016_rule_check_registered_with_the_rule() -> None:
    # pcl5_provisional checks that its clusters are subscales: the check lives with the rule
    text = SOUND + (
        '\n[[derived]]\nname = "ptsd"\nrule = "pcl5_provisional"\n'
        "params = { threshold = 2, clusters = { intrusion = 1 } }\n"
    )
    assert "'intrusion' is not a subscale" in only(text, "S016")


def test_s017_total_range_differs_from_the_parts() -> None:
    text = bend("total_range = [0, 6]", "total_range = [0, 7]")
    text = bend("max = 6", "max = 7", text)
    assert "sum to [0, 6]" in only(text, "S017")


def test_s017_subscale_range_differs_from_its_items() -> None:
    text = SOUND + '\n[[subscales]]\ncode = "s"\nlabel = "S"\nitems = ["a", "b"]\nrange = [0, 5]\n'
    assert "items sum to [0, 6]" in only(text, "S017")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [("min = 3\nmax = 6", "min = 4\nmax = 6", "gap"), ("max = 2", "max = 3", "overlap")],
)
def test_s018_bands_gap_or_overlap(old: str, new: str, words: str) -> None:
    assert words in only(bend(old, new), "S018")


def test_s019_total_without_total_range() -> None:
    text = bend("total_range = [0, 6]\n", "")
    problems = check_scale_text(text)
    assert [p.code for p in problems] == ["S019"], problems  # bands are not checked on top


def test_s020_missing_rule_not_sound() -> None:
    text = bend("[total]", "[missing]\nkind = 'none'\nmax_missing = 2\n\n[total]")
    assert "max_missing=2" in only(text, "S020")


def test_s021_subscale_method_without_rule() -> None:
    text = SOUND + '\n[[subscales]]\ncode = "s"\nlabel = "S"\nitems = ["a"]\nmethod = "rule"\n'
    assert "method 'rule'" in only(text, "S021")


def test_s022_safety_item_the_scale_does_not_have() -> None:
    assert "'11'" in only(bend('items = ["2"]', 'items = ["11"]'), "S022")


def test_s023_safety_item_that_is_not_required() -> None:
    text = bend('code = "b"', 'code = "b"\nrequired = false')
    line = only(text, "S023")
    assert "'2'" in line
    assert "always required" in PROBLEM_CODES["S023"]


def test_s022_categories_for_a_value_that_is_not_declared() -> None:
    text = SOUND + '\n[safety.categories.a]\n"0" = "none"\n'
    assert "not a safety item or field" in only(text, "S022")


def test_every_problem_is_reported_at_once_with_lines() -> None:
    text = bend('recall = "today"', 'recall = "today"\ncolour = "red"')
    text = bend('kind = "integer"', 'kind = "integr"', text)
    codes = [p.code for p in check_scale_text(text)]
    assert sorted(codes) == ["S002", "S004"]
    with pytest.raises(ScaleDefinitionError) as info:
        parse_scale(text, "tiny.toml")
    assert len(info.value.problems) == 2
    assert "colour" in str(info.value)
    assert "integr" in str(info.value)


def test_every_code_has_a_test_and_is_documented() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    for code in PROBLEM_CODES:
        assert f"test_{code.lower()}_" in source, f"no test for {code}"
    docs = Path(__file__).parents[2] / "docs" / "scales.md"
    text = docs.read_text(encoding="utf-8")
    for code in PROBLEM_CODES:
        assert f"`{code}`" in text, f"{code} is not documented in docs/scales.md"


# ---- remit scales check ----

runner = CliRunner()


def test_cli_check_sound_file_and_builtin(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(SOUND, encoding="utf-8")
    result = runner.invoke(app, ["scales", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "sound" in result.output
    assert runner.invoke(app, ["scales", "check", "madrs"]).exit_code == 0


def test_cli_check_prints_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    text = bend('recall = "today"', 'recall = "today"\ncolour = "red"')
    path.write_text(bend("total_range = [0, 6]", "total_range = [0, 7]", text), encoding="utf-8")
    result = runner.invoke(app, ["scales", "check", str(path)])
    assert result.exit_code == 2
    assert "S002 colour (line 7)" in result.output
    json_result = runner.invoke(app, ["scales", "check", str(path), "--json"])
    assert json_result.exit_code == 2
    data = json.loads(json_result.stdout)
    assert data["ok"] is False
    assert [p["code"] for p in data["problems"]] == ["S002"]


def test_cli_check_unknown_source_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scales", "check", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    with pytest.raises(NotFoundError):
        check_scale(tmp_path / "nope.toml")
