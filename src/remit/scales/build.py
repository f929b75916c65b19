"""From a shape-checked scale file to a :class:`ScaleDefinition`, with every problem found.

:mod:`remit.scales.schema` checks keys and types (``S001``–``S004``); this module checks that
the definition holds together (``S005`` on) and builds the model. Each problem has a stable
code listed in :data:`PROBLEM_CODES` and documented in ``docs/scales.md``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, cast

from remit.errors import InputError, Problem
from remit.scales.consistency import Checker, check_bands, check_version
from remit.scales.model import (
    Band,
    Bin,
    Condition,
    DerivedDefinition,
    ItemDefinition,
    MissingRule,
    SafetyDeclaration,
    ScaleDefinition,
    SubscaleDefinition,
    TotalDefinition,
)
from remit.scales.rules import RULES
from remit.scales.schema import BinEntry, DerivedEntry, ItemEntry, MissingEntry, ScaleFile
from remit.tomlpos import PathPart

PROBLEM_CODES: dict[str, str] = {
    "S001": "the file is not valid TOML",
    "S002": "unknown key",
    "S003": "required key missing",
    "S004": "value of the wrong type or not allowed",
    "S005": "duplicate code, item number, version or name",
    "S006": "range not sound (numeric item without min/max, or low above high)",
    "S007": "choice item without options, or recode that does not fit its options",
    "S008": "scored time or text item",
    "S009": "recode names a table that is not under [recodes]",
    "S010": "recode bins without a catch-all last bin",
    "S011": "skip condition not sound (unknown or non-yes/no item, or a cycle)",
    "S012": "implies set on, or naming, an item that is not yes/no",
    "S013": "reference to an item or subscale that does not exist",
    "S014": "reference to a version the scale does not declare",
    "S015": "unknown named rule",
    "S016": "rule parameters missing or naming what does not exist",
    "S017": "declared range differs from what the parts add up to",
    "S018": "bands that do not cover the total range one after another",
    "S019": "a total without total_range",
    "S020": "missing-item rule not sound",
    "S021": "subscale method and rule do not agree",
    "S022": "safety declaration naming what the scale does not have",
    "S023": "safety item declared not required (a safety item is always required)",
}

_NUMERIC = re.compile(r"-?\d+(\.\d+)?")


def _bins(c: Checker, entries: Sequence[BinEntry], path: tuple[PathPart, ...]) -> tuple[Bin, ...]:
    out = tuple(Bin(b.value, b.lt, b.le, b.gt, b.ge) for b in entries)
    if out and any(getattr(out[-1], op) is not None for op in ("lt", "le", "gt", "ge")):
        c.add(
            "S010",
            (*path, "bins"),
            "the bins have no catch-all last bin, so some values would match none",
            "end with a bin that has only `value`, e.g. { value = 3 }",
        )
    return out


def _missing(c: Checker, entry: MissingEntry, path: tuple[PathPart, ...]) -> MissingRule:
    try:
        return MissingRule(cast(Any, entry.kind), entry.max_missing, cast(Any, entry.skipped))
    except InputError as error:
        c.add("S020", (*path, "missing"), error.message, f"give {error.expected}")
        return MissingRule()


def _item(c: Checker, raw: ItemEntry, i: int, recodes: Mapping[str, Any]) -> ItemDefinition:
    where: tuple[PathPart, ...] = ("items", i)
    name = f"item {raw.code}"
    numeric = raw.kind in ("integer", "number")
    if numeric and (raw.min is None or raw.max is None):
        c.add("S006", where, f"{name} is a numeric item without min and max", "give min and max")
    elif raw.min is not None and raw.max is not None and raw.min > raw.max:
        c.add(
            "S006",
            (*where, "min"),
            f"{name} has min {raw.min:g} above max {raw.max:g}",
            "give min ≤ max",
        )
    if raw.kind == "choice" and not raw.options:
        c.add("S007", where, f"{name} is a choice without options", "add options = {value = label}")
    recode: Mapping[str, float] = {}
    if isinstance(raw.recode, str):
        if raw.recode in recodes:
            recode = recodes[raw.recode]
        else:
            c.add(
                "S009",
                (*where, "recode"),
                f"{name} names recode table {raw.recode!r}, which is not under [recodes]",
                "use one of " + (", ".join(recodes) or "(no [recodes] tables defined)"),
            )
    else:
        recode = raw.recode
    if raw.kind == "choice" and raw.options:
        stray = sorted(set(recode) - set(raw.options))
        if stray:
            c.add(
                "S007",
                (*where, "recode"),
                f"{name} recodes values {stray} that are not among its options",
                "recode option values only",
            )
        elif (
            raw.scored
            and set(recode) != set(raw.options)
            and not all(_NUMERIC.fullmatch(k) for k in raw.options)
        ):
            c.add(
                "S007",
                where,
                f"{name} is a scored choice whose options are not all numbers and not all recoded",
                "give a recode entry for every option, or scored = false",
            )
    if raw.kind in ("time", "text") and raw.scored:
        c.add(
            "S008",
            where,
            f"{name} is a scored {raw.kind} item",
            "set scored = false (a named rule may still use it)",
        )
    skip = None
    if raw.skip_when is not None:
        given = [(k, v) for k, v in raw.skip_when.model_dump().items() if v is not None]
        if len(given) != 1 or not given[0][1]:
            c.add(
                "S011",
                (*where, "skip_when"),
                f"{name} has skip_when {dict(given)}",
                "give exactly one of all_false = [...], any_true = [...] or not_zero = [...], "
                "listing items",
            )
        else:
            skip = Condition(cast(Any, given[0][0]), tuple(given[0][1]))
    return ItemDefinition(
        number=0,
        code=raw.code,
        label=raw.label,
        kind=raw.kind,
        min=raw.min,
        max=raw.max,
        options=MappingProxyType(dict(raw.options)),
        required=raw.required and raw.blank_value is None,
        section=raw.section,
        scored=raw.scored,
        ref=raw.ref or "",
        recode=MappingProxyType(dict(recode)),
        bins=_bins(c, raw.bins, where),
        accept_range=raw.accept_range,
        blank_value=raw.blank_value,
        skip_when=skip,
        skip_note=raw.skip_note,
        implies=tuple(raw.implies),
        versions=tuple(raw.versions),
    )


def _freeze(value: Any) -> Any:
    """Lists become tuples and tables read-only mappings, so a shared definition cannot change."""
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _versions(
    c: Checker, named: Sequence[str], known: Sequence[str], path: tuple[PathPart, ...]
) -> None:
    for v in named:
        if v not in known:
            c.add(
                "S014",
                (*path, "versions"),
                f"names version {v!r}, which the scale does not declare",
                "use one of " + ", ".join(known) + " (or declare it under versions)",
            )


def _pair(values: Sequence[float] | None) -> tuple[float, float] | None:
    return None if values is None else (float(values[0]), float(values[1]))


def _derived_range(c: Checker, dv: DerivedEntry, where: tuple[PathPart, ...]) -> None:
    """S006 for a derived value's declared range that is inverted or given to a yes/no rule."""
    if dv.range is None:
        return
    low, high = dv.range
    if low > high:
        c.add(
            "S006",
            (*where, "range"),
            f"derived value {dv.name} range [{low:g}, {high:g}] is inverted",
            "give [low, high]",
        )
    rule = RULES.get(dv.rule)
    if rule is not None and rule.yes_no:
        c.add(
            "S006",
            (*where, "range"),
            f"derived value {dv.name} is a yes/no (rule {dv.rule!r}) and has no numeric range",
            "leave out range",
        )


def _duplicates(values: Sequence[str]) -> list[str]:
    return [v for v, n in Counter(values).items() if n > 1]


def build_definition(model: ScaleFile, text: str = "") -> tuple[ScaleDefinition, list[Problem]]:
    """Build the definition from a shape-checked file; list every consistency problem.

    The definition is returned even when there are problems (for messages); use it only when
    the list is empty.

    Examples
    --------
    >>> from remit.scales.schema import read_scale_file
    >>> from importlib import resources
    >>> text = (resources.files("remit.scales") / "definitions" / "gad7.toml").read_text()
    >>> model, _, _ = read_scale_file(text)
    >>> definition, problems = build_definition(model, text)
    >>> definition.short_name, problems
    ('GAD-7', [])
    """
    c = Checker(text)
    versions = tuple(model.versions) or ("default",)
    for v in _duplicates(versions):
        c.add("S005", ("versions",), f"version {v!r} is declared twice", "name each version once")
    all_items = [_item(c, raw, i, model.recodes) for i, raw in enumerate(model.items)]
    codes = [it.code for it in all_items]
    for code in _duplicates(codes):
        i = len(codes) - 1 - codes[::-1].index(code)
        c.add("S005", ("items", i, "code"), f"item code {code!r} is used twice", "unique codes")
    for i, it in enumerate(all_items):
        _versions(c, it.versions, versions, ("items", i))
    version_items = {
        v: tuple(
            it.with_number(n + 1)
            for n, it in enumerate(x for x in all_items if not x.versions or v in x.versions)
        )
        for v in dict.fromkeys(versions)
    }

    subscales = []
    for i, s in enumerate(model.subscales):
        where: tuple[PathPart, ...] = ("subscales", i)
        if (s.method == "rule") != (s.rule is not None):
            c.add(
                "S021",
                where,
                f"subscale {s.code} has method {s.method!r} and rule {s.rule!r}",
                'give rule = "…" exactly when method = "rule"',
            )
        if s.range is not None and s.range[0] > s.range[1]:
            c.add("S006", (*where, "range"), f"subscale {s.code} range is inverted", "[low, high]")
        _versions(c, s.versions, versions, where)
        subscales.append(
            SubscaleDefinition(
                code=s.code,
                label=s.label,
                items=tuple(s.items),
                method=s.method,
                rule=s.rule,
                params=_freeze(s.params),
                bins=_bins(c, s.bins, where),
                range=_pair(s.range),
                missing_rule=_missing(c, s.missing, where),
                versions=tuple(s.versions),
            )
        )
    sub_codes = [s.code for s in subscales]
    for code in dict.fromkeys([*_duplicates(sub_codes), *(set(sub_codes) & set(codes))]):
        c.add(
            "S005",
            ("subscales", sub_codes.index(code), "code"),
            f"subscale code {code!r} is used twice or is also an item code",
            "give each subscale its own code",
        )

    total = None
    if model.total is not None:
        t = model.total
        total = TotalDefinition(t.source, tuple(t.parts), t.method, t.skipped)
        if model.total_range is None:
            c.add(
                "S019",
                ("total",),
                "the scale has a [total] but no total_range",
                "add total_range = [low, high]",
            )
    if model.total_range is not None and model.total_range[0] > model.total_range[1]:
        c.add("S006", ("total_range",), "total_range is inverted", "give [low, high]")

    bands = [Band(b.min, b.max, b.label) for b in model.bands]
    derived = []
    for i, dv in enumerate(model.derived):
        _versions(c, dv.versions, versions, ("derived", i))
        _derived_range(c, dv, ("derived", i))
        derived.append(
            DerivedDefinition(
                dv.name,
                dv.rule,
                dv.label,
                _freeze(dv.params),
                tuple(dv.versions),
                _pair(dv.range),
            )
        )

    definition = ScaleDefinition(
        code=model.code,
        name=model.name,
        description=model.description,
        respondent=model.respondent,
        recall=model.recall,
        versions=versions,
        items=version_items[versions[0]],
        total_range=_pair(model.total_range),
        bands=tuple(sorted(bands, key=lambda b: b.min)),
        subscales=tuple(subscales),
        missing_rule=_missing(c, model.missing, ()),
        licence_note=model.licence_note,
        total=total,
        derived=tuple(derived),
        references=tuple(model.references),
        version_items=MappingProxyType(version_items),
        short_name=model.short_name or model.code.upper(),
        safety=_safety(c, model, version_items),
    )
    if c.problems:  # later checks assume the pieces above are sound
        return definition, c.problems
    check_bands(c, definition)
    for v in versions:
        check_version(c, model, definition, v)
    return definition, c.problems


def _safety(
    c: Checker, model: ScaleFile, version_items: Mapping[str, tuple[ItemDefinition, ...]]
) -> SafetyDeclaration:
    raw = model.safety
    every = [it for items in version_items.values() for it in items]
    items: list[str] = []
    for j, key in enumerate(raw.items):
        item = next((it for it in every if key in (it.code, it.ref)), None)
        if item is None:
            c.add(
                "S022",
                ("safety", "items", j),
                f"safety item {key!r} is not an item of the scale",
                "give an item number or code",
            )
            continue
        if not item.required:
            c.add(
                "S023",
                ("safety", "items", j),
                f"safety item {key!r} ({item.code}) is declared required = false or has a "
                "blank_value",
                "remove required = false / blank_value from the item: a safety item left blank "
                "must keep the form incomplete",
            )
        if item.code not in items:
            items.append(item.code)
    fields = {d.name for d in model.derived} | {s.code for s in model.subscales}
    if model.total is not None:
        fields.add("total")
    for j, name in enumerate(raw.fields):
        if name not in fields:
            c.add(
                "S022",
                ("safety", "fields", j),
                f"safety field {name!r} is not a derived value, subscale or total of the scale",
                "use one of " + ", ".join(sorted(fields)),
            )
    categories: dict[str, Mapping[int, str]] = {}
    for subject, table in raw.categories.items():
        if subject not in (*raw.fields, *items, *raw.items):
            c.add(
                "S022",
                ("safety", "categories", subject),
                f"categories are given for {subject!r}, which is not a safety item or field",
                "list it under safety.items or safety.fields",
            )
        values: dict[int, str] = {}
        for key, words in table.items():
            if not re.fullmatch(r"-?\d+", key):
                c.add(
                    "S022",
                    ("safety", "categories", subject, key),
                    f"category value {key!r} of {subject} is not a whole number",
                    'key categories by value, e.g. "4" = "…"',
                )
                continue
            values[int(key)] = words
        key_of = next((it.code for it in every if subject in (it.code, it.ref)), subject)
        categories[key_of] = MappingProxyType(values)
    return SafetyDeclaration(tuple(items), tuple(raw.fields), MappingProxyType(categories))
