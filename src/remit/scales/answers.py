"""Checking and normalising the answers to a form: one function, one error per bad answer."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from remit.errors import AnswerError
from remit.scales.loader import load_scale
from remit.scales.model import ItemDefinition, ScaleDefinition

Normalised = int | float | str | None

_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[-–]\s*(\d+(?:\.\d+)?)\s*$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::00)?$")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


def _refuse(scale: ScaleDefinition, item: ItemDefinition, value: object, why: str) -> AnswerError:
    return AnswerError(
        f"{scale.code} item {item.ref} ({item.code}): {why}: {value!r}",
        item=item.code,
        expected=item.describe_allowed(),
        hint="correct the answer, or leave the item blank (null) if it was not answered",
    )


def _in_range(scale: ScaleDefinition, item: ItemDefinition, value: float, given: object) -> None:
    low = item.min if item.min is not None else -math.inf
    high = item.max if item.max is not None else math.inf
    if not low <= value <= high:
        raise _refuse(scale, item, given, "out of range")


def normalise_answer(scale: ScaleDefinition, item: ItemDefinition, value: object) -> Normalised:
    """Check one answer against its item and return it in canonical form.

    Integers stay integers (``"3"`` from a web form becomes ``3``; ``3.5`` and ``"3.5"`` are
    refused), yes/no becomes ``True``/``False``, times become ``"HH:MM"``, a range answer of a
    number item becomes its midpoint. Blank (``None`` or ``""``) stays ``None``.

    Examples
    --------
    >>> from remit.scales import load_scale
    >>> madrs = load_scale("madrs")
    >>> normalise_answer(madrs, madrs.item("1"), "4")
    4
    >>> normalise_answer(madrs, madrs.item("1"), 3.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    remit.errors.AnswerError: madrs item 1 (apparent_sadness): not a whole number: 3.5; ...
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = item.kind
    if kind == "integer":
        if type(value) is int:  # the usual answer: what the numbers.Integral branch makes of it
            _in_range(scale, item, value, value)
            return value
        if isinstance(value, bool):
            raise _refuse(scale, item, value, "a yes/no where a number is expected")
        if isinstance(value, numbers.Integral):
            number = int(value)
        elif isinstance(value, numbers.Real):
            x = float(value)
            if not math.isfinite(x) or not x.is_integer():
                raise _refuse(scale, item, value, "not a whole number")
            number = int(x)
        elif isinstance(value, str) and _INT.match(value.strip()):
            number = int(value.strip())
        else:
            raise _refuse(scale, item, value, "not a whole number")
        _in_range(scale, item, number, value)
        return number
    if kind == "number":
        if isinstance(value, bool):
            raise _refuse(scale, item, value, "a yes/no where a number is expected")
        if isinstance(value, numbers.Real):
            try:
                x = float(value)
            except OverflowError:
                raise _refuse(scale, item, value, "out of range") from None
        elif isinstance(value, str) and _NUM.match(value.strip()):
            x = float(value.strip())
        elif isinstance(value, str) and item.accept_range and (m := _RANGE.match(value)):
            low, high = float(m.group(1)), float(m.group(2))
            if low > high:
                raise _refuse(scale, item, value, "an inverted range")
            _in_range(scale, item, low, value)
            _in_range(scale, item, high, value)
            x = (low + high) / 2
        else:
            raise _refuse(scale, item, value, "not a number")
        if not math.isfinite(x):
            raise _refuse(scale, item, value, "not a finite number")
        _in_range(scale, item, x, value)
        return int(x) if isinstance(value, numbers.Integral) else x
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _YES | _NO:
            return value.strip().lower() in _YES
        raise _refuse(scale, item, value, "not a yes/no answer")
    if kind == "choice":
        if isinstance(value, bool):
            raise _refuse(scale, item, value, "a yes/no where an option is expected")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        key = str(value).strip() if isinstance(value, int | str) else None
        if key is None or key not in item.options:
            raise _refuse(scale, item, value, "not one of the options")
        return key
    if kind == "time":
        m = _TIME.match(value.strip()) if isinstance(value, str) else None
        if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            raise _refuse(scale, item, value, "not a clock time")
        return f"{int(m.group(1)):02d}:{m.group(2)}"
    if not isinstance(value, str):
        raise _refuse(scale, item, value, "not text")
    return value


def _key_map(items: tuple[ItemDefinition, ...]) -> dict[str, ItemDefinition]:
    keys: dict[str, ItemDefinition] = {}
    for it in items:
        keys[it.ref] = it
        keys[it.code] = it
    return keys


class _Shape(NamedTuple):
    """What the checks of every form ask of a version's items, worked out once
    (:func:`_shape_of`)."""

    items: tuple[ItemDefinition, ...]  # what it was worked out from (kept: see _shape_of)
    keys: Mapping[str, ItemDefinition]  # the items by ref and by code (_key_map)
    skips: bool  # some item has a skip condition
    implies: bool  # some item implies another


#: The shape of each items tuple met so far, by its identity (a scale's versions' tuples
#: live as long as its definition; a changed scale is a new definition with new tuples).
_SHAPES: dict[int, _Shape] = {}
_SHAPES_KEPT = 256


def _shape_of(items: tuple[ItemDefinition, ...]) -> _Shape:
    """The :class:`_Shape` of ``items``, worked out once per tuple: the shape keeps the tuple
    it was worked out from, so an id reused by another tuple is recognised and worked out
    again."""
    found = _SHAPES.get(id(items))
    if found is not None and found.items is items:
        return found
    found = _Shape(
        items,
        MappingProxyType(_key_map(items)),
        any(it.skip_when is not None for it in items),
        any(it.implies for it in items),
    )
    if type(items) is not tuple:  # a list may change: not kept
        return found
    if len(_SHAPES) >= _SHAPES_KEPT:
        _SHAPES.clear()
    _SHAPES[id(items)] = found
    return found


def _lookup(
    scale: ScaleDefinition, keys: Mapping[str, ItemDefinition], key: object
) -> ItemDefinition:
    if type(key) is str:  # the usual key (as the general case below takes it, cheaper)
        found = keys.get(key.strip())
        if found is not None:
            return found
    k = str(key).strip() if isinstance(key, str | int) and not isinstance(key, bool) else None
    if k is not None and k in keys:
        return keys[k]
    refs = [it.ref for it in keys.values()]
    refs = list(dict.fromkeys(refs))
    raise AnswerError(
        f"{scale.code} has no item {key!r}",
        item=str(key),
        expected=f"item numbers {refs[0]}–{refs[-1]} or item codes",
        hint=f"run `remit scales show {scale.code}` to list the items",
    )


def contradictions(
    scale: ScaleDefinition, items: tuple[ItemDefinition, ...], answers: Mapping[str, Normalised]
) -> list[str]:
    """Pairs of answers that contradict an item's ``implies``, in words (for queries to a rater).

    They are not refused: like an EDC's edit check they are flagged for the rater to confirm.

    Examples
    --------
    >>> from remit.scales import load_scale
    >>> d = load_scale("cssrs")
    >>> a = validate_answers(d, {"wish_to_be_dead_lifetime": False, "wish_to_be_dead": True})
    >>> contradictions(d, d.items_for("baseline"), a)[0][:60]
    'check: item 25 (wish_to_be_dead) is yes but item 1 (wish_to_'
    """
    if not _shape_of(items).implies:  # nothing to contradict (most scales)
        return []
    by_code = {it.code: it for it in items}
    found = []
    for it in items:
        for other in it.implies:
            if answers.get(it.code) is True and other in by_code and answers.get(other) is False:
                found.append(
                    f"check: item {it.ref} ({it.code}) is yes but item {by_code[other].ref} "
                    f"({other}) is no, which contradicts it; query the rater"
                )
    return found


def skipped_items(
    scale: ScaleDefinition, items: tuple[ItemDefinition, ...], answers: Mapping[str, Normalised]
) -> frozenset[str]:
    """Codes of the items the form's own logic skips, given the (normalised) answers.

    A condition ``all_false`` holds when every listed item is no or is itself skipped;
    ``any_true`` when any listed item is yes (and not itself skipped); ``not_zero`` when some
    listed item is not answered 0 (blank, higher, or itself skipped).

    Examples
    --------
    >>> from remit.scales import load_scale
    >>> d = load_scale("cssrs")
    >>> items = d.items_for("since_last_visit")
    >>> a = validate_answers(d, {"1": True, "2": False}, version="since_last_visit")
    >>> sorted(c for c in skipped_items(d, items, a) if c.startswith("active_ideation"))
    ['active_ideation_intent', 'active_ideation_methods', 'active_ideation_plan_intent']
    """
    if not _shape_of(items).skips:  # no item has a skip condition: none is skipped
        return frozenset()
    by_code = {it.code: it for it in items}
    memo: dict[str, bool] = {}

    def is_skipped(code: str) -> bool:
        if code in memo:
            return memo[code]
        cond = by_code[code].skip_when
        result = False
        if cond is not None:
            if cond.kind == "all_false":
                result = all(answers.get(c) is False or is_skipped(c) for c in cond.items)
            elif cond.kind == "not_zero":
                result = any(
                    is_skipped(c) or answers.get(c) is None or answers.get(c) != 0
                    for c in cond.items
                )
            else:
                result = any(answers.get(c) is True and not is_skipped(c) for c in cond.items)
        memo[code] = result
        return result

    return frozenset(code for code in by_code if is_skipped(code))


def undecided_items(
    items: tuple[ItemDefinition, ...],
    answers: Mapping[str, Normalised],
    skipped: frozenset[str],
) -> frozenset[str]:
    """Codes of the items whether the form asks them is not known yet: their skip condition
    depends on a blank answer (C-SSRS questions 3–5 while question 2 is blank). Such an item
    is not reported missing; the blank it depends on is.

    Examples
    --------
    >>> from remit.scales import load_scale
    >>> d = load_scale("cssrs")
    >>> items = d.items_for("since_last_visit")
    >>> a = validate_answers(d, {"1": True}, version="since_last_visit")
    >>> sorted(c for c in undecided_items(items, a, skipped_items(d, items, a)) if "idea" in c)
    ['active_ideation_intent', 'active_ideation_methods', 'active_ideation_plan_intent']
    """
    if not _shape_of(items).skips:  # no skip condition to be undecided
        return frozenset()
    by_code = {it.code: it for it in items}
    memo: dict[str, bool] = {}

    def blank(code: str) -> bool:
        # an optional item left blank (the SDS not-working box) counts as not ticked
        item = by_code.get(code)
        if code in skipped or item is None:
            return False
        return (answers.get(code) is None and item.required) or is_undecided(code)

    def is_undecided(code: str) -> bool:
        if code not in memo:
            memo[code] = False  # a cycle is refused by the loader; stop here anyway
            item = by_code.get(code)
            cond = item.skip_when if item is not None else None
            result = False
            if cond is not None and code not in skipped and cond.kind != "not_zero":
                # a yes decides both kinds (all_false: asked; any_true: skipped)
                decided = any(answers.get(c) is True and c not in skipped for c in cond.items)
                result = not decided and any(blank(c) for c in cond.items)
            memo[code] = result
        return memo[code]

    return frozenset(code for code in by_code if is_undecided(code))


def validate_answers(
    scale: ScaleDefinition | str, answers: Mapping[str, object], *, version: str | None = None
) -> dict[str, Normalised]:
    """Check a form's answers and return them normalised, keyed by item code.

    Parameters
    ----------
    scale
        A definition or a scale code.
    answers
        Item number (``"1"``) or item code → answer; a blank item is absent or ``None``.
    version
        The scale version (default: the first).

    Returns
    -------
    dict
        Every item of the version, by code, with its canonical answer or ``None``.

    Raises
    ------
    AnswerError
        Naming the item, the value given and what is allowed: for an unknown item, an answer
        given twice, an out-of-range or ill-typed value, or an answer to an item the form's
        logic skips (e.g. C-SSRS questions 3–5 answered yes when 1 and 2 are no).

    Examples
    --------
    >>> validate_answers("gad7", {"1": 2, "uncontrollable_worry": None})["feeling_nervous"]
    2
    >>> validate_answers("gad7", {"1": 4})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    remit.errors.AnswerError: gad7 item 1 (feeling_nervous): out of range: 4; ...
    """
    definition = load_scale(scale) if isinstance(scale, str) else scale
    items = definition.items_for(version)
    if type(answers) is not dict and not isinstance(answers, Mapping):
        raise AnswerError(
            f"answers to {definition.code} are a {type(answers).__name__}",
            expected="a mapping of item number or code to answer",
        )
    out: dict[str, Normalised] = {it.code: None for it in items}
    given_by: dict[str, str] = {}
    keys = _shape_of(items).keys
    for key, value in answers.items():
        # the usual item and answer (an item's own key, a whole number in range of an integer
        # item) taken as _lookup and normalise_answer take them, without their calls
        item = keys.get(key.strip()) if type(key) is str else None
        if item is None:
            item = _lookup(definition, keys, key)
        if (
            type(value) is int
            and item.kind == "integer"
            and (item.min is None or item.min <= value)
            and (item.max is None or value <= item.max)
        ):
            normalised: Normalised = value
        else:
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
