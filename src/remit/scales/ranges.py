"""What values a scale can give: the range of an item's answer, of the total, of a subscale and
of a derived value, read off the definition.

The protocol check (:mod:`remit.protocol.check_scales`) compares safety-rule thresholds,
endpoint cut-offs and eligibility limits with these ranges, so that a threshold no form can
reach (MADRS total ≥ 70 on a 0–60 scale) or a yes/no compared with a number is caught before a
trial starts. Nothing here knows any particular scale: a derived value's range comes from its
rule (a yes/no rule, or the ``item`` rule's item) or from the ``range`` its ``[[derived]]``
entry declares.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from remit.scales.model import ItemDefinition, ScaleDefinition, SubscaleDefinition
from remit.scales.rules import RULES, item_codes


@dataclass(frozen=True)
class ValueRange:
    """The values a scored value or an answer can take: ``low``–``high``, or a yes/no.

    A yes/no is held as ``low = 0``, ``high = 1`` with ``yes_no`` set.

    Examples
    --------
    >>> ValueRange(0, 60).describe(), ValueRange(0, 1, yes_no=True).describe()
    ('0–60', 'yes/no')
    >>> ValueRange(0, 60).change().describe()
    '-60–60'
    """

    low: float
    high: float
    yes_no: bool = False

    def describe(self) -> str:
        """The range in words, e.g. ``"0–60"`` or ``"yes/no"``."""
        if self.yes_no:
            return "yes/no"
        return f"{self.low:g}–{self.high:g}"

    def change(self) -> ValueRange:
        """The range of a change from baseline: ±(high − low).

        Examples
        --------
        >>> ValueRange(0, 5).change()
        ValueRange(low=-5, high=5, yes_no=False)
        """
        width = self.high - self.low
        return ValueRange(-width, width)

    @staticmethod
    def union(ranges: Iterable[ValueRange | None]) -> ValueRange | None:
        """The smallest range holding every known one (``None`` when any is unknown or none
        is given; a yes/no only when all are).

        Examples
        --------
        >>> ValueRange.union([ValueRange(0, 3), ValueRange(1, 5)])
        ValueRange(low=0, high=5, yes_no=False)
        >>> ValueRange.union([ValueRange(0, 3), None]) is None
        True
        """
        known = list(ranges)
        if not known or any(r is None for r in known):
            return None
        found = [r for r in known if r is not None]
        return ValueRange(
            min(r.low for r in found),
            max(r.high for r in found),
            all(r.yes_no for r in found),
        )


def answer_range(item: ItemDefinition) -> ValueRange | None:
    """The values an answer to ``item`` can take (``None`` for choice, time and text items,
    whose answers are not numbers).

    Examples
    --------
    >>> from remit.scales import load_scale
    >>> answer_range(load_scale("madrs").item("10"))
    ValueRange(low=0.0, high=6.0, yes_no=False)
    >>> answer_range(load_scale("cssrs").item("wish_to_be_dead")).yes_no
    True
    """
    if item.kind == "boolean":
        return ValueRange(0, 1, yes_no=True)
    if item.kind in ("integer", "number") and item.min is not None and item.max is not None:
        return ValueRange(item.min, item.max)
    return None


def score_range(item: ItemDefinition) -> ValueRange | None:
    """The range of the item's score (what totals and subscales add up)."""
    if item.bins:
        values = [b.value for b in item.bins]
        return ValueRange(min(values), max(values))
    if item.kind == "choice":
        try:
            scores = [item.recode[k] if k in item.recode else float(k) for k in item.options]
        except ValueError:
            return None
        return ValueRange(min(scores), max(scores)) if scores else None
    found = answer_range(item)
    return None if found is None else ValueRange(found.low, found.high)


def _subscale_range(
    definition: ScaleDefinition, sub: SubscaleDefinition, version: str, depth: int = 0
) -> ValueRange | None:
    if sub.range is not None:
        return ValueRange(*sub.range)
    if sub.bins:
        values = [b.value for b in sub.bins]
        return ValueRange(min(values), max(values))
    if sub.method == "rule" or depth > 10:
        return None
    items = {it.code: it for it in definition.items_for(version)}
    subs = {s.code: s for s in definition.subscales_for(version)}
    parts: list[ValueRange | None] = []
    for code in sub.items:
        if code in items:
            parts.append(score_range(items[code]))
        elif code in subs:
            parts.append(_subscale_range(definition, subs[code], version, depth + 1))
        else:
            return None
    if not parts or any(p is None for p in parts):
        return None
    known = [p for p in parts if p is not None]
    if sub.method == "sum":
        return ValueRange(sum(p.low for p in known), sum(p.high for p in known))
    return ValueRange(min(p.low for p in known), max(p.high for p in known))


def field_range(
    definition: ScaleDefinition, name: str, version: str | None = None
) -> ValueRange | None:
    """The values scored field ``name`` (``total``, a subscale or a derived value) of
    ``version`` can take; ``None`` when the definition does not say (or has no such field).

    A derived value's range is the one its ``[[derived]]`` entry declares, else a yes/no for
    a yes/no rule, else the item's answer range for a rule that gives an item's answer as it
    is (``item``).

    Examples
    --------
    >>> from remit.scales import load_scale
    >>> field_range(load_scale("madrs"), "total")
    ValueRange(low=0.0, high=60.0, yes_no=False)
    >>> field_range(load_scale("cssrs"), "ideation_type").describe()
    '0–5'
    >>> field_range(load_scale("cssrs"), "any_behaviour").describe()
    'yes/no'
    """
    v = definition.check_version(version)
    if name == "total":
        if definition.total is None or definition.total_range is None:
            return None
        return ValueRange(*definition.total_range)
    for sub in definition.subscales_for(v):
        if sub.code == name:
            return _subscale_range(definition, sub, v)
    for dv in definition.derived_for(v):
        if dv.name != name:
            continue
        if dv.range is not None:
            return ValueRange(*dv.range)
        rule = RULES.get(dv.rule)
        if rule is None:
            return None
        if rule.yes_no:
            return ValueRange(0, 1, yes_no=True)
        if rule.answer_of is not None:
            (code,) = item_codes(dv.params, rule.answer_of)
            return answer_range(definition.item(code, v))
        return None
    return None


__all__ = ["ValueRange", "answer_range", "field_range"]
