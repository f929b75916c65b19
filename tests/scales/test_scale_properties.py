"""Hypothesis: totals stay in their declared range; out-of-range answers are always refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remit.errors import AnswerError
from remit.scales import (
    ItemDefinition,
    MissingRule,
    list_scales,
    load_scale,
    score,
    skipped_items,
    validate_answers,
)

FORMS = [(code, v) for code in list_scales() for v in load_scale(code).versions]
SETTINGS = settings(max_examples=60, deadline=None)


def _value(item: ItemDefinition) -> st.SearchStrategy[object]:
    if item.kind == "integer":
        assert item.min is not None
        assert item.max is not None
        return st.integers(int(item.min), int(item.max))
    if item.kind == "number":
        assert item.min is not None
        assert item.max is not None
        return st.floats(item.min, item.max, allow_nan=False)
    if item.kind == "boolean":
        return st.booleans()
    if item.kind == "choice":
        return st.sampled_from(sorted(item.options))
    if item.kind == "time":
        return st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
    return st.text(max_size=20)


@st.composite
def valid_answers(draw: st.DrawFn, code: str, version: str, blank: float) -> dict[str, object]:
    d = load_scale(code)
    items = d.items_for(version)
    answers: dict[str, object] = {}
    for it in items:
        if draw(st.floats(0, 1)) < blank:
            answers[it.code] = None
        else:
            answers[it.code] = draw(_value(it))
    # the form's own logic: leave skipped items blank
    skipped = skipped_items(
        d,
        items,
        validate_answers(d, {}, version=version)
        | {k: v for k, v in answers.items() if v is not None},
    )
    return {k: (None if k in skipped else v) for k, v in answers.items()}


@pytest.mark.parametrize(("code", "version"), FORMS)
@SETTINGS
@given(data=st.data())
def test_total_and_subscales_stay_in_their_declared_range(
    code: str, version: str, data: st.DataObject
) -> None:
    d = load_scale(code)
    blank = data.draw(st.sampled_from([0.0, 0.1, 0.5]))
    answers = data.draw(valid_answers(code, version, blank))
    n = len(d.items_for(version))
    rule = data.draw(
        st.one_of(
            st.none(),
            st.builds(
                MissingRule,
                st.just("prorate"),
                st.integers(0, n),
                st.sampled_from([None, "exclude", "prorate"]),
            ),
        )
    )
    r = score(d, answers, version=version, missing=rule)
    assert r.scale == code
    assert r.version == version
    if d.total_range is None:
        assert r.total is None
    elif r.total is not None:
        low, high = d.total_range
        assert low - 1e-9 <= r.total <= high + 1e-9
        assert math.isfinite(r.total)
        if d.bands:
            assert r.band in {b.label for b in d.bands}
    for s in d.subscales_for(version):
        value = r.subscales[s.code]
        if value is not None and s.range is not None:
            assert s.range[0] <= value <= s.range[1]
    if blank == 0.0:
        # a complete form (bar optional items) scores without missing items
        assert r.n_missing == 0
        if d.total is not None and rule is None:
            uncomputable = any("could not be computed" in n for n in r.notes)
            assert (r.total is not None) or uncomputable


NUMERIC = [
    (code, v, it.code)
    for code, v in FORMS
    for it in load_scale(code).items_for(v)
    if it.kind in ("integer", "number")
]


@pytest.mark.parametrize(("code", "version", "item"), NUMERIC)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_out_of_range_answer_is_refused_with_the_item_named(
    code: str, version: str, item: str, data: st.DataObject
) -> None:
    it = load_scale(code).item(item, version)
    assert it.min is not None
    assert it.max is not None
    if it.kind == "integer":
        bad: object = data.draw(
            st.one_of(
                st.integers(max_value=int(it.min) - 1), st.integers(min_value=int(it.max) + 1)
            )
        )
    else:
        bad = data.draw(
            st.one_of(
                st.floats(
                    max_value=it.min, exclude_max=True, allow_nan=False, allow_infinity=False
                ),
                st.floats(
                    min_value=it.max, exclude_min=True, allow_nan=False, allow_infinity=False
                ),
            )
        )
    key = data.draw(st.sampled_from([it.code, it.ref]))
    with pytest.raises(AnswerError) as info:
        score(code, {key: bad}, version=version)
    assert info.value.item == it.code
    assert repr(bad) in str(info.value)
    assert "out of range" in str(info.value)


INTEGER = [(c, v, i) for c, v, i in NUMERIC if load_scale(c).item(i, v).kind == "integer"]


@pytest.mark.parametrize(("code", "version", "item"), INTEGER[::3])
@settings(max_examples=10, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()))
def test_non_integer_for_integer_item_is_refused(
    code: str, version: str, item: str, x: float
) -> None:
    for bad in (x, str(x)):
        with pytest.raises(AnswerError) as info:
            score(code, {item: bad}, version=version)
        assert info.value.item == item


CHOICE = [
    (code, v, it.code)
    for code, v in FORMS
    for it in load_scale(code).items_for(v)
    if it.kind == "choice"
]


@pytest.mark.parametrize(("code", "version", "item"), CHOICE)
@settings(max_examples=10, deadline=None)
@given(bad=st.one_of(st.text(max_size=5), st.integers()))
def test_value_outside_the_options_is_refused(
    code: str, version: str, item: str, bad: object
) -> None:
    it = load_scale(code).item(item, version)
    if str(bad).strip() in it.options or (isinstance(bad, str) and not bad.strip()):
        return  # a valid option or a blank, not a bad value
    with pytest.raises(AnswerError) as info:
        score(code, {it.ref: bad}, version=version)
    assert info.value.item == it.code
    assert "not one of the options" in str(info.value)
