"""Consistency checks of a scale definition, version by version (codes ``S005`` on).

:func:`check_version` looks at what a definition's parts say of each other: item numbers,
skip conditions, ``implies``, subscale and total parts, named rules and their params, ranges
that must add up; :func:`check_bands` at the severity bands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from remit.errors import Problem, ScaleError
from remit.scales.model import ItemDefinition, ScaleDefinition, total_parts
from remit.scales.ranges import score_range
from remit.scales.rules import get_rule, item_codes
from remit.scales.schema import ScaleFile
from remit.tomlpos import PathPart, line_index, located


class Checker:
    """Collects problems with the line of their key path."""

    def __init__(self, text: str):
        self.problems: list[Problem] = []
        self._index = line_index(text) if text else {}

    def add(self, code: str, path: Sequence[PathPart], what: str, todo: str) -> None:
        problem = Problem(code, located(self._index, path), what, todo)
        if problem not in self.problems:
            self.problems.append(problem)


def check_bands(c: Checker, d: ScaleDefinition) -> None:
    """Bands must lie within the total range, one after another, without gaps."""
    if not d.bands:
        return
    for b in d.bands:
        if b.min > b.max:
            c.add("S018", ("bands",), f"band {b.label!r} is inverted", "give min ≤ max")
    if d.total_range is None:
        c.add("S018", ("bands",), "bands are given but the scale has no total_range", "add one")
        return
    if d.bands[0].min != d.total_range[0] or d.bands[-1].max != d.total_range[1]:
        c.add(
            "S018",
            ("bands",),
            f"bands cover [{d.bands[0].min:g}, {d.bands[-1].max:g}], not the total range "
            f"[{d.total_range[0]:g}, {d.total_range[1]:g}]",
            "give bands from the lowest to the highest total",
        )
    for a, b in zip(d.bands, d.bands[1:], strict=False):
        if b.min != a.max + 1:
            word = "overlap" if b.min <= a.max else "leave a gap"
            c.add(
                "S018",
                ("bands",),
                f"bands {a.label!r} and {b.label!r} {word}: {a.max:g} is followed by {b.min:g}",
                "start each band one above the previous band's max",
            )


def _score_range(item: ItemDefinition) -> tuple[float, float] | None:
    """The range of an item's numeric score (:func:`remit.scales.ranges.score_range`)."""
    found = score_range(item)
    return None if found is None else (found.low, found.high)


def check_version(c: Checker, model: ScaleFile, d: ScaleDefinition, version: str) -> None:
    """Every consistency check of one version of the scale."""
    items = d.items_for(version)
    by_code = {it.code: it for it in items}
    index = {raw.code: i for i, raw in enumerate(model.items)}
    every = {it.code: it for its in d.version_items.values() for it in its}
    refs: dict[str, str] = {}
    for it in items:
        where: tuple[PathPart, ...] = ("items", index[it.code])
        if it.ref in refs or (it.ref in by_code and by_code[it.ref] is not it):
            c.add(
                "S005",
                (*where, "ref"),
                f"item number {it.ref!r} is used twice (or is another item's code) in version "
                f"{version!r}",
                "give each item its own number",
            )
        refs[it.ref] = it.code
        if it.implies and it.kind != "boolean":
            c.add(
                "S012",
                (*where, "implies"),
                f"implies is set on {it.code}, a non-yes/no item",
                "set implies on yes/no items only",
            )
        for code in it.implies:
            other = every.get(code)
            if other is None or other.kind != "boolean":
                c.add(
                    "S012",
                    (*where, "implies"),
                    f"{it.code} implies {code!r}, which is not a yes/no item of the scale",
                    "name yes/no items",
                )
        numeric = it.skip_when is not None and it.skip_when.kind == "not_zero"
        wanted = ("integer", "number") if numeric else ("boolean",)
        noun = "numeric" if numeric else "yes/no"
        for code in it.skip_when.items if it.skip_when else ():
            other = by_code.get(code)
            if other is None or other.kind not in wanted:
                c.add(
                    "S011",
                    (*where, "skip_when"),
                    f"{it.code} is skipped by {code!r}, not a {noun} item of version {version!r}",
                    f"name {noun} items of the same versions",
                )
    _skip_cycles(c, items, index)
    ranges: dict[str, tuple[float, float] | None] = {it.code: _score_range(it) for it in items}
    sub_items: dict[str, tuple[str, ...]] = {}
    for i, raw in enumerate(model.subscales):
        if raw.versions and version not in raw.versions:
            continue
        s = d.subscales[i]
        where = ("subscales", i)
        for part in s.items:
            if part not in ranges:
                c.add(
                    "S013",
                    (*where, "items"),
                    f"subscale {s.code} refers to {part!r}, which is neither an item nor an "
                    f"earlier subscale of version {version!r}",
                    "name item codes or subscales defined above",
                )
        if s.method == "rule":
            _check_rule(c, where, s.rule or "", s.params, by_code, sub_items)
        elif s.range is not None and s.method == "sum" and not s.bins:
            parts = [ranges.get(p) for p in s.items]
            if all(x is not None for x in parts):
                low = sum(x[0] for x in parts if x is not None)
                high = sum(x[1] for x in parts if x is not None)
                if (low, high) != s.range:
                    c.add(
                        "S017",
                        (*where, "range"),
                        f"subscale {s.code} range is [{s.range[0]:g}, {s.range[1]:g}] but its "
                        f"items sum to [{low:g}, {high:g}]",
                        "give the range its items allow",
                    )
        ranges[s.code] = s.range
        sub_items[s.code] = tuple(code for p in s.items for code in sub_items.get(p, (p,)))
    for i, dv in enumerate(d.derived):
        if not dv.versions or version in dv.versions:
            _check_rule(c, ("derived", i), dv.rule, dv.params, by_code, sub_items)
    if d.total is None:
        return
    known = by_code if d.total.source == "items" else sub_items
    every_sub = {s.code for s in d.subscales}
    for p in d.total.parts:
        if p not in known and p not in every and p not in every_sub:
            c.add(
                "S013",
                ("total", "parts"),
                f"the total names {p!r}, which is not one of the {d.total.source}",
                "name codes of the scale's " + d.total.source,
            )
    if d.total.method == "sum" and d.total_range is not None:
        part_ranges = [ranges.get(p) for p in total_parts(d, version)]
        if any(x is None for x in part_ranges):
            c.add(
                "S017",
                ("total",),
                f"the total of version {version!r} has a part without a known range",
                "give the parts ranges (subscale range, item min/max or bins)",
            )
            return
        low = sum(x[0] for x in part_ranges if x is not None)
        high = sum(x[1] for x in part_ranges if x is not None)
        if (low, high) != d.total_range:
            c.add(
                "S017",
                ("total_range",),
                f"total_range is [{d.total_range[0]:g}, {d.total_range[1]:g}] but the parts of "
                f"version {version!r} sum to [{low:g}, {high:g}]",
                "give the range the parts allow",
            )


def _check_rule(
    c: Checker,
    where: tuple[PathPart, ...],
    name: str,
    params: Mapping[str, object],
    items: Mapping[str, ItemDefinition],
    subscales: Mapping[str, tuple[str, ...]],
) -> None:
    try:
        rule = get_rule(name)
    except ScaleError as error:
        c.add("S015", (*where, "rule"), error.message, f"use {error.expected}")
        return
    for p in rule.required_params:
        if p not in params:
            c.add("S016", (*where, "params"), f"rule {name!r} needs param {p!r}", rule.doc)
    for p in rule.item_params:
        if p not in params:
            continue
        try:
            codes = item_codes(params, p)
        except ScaleError as error:
            c.add("S016", (*where, "params", p), error.message, f"give {error.expected}")
            continue
        for code in codes:
            if code not in items:
                c.add(
                    "S016",
                    (*where, "params", p),
                    f"rule {name!r} param {p!r} names unknown item {code!r}",
                    "name item codes of the same versions",
                )
    if rule.check is not None:
        for what in rule.check(params, subscales):
            c.add("S016", (*where, "params"), f"rule {name!r}: {what}", rule.doc)


def _skip_cycles(c: Checker, items: tuple[ItemDefinition, ...], index: Mapping[str, int]) -> None:
    """Report skip conditions that depend on each other in a cycle."""
    by_code = {it.code: it for it in items}
    state: dict[str, int] = {}

    def visit(code: str, path: tuple[str, ...]) -> None:
        if state.get(code) == 2 or code not in by_code:
            return
        if state.get(code) == 1:
            c.add(
                "S011",
                ("items", index[code], "skip_when"),
                "skip conditions form a cycle: " + " → ".join((*path, code)),
                "break the cycle",
            )
            return
        state[code] = 1
        cond = by_code[code].skip_when
        for other in cond.items if cond else ():
            visit(other, (*path, code))
        state[code] = 2

    for it in items:
        visit(it.code, ())
