"""Reading scale definitions from TOML and checking that they are self-consistent."""

from __future__ import annotations

import csv
import functools
import io
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from remit.errors import InputError, NotFoundError, ScaleError
from remit.scales.model import (
    ITEM_KINDS,
    RESPONDENTS,
    Band,
    Bin,
    Condition,
    DerivedDefinition,
    ItemDefinition,
    MissingRule,
    ScaleDefinition,
    SubscaleDefinition,
    TotalDefinition,
)
from remit.scales.rules import get_rule, item_codes

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")

_TOP_KEYS = {
    "code",
    "name",
    "description",
    "respondent",
    "recall",
    "versions",
    "licence_note",
    "references",
    "total_range",
    "missing",
    "total",
    "recodes",
    "items",
    "subscales",
    "bands",
    "derived",
}
_ITEM_KEYS = {
    "code",
    "label",
    "kind",
    "min",
    "max",
    "options",
    "required",
    "section",
    "scored",
    "ref",
    "recode",
    "bins",
    "accept_range",
    "blank_value",
    "skip_when",
    "skip_note",
    "implies",
    "versions",
}
_SUBSCALE_KEYS = {
    "code",
    "label",
    "items",
    "method",
    "rule",
    "params",
    "bins",
    "range",
    "missing",
    "versions",
}
_TOTAL_KEYS = {"source", "parts", "method", "skipped"}
_DERIVED_KEYS = {"name", "rule", "label", "params", "versions"}
_BIN_KEYS = {"value", "lt", "le", "gt", "ge"}


class _Reader:
    """Typed access to a parsed TOML table with errors that name the file and key path."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, what: str, expected: str) -> ScaleError:
        return ScaleError(
            f"scale definition {self.source}: {where}: {what}",
            expected=expected,
            hint="see docs/scales.md for the format",
        )

    def keys(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(
                where,
                f"unknown key(s) {', '.join(unknown)}",
                "one of " + ", ".join(sorted(allowed)),
            )

    def string(
        self, table: Mapping[str, Any], key: str, where: str, default: str | None = None
    ) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or (default is None and not value):
            raise self.fail(f"{where}.{key}", f"is {value!r}", "a non-empty string")
        return value

    def opt_string(self, table: Mapping[str, Any], key: str, where: str) -> str | None:
        if key not in table:
            return None
        return self.string(table, key, where)

    def boolean(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", f"is {value!r}", "true or false")
        return value

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"is {value!r}", "a number")
        return float(value)

    def opt_number(self, table: Mapping[str, Any], key: str, where: str) -> float | None:
        if key not in table:
            return None
        return self.number(table[key], f"{where}.{key}")

    def strings(self, table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}.{key}", f"is {value!r}", "a list of strings")
        return tuple(value)

    def pair(self, value: Any, where: str) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(where, f"is {value!r}", "[low, high]")
        low, high = self.number(value[0], where), self.number(value[1], where)
        if low > high:
            raise self.fail(where, f"is inverted ({low:g} > {high:g})", "[low, high], low ≤ high")
        return (low, high)

    def table(self, table: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{where}.{key}", f"is {value!r}", "a table")
        return value

    def tables(self, table: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, "is not an array of tables", f"[[{key}]] entries")
        return value

    def code(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = self.string(table, key, where)
        if not _CODE.match(value):
            raise self.fail(f"{where}.{key}", f"is {value!r}", "a snake_case code")
        return value

    def bins(self, table: Mapping[str, Any], where: str) -> tuple[Bin, ...]:
        raw = table.get("bins", [])
        if not isinstance(raw, list):
            raise self.fail(f"{where}.bins", f"is {raw!r}", "a list of {cond = x, value = v}")
        out = []
        for i, entry in enumerate(raw):
            w = f"{where}.bins[{i}]"
            if not isinstance(entry, dict) or "value" not in entry:
                raise self.fail(w, f"is {entry!r}", "a table with `value` and lt/le/gt/ge")
            self.keys(entry, _BIN_KEYS, w)
            out.append(
                Bin(
                    value=self.number(entry["value"], f"{w}.value"),
                    lt=self.opt_number(entry, "lt", w),
                    le=self.opt_number(entry, "le", w),
                    gt=self.opt_number(entry, "gt", w),
                    ge=self.opt_number(entry, "ge", w),
                )
            )
        if out and any(getattr(out[-1], op) is not None for op in ("lt", "le", "gt", "ge")):
            raise self.fail(
                f"{where}.bins", "has no catch-all last bin", "a last bin with only `value`"
            )
        return tuple(out)

    def missing(self, table: Mapping[str, Any], where: str) -> MissingRule:
        raw = self.table(table, "missing", where)
        self.keys(raw, {"kind", "max_missing", "skipped"}, f"{where}.missing")
        kind = raw.get("kind", "none")
        max_missing = raw.get("max_missing", 0)
        skipped = raw.get("skipped")
        try:
            return MissingRule(kind, max_missing, skipped)
        except InputError as error:
            raise self.fail(
                f"{where}.missing", error.message, error.expected or "a valid missing rule"
            ) from None


def _freeze(value: Any) -> Any:
    """Lists become tuples and tables read-only mappings, so a shared definition cannot change."""
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _parse_item(
    r: _Reader, raw: dict[str, Any], index: int, scale: dict[str, Any]
) -> ItemDefinition:
    where = f"items[{index}]"
    r.keys(raw, _ITEM_KEYS, where)
    code = r.code(raw, "code", where)
    where = f"items[{index}] ({code})"
    kind = r.string(raw, "kind", where)
    if kind not in ITEM_KINDS:
        raise r.fail(f"{where}.kind", f"is {kind!r}", "one of " + ", ".join(ITEM_KINDS))
    low, high = r.opt_number(raw, "min", where), r.opt_number(raw, "max", where)
    if kind in ("integer", "number") and (low is None or high is None or low > high):
        raise r.fail(where, f"has min={low}, max={high}", "min ≤ max for a numeric item")
    options_raw = r.table(raw, "options", where)
    options = {str(k): str(v) for k, v in options_raw.items()}
    if kind == "choice" and not options:
        raise r.fail(where, "is a choice without options", "options = {value = label, …}")
    recode_raw = raw.get("recode", {})
    if isinstance(recode_raw, str):
        tables = r.table(scale, "recodes", "")
        if recode_raw not in tables:
            raise r.fail(
                f"{where}.recode",
                f"names table {recode_raw!r}, which is not under [recodes]",
                "one of " + (", ".join(tables) or "(no recode tables defined)"),
            )
        recode_raw = tables[recode_raw]
    if not isinstance(recode_raw, dict):
        raise r.fail(f"{where}.recode", f"is {recode_raw!r}", "a table or a [recodes] name")
    recode = {str(k): r.number(v, f"{where}.recode.{k}") for k, v in recode_raw.items()}
    scored = r.boolean(raw, "scored", where, True)
    if kind == "choice":
        stray = sorted(set(recode) - set(options))
        if stray:
            raise r.fail(f"{where}.recode", f"has values {stray} not in options", "option values")
        if scored and set(recode) != set(options):
            numeric = all(re.fullmatch(r"-?\d+(\.\d+)?", k) for k in options)
            if not numeric:
                raise r.fail(
                    where,
                    "is a scored choice whose options are not all numbers and not all recoded",
                    "a recode entry for every option",
                )
    if kind in ("time", "text") and scored:
        raise r.fail(where, f"is a scored {kind} item", "scored = false (rules may still use it)")
    skip_raw = raw.get("skip_when")
    skip = None
    if skip_raw is not None:
        if not isinstance(skip_raw, dict) or len(skip_raw) != 1:
            raise r.fail(
                f"{where}.skip_when", f"is {skip_raw!r}", "{all_false = [..]} or {any_true = [..]}"
            )
        (ckind,) = skip_raw
        if ckind not in ("all_false", "any_true"):
            raise r.fail(f"{where}.skip_when", f"has kind {ckind!r}", "all_false or any_true")
        codes = r.strings(skip_raw, ckind, f"{where}.skip_when")
        if not codes:
            raise r.fail(f"{where}.skip_when", "lists no items", "at least one item code")
        skip = Condition(cast(Any, ckind), codes)
    blank_value = r.opt_number(raw, "blank_value", where)
    required = r.boolean(raw, "required", where, True)
    return ItemDefinition(
        number=0,
        code=code,
        label=r.string(raw, "label", where),
        kind=cast(Any, kind),
        min=low,
        max=high,
        options=MappingProxyType(options),
        required=required and blank_value is None,
        section=r.opt_string(raw, "section", where),
        scored=scored,
        ref=r.string(raw, "ref", where, "") if "ref" in raw else "",
        recode=MappingProxyType(recode),
        bins=r.bins(raw, where),
        accept_range=r.boolean(raw, "accept_range", where, False),
        blank_value=blank_value,
        skip_when=skip,
        skip_note=r.opt_string(raw, "skip_note", where),
        implies=r.strings(raw, "implies", where),
        versions=r.strings(raw, "versions", where),
    )


def _score_range(item: ItemDefinition) -> tuple[float, float] | None:
    """The range of an item's numeric score, or None if it has none."""
    if item.bins:
        values = [b.value for b in item.bins]
        return (min(values), max(values))
    if item.kind in ("integer", "number") and item.min is not None and item.max is not None:
        return (item.min, item.max)
    if item.kind == "boolean":
        return (0.0, 1.0)
    if item.kind == "choice":
        try:
            values = [item.recode[k] if k in item.recode else float(k) for k in item.options]
        except ValueError:  # an unscored choice with non-numeric options has no score range
            return None
        return (min(values), max(values))
    return None


def _check_version(
    r: _Reader, d: ScaleDefinition, version: str, items: tuple[ItemDefinition, ...]
) -> None:
    by_code = {it.code: it for it in items}
    refs: dict[str, str] = {}
    for it in items:
        if it.ref in refs or (it.ref in by_code and by_code[it.ref] is not it):
            raise r.fail(
                f"version {version}",
                f"item number {it.ref!r} is used twice (or is another item's code)",
                "unique item numbers",
            )
        refs[it.ref] = it.code
        if it.implies and it.kind != "boolean":
            raise r.fail(f"items ({it.code}).implies", "is set on a non-yes/no item", "a boolean")
        for c in it.implies:
            if c in by_code and by_code[c].kind != "boolean":
                raise r.fail(f"items ({it.code}).implies", f"names {c!r}", "yes/no items")
            if not _in_other_version(d, c):
                raise r.fail(f"items ({it.code}).implies", f"names unknown item {c!r}", "codes")
        if it.skip_when:
            for c in it.skip_when.items:
                other = by_code.get(c)
                if other is None or other.kind != "boolean":
                    raise r.fail(
                        f"items ({it.code}).skip_when",
                        f"refers to {c!r}, not a yes/no item of version {version!r}",
                        "codes of boolean items in the same versions",
                    )
    _skip_order(r, items)
    ranges: dict[str, tuple[float, float] | None] = {it.code: _score_range(it) for it in items}
    sub_items: dict[str, tuple[str, ...]] = {}
    for s in d.subscales_for(version):
        for part in s.items:
            if part not in by_code and part not in ranges:
                raise r.fail(
                    f"subscales ({s.code}).items",
                    f"refers to {part!r}, which is neither an item nor an earlier subscale"
                    f" of version {version!r}",
                    "item codes or codes of subscales defined above",
                )
        if s.method == "rule":
            _check_rule_params(r, f"subscales ({s.code})", s.rule or "", s.params, by_code)
        elif s.range is not None and s.method == "sum" and not s.bins:
            sranges = [ranges.get(p) for p in s.items]
            if all(x is not None for x in sranges):
                low = sum(x[0] for x in sranges if x is not None)
                high = sum(x[1] for x in sranges if x is not None)
                if (low, high) != s.range:
                    raise r.fail(
                        f"subscales ({s.code}).range",
                        f"is [{s.range[0]:g}, {s.range[1]:g}] but its items sum to "
                        f"[{low:g}, {high:g}]",
                        "the range the items allow",
                    )
        ranges[s.code] = s.range
        sub_items[s.code] = tuple(code for p in s.items for code in sub_items.get(p, (p,)))
    for dv in d.derived_for(version):
        _check_rule_params(r, f"derived ({dv.name})", dv.rule, dv.params, by_code)
        if dv.rule == "pcl5_provisional":
            clusters = dv.params.get("clusters")
            if isinstance(clusters, Mapping):
                for c in clusters:
                    if c not in sub_items:
                        raise r.fail(
                            f"derived ({dv.name}).params.clusters",
                            f"names {c!r}, not a subscale",
                            "subscale codes",
                        )
    if d.total is not None:
        known = by_code if d.total.source == "items" else sub_items
        for p in d.total.parts:
            if p not in known and not _in_other_version(d, p):
                raise r.fail(
                    "total.parts", f"names {p!r}, not one of the {d.total.source}", "valid codes"
                )
        if d.total.method == "sum" and d.total_range is not None:
            pr = [ranges.get(p) for p in total_parts(d, version)]
            if any(x is None for x in pr):
                raise r.fail("total", "has a part without a known range", "parts with ranges")
            low = sum(x[0] for x in pr if x is not None)
            high = sum(x[1] for x in pr if x is not None)
            if (low, high) != d.total_range:
                raise r.fail(
                    "total_range",
                    f"is [{d.total_range[0]:g}, {d.total_range[1]:g}] but the parts of version "
                    f"{version!r} sum to [{low:g}, {high:g}]",
                    "the range the parts allow",
                )


def _in_other_version(d: ScaleDefinition, code: str) -> bool:
    """Whether ``code`` names an item or subscale of some version of the scale."""
    return any(code == it.code for items in d.version_items.values() for it in items) or any(
        code == s.code for s in d.subscales
    )


def _check_rule_params(
    r: _Reader, where: str, name: str, params: Mapping[str, object], items: Mapping[str, Any]
) -> None:
    try:
        rule = get_rule(name)
    except ScaleError as error:
        raise r.fail(f"{where}.rule", error.message, error.expected or "") from None
    for p in rule.required_params:
        if p not in params:
            raise r.fail(f"{where}.params", f"lacks {p!r} for rule {name!r}", rule.doc)
    for p in rule.item_params:
        for code in item_codes(params, p):
            if code not in items:
                raise r.fail(f"{where}.params.{p}", f"names unknown item {code!r}", "item codes")


def _skip_order(r: _Reader, items: tuple[ItemDefinition, ...]) -> None:
    """Refuse skip conditions that depend on each other in a cycle."""
    by_code = {it.code: it for it in items}
    state: dict[str, int] = {}

    def visit(code: str, path: tuple[str, ...]) -> None:
        if state.get(code) == 2:
            return
        if state.get(code) == 1:
            raise r.fail("skip_when", "forms a cycle: " + " → ".join((*path, code)), "no cycles")
        state[code] = 1
        cond = by_code[code].skip_when
        for c in cond.items if cond else ():
            visit(c, (*path, code))
        state[code] = 2

    for it in items:
        visit(it.code, ())


def total_parts(d: ScaleDefinition, version: str | None = None) -> tuple[str, ...]:
    """The codes the total is made of in ``version``: items or subscales.

    Examples
    --------
    >>> from remit.scales import load_scale
    >>> total_parts(load_scale("sds"))
    ('work_school', 'social_life', 'family_life')
    """
    if d.total is None:
        return ()
    if d.total.parts:
        if d.total.source == "items":
            present = {it.code for it in d.items_for(version)}
            return tuple(p for p in d.total.parts if p in present)
        present = {s.code for s in d.subscales_for(version)}
        return tuple(p for p in d.total.parts if p in present)
    if d.total.source == "items":
        return tuple(it.code for it in d.items_for(version) if it.scored)
    return tuple(s.code for s in d.subscales_for(version))


def _check_bands(r: _Reader, d: ScaleDefinition) -> None:
    if not d.bands:
        return
    if d.total_range is None:
        raise r.fail("bands", "are given but the scale has no total_range", "a total_range")
    if d.bands[0].min != d.total_range[0] or d.bands[-1].max != d.total_range[1]:
        raise r.fail(
            "bands",
            f"cover [{d.bands[0].min:g}, {d.bands[-1].max:g}], not the total range "
            f"[{d.total_range[0]:g}, {d.total_range[1]:g}]",
            "bands from the lowest to the highest total",
        )
    for a, b in zip(d.bands, d.bands[1:], strict=False):
        if a.min > a.max:
            raise r.fail(f"bands ({a.label})", "is inverted", "min ≤ max")
        if b.min != a.max + 1:
            word = "overlap" if b.min <= a.max else "leave a gap"
            raise r.fail(
                f"bands ({a.label}, {b.label})",
                f"{word}: {a.max:g} is followed by {b.min:g}",
                "each band to start one above the previous band's max",
            )


def parse_scale(text: str, source: str = "<string>") -> ScaleDefinition:
    """Build a :class:`ScaleDefinition` from TOML text and check it.

    Parameters
    ----------
    text
        The TOML definition (format in ``docs/scales.md``).
    source
        Name used in error messages (a file name).

    Raises
    ------
    ScaleError
        If the TOML is invalid or the definition is not self-consistent.

    Examples
    --------
    >>> d = parse_scale('''
    ... code = "tiny"
    ... name = "Tiny scale"
    ... description = "Two items"
    ... respondent = "self"
    ... recall = "today"
    ... licence_note = "example"
    ... total_range = [0, 2]
    ... [total]
    ... [[items]]
    ... code = "a"
    ... label = "A"
    ... kind = "boolean"
    ... [[items]]
    ... code = "b"
    ... label = "B"
    ... kind = "boolean"
    ... ''')
    >>> [it.ref for it in d.items]
    ['1', '2']
    """
    r = _Reader(source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScaleError(
            f"scale definition {source} is not valid TOML: {error}",
            hint="fix the TOML syntax at the line named",
        ) from None
    r.keys(raw, _TOP_KEYS, "top level")
    code = r.code(raw, "code", "top level")
    respondent = r.string(raw, "respondent", "top level")
    if respondent not in RESPONDENTS:
        raise r.fail("respondent", f"is {respondent!r}", "one of " + ", ".join(RESPONDENTS))
    versions = r.strings(raw, "versions", "top level") or ("default",)
    if len(set(versions)) != len(versions):
        raise r.fail("versions", "repeat a name", "distinct version names")
    items_raw = r.tables(raw, "items")
    if not items_raw:
        raise r.fail("items", "are missing", "at least one [[items]] entry")
    all_items = [_parse_item(r, it, i, raw) for i, it in enumerate(items_raw)]
    codes = [it.code for it in all_items]
    for c in codes:
        if codes.count(c) > 1:
            raise r.fail("items", f"code {c!r} is used twice", "unique item codes")
    for it in all_items:
        for v in it.versions:
            if v not in versions:
                raise r.fail(f"items ({it.code}).versions", f"names {v!r}", ", ".join(versions))
    version_items: dict[str, tuple[ItemDefinition, ...]] = {}
    for v in versions:
        chosen = [it for it in all_items if not it.versions or v in it.versions]
        version_items[v] = tuple(it.with_number(i + 1) for i, it in enumerate(chosen))

    subscales = []
    for i, s in enumerate(r.tables(raw, "subscales")):
        where = f"subscales[{i}]"
        r.keys(s, _SUBSCALE_KEYS, where)
        method = s.get("method", "sum")
        if method not in ("sum", "mean", "max", "rule"):
            raise r.fail(f"{where}.method", f"is {method!r}", "sum, mean, max or rule")
        if (method == "rule") != ("rule" in s):
            raise r.fail(where, "needs `rule` exactly when method = 'rule'", "method and rule")
        subscales.append(
            SubscaleDefinition(
                code=r.code(s, "code", where),
                label=r.string(s, "label", where),
                items=r.strings(s, "items", where),
                method=method,
                rule=r.opt_string(s, "rule", where),
                params=_freeze(r.table(s, "params", where)),
                bins=r.bins(s, where),
                range=r.pair(s["range"], f"{where}.range") if "range" in s else None,
                missing_rule=r.missing(s, where),
                versions=r.strings(s, "versions", where),
            )
        )
    sub_codes = [s.code for s in subscales]
    if len(set(sub_codes)) != len(sub_codes) or set(sub_codes) & set(codes):
        raise r.fail("subscales", "repeat a code or reuse an item code", "distinct codes")

    total = None
    if "total" in raw:
        t = r.table(raw, "total", "top level")
        r.keys(t, _TOTAL_KEYS, "total")
        source_kind = t.get("source", "items")
        method = t.get("method", "sum")
        skipped = t.get("skipped", "exclude")
        if source_kind not in ("items", "subscales"):
            raise r.fail("total.source", f"is {source_kind!r}", "items or subscales")
        if method not in ("sum", "mean"):
            raise r.fail("total.method", f"is {method!r}", "sum or mean")
        if skipped not in ("exclude", "prorate"):
            raise r.fail("total.skipped", f"is {skipped!r}", "exclude or prorate")
        total = TotalDefinition(source_kind, r.strings(t, "parts", "total"), method, skipped)
        if "total_range" not in raw:
            raise r.fail("total_range", "is missing", "[low, high] when [total] is given")
    total_range = r.pair(raw["total_range"], "total_range") if "total_range" in raw else None

    bands = []
    for i, b in enumerate(r.tables(raw, "bands")):
        where = f"bands[{i}]"
        r.keys(b, {"min", "max", "label"}, where)
        low, high = r.pair([b.get("min"), b.get("max")], where)
        bands.append(Band(low, high, r.string(b, "label", where)))

    derived = []
    for i, dv in enumerate(r.tables(raw, "derived")):
        where = f"derived[{i}]"
        r.keys(dv, _DERIVED_KEYS, where)
        derived.append(
            DerivedDefinition(
                name=r.code(dv, "name", where),
                rule=r.string(dv, "rule", where),
                label=r.string(dv, "label", where, ""),
                params=_freeze(r.table(dv, "params", where)),
                versions=r.strings(dv, "versions", where),
            )
        )

    definition = ScaleDefinition(
        code=code,
        name=r.string(raw, "name", "top level"),
        description=r.string(raw, "description", "top level"),
        respondent=cast(Any, respondent),
        recall=r.string(raw, "recall", "top level"),
        versions=versions,
        items=version_items[versions[0]],
        total_range=total_range,
        bands=tuple(sorted(bands, key=lambda b: b.min)),
        subscales=tuple(subscales),
        missing_rule=r.missing(raw, "top level"),
        licence_note=r.string(raw, "licence_note", "top level"),
        total=total,
        derived=tuple(derived),
        references=r.strings(raw, "references", "top level"),
        version_items=MappingProxyType(version_items),
    )
    _check_bands(r, definition)
    for v in versions:
        _check_version(r, definition, v, version_items[v])
    return definition


def _definitions() -> dict[str, Any]:
    folder = resources.files("remit.scales") / "definitions"
    return {
        entry.name.removesuffix(".toml"): entry
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


def list_scales() -> list[str]:
    """Codes of the shipped scales, sorted.

    Examples
    --------
    >>> list_scales()[:3]
    ['bdi2', 'cssrs', 'gad7']
    """
    return sorted(_definitions())


@functools.lru_cache(maxsize=64)
def _load_builtin(code: str) -> ScaleDefinition:
    files = _definitions()
    if code not in files:
        raise NotFoundError(
            f"scale {code!r} is not known",
            expected="one of " + ", ".join(sorted(files)),
            hint="run `remit scales list`",
        )
    definition = parse_scale(files[code].read_text(encoding="utf-8"), f"{code}.toml")
    if definition.code != code:
        raise ScaleError(f"{code}.toml declares code {definition.code!r}", expected=repr(code))
    return definition


def load_scale(code: str, *, wording: Path | str | None = None) -> ScaleDefinition:
    """Load a shipped scale definition by code, optionally with licensed wording overlaid.

    Parameters
    ----------
    code
        Lower-case scale code, e.g. ``"madrs"`` (see :func:`list_scales`).
    wording
        A local TOML or CSV file with item wording keyed by item code (see
        :func:`load_wording`).

    Raises
    ------
    NotFoundError
        If no shipped scale has that code (the message lists the known codes).

    Examples
    --------
    >>> load_scale("gad7").total_range
    (0.0, 21.0)
    """
    if not isinstance(code, str):
        raise NotFoundError(f"scale code {code!r} is not a string", expected="e.g. 'madrs'")
    definition = _load_builtin(code.strip().lower())
    if wording is not None:
        definition = apply_wording(definition, load_wording(wording))
    return definition


def load_scale_file(path: Path | str) -> ScaleDefinition:
    """Load a scale definition from a TOML file of one's own.

    Raises
    ------
    NotFoundError
        If the file does not exist.
    ScaleError
        If it is not a sound definition.

    Examples
    --------
    >>> from importlib import resources
    >>> path = resources.files("remit.scales") / "definitions" / "isi.toml"
    >>> load_scale_file(str(path)).code
    'isi'
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"scale file {str(p)!r} does not exist", expected="a TOML file")
    return parse_scale(p.read_text(encoding="utf-8"), p.name)


def load_wording(path: Path | str) -> dict[str, str]:
    """Read a local wording file: item code → the licensed wording of that item.

    TOML: a table ``[items]`` (or top-level keys) of ``code = "wording"``. CSV: columns ``item``
    and ``wording`` with a header row.

    Examples
    --------
    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    >>> _ = f.write("item,wording\\napparent_sadness,Licensed text here\\n"); f.close()
    >>> load_wording(f.name)
    {'apparent_sadness': 'Licensed text here'}
    >>> os.unlink(f.name)
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(
            f"wording file {str(p)!r} does not exist", expected="a TOML or CSV file"
        )
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows or "item" not in rows[0] or "wording" not in rows[0]:
            raise ScaleError(
                f"wording file {p.name} lacks the columns item, wording",
                expected="a CSV header `item,wording`",
            )
        return {row["item"].strip(): row["wording"] for row in rows}
    if p.suffix.lower() != ".toml":
        raise ScaleError(
            f"wording file {p.name} is neither .toml nor .csv", expected=".toml or .csv"
        )
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScaleError(f"wording file {p.name} is not valid TOML: {error}") from None
    table = raw.get("items", raw)
    out: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str):
            raise ScaleError(
                f"wording file {p.name}: {key!r} is {value!r}", expected='item_code = "wording"'
            )
        out[str(key)] = value
    return out


def apply_wording(definition: ScaleDefinition, wording: Mapping[str, str]) -> ScaleDefinition:
    """A copy of ``definition`` whose items carry the given wording (keyed by item code).

    Raises
    ------
    ScaleError
        If the wording names an item the scale does not have.

    Examples
    --------
    >>> d = apply_wording(load_scale("madrs"), {"suicidal_thoughts": "Text"})
    >>> d.item("10").wording
    'Text'
    """
    known = {it.code for items in definition.version_items.values() for it in items}
    unknown = sorted(set(wording) - known)
    if unknown:
        raise ScaleError(
            f"wording names item(s) {', '.join(unknown)} that {definition.code} does not have",
            expected="item codes, e.g. " + ", ".join(sorted(known)[:3]),
            hint=f"run `remit scales show {definition.code}`",
        )
    version_items = {
        v: tuple(replace(it, wording=wording.get(it.code, it.wording)) for it in items)
        for v, items in definition.version_items.items()
    }
    return replace(
        definition,
        items=version_items[definition.versions[0]],
        version_items=MappingProxyType(version_items),
    )
