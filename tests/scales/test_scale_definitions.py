"""Every shipped definition loads and is self-consistent; the loader refuses bad definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from remit.errors import NotFoundError, ScaleError
from remit.scales import (
    RULES,
    list_scales,
    load_scale,
    load_scale_file,
    load_wording,
    parse_scale,
    total_parts,
)
from remit.scales.consistency import _score_range

EXPECTED = ["bdi2", "cssrs", "gad7", "isi", "madrs", "pcl5", "psqi", "sds", "se_vas"]


def test_list_scales_is_sorted_and_complete() -> None:
    assert list_scales() == EXPECTED


@pytest.mark.parametrize("code", EXPECTED)
def test_definition_is_self_consistent(code: str) -> None:
    d = load_scale(code)
    assert d.code == code
    assert d.respondent in ("clinician", "self", "investigator")
    assert d.versions
    assert d.items == d.items_for(d.versions[0])
    for version in d.versions:
        items = d.items_for(version)
        codes = [it.code for it in items]
        refs = [it.ref for it in items]
        assert len(set(codes)) == len(codes)
        assert len(set(refs)) == len(refs)
        assert [it.number for it in items] == list(range(1, len(items) + 1))
        for it in items:
            assert it.label
            assert it.wording is None
            if it.kind in ("integer", "number"):
                assert it.min is not None
                assert it.max is not None
                assert it.min <= it.max
        # subscale items exist (as items or earlier subscales)
        seen: set[str] = set(codes)
        for s in d.subscales_for(version):
            assert s.items
            assert set(s.items) <= seen, (s.code, set(s.items) - seen)
            seen.add(s.code)
        for dv in d.derived_for(version):
            assert dv.rule in RULES
        if d.total is not None:
            assert d.total_range is not None
            parts = total_parts(d, version)
            assert parts
            if d.total.source == "items":
                by_code = {it.code: it for it in items}
                ranges = [_score_range(by_code[p]) for p in parts]
            else:
                subs = {s.code: s for s in d.subscales_for(version)}
                ranges = [subs[p].range for p in parts]
            assert all(r is not None for r in ranges)
            assert sum(r[0] for r in ranges if r) == d.total_range[0]
            assert sum(r[1] for r in ranges if r) == d.total_range[1]
    # bands cover the total range without gaps or overlaps
    if d.bands:
        assert d.total_range is not None
        assert d.bands[0].min == d.total_range[0]
        assert d.bands[-1].max == d.total_range[1]
        for a, b in zip(d.bands, d.bands[1:], strict=False):
            assert a.min <= a.max
            assert b.min == a.max + 1


def test_expected_structure_of_each_scale() -> None:
    shape = {code: (len(load_scale(code).items), load_scale(code).total_range) for code in EXPECTED}
    assert shape["madrs"] == (10, (0, 60))
    assert shape["gad7"] == (8, (0, 21))  # 7 scored + the unscored difficulty question
    assert shape["isi"] == (7, (0, 28))
    assert shape["pcl5"] == (20, (0, 80))
    assert shape["bdi2"] == (21, (0, 63))
    assert shape["sds"][1] == (0, 30)
    assert shape["psqi"][1] == (0, 21)
    assert shape["se_vas"] == (15, None)
    assert load_scale("cssrs").total_range is None
    assert load_scale("cssrs").versions == ("baseline", "since_last_visit")
    assert [s.code for s in load_scale("pcl5").subscales] == [
        "intrusion",
        "avoidance",
        "negative_cognition_mood",
        "arousal_reactivity",
    ]
    assert len(load_scale("psqi").subscales) == 7


def test_unknown_scale_names_the_code_and_lists_known_ones() -> None:
    with pytest.raises(NotFoundError) as info:
        load_scale("hamd")
    assert "'hamd'" in str(info.value)
    assert "madrs" in str(info.value)
    assert "cssrs" in str(info.value)


def test_load_scale_accepts_upper_case_code() -> None:
    assert load_scale("MADRS").code == "madrs"


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ScaleError, match="since_last_visit"):
        load_scale("cssrs").items_for("screening")


def test_madrs_item_10_is_addressable_by_number_and_code() -> None:
    d = load_scale("madrs")
    assert d.item("10").code == "suicidal_thoughts"
    assert d.item("suicidal_thoughts").number == 10


MINIMAL = """
code = "tiny"
name = "Tiny"
description = "Two items"
respondent = "self"
recall = "today"
licence_note = "test"
total_range = [0, 6]
[total]
[[items]]
code = "a"
label = "A"
kind = "integer"
min = 0
max = 3
[[items]]
code = "b"
label = "B"
kind = "integer"
min = 0
max = 3
"""


def test_minimal_definition_parses() -> None:
    d = parse_scale(MINIMAL)
    assert [it.code for it in d.items] == ["a", "b"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("total_range = [0, 6]", "total_range = [0, 7]"), "sum to \\[0, 6\\]"),
        (('kind = "integer"\nmin = 0\nmax = 3\n[[items]]', 'kind = "integr"\n[[items]]'), "kind"),
        (('code = "b"', 'code = "a"'), "used twice"),
        (('code = "b"', 'code = "B c"'), "snake_case"),
        (('recall = "today"', 'recall = "today"\ncolour = "red"'), "unknown key"),
        (('respondent = "self"', 'respondent = "nurse"'), "respondent"),
        (("[total]", "[total]\nmethod = 'product'"), "total.method"),
        (("max = 3\n[[items]]", "max = -1\n[[items]]"), "min"),
        (("name = ", "nme = "), "unknown key"),
        (("[[items]]", "[[items]"), "not valid TOML"),
        (("[total]", "[missing]\nkind = 'prorate'\nmax_missing = -1\n[total]"), "max_missing"),
        (("[total]", "[missing]\nkind = 'always'\n[total]"), "missing rule kind"),
    ],
)
def test_malformed_definitions_are_refused(change: tuple[str, str], message: str) -> None:
    text = MINIMAL.replace(change[0], change[1], 1)
    assert text != MINIMAL
    with pytest.raises(ScaleError, match=message):
        parse_scale(text, "tiny.toml")


def _with_bands(bands: list[tuple[int, int]]) -> str:
    return MINIMAL + "".join(f'[[bands]]\nmin = {a}\nmax = {b}\nlabel = "b{a}"\n' for a, b in bands)


def test_bands_that_cover_the_range_are_accepted() -> None:
    d = parse_scale(_with_bands([(0, 2), (3, 6)]))
    assert [b.label for b in d.bands] == ["b0", "b3"]


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ([(0, 2), (4, 6)], "gap"),
        ([(0, 3), (3, 6)], "overlap"),
        ([(1, 2), (3, 6)], "not the total range"),
        ([(0, 2), (3, 5)], "not the total range"),
    ],
)
def test_bad_bands_are_refused(bands: list[tuple[int, int]], message: str) -> None:
    with pytest.raises(ScaleError, match=message):
        parse_scale(_with_bands(bands))


def test_subscale_with_unknown_item_is_refused() -> None:
    text = MINIMAL + '[[subscales]]\ncode = "s"\nlabel = "S"\nitems = ["a", "zz"]\n'
    with pytest.raises(ScaleError, match="'zz'"):
        parse_scale(text)


def test_subscale_range_must_match_its_items() -> None:
    ok = MINIMAL + '[[subscales]]\ncode = "s"\nlabel = "S"\nitems = ["a", "b"]\nrange = [0, 6]\n'
    assert parse_scale(ok).subscales[0].range == (0, 6)
    with pytest.raises(ScaleError, match="items sum to"):
        parse_scale(ok.replace("range = [0, 6]", "range = [0, 5]"))


def test_unknown_rule_is_refused_and_known_rules_listed() -> None:
    text = MINIMAL + '[[derived]]\nname = "x"\nrule = "magic"\nparams = {}\n'
    with pytest.raises(ScaleError, match="magic") as info:
        parse_scale(text)
    assert "cssrs_ideation" in str(info.value)


def test_rule_naming_unknown_item_is_refused() -> None:
    text = MINIMAL + '[[derived]]\nname = "x"\nrule = "item"\nparams = { item = "zz" }\n'
    with pytest.raises(ScaleError, match="unknown item 'zz'"):
        parse_scale(text)


def test_skip_condition_must_name_a_yes_no_item() -> None:
    text = MINIMAL.replace('code = "b"', 'code = "b"\nskip_when = { any_true = ["a"] }')
    with pytest.raises(ScaleError, match="yes/no item"):
        parse_scale(text)


def test_bins_need_a_catch_all() -> None:
    text = MINIMAL.replace(
        'code = "b"', 'code = "b"\nbins = [{ le = 1, value = 0 }, { le = 3, value = 1 }]'
    )
    with pytest.raises(ScaleError, match="catch-all"):
        parse_scale(text)


def test_load_scale_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_scale_file(path).code == "tiny"
    with pytest.raises(NotFoundError, match="does not exist"):
        load_scale_file(tmp_path / "nope.toml")


def test_wording_overlay_from_toml_and_csv(tmp_path: Path) -> None:
    toml_file = tmp_path / "madrs-wording.toml"
    toml_file.write_text('[items]\nsuicidal_thoughts = "Licensed text 10"\n', encoding="utf-8")
    d = load_scale("madrs", wording=toml_file)
    assert d.item("10").wording == "Licensed text 10"
    assert d.item("1").wording is None
    assert load_scale("madrs").item("10").wording is None  # the cached definition is untouched

    csv_file = tmp_path / "cssrs.csv"
    csv_file.write_text('item,wording\nwish_to_be_dead,"Text, with comma"\n', encoding="utf-8")
    assert load_wording(csv_file) == {"wish_to_be_dead": "Text, with comma"}
    c = load_scale("cssrs", wording=csv_file)
    assert c.items_for("since_last_visit")[0].wording == "Text, with comma"


def test_wording_for_unknown_item_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    f.write_text('not_an_item = "x"\n', encoding="utf-8")
    with pytest.raises(ScaleError, match="not_an_item"):
        load_scale("madrs", wording=f)
    bad = tmp_path / "w.csv"
    bad.write_text("code,text\na,b\n", encoding="utf-8")
    with pytest.raises(ScaleError, match="item, wording"):
        load_wording(bad)


def test_unscored_choice_with_word_options_is_fine() -> None:
    text = MINIMAL + (
        '[[items]]\ncode = "partner"\nlabel = "P"\nkind = "choice"\nscored = false\n'
        'options = { none = "No partner", room = "Same room" }\n'
    )
    d = parse_scale(text)
    assert d.item("3").options["room"] == "Same room"


def test_scored_choice_needs_a_score_per_option() -> None:
    text = MINIMAL + (
        '[[items]]\ncode = "c"\nlabel = "C"\nkind = "choice"\n'
        'options = { low = "Low", high = "High" }\nrecode = { low = 0 }\n'
    )
    with pytest.raises(ScaleError, match="recode entry for every option"):
        parse_scale(text)


def test_duplicate_item_number_is_refused() -> None:
    text = MINIMAL.replace('code = "b"', 'code = "b"\nref = "1"')
    with pytest.raises(ScaleError, match="item number '1' is used twice"):
        parse_scale(text)


def test_implies_must_name_yes_no_items() -> None:
    text = MINIMAL.replace('code = "b"', 'code = "b"\nimplies = ["a"]')
    with pytest.raises(ScaleError, match="non-yes/no"):
        parse_scale(text)
