"""A PHQ-9 data dictionary in REDCap's format (written here; PHQ-9 is public domain, short item
labels only) imports with severity bands, required fields and an item-9 safety rule, and is
usable at once from a user scale directory (``REMIT_SCALES_PATH``): ``remit scales list/score``,
a protocol's scale references and safety rules, with no file copied into the package."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remit.cli.app import app
from remit.errors import NotFoundError, ScaleError
from remit.interop.redcap import COLUMNS, logic_problem, read_redcap_dictionary
from remit.protocol.check import check_text
from remit.protocol.loader import protocol_from_text
from remit.safety.rules import evaluate_score
from remit.scales import list_scales, load_scale, score

MINI = (Path(__file__).parents[1] / "protocol" / "mini.toml").read_text(encoding="utf-8")

LABELS = [
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself",
    "Trouble concentrating on things",
    "Moving or speaking slowly, or being fidgety or restless",
    "Thoughts that you would be better off dead or of hurting yourself",
]
FREQUENCY = "0, Not at all | 1, Several days | 2, More than half the days | 3, Nearly every day"
BANDS = "0-4 minimal; 5-9 mild; 10-14 moderate; 15-19 moderately severe; 20-27 severe"
SUM = "sum(" + ", ".join(f"[phq9_{i}]" for i in range(1, 10)) + ")"


def _row(var: str, kind: str, label: str, **more: str) -> dict[str, str]:
    return {
        "Variable / Field Name": var,
        "Form Name": "phq9",
        "Field Type": kind,
        "Field Label": label,
    } | more


def phq9_rows(*, annotations: bool = True) -> list[dict[str, str]]:
    """Rows of the dictionary: record id, nine required items, an optional difficulty
    question, the total (a calc) and a flag calc Remit does not carry."""
    rows = [_row("record_id", "text", "Record ID")]
    for i, label in enumerate(LABELS, start=1):
        rows.append(
            _row(
                f"phq9_{i}",
                "radio",
                label,
                **{COLUMNS[5]: FREQUENCY, "Required Field?": "y", "Matrix Group Name": "phq9"},
            )
        )
    rows.append(
        _row(
            "phq9_difficulty",
            "dropdown",
            "How difficult have these problems made things",
            **{COLUMNS[5]: "0, Not difficult | 1, Somewhat | 2, Very | 3, Extremely"},
        )
    )
    rows.append(_row("phq9_total", "calc", "PHQ-9 total", **{COLUMNS[5]: SUM}))
    rows.append(_row("phq9_flag", "calc", "Item 9 flag", **{COLUMNS[5]: "if([phq9_9] > 0, 1, 0)"}))
    if annotations:
        rows[-2]["Field Annotation"] = f"@REMIT-BANDS='{BANDS}'"
        rows[9]["Field Annotation"] = (
            "@HIDDEN-SURVEY @REMIT-SAFETY='>=1 review: item 9 above 0; >=2 same_day'"
        )
    return rows


def dictionary(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(COLUMNS))
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in COLUMNS})
    return out.getvalue()


@pytest.fixture
def phq9_file(tmp_path: Path) -> Path:
    path = tmp_path / "phq9_dictionary.csv"
    path.write_text(dictionary(phq9_rows()), encoding="utf-8")
    return path


@pytest.fixture
def scales_dir(phq9_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "my_scales"
    result = CliRunner().invoke(
        app, ["import", "redcap-dictionary", str(phq9_file), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("REMIT_SCALES_PATH", str(out))
    return out


ANSWERS = {f"phq9_{i}": v for i, v in enumerate([2, 2, 1, 1, 1, 1, 1, 1, 1], start=1)}


def test_imports_bands_required_and_item9_rule(phq9_file: Path) -> None:
    result = read_redcap_dictionary(phq9_file)
    [scale] = result.scales
    d = scale.definition
    assert [(b.min, b.max, b.label) for b in d.bands] == [
        (0, 4, "minimal"),
        (5, 9, "mild"),
        (10, 14, "moderate"),
        (15, 19, "moderately severe"),
        (20, 27, "severe"),
    ]
    assert d.total_range == (0, 27)
    assert [i.code for i in d.items if i.required] == [f"phq9_{i}" for i in range(1, 10)]
    assert not d.item("phq9_difficulty").required
    assert d.safety.items == ("phq9_9",)
    assert [(r.item, r.op, r.value, r.level) for r in scale.safety_rules] == [
        ("phq9_9", ">=", 1.0, "review"),
        ("phq9_9", ">=", 2.0, "same_day"),
    ]
    assert scale.safety_rules[0].text == "item 9 above 0"
    # the other action tag is reported, the Remit one is not
    notes = {(n.variable, n.message) for n in result.notes}
    assert ("phq9_9", "field annotation '@HIDDEN-SURVEY' not carried") in notes


def test_complete_form_reports_no_missing_items(phq9_file: Path) -> None:
    d = read_redcap_dictionary(phq9_file).scales[0].definition
    r = score(d, ANSWERS)
    assert (r.total, r.band, r.complete, r.missing_required) == (11, "moderate", True, ())
    blank = score(d, ANSWERS | {"phq9_4": None})
    assert blank.missing_required == ("4",)
    assert not blank.complete


def test_bands_and_rules_from_files(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text(dictionary(phq9_rows(annotations=False)), encoding="utf-8")
    bands = tmp_path / "bands.csv"
    bands.write_text(
        "form,min,max,label\n"
        + "".join(
            f"phq9,{b.split()[0].replace('-', ',')},{b.split(' ', 1)[1]}\n"
            for b in BANDS.split("; ")
        )
    )
    rules = tmp_path / "rules.csv"
    rules.write_text(
        "form,variable,op,value,level,text\nphq9,phq9_9,>=,1,review,Self-harm thoughts\n"
    )
    [scale] = read_redcap_dictionary(path, bands=bands, rules=rules).scales
    assert [b.label for b in scale.definition.bands][-1] == "severe"
    assert [(r.item, r.level, r.text) for r in scale.safety_rules] == [
        ("phq9_9", "review", "Self-harm thoughts")
    ]
    [plain] = read_redcap_dictionary(path).scales
    assert plain.definition.bands == ()
    assert plain.safety_rules == ()


def test_scores_from_user_scale_directory_without_copying(scales_dir: Path) -> None:
    assert "phq9" in list_scales()
    runner = CliRunner()
    listed = runner.invoke(app, ["scales", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [entry] = [s for s in json.loads(listed.output) if s["code"] == "phq9"]
    assert entry["source"] == str(scales_dir / "phq9.toml")
    scored = runner.invoke(app, ["scales", "score", "phq9", "-a", json.dumps(ANSWERS), "--json"])
    assert scored.exit_code == 0, scored.output
    data = json.loads(scored.output)
    assert (data["total"], data["band"], data["complete"]) == (11, "moderate", True)
    assert data["missing_required"] == []
    # nothing was copied into the package's definitions
    import remit.scales

    shipped = Path(remit.scales.__file__).parent / "definitions"
    assert not (shipped / "phq9.toml").exists()


def test_unknown_without_the_path(scales_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REMIT_SCALES_PATH")
    result = CliRunner().invoke(app, ["scales", "score", "phq9", "-a", json.dumps(ANSWERS)])
    assert result.exit_code == 2
    assert "'phq9' is not known" in result.output
    assert "REMIT_SCALES_PATH" in result.output


def test_protocol_resolves_the_scale_and_its_rule_fires(scales_dir: Path) -> None:
    rules = (scales_dir / "safety_rules" / "phq9.toml").read_text(encoding="utf-8")
    text = MINI.replace(
        '    { scale = "madrs", rater = "independent_rater" },\n]\n\n[[visits]]\ncode = "D1"',
        '    { scale = "madrs", rater = "independent_rater" },\n'
        '    { scale = "phq9", rater = "self_report" },\n]\n\n[[visits]]\ncode = "D1"',
    )
    assert text != MINI
    text = text.replace("[safety.vitals]\n", rules + "\n[safety.vitals]\n", 1)
    assert check_text(text) == []
    protocol = protocol_from_text(text)
    d = load_scale("phq9")
    fired = evaluate_score(protocol, score(d, ANSWERS | {"phq9_9": 2})).alerts
    assert [(a.rule_id, a.level) for a in fired] == [("phq9_phq9_9_same_day", "same_day")]
    assert evaluate_score(protocol, score(d, ANSWERS | {"phq9_9": 0})).alerts == ()


def test_protocol_check_refuses_it_without_the_path(
    scales_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MINI.replace(
        '    { scale = "madrs", rater = "independent_rater" },\n]',
        '    { scale = "madrs", rater = "independent_rater" },\n'
        '    { scale = "phq9", rater = "self_report" },\n]',
        1,
    )
    monkeypatch.delenv("REMIT_SCALES_PATH")
    assert any("phq9" in p.what for p in check_text(text))


def test_name_clash_with_builtin_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = phq9_rows(annotations=False)
    for r in rows:
        r["Form Name"] = "gad7"
    path = tmp_path / "gad7.csv"
    path.write_text(dictionary(rows), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["import", "redcap-dictionary", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert "built-in" in result.output
    assert not out.exists()
    # a user file with a built-in code is refused when the directory is read
    out.mkdir()
    (out / "gad7.toml").write_text(read_redcap_dictionary(path).scales[0].toml)
    monkeypatch.setenv("REMIT_SCALES_PATH", str(out))
    with pytest.raises(ScaleError, match="code 'gad7' of a built-in scale"):
        list_scales()
    with pytest.raises(ScaleError, match="built-in"):
        load_scale("gad7")


def test_missing_directory_in_path_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REMIT_SCALES_PATH", os.pathsep.join(["", str(tmp_path / "nope")]))
    with pytest.raises(NotFoundError, match="not a directory"):
        list_scales()


def test_edited_user_scale_is_read_again(scales_dir: Path) -> None:
    path = scales_dir / "phq9.toml"
    assert load_scale("phq9").bands[0].label == "minimal"
    path.write_text(path.read_text().replace('"minimal"', '"none or minimal"'))
    assert load_scale("phq9").bands[0].label == "none or minimal"


def test_plain_output_keeps_bracketed_text(phq9_file: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["import", "redcap-dictionary", str(phq9_file), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0
    assert "if([phq9_9] > 0, 1, 0)" in " ".join(result.output.split())


def _refused(rows: list[dict[str, str]] | str, tmp_path: Path, *more: str) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(rows if isinstance(rows, str) else dictionary(rows), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["import", "redcap-dictionary", str(path), "--out", str(out), *more]
    )
    assert result.exit_code == 2, result.output
    assert not out.exists()
    return " ".join(result.output.split())


def test_header_only_refused(tmp_path: Path) -> None:
    out = _refused(dictionary([]), tmp_path)
    assert "row 2, column 'Variable / Field Name': no fields" in out


def test_empty_file_refused(tmp_path: Path) -> None:
    assert "is empty" in _refused("", tmp_path)


def test_unknown_calc_field_refused(tmp_path: Path) -> None:
    rows = phq9_rows()
    rows[11][COLUMNS[5]] = SUM.replace("[phq9_9]", "[phq9_99]")
    out = _refused(rows, tmp_path)
    assert "row 13, column 'Choices, Calculations, OR Slider Labels'" in out
    assert "[phq9_99], which no row of the dictionary defines" in out


@pytest.mark.parametrize(
    ("logic", "why"),
    [
        ("[phq9_1] = '1' or [nowhere] = '1'", "[nowhere], which no row"),
        ("([phq9_1] = '1'", "'(' is not closed"),
        ("[phq9_1] = ", "ends with an operator"),
        ("[phq9_1] = '1' [phq9_2] = '1'", "without an operator"),
        ("[phq9_1] = '1 or 1", "cannot read"),
    ],
    ids=["unknown-field", "unclosed", "dangling-operator", "no-operator", "unclosed-quote"],
)
def test_broken_branching_refused(logic: str, why: str, tmp_path: Path) -> None:
    rows = phq9_rows()
    rows[3]["Branching Logic (Show field only if...)"] = logic
    out = _refused(rows, tmp_path)
    assert "row 5, column 'Branching Logic (Show field only if...)'" in out
    assert why in out


@pytest.mark.parametrize(
    ("row", "annotation", "why"),
    [
        (9, "@REMIT-SAFETY='>=1 soonish'", "alert level 'soonish'"),
        (9, "@REMIT-SAFETY='at least one'", "is not 'op value level"),
        (9, "@REMIT-SAFETY='>=5 review'", "outside the item's range 0-3"),
        (9, "@REMIT-SAFETY='<0 review'", "can never fire"),
        (11, "@REMIT-BANDS='0-4 low; mild'", "band 'mild' is not"),
        (11, "@REMIT-COLOUR='red'", "@REMIT-COLOUR is not a Remit annotation"),
    ],
)
def test_bad_annotations_refused(row: int, annotation: str, why: str, tmp_path: Path) -> None:
    rows = phq9_rows()
    rows[row]["Field Annotation"] = annotation
    out = _refused(rows, tmp_path)
    assert f"row {row + 2}, column 'Field Annotation'" in out
    assert why in out


def test_bands_that_do_not_cover_the_total_refused(tmp_path: Path) -> None:
    rows = phq9_rows()
    rows[11]["Field Annotation"] = "@REMIT-BANDS='0-4 minimal; 6-27 more'"
    out = _refused(rows, tmp_path)
    assert "does not make a sound scale" in out
    assert "S018" in out
    assert "its bands are from row 13, column 'Field Annotation'" in out


def test_rules_file_naming_unknown_form_or_item_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.csv"
    rules.write_text(
        "form,variable,op,value,level,text\nphq8,phq9_9,>=,1,review,x\n"
        "phq9,phq9_total,>=,1,review,x\n"
    )
    rows = phq9_rows(annotations=False)
    out = _refused(rows, tmp_path, "--rules", str(rules))
    assert "row 2: safety rules for form 'phq8'" in out


def test_logic_problem_accepts_redcap_forms() -> None:
    known = {"a", "b", "c"}
    for ok in [
        "[a] = '1' and ([b] = '2' or [c] <> '')",
        "[event_1_arm_1][a] = '1'",
        "[a(3)] = '1'",
        "not([a] = '1')",
        "datediff([a], [b], 'd') > -1",
        "[record-name] <> ''",
        "[a] == 1 and [b] != 2",
    ]:
        assert logic_problem(ok, known) is None, ok


def test_show_keeps_bracketed_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = phq9_rows()
    rows[1]["Field Label"] = "Little interest [anhedonia] or pleasure"
    path = tmp_path / "phq9.csv"
    path.write_text(dictionary(rows), encoding="utf-8")
    read_redcap_dictionary(path).write(tmp_path / "s")
    monkeypatch.setenv("REMIT_SCALES_PATH", str(tmp_path / "s"))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["scales", "show", "phq9"])
    assert result.exit_code == 0, result.output
    assert "Little interest [anhedonia] or pleasure" in result.output
