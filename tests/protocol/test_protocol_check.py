"""Each problem code of `check_protocol`, provoked by bending a small sound protocol."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from remit.errors import NotFoundError, ProtocolError
from remit.protocol import (
    PROBLEM_CODES,
    Protocol,
    builtin_protocols,
    check_protocol,
    check_text,
    load_protocol,
    protocol_from_text,
    read_protocol_source,
)
from remit.protocol._checker import Checker
from remit.protocol.check_scales import reach
from remit.protocol.check_vitals import check_vital_limit
from remit.protocol.results import ChecklistItem
from remit.scales import ValueRange

WriteProtocol = Callable[..., Path]
Bend = Callable[..., str]


def codes(text: str) -> list[str]:
    return [p.code for p in check_text(text)]


def only(text: str, code: str) -> str:
    """The single problem of ``text``, which must have ``code``; returned as a line."""
    problems = check_text(text)
    assert [p.code for p in problems] == [code], [str(p) for p in problems]
    return str(problems[0])


def test_mini_fixture_and_builtins_are_sound(mini: str) -> None:
    assert check_text(mini) == []
    for name in builtin_protocols():
        assert check_protocol(name) == [], name


def test_p001_bad_toml_names_the_line(bend: Bend) -> None:
    text = bend("window = [-3, 3]", "window = [-3, 3")
    line = only(text, "P001")
    assert "line 52, column 1" in line  # where the parser noticed the open bracket
    assert "not valid TOML" in line


def test_p002_unknown_key_with_suggestion_and_line(bend: Bend) -> None:
    text = bend('label = "Dosing"', 'labl = "Dosing"')
    problems = check_text(text)
    unknown = [p for p in problems if p.code == "P002"]
    assert len(unknown) == 1
    assert unknown[0].where == "visits[2].labl (line 46)"
    assert "did you mean 'label'" in unknown[0].todo
    # the misspelt key also leaves the real one missing
    assert [p.code for p in problems if p.code != "P002"] == ["P003"]


def test_p002_unknown_key_in_nested_table(bend: Bend) -> None:
    text = bend("every_min = 30", "every_min = 30\nevry_min = 30")
    line = only(text, "P002")
    assert "dosing[0].vitals.evry_min" in line
    assert "every_min" in line


def test_p003_missing_key(bend: Bend) -> None:
    text = bend('anchor = "consent"\n', "")
    line = only(text, "P003")
    assert "visits[0].anchor" in line
    assert "required key 'anchor' is missing" in line


def test_p004_wrong_type_and_value(bend: Bend) -> None:
    line = only(bend("target_day = 7", 'target_day = "seven"'), "P004")
    assert "visits[2].target_day" in line
    assert "'seven'" in line
    line = only(bend('rater = "investigator"', 'rater = "nurse"'), "P004")
    assert "visits[0].assessments[0].rater" in line
    assert "line 30" in line


def test_p004_between_needs_two_values(bend: Bend) -> None:
    text = bend('op = ">="\nvalue = 18', 'op = "between"\nvalue = 18')
    line = only(text, "P004")
    assert "eligibility.criteria[0]" in line
    assert "between" in line


def test_p005_unknown_scale_everywhere(bend: Bend) -> None:
    line = only(bend('scale = "cssrs"', 'scale = "cssrs9"'), "P005")
    assert "unknown scale 'cssrs9'" in line
    assert "did you mean 'cssrs'" in line
    text = bend('label = "Change"\nscale = "madrs"', 'label = "Change"\nscale = "hamd"')
    assert "P005" in codes(text)


def test_p006_unknown_scale_version(bend: Bend) -> None:
    line = only(bend('version = "baseline"', 'version = "weekly"'), "P006")
    assert "cssrs has no version 'weekly'" in line
    assert "visits[0].assessments[0].version (line 30)" in line


def test_p007_unknown_anchor(bend: Bend) -> None:
    line = only(bend('anchor = "SCR"', 'anchor = "SCRN"'), "P007")
    assert "visits[1].anchor" in line
    assert "did you mean 'SCR'" in line


def test_p008_anchor_cycle(bend: Bend) -> None:
    text = bend('anchor = "consent"', 'anchor = "END"')
    problems = check_text(text)
    cycles = [p for p in problems if p.code == "P008"]
    assert len(cycles) == 1
    assert "SCR → END → D1 → BL → SCR" in cycles[0].what


def test_p008_self_anchor(bend: Bend) -> None:
    assert "P008" in codes(bend('anchor = "SCR"', 'anchor = "BL"'))


def test_p009_duplicate_visit_code(bend: Bend) -> None:
    text = bend('code = "END"', 'code = "BL"')
    assert "P009" in codes(text)


def test_p010_inverted_window(bend: Bend) -> None:
    line = only(
        bend(
            'window = [-7, 7]\nassessments = [\n    { scale = "madrs"',
            'window = [7, -7]\nassessments = [\n    { scale = "madrs"',
        ),
        "P010",
    )
    assert "lower 7 is above upper -7" in line


def test_p011_window_opens_before_anchor_visit(bend: Bend) -> None:
    text = bend("target_day = 28\nwindow = [-7, 7]", "target_day = 2\nwindow = [-7, 7]")
    line = only(text, "P011")
    assert "opens 5 day(s) before its anchor visit D1" in line


def test_p011_overlapping_sibling_windows(bend: Bend) -> None:
    extra = """
[[visits]]
code = "FU"
label = "Follow-up"
kind = "follow-up"
anchor = "D1"
target_day = 35
window = [-7, 7]
"""
    text = bend("[[dosing]]", extra + "\n[[dosing]]")
    line = only(text, "P011")
    assert "END" in line
    assert "FU" in line
    assert "overlap" in line


def test_p011_arms_apart_do_not_overlap(bend: Bend) -> None:
    extra = """
[[arms]]
code = "B"
label = "Other"

[randomisation]
block_sizes = [4]
"""
    text = bend("[[events]]", extra + "\n[[events]]")
    overlapping = """
[[visits]]
code = "ENDB"
label = "End for arm B"
kind = "assessment"
anchor = "D1"
target_day = 28
window = [-7, 7]
arms = ["B"]
"""
    text = bend("[[dosing]]", overlapping + "\n[[dosing]]", text)
    text = bend(
        'kind = "assessment"\nanchor = "D1"',
        'kind = "assessment"\nanchor = "D1"\narms = ["A"]',
        text,
    )
    assert codes(text) == []


def test_p012_doses_above_session_maximum(bend: Bend) -> None:
    line = only(bend("supplemental_mg = 40", "supplemental_mg = 120"), "P012")
    assert "80 mg + supplemental 120 mg = 200 mg is above the session maximum of 180 mg" in line


def test_p013_offer_window_inverted(bend: Bend) -> None:
    line = only(
        bend("supplemental_offer_min = [90, 150]", "supplemental_offer_min = [150, 90]"), "P013"
    )
    assert "inverted" in line
    assert "dosing[0].supplemental_offer_min" in line


def test_p014_endpoint_to_unknown_visit(bend: Bend) -> None:
    line = only(bend('to_visit = "END"', 'to_visit = "V99"'), "P014")
    assert "endpoint chg refers to visit 'V99'" in line


def test_p014_analysis_to_unknown_visit(bend: Bend) -> None:
    extra = """
[[analysis.analyses]]
id = "desc"
kind = "descriptive"
label = "By visit"
scales = ["madrs"]
visits = ["BL", "V13"]
"""
    text = bend("[[safety.rules]]", extra + "\n[[safety.rules]]")
    line = only(text, "P014")
    assert "analysis desc refers to visit 'V13'" in line


def test_p015_dosing_on_a_non_dosing_visit(bend: Bend) -> None:
    text = bend('visit = "D1"', 'visit = "BL"')
    problems = check_text(text)
    assert [p.code for p in problems] == ["P015", "P015"]
    assert "held at BL, a baseline visit" in problems[0].what
    assert "D1 is a dosing visit but no [[dosing]] session" in problems[1].what


def test_p016_safety_rule_on_unknown_item_or_field(bend: Bend) -> None:
    line = only(bend("item = 10", "item = 11"), "P016")
    assert "madrs (default) has no item 11" in line
    text = bend("item = 10", 'field = "ideation_typ"')
    text = bend('id = "item10"\nscale = "madrs"', 'id = "item10"\nscale = "cssrs"', text)
    line = only(text, "P016")
    assert "no scored field 'ideation_typ'" in line
    assert "did you mean 'ideation_type'" in line


def test_p017_unknown_arm(bend: Bend) -> None:
    text = bend(
        'kind = "assessment"\nanchor = "D1"', 'kind = "assessment"\nanchor = "D1"\narms = ["B"]'
    )
    line = only(text, "P017")
    assert "limited to arm 'B'" in line


def test_p018_duplicate_endpoint_id_only(bend: Bend) -> None:
    text = bend('endpoints = ["resp"]', 'endpoints = ["chg"]')
    text = bend('id = "resp"', 'id = "chg"', text)
    line = only(text, "P018")
    assert "endpoint id 'chg' is used twice" in line
    assert "endpoints[1] (line 98)" in line


def test_p019_unknown_or_wrong_kind_of_endpoint(bend: Bend) -> None:
    line = only(bend('endpoints = ["resp"]', 'endpoints = ["respons"]'), "P019")
    assert "did you mean 'resp'" in line
    line = only(bend('endpoints = ["resp"]', 'endpoints = ["chg"]'), "P019")
    assert "needs a yes/no endpoint" in line


def test_p020_scale_not_assessed_where_needed(bend: Bend) -> None:
    text = bend('label = "Change"\nscale = "madrs"', 'label = "Change"\nscale = "sds"')
    problems = check_text(text)
    assert [p.code for p in problems] == ["P020", "P020"]
    assert "needs sds at BL, but BL does not assess sds" in problems[0].what


def test_p021_randomisation_does_not_fit(bend: Bend) -> None:
    text = bend("[[events]]", "[randomisation]\nblock_sizes = [4]\n\n[[events]]")
    line = only(text, "P021")
    assert "only one arm" in line
    two_arms = bend(
        "[[events]]",
        '[[arms]]\ncode = "B"\nlabel = "B"\nratio = 2\n\n'
        "[randomisation]\nblock_sizes = [4]\n\n[[events]]",
    )
    line = only(two_arms, "P021")
    assert "block size 4 is not a multiple of the allocation ratio total 3" in line


def test_p021_strata_are_declared_with_disjoint_levels() -> None:
    rct = read_protocol_source("mdma-mdd-rct-example")[0]
    assert check_text(rct) == []
    band = '[[randomisation.strata]]\nfactor = "madrs_baseline_band"'
    missing = rct.replace(band, '[[randomisation.strata]]\nfactor = "baseline_band"')
    lines = [str(p) for p in check_text(missing) if p.code == "P021"]
    assert any("'madrs_baseline_band' has no [[randomisation.strata]]" in x for x in lines)
    assert any("'baseline_band' is not in stratification" in x for x in lines)
    overlapping = rct.replace('{ code = "35+", min = 35 }', '{ code = "35+", min = 34 }')
    assert "levels '20-34' and '35+' overlap" in only(overlapping, "P021")
    site_levels = rct.replace('source = "site"\n', 'source = "site"\nlevels = [{ code = "X" }]\n')
    assert "takes its levels from the study's sites" in only(site_levels, "P021")


def test_p022_vital_limits_not_sound(bend: Bend) -> None:
    # limits out of order are refused when the file is read (P004, tests/safety/test_limits.py)
    line = only(bend("until_min = 480", "until_min = 20"), "P022")
    assert "until_min 20 is below every_min 30" in line


def test_p023_dosing_numbers(bend: Bend) -> None:
    line = only(bend("number = 1", "number = 2"), "P023")
    assert "numbered [2]" in line


def test_p024_window_misses_target(bend: Bend) -> None:
    line = only(bend("window = [-3, 3]", "window = [1, 3]"), "P024")
    assert "does not contain its target day" in line


def test_every_documented_code_is_provoked_by_a_test() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    for code in PROBLEM_CODES:
        assert f"test_{code.lower()}_" in source, f"no test for {code}"
    docs = Path(__file__).parents[2] / "docs" / "protocol.md"
    text = docs.read_text(encoding="utf-8")
    for code in PROBLEM_CODES:
        assert f"`{code}`" in text, f"{code} is not documented in docs/protocol.md"


def test_load_raises_with_every_problem(write_protocol: WriteProtocol, bend: Bend) -> None:
    text = bend('to_visit = "END"', 'to_visit = "V99"')
    text = bend("supplemental_mg = 40", "supplemental_mg = 120", text)
    path = write_protocol(text)
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    assert sorted(p.code for p in info.value.problems) == ["P012", "P014"]
    assert "2 problems" in str(info.value)
    assert "remit protocol check" in str(info.value)


def test_check_file_and_missing_file(
    write_protocol: WriteProtocol, tmp_path: Path, bend: Bend
) -> None:
    path = write_protocol(bend("item = 10", "item = 11"))
    assert [p.code for p in check_protocol(path)] == ["P016"]
    with pytest.raises(NotFoundError):
        check_protocol(tmp_path / "absent.toml")


def test_text_and_hash_travel_with_the_model(mini: str) -> None:
    protocol = protocol_from_text(mini, "mini")
    assert protocol.text == mini
    assert protocol.source == "mini"
    import hashlib

    assert protocol.sha256 == hashlib.sha256(mini.encode()).hexdigest()
    other = protocol_from_text(mini + "\n# a comment\n")
    assert other.sha256 != protocol.sha256


def test_models_are_frozen(mini: str) -> None:
    protocol = protocol_from_text(mini)
    with pytest.raises(Exception, match="frozen"):
        protocol.visits[0].target_day = 3  # type: ignore[misc]


def test_p003_missing_kind_of_endpoint(bend: Bend) -> None:
    line = only(bend('id = "chg"\nkind = "change"\n', 'id = "chg"\n'), "P003")
    assert line.startswith("P003 endpoints[0] (line 89): required key 'kind' is missing")


def test_p004_unknown_kind_of_analysis(bend: Bend) -> None:
    line = only(bend('kind = "proportion"', 'kind = "proportions"'), "P004")
    assert "analysis.analyses[0]" in line
    assert "'proportion'" in line


def test_p002_misspelt_table_is_located(bend: Bend) -> None:
    problems = check_text(bend("[[events]]", "[[evnts]]"))
    assert [p.code for p in problems] == ["P002"]
    assert problems[0].where == "evnts (line 18)"
    assert "did you mean 'events'" in problems[0].todo


@pytest.mark.parametrize("kind", ["time_to_event", "lmm"])
def test_p002_unknown_key_in_an_analysis_of_any_kind_is_located(kind: str) -> None:
    # pydantic puts the union tag (the kind) into the error location; every kind is dropped
    text = load_protocol("oslo-mdma-mdd").text
    at = text.index(f'kind = "{kind}"')
    (problem,) = check_text(text[:at] + "bogus_key = 1\n" + text[at:])
    assert problem.code == "P002"
    assert problem.where.startswith("analysis.analyses[")
    assert f".{kind}." not in problem.where
    assert "allowed here" in problem.todo


def test_p007_anchor_visit_missing_from_an_arm(bend: Bend) -> None:
    two_arms = bend(
        "[[events]]",
        '[[arms]]\ncode = "B"\nlabel = "B"\n\n[randomisation]\nblock_sizes = [2]\n\n[[events]]',
    )
    text = bend(
        'kind = "dosing"\nanchor = "BL"', 'kind = "dosing"\nanchor = "BL"\narms = ["A"]', two_arms
    )
    line = only(text, "P007")
    assert "END is anchored to D1, which arm(s) B never attend" in line
    text = bend(
        'kind = "assessment"\nanchor = "D1"',
        'kind = "assessment"\nanchor = "D1"\narms = ["A"]',
        text,
    )
    assert check_text(text) == []


def test_p004_mmrm_formula_with_unknown_term(bend: Bend) -> None:
    extra = """
[[analysis.analyses]]
id = "mmrm"
kind = "mmrm"
label = "MMRM"
scales = ["madrs"]
baseline_visit = "BL"
visits = ["BL", "END"]
formula = "vist"
"""
    line = only(bend("[[safety.rules]]", extra + "\n[[safety.rules]]"), "P004")
    assert "formula 'vist' uses 'vist'" in line


def test_p025_arm_terms_in_a_one_arm_protocol(bend: Bend) -> None:
    extra = """
[[analysis.analyses]]
id = "mmrm"
kind = "mmrm"
label = "MMRM"
scales = ["madrs"]
baseline_visit = "BL"
visits = ["BL", "END"]
formula = "arm * visit"
"""
    line = only(bend("[[safety.rules]]", extra + "\n[[safety.rules]]"), "P025")
    assert "models arm ('arm * visit'" in line
    assert "has one arm" in line


def test_p026_endpoint_baseline_differs_from_the_protocol_baseline(mini: str) -> None:
    text = mini + '\n[baseline]\nmadrs = "END"\n'
    line = only(text, "P026")
    assert "resp takes BL as the baseline of madrs" in line
    assert "endpoints[1].baseline_visit" in line
    allowed = text.replace('baseline_visit = "BL"', 'baseline_visit = "BL"\nown_baseline = true')
    assert check_text(allowed) == []


def test_p026_compare_to_baseline_on_a_scale_without_one(mini: str) -> None:
    rule = (
        '\n[[safety.rules]]\nid = "gad_up"\nscale = "gad7"\nfield = "total"\nop = ">"\n'
        'value = 5\ncompare_to = "baseline"\nlevel = "review"\ntext = "GAD-7 up"\n'
    )
    line = only(mini + rule, "P026")
    assert "gad7, which has no baseline visit" in line


def test_baseline_table_names_known_visits_and_assessed_scales(mini: str) -> None:
    assert codes(mini + '\n[baseline]\ndefault = "BL"\ncssrs = "SCR"\n') == []
    assert codes(mini + '\n[baseline]\ndefault = "V9"\n') == ["P014"]
    assert codes(mini + '\n[baseline]\nmadrs = "SCR"\n') == ["P020", "P026"]
    assert codes(mini + '\n[baseline]\nhamd = "BL"\n') == ["P005"]
    assert codes(mini + "\n[baseline]\nmadrs = 3\n") == ["P004"]


def test_baseline_visit_is_one_rule(mini: str) -> None:
    p = protocol_from_text(mini + '\n[baseline]\ndefault = "BL"\n')
    assert p.baseline_visit("madrs") == "BL"
    assert p.baseline_visit("cssrs") == "SCR"  # not assessed at the default: the last one before
    with pytest.raises(NotFoundError, match="no baseline visit"):
        p.baseline_visit("gad7")
    # without [baseline]: the endpoint's baseline, else the last visit up to the reference visit
    plain = protocol_from_text(mini)
    assert (plain.baseline_visit("madrs"), plain.baseline_visit("cssrs")) == ("BL", "SCR")
    oslo = load_protocol("oslo-mdma-mdd")
    assert oslo.baseline_visit("madrs") == "V3"  # published: baseline MADRS (T1) at V3
    assert oslo.baseline_visit("cssrs") == "SCR"  # published: C-SSRS baseline form at screening


def test_p018_visit_numbers(bend: Bend, mini: str) -> None:
    protocol = protocol_from_text(mini)
    assert [protocol.visit_number(c) for c in protocol.visit_codes] == [1.0, 2.0, 3.0, 4.0]
    numbered = bend('code = "D1"\nlabel = "Dosing"', 'code = "D1"\nlabel = "Dosing"\nnumber = 2.5')
    assert protocol_from_text(numbered).visit_number("D1") == 2.5
    line = only(
        bend('code = "D1"\nlabel = "Dosing"', 'code = "D1"\nlabel = "Dosing"\nnumber = 2'), "P018"
    )
    assert "visit number 2.0 is used twice" in line


# ---- thresholds, cut-offs, vital-sign limits and raters against the scales and signs -------

CSSRS_RULE = (
    '\n[[safety.rules]]\nid = "ideation"\nscale = "cssrs"\nfield = "{field}"\nop = "{op}"\n'
    'value = {value}\nlevel = "urgent"\ntext = "C-SSRS"\n'
)
REMISSION = """
[[endpoints]]
id = "rem"
kind = "remission"
role = "secondary"
label = "Remission"
scale = "madrs"
visits = ["END"]
max_total = {cut}
"""


def criterion(field: str, op: str, value: str, kind: str = "inclusion") -> str:
    return (
        f'\n[[eligibility.criteria]]\nid = "c_{field}"\nkind = "{kind}"\nfield = "{field}"\n'
        f'op = "{op}"\nvalue = {value}\ntext = "criterion on {field}"\n'
    )


def with_remission(bend: Bend, cut: str) -> str:
    return bend("[[analysis.analyses]]", REMISSION.format(cut=cut) + "\n[[analysis.analyses]]")


@pytest.mark.parametrize(
    ("op", "value", "found"),
    [
        (">=", 6, None), (">=", 7, "never"), (">=", 0, "always"), (">=", -1, "always"),
        (">", 5, None), (">", 6, "never"), (">", -1, "always"), (">", 0, None),
        ("<=", 0, None), ("<=", -1, "never"), ("<=", 6, "always"), ("<=", 5, None),
        ("<", 1, None), ("<", 0, "never"), ("<", 7, "always"), ("<", 6, None),
        ("==", 6, None), ("==", 7, "never"), ("==", -1, "never"),
        ("!=", 6, None), ("!=", 7, "always"),
    ],
)  # fmt: skip
def test_p027_reach_at_every_boundary(op: str, value: float, found: str | None) -> None:
    assert reach(ValueRange(0, 6), op, value) == found


def test_p027_item_threshold_above_the_item_range(bend: Bend) -> None:
    assert codes(bend("value = 4\nlevel", "value = 6\nlevel")) == []
    line = only(bend("value = 4\nlevel", "value = 7\nlevel"), "P027")
    assert "safety.rules[0].value" in line
    assert "item 10 of madrs ranges 0–6, so >= 7 is never true: the rule can never fire" in line
    assert "give a threshold within 0–6" in line


def test_p027_ideation_type_out_of_range(mini: str) -> None:
    assert codes(mini + CSSRS_RULE.format(field="ideation_type", op=">=", value=5)) == []
    line = only(mini + CSSRS_RULE.format(field="ideation_type", op=">=", value=9), "P027")
    assert "ideation_type of cssrs ranges 0–5, so >= 9 is never true" in line
    line = only(mini + CSSRS_RULE.format(field="ideation_intensity", op=">", value=25), "P027")
    assert "ideation_intensity of cssrs ranges 0–25" in line


def test_p027_always_true_and_compare_to_baseline(bend: Bend) -> None:
    total = bend("item = 10", 'field = "total"')
    line = only(bend("value = 4\nlevel", "value = 0\nlevel", total), "P027")
    assert "total of madrs ranges 0–60, so >= 0 is always true: the rule fires on every form" in (
        line
    )
    change = bend("value = 4\nlevel", 'value = 60\ncompare_to = "baseline"\nlevel', total)
    assert codes(change) == []
    change = bend("value = 4\nlevel", 'value = 61\ncompare_to = "baseline"\nlevel', total)
    line = only(change, "P027")
    assert "the change of total from baseline of madrs ranges -60–60" in line


def test_p028_yes_no_compared_with_a_number(mini: str, bend: Bend) -> None:
    assert codes(mini + CSSRS_RULE.format(field="any_behaviour", op="==", value="true")) == []
    line = only(mini + CSSRS_RULE.format(field="any_behaviour", op=">=", value=1), "P028")
    assert "any_behaviour of cssrs is a yes/no, compared with the number 1" in line
    assert "compare it with true or false" in line
    line = only(bend("value = 4\nlevel", "value = true\nlevel"), "P028")
    assert "item 10 of madrs is a number (0–6), compared with true" in line
    line = only(mini + criterion("cssrs_any_behaviour", "==", "1", "exclusion"), "P028")
    assert "eligibility criterion c_cssrs_any_behaviour" in line


def test_p029_remission_cut_off_outside_the_total(bend: Bend) -> None:
    assert codes(with_remission(bend, "10")) == []
    line = only(with_remission(bend, "70"), "P029")
    assert "endpoints[2].max_total" in line
    assert "madrs total ≤ 70 is always true on a total of 0–60" in line
    assert "every participant counts as in remission" in line
    line = only(with_remission(bend, "-1"), "P029")
    assert "no participant can ever be in remission" in line


def test_p029_eligibility_on_a_scale_value(mini: str) -> None:
    assert codes(mini + criterion("madrs_total", ">=", "20")) == []
    line = only(mini + criterion("madrs_total", ">=", "70"), "P029")
    assert "c_madrs_total: madrs_total >= 70 is never true on madrs values of 0–60" in line
    assert "no one can be included" in line
    line = only(mini + criterion("cssrs_ideation_type", ">=", "9", "exclusion"), "P029")
    assert "it never excludes anyone" in line
    line = only(mini + criterion("madrs_total", "between", "[0, 60]", "exclusion"), "P029")
    assert "everyone is excluded" in line
    # a field that names no scale value is not checked
    assert codes(mini + criterion("madrs_entry_score", ">=", "700")) == []


def test_p029_rtm_cut_off(bend: Bend) -> None:
    rtm = """
[[analysis.analyses]]
id = "rtm"
kind = "rtm"
label = "RTM"
scale = "madrs"
visit = "BL"
reliability = [0.7, 0.9]
population_means = [25.0]
entry_cutoff = {cut}
"""
    assert codes(bend("[[safety.rules]]", rtm.format(cut=20) + "\n[[safety.rules]]")) == []
    line = only(bend("[[safety.rules]]", rtm.format(cut=80) + "\n[[safety.rules]]"), "P029")
    assert "analysis rtm: entry cutoff 80 is outside the madrs total's range 0–60" in line


@pytest.mark.parametrize(
    ("sign", "value", "side", "effect"),
    [
        # a limit on the edge of the plausible range is as useless as one beyond it
        ("systolic_bp", 299, "high", None), ("systolic_bp", 300, "high", "never"),
        ("systolic_bp", 301, "high", "never"),
        ("systolic_bp", 51, "high", None), ("systolic_bp", 50, "high", "always"),
        ("systolic_bp", 49, "high", "always"),
        ("heart_rate", 21, "low", None), ("heart_rate", 20, "low", "never"),
        ("heart_rate", 19, "low", "never"),
        ("heart_rate", 249, "low", None), ("heart_rate", 250, "low", "always"),
        ("heart_rate", 251, "low", "always"),
        ("temperature", 44.9, "high", None), ("temperature", 45.0, "high", "never"),
        ("temperature", 45.1, "high", "never"),
    ],
)  # fmt: skip
def test_p030_check_vital_limit_at_the_plausible_bounds(
    mini: str, sign: str, value: float, side: str, effect: str | None
) -> None:
    c = Checker(protocol_from_text(mini))
    sound = check_vital_limit(c, sign, value, ("x",), side=side, what="rule t")  # type: ignore[arg-type]
    assert sound == (effect is None)
    if effect is None:
        assert c.problems == []
        return
    (problem,) = c.problems
    assert problem.code == "P030"
    assert problem.what.startswith(f"rule t: {sign} {side} limit {value:g} ")
    words = "no reading can ever cross it" if effect == "never" else "every reading crosses it"
    assert problem.what.endswith(words)


def test_p030_temperature_in_fahrenheit_and_a_unit_not_the_signs(mini: str) -> None:
    c = Checker(protocol_from_text(mini))
    assert not check_vital_limit(c, "temperature", 100.4, ("x",))
    assert "temperature high limit 100.4 °C is above the plausible range 25–45 °C" in (
        c.problems[0].what
    )
    assert c.problems[0].todo.startswith(
        "100.4 looks like degrees Fahrenheit (°F); in °C it is 38.0: give a limit within 25–45"
    )
    assert check_vital_limit(c, "heart_rate", 45, ("x",), side="low", unit="/min")
    assert not check_vital_limit(c, "temperature", 38.0, ("x",), unit="°F", what="rule t")
    assert [p.code for p in c.problems] == ["P030", "P030"]
    assert c.problems[1].what == (
        "rule t: temperature limit 38 is given in °F, but temperature is recorded in °C"
    )


def test_p030_eligibility_limit_on_a_sign(mini: str) -> None:
    line = only(mini + criterion("systolic_bp", ">", "1400", "exclusion"), "P030")
    assert "eligibility.criteria[1].value" in line
    assert "eligibility criterion c_systolic_bp: systolic_bp high limit 1400 mmHg" in line
    assert codes(mini + criterion("systolic_bp", ">", "140", "exclusion")) == []
    line = only(mini + criterion("heart_rate", "<", "3", "exclusion"), "P030")
    assert "heart_rate low limit 3 /min is below the plausible range" in line


def test_vital_sign_limits_in_the_protocol_say_the_p030_words(bend: Bend) -> None:
    # the safety table's tiers (and the dosing sessions' dose-stop and discharge limits) are
    # refused where the protocol is read (P004), in the words of VitalSignDef.limit_problem
    # that P030 uses for the limits the model does not check
    line = only(bend("high = { urgent = 160 }", "high = { urgent = 400 }"), "P004")
    assert "safety.vitals" in line
    assert (
        "urgent tier: systolic_bp high limit 400 mmHg is above the plausible range 50–300" in line
    )
    fever = '[safety.vitals.limits.temperature]\nhigh = { urgent = 100.4 }\nunit = "°C"\n\n'
    anchor = "[safety.vitals.limits.heart_rate]"
    line = only(bend(anchor, fever + anchor), "P004")
    assert "100.4 looks like degrees Fahrenheit (°F); in °C it is 38.0" in line
    line = only(bend(anchor, fever.replace('"°C"', '"°F"') + anchor), "P004")
    assert "temperature limit 100.4 is given in °F, but temperature is recorded in °C" in line


def test_p031_clinician_rated_scale_given_as_self_report(bend: Bend) -> None:
    line = only(bend('rater = "independent_rater"', 'rater = "self_report"'), "P031")
    assert "visits[1].assessments[0].rater" in line
    assert "BL gives madrs, a clinician-rated scale, to rater 'self_report'" in line
    assert "'independent_rater' or 'therapist' or 'investigator'" in line
    line = only(bend('rater = "investigator"', 'rater = "self_report"'), "P031")
    assert "SCR gives cssrs, a clinician-rated scale" in line


def test_p031_self_report_scale_given_to_a_clinician(bend: Bend) -> None:
    gad = '    { scale = "gad7", rater = "self_report" },\n]'
    madrs = '    { scale = "madrs", rater = "independent_rater" },\n]'
    assert codes(bend(madrs, madrs[:-1] + gad)) == []
    line = only(bend(madrs, madrs[:-1] + gad.replace("self_report", "therapist")), "P031")
    assert "BL gives gad7, a self-report scale, to rater 'therapist'" in line
    assert "set rater to 'self_report'" in line


def test_p006_p016_rule_on_what_the_scale_lacks_is_reported_once(mini: str) -> None:
    rule = CSSRS_RULE.format(field="ideation_type", op=">=", value=4)
    line = only(mini + rule.replace('level = "urgent"', 'versions = ["weekly"]\nlevel = "urgent"'),
                "P006")  # fmt: skip
    assert "scale cssrs has no version 'weekly'" in line
    line = only(mini + CSSRS_RULE.format(field="ideation_kind", op=">=", value=9), "P016")
    assert "no scored field 'ideation_kind'" in line


def test_p030_limit_tables_are_found_wherever_a_model_holds_them() -> None:
    from pydantic import BaseModel

    from remit.protocol.check_vitals import limit_tables
    from remit.protocol.dosing import VitalThreshold

    class Stop(BaseModel):
        limits: dict[str, VitalThreshold]
        minutes: int = 30

    class Session(BaseModel):
        stops: tuple[Stop, ...]
        other: dict[str, int]

    session = Session(
        stops=(Stop(limits={}), Stop(limits={"temperature": VitalThreshold(high=100.4)})),
        other={"a": 1},
    )
    found = list(limit_tables(session))
    assert [path for path, _ in found] == [("stops", 1, "limits")]
    assert found[0][1]["temperature"].high == 100.4


def test_p031_every_respondent_has_its_raters() -> None:
    from remit.protocol.check_scales import CLINICIAN_RATERS, RATED_BY, RESPONDENT_WORDS
    from remit.scales.model import RESPONDENTS

    # the study team's raters are the protocol raters that are user roles (protocol/roles.py)
    assert CLINICIAN_RATERS == ("independent_rater", "therapist", "investigator")
    assert set(RATED_BY) == set(RESPONDENT_WORDS) == set(RESPONDENTS)
    assert RATED_BY["self"] == ("self_report",)
    assert RATED_BY["investigator"] == ("investigator",)


def test_p032_a_level_the_rules_raise_that_no_one_is_told_of() -> None:
    from remit.protocol import load_protocol
    from remit.protocol.check import check_model

    oslo = load_protocol("oslo-mdma-mdd")
    assert oslo.safety.notify is not None
    only_immediate = oslo.safety.notify.model_copy(
        update={"levels": tuple(e for e in oslo.safety.notify.levels if e.level == "immediate")}
    )
    bent = oslo.model_copy(
        update={"safety": oslo.safety.model_copy(update={"notify": only_immediate})}
    )
    found = [p for p in check_model(bent) if p.code == "P032"]
    assert [p.what.split(" alerts")[0] for p in found] == ["urgent", "same_day", "review"]
    assert "madrs_item10" in found[1].what
    assert "add a [[safety.notify.levels]] entry with level = 'review'" in found[2].todo
    assert [p.code for p in check_model(oslo)] == []


def test_p033_nesting_too_deep() -> None:
    # the full reproduction (10 000 levels through `remit protocol check`) is in
    # tests/protocol/test_protocol_depth.py
    text = "format_version = 1\nx = " + "[" * 10_000 + "]" * 10_000 + "\n"
    assert [p.code for p in check_text(text)] == ["P033"]


def sourced(visit: str, scale: str, value: str, extra: str = "") -> str:
    """An exclusion criterion that reads ``value`` of the ``scale`` form at ``visit``."""
    return (
        f'\n[[eligibility.criteria]]\nid = "c_source"\nkind = "exclusion"\nfield = "f"\n'
        f'op = ">="\nvalue = 4\ntext = "read from a form"\n'
        f'source = {{ visit = "{visit}", scale = "{scale}", value = "{value}" }}\n{extra}'
    )


def test_p034_a_criterion_source_names_an_unknown_visit_scale_or_value(mini: str) -> None:
    assert codes(mini + sourced("SCR", "cssrs", "ideation_type")) == []
    assert codes(mini + sourced("BL", "madrs", "total")) == []
    assert codes(mini + sourced("BL", "madrs", "10")) == []  # an item
    line = only(mini + sourced("SCREEN", "cssrs", "ideation_type"), "P034")
    assert "c_source reads cssrs ideation_type at SCREEN" in line
    assert "'SCREEN' is not a visit of the protocol" in line
    line = only(mini + sourced("BL", "cssrs", "ideation_type"), "P034")
    assert "BL gives no cssrs form" in line
    assert "(madrs)" in line
    line = only(mini + sourced("SCR", "cssrs", "ideation_kind"), "P034")
    assert "reports no 'ideation_kind'" in line
    # completed suicide is asked on the since-last-visit form only, not at screening
    only(mini + sourced("SCR", "cssrs", "suicide"), "P034")


def test_p035_enrolment_visits_and_deferred_criteria(mini: str) -> None:
    deferred = sourced("BL", "madrs", "total", 'stage = "confirmation"\n')
    line = only(mini + deferred, "P035")
    assert "c_source are checked at the confirmation" in line
    confirm = '\n[enrolment]\nenrol_at = "SCR"\nconfirm_at = "BL"\n'
    assert codes(mini + deferred + confirm) == []
    backwards = '\n[enrolment]\nenrol_at = "BL"\nconfirm_at = "SCR"\n'
    line = only(mini + backwards, "P035")
    assert "confirms enrolment at SCR, not after enrolment at BL" in line
    unknown = '\n[enrolment]\nenrol_at = "V0"\n'
    line = only(mini + unknown, "P035")
    assert "enrol_at = 'V0' is not a visit" in line


def _with_items(oslo: Protocol, *items: ChecklistItem) -> Protocol:
    """``oslo`` with ``items`` added to the first dosing session's pre-dose checklist."""
    first = oslo.dosing[0]
    assert first.checklist is not None
    checklist = first.checklist.model_copy(update={"items": (*first.checklist.items, *items)})
    session = first.model_copy(update={"checklist": checklist})
    return oslo.model_copy(update={"dosing": (session, *oslo.dosing[1:])})


def test_p036_a_checklist_result_item_without_a_declared_test() -> None:
    from remit.protocol.check import check_model

    oslo = load_protocol("oslo-mdma-mdd")
    bent = _with_items(
        oslo,
        ChecklistItem(id="hiv", kind="result", test="hiv_test", within_days=7, text="HIV"),
        ChecklistItem(id="bare", kind="result", within_days=7, text="no test"),
        # taken only at V9, after the first session at V5
        ChecklistItem(id="late", kind="result", test="ecg_qtc", within_days=7, text="QTc"),
    )
    bent = bent.model_copy(
        update={
            "results": bent.results.model_copy(
                update={
                    "tests": tuple(
                        t.model_copy(update={"visits": ("V9",)}) if t.code == "ecg_qtc" else t
                        for t in bent.results.tests
                    )
                }
            )
        }
    )
    found = [p for p in check_model(bent) if p.code == "P036"]
    assert len(found) == 3
    assert "'hiv_test', which [results] does not declare" in found[0].what
    assert "is a result item without a test" in found[1].what
    assert "taken only at V9, none of them at or before V5" in found[2].what


def test_p037_unsound_checklist_items() -> None:
    from remit.protocol.check import check_model

    oslo = load_protocol("oslo-mdma-mdd")
    bent = _with_items(
        oslo,
        ChecklistItem(id="bp", kind="vitals", overridable=True, text="BP"),
        ChecklistItem(id="uds2", kind="result", test="urine_drug_screen", text="any age"),
        ChecklistItem(id="c", kind="confirm", test="tsh", within_min=5, text="tick"),
        ChecklistItem(id="bp", kind="confirm", text="twice"),
    )
    found = check_model(bent)
    p034 = [p.what for p in found if p.code == "P037"]
    assert any("vitals item marked overridable" in w for w in p034)
    assert any("'uds2' of dosing session 1 has no within_days" in w for w in p034)
    assert any("confirm item but names test 'tsh'" in w for w in p034)
    assert any("has within_min, which only a vitals item reads" in w for w in p034)
    assert [p.code for p in found if "declared twice" in p.what] == ["P018"]


def test_p038_unknown_site_time_zone(bend: Bend) -> None:
    sites = 'reference_visit = "BL"\nsites = [{ code = "S1", name = "Site", time_zone = "%s" }]'
    line = only(bend('reference_visit = "BL"', sites % "Europe/Olso"), "P038")
    assert "study.sites[0].time_zone" in line
    assert "time zone 'Europe/Olso' of site S1 is not a known IANA zone" in line
    assert "did you mean 'Europe/Oslo'" in line
    assert codes(bend('reference_visit = "BL"', sites % "Europe/Oslo")) == []
    assert codes(bend('reference_visit = "BL"', sites % "CET+1")) == ["P038"]
    no_zone = 'reference_visit = "BL"\nsites = [{ code = "S1", name = "Site" }]'
    assert codes(bend('reference_visit = "BL"', no_zone)) == []  # absent: UTC


def test_p039_period_limit_not_sound(bend: Bend) -> None:
    end = 'target_day = 28\nwindow = [-7, 7]\nassessments = [\n    { scale = "madrs"'
    sound = end.replace("window = [-7, 7]", "window = [-7, 7]\nperiod = %s")
    # END is planned 35 days after BL (7 + 28): a 35 ± 7 day period contains it
    assert codes(bend(end, sound % '{ from = "BL", days = 35, tolerance = 7 }')) == []
    line = only(bend(end, sound % '{ from = "BL", days = 56, tolerance = 7 }'), "P039")
    assert "END is planned 35 days after BL, outside its period limit (56 ± 7 days: 49…63)" in line
    line = only(bend(end, sound % '{ from = "BX", days = 35, tolerance = 7 }'), "P039")
    assert "counts from 'BX', which is neither a visit nor an event" in line
    line = only(bend(end, sound % '{ from = "END", days = 35, tolerance = 7 }'), "P039")
    assert "not an earlier visit" in line
    assert codes(bend(end, sound % '{ from = "BL", days = 35, tolerance = -1 }')) == ["P004"]


# --------------------------------------------------------------------------- blinding (P041)


def test_p041_blinding_not_sound(bend: Bend) -> None:
    open_label = bend("[[events]]", '[blinding]\nblinded_roles = ["monitor"]\n\n[[events]]')
    assert "the protocol does not randomise" in only(open_label, "P041")
    rct = read_protocol_source("mdma-mdd-rct-example")[0]
    roles = 'blinded_roles = ["investigator", "therapist",'
    typo = rct.replace(roles, 'blinded_roles = ["investigatr", "therapist",')
    line = only(typo, "P041")
    assert "unknown role 'investigatr'" in line
    assert "did you mean 'investigator'" in line
    holder = rct.replace(roles, 'blinded_roles = ["unblinded_statistician", "therapist",')
    assert "holds the randomisation list and cannot be blinded" in only(holder, "P041")
    breaker = rct.replace(
        'emergency_unblinding = ["investigator"]',
        'emergency_unblinding = ["unblinded_statistician"]',
    )
    assert "sees every arm already" in only(breaker, "P041")
    loaded = load_protocol("mdma-mdd-rct-example").blinding
    assert loaded is not None
    assert loaded.blinds("independent_rater")
    assert not loaded.blinds("unblinded_statistician")


def test_p041_a_rater_blind_to_safety_data_is_told_of_no_alert_nor_sees_the_dosing_day() -> None:
    rct = read_protocol_source("mdma-mdd-rct-example")[0]
    chain = 'level = "urgent"\nroles = ["investigator"]'
    assert chain in rct
    told = rct.replace(chain, 'level = "urgent"\nroles = ["investigator", "independent_rater"]')
    line = only(told, "P041")
    assert "tells the independent rater of urgent alerts" in line
    assert "rater_sees_safety = true" in line
    dosing = rct.replace("rater_sees_dosing = false", "rater_sees_dosing = true")
    assert "the dosing day shows its vital signs and adverse events" in only(dosing, "P041")
    # the protocol may let the rater see the safety data: then both are sound
    assert rct.count("rater_sees_safety = false") == 1
    for text in (told, dosing):
        sound = text.replace("rater_sees_safety = false", "rater_sees_safety = true")
        assert codes(sound) == [], codes(sound)


# --------------------------------------------------------------------------- estimands (P040)

_TIPPING = """
[[analysis.analyses]]
id = "tip"
kind = "rbmi"
label = "Tipping point"
scales = ["madrs"]
baseline_visit = "BL"
visits = ["END"]
tipping_deltas = [0, 2, 4]
"""

_ESTIMAND = """
[[estimands]]
id = "main"
label = "Mean change, had everyone completed treatment"
population = "everyone enrolled"
endpoint = "chg"
treatment = "the one arm"
summary = "mean"
analysis = "tip"

[[estimands.intercurrent_events]]
event = "treatment_discontinuation"
strategy = "hypothetical"
"""


def _with_estimand(bend: Bend, estimand: str = _ESTIMAND, analyses: str = _TIPPING) -> str:
    return bend("[[safety.rules]]", analyses + "\n" + estimand + "\n[[safety.rules]]")


def test_p040_a_sound_estimand_passes(bend: Bend) -> None:
    text = _with_estimand(bend)
    assert check_text(text) == []
    p = protocol_from_text(text)
    assert p.estimands[0].intercurrent_events[0].strategy == "hypothetical"


def test_p040_unknown_endpoint_and_analysis(bend: Bend) -> None:
    line = only(_with_estimand(bend, _ESTIMAND.replace('"chg"', '"chng"')), "P040")
    assert "endpoint 'chng', which is not in the protocol" in line
    assert "did you mean 'chg'" in line
    line = only(_with_estimand(bend, _ESTIMAND.replace('"tip"', '"tipp"')), "P040")
    assert "analysis 'tipp' is not an analysis of the plan" in line
    estimand = _ESTIMAND.replace('analysis = "tip"', 'analysis = "tip"\nsensitivity = ["tip"]')
    assert "both the main and a sensitivity" in only(_with_estimand(bend, estimand), "P040")


def test_p040_strategy_with_no_method(bend: Bend) -> None:
    estimand = _ESTIMAND.replace('"chg"', '"resp"').replace('"mean"', '"proportion"')
    estimand = estimand.replace('analysis = "tip"', 'analysis = "props"')
    line = only(_with_estimand(bend, estimand), "P040")
    assert "strategy hypothetical for treatment_discontinuation has no method" in line
    assert "props is a proportion analysis" in line
    assert "lmm, mmrm, rbmi" in line
    stratum = _ESTIMAND.replace('"hypothetical"', '"principal_stratum"')
    line = only(_with_estimand(bend, stratum), "P040")
    assert "no analysis of Remit estimates it" in line
    # composite on a change endpoint: the event cannot be part of a continuous outcome
    composite = _ESTIMAND.replace('"hypothetical"', '"composite"')
    problems = [str(p) for p in check_text(_with_estimand(bend, composite))]
    assert any(
        "composite strategy for treatment_discontinuation needs a yes/no" in p for p in problems
    )


def test_p040_summary_and_duplicate_event(bend: Bend) -> None:
    line = only(_with_estimand(bend, _ESTIMAND.replace('"mean"', '"difference_in_means"')), "P040")
    assert "compares arms but the protocol has one arm" in line
    line = only(_with_estimand(bend, _ESTIMAND.replace('"mean"', '"proportion"')), "P040")
    assert "does not fit the change endpoint chg" in line
    twice = (
        _ESTIMAND
        + '\n[[estimands.intercurrent_events]]\nevent = "treatment_discontinuation"\n'
        + 'strategy = "treatment_policy"\n'
    )
    line = only(_with_estimand(bend, twice), "P040")
    assert "declared twice" in line
    assert only(_with_estimand(bend, _ESTIMAND + _ESTIMAND), "P018")


def test_p040_hypothetical_estimand_with_jump_to_reference(bend: Bend) -> None:
    two_arms = bend("[[events]]", '[[arms]]\ncode = "B"\nlabel = "B"\n\n[[events]]')
    j2r = _TIPPING.replace("tipping_deltas = [0, 2, 4]", 'strategy = "j2r"\nreference = "A"')
    estimand = _ESTIMAND.replace('"mean"', '"difference_in_means"')
    line = only(_with_estimand(lambda o, n: two_arms.replace(o, n, 1), estimand, j2r), "P040")
    assert "imputes by j2r" in line
    assert "targets a treatment-policy question" in line


def test_p025_reference_based_imputation_in_a_one_arm_protocol(bend: Bend) -> None:
    j2r = _TIPPING.replace("tipping_deltas = [0, 2, 4]", 'strategy = "j2r"\nreference = "A"')
    line = only(bend("[[safety.rules]]", j2r + "\n[[safety.rules]]"), "P025")
    assert "imputes from a reference arm" in line
    unknown = _TIPPING.replace("tipping_deltas = [0, 2, 4]", 'reference = "PBO"')
    problems = codes(bend("[[safety.rules]]", unknown + "\n[[safety.rules]]"))
    assert problems == ["P017", "P025"]


# ------------------------------------------------------------------------ demographics (P042)


def test_p042_demographics_not_sound(bend: Bend) -> None:
    justified = 'justification = "asked by a regulator"\n'
    typo = bend("[[events]]", f'[demographics]\ncollect = ["rase"]\n{justified}\n[[events]]')
    line = only(typo, "P042")
    assert "unknown characteristic 'rase'" in line
    assert "did you mean 'race'" in line
    both = '["race", "race"]'
    twice = bend("[[events]]", f"[demographics]\ncollect = {both}\n{justified}\n[[events]]")
    assert "listed twice" in only(twice, "P042")
    silent = bend("[[events]]", '[demographics]\ncollect = ["ethnicity"]\n\n[[events]]')
    assert "without a justification" in only(silent, "P042")
    sound = bend("[[events]]", f'[demographics]\ncollect = ["race"]\n{justified}\n[[events]]')
    assert "P042" not in codes(sound)
    assert not load_protocol("oslo-mdma-mdd").demographics.collects("race")
    rct = load_protocol("mdma-mdd-rct-example").demographics
    assert rct.collects("race")
    assert rct.collects("ethnicity")
