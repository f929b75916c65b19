"""The ranges a scale's values can take (``remit.scales.ranges``) and the ``range`` of a
``[[derived]]`` entry, which the protocol check compares thresholds and cut-offs with."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.scales.test_scale_properties import valid_answers
from tests.support.scales import TINY_SCALE

from remit.scales import (
    ValueRange,
    answer_range,
    check_scale_text,
    field_range,
    list_scales,
    load_scale,
    parse_scale,
    score,
)

TINY = (
    TINY_SCALE
    + """
[[subscales]]
code = "ab"
label = "A and B"
items = ["a", "b"]

[[derived]]
name = "b_value"
rule = "item"
params = { item = "b" }

[[derived]]
name = "any_flag"
rule = "any_true"
params = { items = ["flag"] }

[[derived]]
name = "highest"
rule = "cssrs_ideation"
params = { items = ["flag"] }
range = [0, 1]
"""
)


def test_ranges_of_every_kind_of_field() -> None:
    d = parse_scale(TINY)
    assert field_range(d, "total") == ValueRange(0, 6)
    assert field_range(d, "ab") == ValueRange(0, 6)  # a sum: read off its items
    assert field_range(d, "b_value") == ValueRange(0, 3)  # the `item` rule: the item's answer
    assert field_range(d, "any_flag") == ValueRange(0, 1, yes_no=True)  # a yes/no rule
    assert field_range(d, "highest") == ValueRange(0, 1)  # declared
    assert field_range(d, "nothing") is None
    assert answer_range(d.item("flag")) == ValueRange(0, 1, yes_no=True)


def test_an_undeclared_derived_range_is_unknown() -> None:
    d = parse_scale(TINY.replace("range = [0, 1]\n", ""))
    assert field_range(d, "highest") is None


def test_cssrs_derived_values_declare_their_ranges() -> None:
    cssrs = load_scale("cssrs")
    for version in cssrs.versions:
        assert field_range(cssrs, "ideation_type", version) == ValueRange(0, 5)
        assert field_range(cssrs, "ideation_intensity", version) == ValueRange(0, 25)
        assert field_range(cssrs, "any_behaviour", version).yes_no  # type: ignore[union-attr]
    assert field_range(cssrs, "ideation_type_lifetime", "baseline") == ValueRange(0, 5)
    assert field_range(load_scale("madrs"), "suicidal_thoughts") == ValueRange(0, 6)


@pytest.mark.parametrize("code", list_scales())
def test_every_total_range_is_known(code: str) -> None:
    d = load_scale(code)
    if d.total is not None:
        assert field_range(d, "total") == ValueRange(*d.total_range)  # type: ignore[misc]


def test_s006_inverted_derived_range() -> None:
    problems = check_scale_text(TINY.replace("range = [0, 1]", "range = [1, 0]"), "tiny.toml")
    assert [p.code for p in problems] == ["S006"]
    assert "derived value highest range [1, 0] is inverted" in str(problems[0])
    assert "derived[3].range" in problems[0].where


def test_s006_range_on_a_yes_no_rule() -> None:
    text = TINY.replace(
        'params = { items = ["flag"] }\n\n', 'params = { items = ["flag"] }\nrange = [0, 1]\n\n', 1
    )
    problems = check_scale_text(text, "tiny.toml")
    assert [p.code for p in problems] == ["S006"]
    assert "any_flag is a yes/no" in problems[0].what
    assert problems[0].todo == "leave out range"


def test_change_and_union() -> None:
    assert ValueRange(0, 60).change() == ValueRange(-60, 60)
    assert ValueRange.union([ValueRange(0, 1, True), ValueRange(0, 1, True)]) == ValueRange(
        0, 1, True
    )
    assert ValueRange.union([]) is None


FORMS = [(code, v) for code in list_scales() for v in load_scale(code).versions]


@pytest.mark.parametrize(("code", "version"), FORMS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_scored_value_lies_in_its_range(code: str, version: str, data: st.DataObject) -> None:
    # the ranges the protocol check relies on hold for every form a person can fill in
    d = load_scale(code)
    blank = data.draw(st.sampled_from([0.0, 0.2]))
    r = score(d, data.draw(valid_answers(code, version, blank)), version=version)
    values: dict[str, object] = {"total": r.total, **r.subscales, **r.derived}
    for name, value in values.items():
        found = field_range(d, name, version)
        if value is None or found is None:
            continue
        if found.yes_no:
            assert isinstance(value, bool), (name, value)
        else:
            assert not isinstance(value, bool), (name, value)
            assert found.low - 1e-9 <= float(value) <= found.high + 1e-9, (name, value, found)  # type: ignore[arg-type]
