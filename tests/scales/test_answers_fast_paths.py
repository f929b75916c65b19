"""The answer checks' shortcuts (issue 16) give what the general code gives: an ``int`` answer
to an integer item, an item looked up by a ``str`` key, and the skip, undecided and
contradiction checks of a version whose items have no skip condition (or imply nothing),
against the functions as they were before the shortcuts, for any answer; and the items'
shape worked out once per items tuple is worked out again for another tuple (a changed
scale), even one that reuses a freed tuple's id."""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remit.errors import AnswerError, NotFoundError
from remit.scales import answers, builtin_scales, engine, load_scale, score
from remit.scales.answers import (
    _lookup,
    _shape_of,
    contradictions,
    normalise_answer,
    skipped_items,
    undecided_items,
    validate_answers,
)
from remit.scales.engine import _plan_of
from remit.scales.loader import SCALES_PATH_ENV, user_scale_dirs
from remit.scales.model import ItemDefinition, ScaleDefinition, total_parts


def _old_normalise_integer(scale: ScaleDefinition, item: ItemDefinition, value: object) -> Any:
    """normalise_answer's integer branch before the shortcut (verbatim)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise answers._refuse(scale, item, value, "a yes/no where a number is expected")
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real):
        x = float(value)
        if not math.isfinite(x) or not x.is_integer():
            raise answers._refuse(scale, item, value, "not a whole number")
        number = int(x)
    elif isinstance(value, str) and answers._INT.match(value.strip()):
        number = int(value.strip())
    else:
        raise answers._refuse(scale, item, value, "not a whole number")
    answers._in_range(scale, item, number, value)
    return number


def _old_lookup(
    scale: ScaleDefinition, keys: Mapping[str, ItemDefinition], key: object
) -> ItemDefinition:
    """_lookup before the shortcut (verbatim)."""
    k = str(key).strip() if isinstance(key, str | int) and not isinstance(key, bool) else None
    if k is not None and k in keys:
        return keys[k]
    refs = list(dict.fromkeys(it.ref for it in keys.values()))
    raise AnswerError(
        f"{scale.code} has no item {key!r}",
        item=str(key),
        expected=f"item numbers {refs[0]}–{refs[-1]} or item codes",
        hint=f"run `remit scales show {scale.code}` to list the items",
    )


def _outcome(function: Any, *args: Any) -> tuple[str, Any]:
    try:
        found = function(*args)
    except AnswerError as error:
        return "refused", str(error)
    return type(found).__name__, repr(found)  # repr: 3, 3.0 and True told apart


MADRS = load_scale("madrs")
_integer_items = [it for it in MADRS.items if it.kind == "integer"]

_answer = (
    st.integers(min_value=-10, max_value=20)
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=" +-0123456789.x", max_size=5)
)


@settings(max_examples=400, deadline=None)
@given(item=st.sampled_from(_integer_items), value=_answer)
def test_an_integer_item_normalises_any_answer_as_before(item: ItemDefinition, value: Any) -> None:
    assert _outcome(normalise_answer, MADRS, item, value) == _outcome(
        _old_normalise_integer, MADRS, item, value
    )


_KEYS_OF = {
    code: answers._key_map(load_scale(code).items_for(None))
    for code in ("madrs", "cssrs", "sds", "gad7")
}


@settings(max_examples=400, deadline=None)
@given(
    code=st.sampled_from(sorted(_KEYS_OF)),
    key=st.sampled_from(["1", " 2", "10 ", "apparent_sadness", "0", "", " ", "x", "1.0"])
    | st.text(max_size=6)
    | st.integers(min_value=-2, max_value=40)
    | st.booleans(),
)
def test_an_item_is_looked_up_by_any_key_as_before(code: str, key: Any) -> None:
    scale, keys = load_scale(code), _KEYS_OF[code]
    assert _outcome(_lookup, scale, keys, key) == _outcome(_old_lookup, scale, keys, key)


def _general(items: tuple[ItemDefinition, ...]) -> answers._Shape:
    """A shape that sends every check the general way (as before the shortcuts)."""
    return answers._Shape(items, answers._key_map(items), True, True)


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from(["madrs", "gad7", "bdi2", "sds", "isi"]),
    values=st.lists(st.none() | st.integers(min_value=0, max_value=4), min_size=30, max_size=30),
)
def test_the_skip_undecided_and_contradiction_checks_give_what_the_general_way_gives(
    code: str, values: list[Any]
) -> None:
    scale = load_scale(code)
    for version in scale.versions:
        items = scale.items_for(version)
        given_answers = {
            it.code: (v if it.kind == "integer" else None)
            for it, v in zip(items, values, strict=False)
        }
        try:
            normalised = validate_answers(scale, given_answers, version=version)
        except AnswerError:
            continue
        skipped = skipped_items(scale, items, normalised)
        found = (skipped, undecided_items(items, normalised, skipped))
        found += (contradictions(scale, items, normalised),)  # type: ignore[assignment]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(answers, "_shape_of", _general)
            general_skipped = skipped_items(scale, items, normalised)
            expected = (general_skipped, undecided_items(items, normalised, general_skipped))
            expected += (contradictions(scale, items, normalised),)  # type: ignore[assignment]
        assert found == expected


def test_the_cssrs_still_skips_and_contradicts() -> None:
    """A scale with skip conditions and implied items takes the general way."""
    cssrs = load_scale("cssrs")
    items = cssrs.items_for("since_last_visit")
    given_answers = validate_answers(cssrs, {"1": True, "2": False}, version="since_last_visit")
    skipped = skipped_items(cssrs, items, given_answers)
    assert "active_ideation_intent" in skipped
    blank = validate_answers(cssrs, {"1": True}, version="since_last_visit")
    assert "active_ideation_intent" in undecided_items(
        items, blank, skipped_items(cssrs, items, blank)
    )
    both = validate_answers(cssrs, {"wish_to_be_dead_lifetime": False, "wish_to_be_dead": True})
    assert contradictions(cssrs, cssrs.items_for("baseline"), both)


def test_a_changed_scale_is_checked_by_its_own_items() -> None:
    """A new definition (a scale changed: here an item renamed and given a skip condition)
    brings new items tuples, whose shape is worked out anew: the old one's is not used."""
    madrs = load_scale("madrs")
    items = madrs.items_for(None)
    assert not _shape_of(items).skips
    condition = next(
        it.skip_when for it in load_scale("cssrs").items_for(None) if it.skip_when is not None
    )
    renamed = dataclasses.replace(items[0], code="renamed_item", skip_when=condition)
    changed_items = (renamed, *items[1:])
    shape = _shape_of(changed_items)
    assert "renamed_item" in shape.keys
    assert "apparent_sadness" not in shape.keys
    assert shape.skips
    assert _shape_of(items) is _shape_of(items)  # the unchanged one: kept
    assert not _shape_of(items).skips


def test_a_reused_id_is_not_taken_for_the_tuple_that_had_it() -> None:
    """The shape keeps its tuple: another tuple at the address of a freed one (here the entry
    such a reuse leaves, planted) is worked out again, not given the freed tuple's shape."""
    madrs_items = load_scale("madrs").items_for(None)
    cssrs_items = load_scale("cssrs").items_for("since_last_visit")
    stale = _shape_of(madrs_items)
    second = (cssrs_items[0], *cssrs_items[1:4])
    answers._SHAPES[id(second)] = stale
    shape = _shape_of(second)
    assert shape.items is second
    assert set(shape.keys) == {k for it in second for k in (it.ref, it.code)}
    assert answers._SHAPES[id(second)] is shape


def test_a_list_of_items_is_never_kept() -> None:
    """A list can change after it was looked at: its shape is not remembered."""
    items = list(load_scale("madrs").items_for(None))
    _shape_of(items)  # type: ignore[arg-type]
    assert id(items) not in answers._SHAPES
    with pytest.raises(AnswerError):
        _lookup(load_scale("madrs"), _shape_of(items).keys, "nope")  # type: ignore[arg-type]


def test_a_scoring_plan_is_what_the_definition_says_for_every_scale_and_version() -> None:
    for code in builtin_scales():
        definition = load_scale(code)
        for version in definition.versions:
            plan = _plan_of(definition, version)
            assert plan.subscales == definition.subscales_for(version)
            assert plan.derived == definition.derived_for(version)
            assert plan.parts == total_parts(definition, version)
            assert _plan_of(definition, version) is plan  # kept


def test_a_changed_definition_is_scored_by_its_own_plan() -> None:
    """A new definition object (a scale changed: here its total made of fewer items) has its
    plan worked out anew; the old definition's plan is not used for it, even under its id."""
    gad7 = load_scale("gad7")
    version = gad7.versions[0]
    old_plan = _plan_of(gad7, version)
    assert gad7.total is not None
    fewer = dataclasses.replace(
        gad7, total=dataclasses.replace(gad7.total, parts=old_plan.parts[:3])
    )
    engine._PLANS[(id(fewer), version)] = old_plan  # what a reused id would leave behind
    plan = _plan_of(fewer, version)
    assert plan.definition is fewer
    assert plan.parts == old_plan.parts[:3]
    answers_given = {str(i): 1 for i in range(1, 8)}
    assert score(fewer, answers_given).total == 3
    assert score(gad7, answers_given).total == 7


def _old_validate_answers(
    scale: ScaleDefinition, answers_given: Mapping[str, object], *, version: str | None = None
) -> dict[str, Any]:
    """validate_answers before its loop took the usual item and answer itself (verbatim, with
    the items' keys made as they were)."""
    definition = scale
    items = definition.items_for(version)
    if not isinstance(answers_given, Mapping):
        raise AnswerError(
            f"answers to {definition.code} are a {type(answers_given).__name__}",
            expected="a mapping of item number or code to answer",
        )
    out: dict[str, Any] = {it.code: None for it in items}
    given_by: dict[str, str] = {}
    keys = answers._key_map(items)
    for key, value in answers_given.items():
        item = _old_lookup(definition, keys, key)
        normalised = normalise_answer(definition, item, value)
        previous = out[item.code]
        if (
            item.code in given_by
            and normalised is not None
            and previous is not None
            and normalised != previous
        ):
            raise AnswerError(
                f"{definition.code} item {item.ref} ({item.code}) is answered twice, as "
                f"{given_by[item.code]!r} and {key!r}",
                item=item.code,
                expected="one answer per item",
            )
        if normalised is not None or item.code not in given_by:
            out[item.code] = normalised
            given_by[item.code] = str(key)
    skipped = skipped_items(definition, items, out)
    for it in items:
        if it.code in skipped and out[it.code] is not None and out[it.code] is not False:
            cond = it.skip_when
            why = it.skip_note or (f"skipped because {cond.describe()}" if cond else "skipped")
            raise AnswerError(
                f"{definition.code} item {it.ref} ({it.code}) is answered {out[it.code]!r} but "
                f"the form skips it ({why})",
                item=it.code,
                expected="a blank answer (or no) for a skipped item",
                hint="check the answers it depends on, or leave this item blank",
            )
    return out


_SCALES = {code: load_scale(code) for code in ("madrs", "gad7", "sds", "isi", "cssrs", "pcl5")}


@st.composite
def _forms(draw: st.DrawFn) -> tuple[str, dict[Any, Any]]:
    code = draw(st.sampled_from(sorted(_SCALES)))
    items = _SCALES[code].items_for(None)
    keys = [k for it in items for k in (it.ref, it.code, f" {it.ref}")]
    chosen = draw(
        st.dictionaries(
            st.sampled_from(keys) | st.integers(min_value=0, max_value=30) | st.text(max_size=3),
            _answer | st.sampled_from([True, False, "yes", "no", "", "2-3"]),
            max_size=12,
        )
    )
    return code, chosen


@settings(max_examples=600, deadline=None)
@given(form=_forms())
def test_a_form_s_answers_are_checked_as_before(form: tuple[str, dict[Any, Any]]) -> None:
    code, given_answers = form
    scale = _SCALES[code]
    assert _outcome(validate_answers, scale, given_answers) == _outcome(
        _old_validate_answers, scale, given_answers
    )


def test_answers_that_are_not_a_mapping_are_refused_as_before() -> None:
    for wrong in ([("1", 3)], "1=3", None):
        assert _outcome(validate_answers, MADRS, wrong) == _outcome(
            _old_validate_answers, MADRS, wrong
        )


def _old_item(scale: ScaleDefinition, key: object, version: str | None = None) -> ItemDefinition:
    """ScaleDefinition.item as it was: the first item in order with that code or ref."""
    k = str(key)
    for it in scale.items_for(version):
        if k in (it.code, it.ref):
            return it
    raise AnswerError(f"{scale.code} has no item {k!r}")


def test_an_item_by_code_or_ref_is_the_first_the_search_found() -> None:
    for code in builtin_scales():
        scale = load_scale(code)
        for version in scale.versions:
            for it in scale.items_for(version):
                for key in (it.code, it.ref, int(it.ref) if it.ref.isdigit() else it.ref):
                    assert scale.item(key, version) is _old_item(scale, key, version)
        with pytest.raises(AnswerError):
            scale.item("no_such_item")


def test_an_item_shared_as_code_and_ref_is_the_first_in_order() -> None:
    """Two items, one's code the other's ref: the one first in order, as the search found."""
    madrs = load_scale("madrs")
    items = madrs.items_for(None)
    clash = dataclasses.replace(items[1], code=items[0].ref)  # item 2 coded "1"
    changed = dataclasses.replace(
        madrs,
        items=(items[0], clash, *items[2:]),
        version_items=dict.fromkeys(madrs.versions, (items[0], clash, *items[2:])),
    )
    assert changed.item("1") is items[0]
    assert changed.item(items[0].ref) is _old_item(changed, items[0].ref)


@pytest.mark.parametrize("raw", [None, "", " ", os.pathsep, f" {os.pathsep} "])
def test_no_user_scale_directory_is_named_as_before(
    raw: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset, empty or blank REMIT_SCALES_PATH names no directory (the empty one now
    without splitting it); the variable is still read at each call."""
    if raw is None:
        monkeypatch.delenv(SCALES_PATH_ENV, raising=False)
    else:
        monkeypatch.setenv(SCALES_PATH_ENV, raw)
    assert user_scale_dirs() == []
    monkeypatch.setenv(SCALES_PATH_ENV, "/no/such/remit/dir")
    with pytest.raises(NotFoundError):
        user_scale_dirs()
