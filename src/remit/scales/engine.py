"""The one scoring engine: items → subscales → total → band → derived values.

It reads everything it does from the :class:`~remit.scales.model.ScaleDefinition`; what a table
cannot express is a named rule from :mod:`remit.scales.rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from remit.errors import ScaleError
from remit.scales.answers import (
    Normalised,
    contradictions,
    skipped_items,
    undecided_items,
    validate_answers,
)
from remit.scales.loader import load_scale
from remit.scales.model import (
    DerivedDefinition,
    ItemDefinition,
    MissingRule,
    ScaleDefinition,
    SubscaleDefinition,
    apply_bins,
    total_parts,
)
from remit.scales.rules import RuleContext, RuleValue, get_rule

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ScoreResult:
    """The scores of one form, and whether it is complete.

    Attributes
    ----------
    scale, version
        Which scale and version was scored.
    total
        The total score, or ``None`` when it is missing (or the scale has no total).
    band
        The severity band of the total, or ``None``.
    subscales
        Subscale, cluster or component values by code (``None`` when missing).
    derived
        Values computed by named rules (e.g. C-SSRS ``ideation_type``).
    n_missing
        Number of required items left blank (items the form skipped do not count).
    complete
        Whether every required item the form asks is answered (safety items are always
        required). An incomplete form is stored as ``incomplete``, never ``complete``.
    missing_required
        The required items left blank, as a person types them (``"10"`` for MADRS item 10).
    safety_missing
        The safety items among them, by code: the safety rules that read them cannot be
        evaluated, and no total is prorated over them.
    prorated
        Whether the total was prorated (missing items, or skipped items scaled up).
    notes
        What was done that a reader must know, in words.
    answers
        The normalised answers by item code.
    has_total
        Whether the scale defines a total at all (C-SSRS and the VAS do not).
    """

    scale: str
    version: str
    total: float | None
    band: str | None
    subscales: dict[str, float | None] = field(default_factory=dict)
    derived: dict[str, RuleValue] = field(default_factory=dict)
    n_missing: int = 0
    prorated: bool = False
    notes: tuple[str, ...] = ()
    answers: dict[str, Normalised] = field(default_factory=dict)
    has_total: bool = True
    complete: bool = True
    missing_required: tuple[str, ...] = ()
    safety_missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready dictionary of the result.

        Examples
        --------
        >>> score("gad7", {str(i): 1 for i in range(1, 8)}).to_dict()["total"]
        7
        >>> d = score("madrs", {str(i): 3 for i in range(1, 10)}).to_dict()
        >>> d["complete"], d["missing_required"]
        (False, ['10'])
        """
        return {
            "scale": self.scale,
            "version": self.version,
            "total": self.total,
            "band": self.band,
            "subscales": dict(self.subscales),
            "derived": dict(self.derived),
            "n_missing": self.n_missing,
            "complete": self.complete,
            "missing_required": list(self.missing_required),
            "safety_missing": list(self.safety_missing),
            "prorated": self.prorated,
            "notes": list(self.notes),
            "answers": dict(self.answers),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per quantity: columns ``scale, version, kind, name, value``.

        ``kind`` is ``total``, ``band``, ``subscale``, ``derived`` or ``item``.

        Examples
        --------
        >>> frame = score("gad7", {str(i): 1 for i in range(1, 8)}).to_frame()
        >>> frame.loc[frame["kind"] == "total", "value"].item()
        7
        """
        import pandas as pd

        rows: list[tuple[str, str, object]] = [("total", "total", self.total)]
        rows.append(("band", "band", self.band))
        rows += [("subscale", k, v) for k, v in self.subscales.items()]
        rows += [("derived", k, v) for k, v in self.derived.items()]
        rows += [("item", k, v) for k, v in self.answers.items()]
        return pd.DataFrame(
            [
                {"scale": self.scale, "version": self.version, "kind": k, "name": n, "value": v}
                for k, n, v in rows
            ],
            columns=["scale", "version", "kind", "name", "value"],
        )

    def summary(self) -> str:
        """A few readable lines: total and band, subscales, derived values, notes.

        Examples
        --------
        >>> print(score("gad7", {str(i): 2 for i in range(1, 8)}).summary().splitlines()[0])
        gad7 (default): total 14 — moderate
        """
        total = "missing" if self.total is None else f"{self.total:g}"
        if not self.has_total:
            total = "none (this scale has no total)"
        band = f" — {self.band}" if self.band else ""
        lines = [f"{self.scale} ({self.version}): total {total}{band}"]
        if self.subscales:
            lines.append(
                "subscales: "
                + ", ".join(
                    f"{k} {'missing' if v is None else f'{v:g}'}" for k, v in self.subscales.items()
                )
            )
        if self.derived:
            lines.append("derived: " + ", ".join(f"{k} {v}" for k, v in self.derived.items()))
        lines.append(
            f"missing items: {self.n_missing}; prorated: {'yes' if self.prorated else 'no'}"
        )
        if not self.complete:
            lines.append(self.incomplete_message())
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def incomplete_message(self) -> str:
        """One line naming the required items left blank (``""`` when the form is complete).

        Examples
        --------
        >>> score("madrs", {str(i): 3 for i in range(1, 10)}).incomplete_message()
        'incomplete: required item 10 is not answered (a safety item)'
        """
        if self.complete:
            return ""
        refs = self.missing_required
        noun = "item" if len(refs) == 1 else "items"
        verb = "is" if len(refs) == 1 else "are"
        n_safety = len(self.safety_missing)
        extra = ""
        if n_safety:
            extra = " (a safety item)" if n_safety == 1 else f" ({n_safety} of them safety items)"
        return f"incomplete: required {noun} {', '.join(refs)} {verb} not answered{extra}"


def _num(x: float) -> float:
    """Keep whole numbers as ``int`` so that totals print as 23, not 23.0."""
    return int(x) if float(x).is_integer() else x


def _item_score(item: ItemDefinition, value: Normalised) -> float | None:
    if value is None:
        return item.blank_value
    if isinstance(value, bool):
        x = 1.0 if value else 0.0
    elif isinstance(value, int | float):
        x = float(value)
    elif item.kind == "choice":
        x = item.recode[value] if value in item.recode else float(value)
    else:
        return None
    return apply_bins(item.bins, x) if item.bins else x


def _combine(
    values: list[float | None],
    method: str,
    rule: MissingRule,
    n_expected: int,
) -> tuple[float | None, bool]:
    """Combine ``values`` by ``method``; prorate by ``rule`` up to ``n_expected`` parts.

    Returns the value and whether it was prorated.
    """
    answered = [v for v in values if v is not None]
    n_missing = len(values) - len(answered)
    if not answered:
        return None, False
    if n_missing and (rule.kind == "none" or n_missing > rule.max_missing):
        return None, False
    if method == "mean":
        return sum(answered) / len(answered), n_missing > 0
    if method == "max":
        return (max(answered) if n_missing == 0 else None), False
    total = sum(answered)
    if len(answered) != n_expected:
        return total / len(answered) * n_expected, True
    return total, False


def _subscale(
    s: SubscaleDefinition,
    item_scores: Mapping[str, float | None],
    subscales: Mapping[str, float | None],
    skipped: frozenset[str],
    ctx: RuleContext,
) -> float | None:
    if s.method == "rule":
        raw = get_rule(s.rule or "").function(ctx, s.params)
        value = None if raw is None else float(raw)
    else:
        parts = [p for p in s.items if p not in skipped]
        values = [subscales[p] if p in subscales else item_scores.get(p) for p in parts]
        value, _ = _combine(values, s.method, s.missing_rule, len(values))
    if value is None:
        return None
    return apply_bins(s.bins, value) if s.bins else value


def _band(definition: ScaleDefinition, total: float | None) -> str | None:
    if total is None or not definition.bands:
        return None
    label = None
    for b in definition.bands:
        if total >= b.min:
            label = b.label
    return label


class _Plan(NamedTuple):
    """What scoring a version of a scale reads of its definition, worked out once
    (:func:`_plan_of`)."""

    definition: ScaleDefinition  # what it was worked out from (kept: see _plan_of)
    subscales: tuple[SubscaleDefinition, ...]  # definition.subscales_for(version)
    derived: tuple[DerivedDefinition, ...]  # definition.derived_for(version)
    parts: tuple[str, ...]  # total_parts(definition, version)


#: The plan of each definition and version scored so far, by the definition's identity (a
#: definition is frozen; a changed scale is a new definition).
_PLANS: dict[tuple[int, str], _Plan] = {}
_PLANS_KEPT = 256


def _plan_of(definition: ScaleDefinition, version: str) -> _Plan:
    """The :class:`_Plan` of ``definition`` at ``version`` (checked), worked out once per
    definition object: the plan keeps the definition, so an id reused by another one is
    recognised and worked out again."""
    key = (id(definition), version)
    found = _PLANS.get(key)
    if found is not None and found.definition is definition:
        return found
    found = _Plan(
        definition,
        definition.subscales_for(version),
        definition.derived_for(version),
        total_parts(definition, version),
    )
    if len(_PLANS) >= _PLANS_KEPT:
        _PLANS.clear()
    _PLANS[key] = found
    return found


def score(
    scale: str | ScaleDefinition,
    answers: Mapping[str, object],
    *,
    version: str | None = None,
    missing: MissingRule | None = None,
    safety_items: Iterable[str] = (),
) -> ScoreResult:
    """Score one form and say whether it is complete.

    Parameters
    ----------
    scale
        A scale code (``"madrs"``) or a :class:`~remit.scales.model.ScaleDefinition`.
    answers
        Item number (``"1"``) or item code → answer; a blank item is absent or ``None``.
    version
        The scale version (default: the first of the definition's ``versions``).
    missing
        A missing-item rule that overrides the definition's default (e.g. a protocol that
        allows prorating MADRS with one item missing). It never prorates over a missing
        safety item: the total then stays missing.
    safety_items
        Items (number or code) a protocol marks as safety items on top of the scale's own
        ``[safety]`` items: required, and never prorated over.

    Returns
    -------
    ScoreResult
        Total, band, subscales, derived values, missing count, whether it prorated, notes,
        and whether the form is complete (``missing_required`` names the blank required items).

    Raises
    ------
    AnswerError
        If an answer is refused (see :func:`~remit.scales.answers.validate_answers`).
    NotFoundError, ScaleError
        If the scale or version is unknown.

    Examples
    --------
    >>> r = score("madrs", {"1": 4, "2": 4, "3": 3, "4": 4, "5": 2, "6": 3, "7": 3, "8": 4,
    ...                     "9": 3, "10": 2})
    >>> r.total, r.band
    (32, 'moderate')
    >>> r = score("madrs", {str(i): 3 for i in range(2, 11)}, missing=MissingRule("prorate", 1))
    >>> r.total, r.prorated, r.notes[0]
    (30, True, 'total prorated from 9 of 10 items')
    >>> r.complete, r.missing_required  # prorated, yet still not a complete form
    (False, ('1',))
    >>> r = score("madrs", {str(i): 3 for i in range(1, 10)}, missing=MissingRule("prorate", 1))
    >>> r.total, r.complete, r.missing_required, r.safety_missing
    (None, False, ('10',), ('suicidal_thoughts',))
    """
    definition = load_scale(scale) if isinstance(scale, str) else scale
    v = definition.check_version(version)
    items = definition.items_for(v)
    normalised = validate_answers(definition, answers, version=v)
    skipped = skipped_items(definition, items, normalised)
    undecided = undecided_items(items, normalised, skipped)
    notes: list[str] = contradictions(definition, items, normalised)
    safety = {*definition.safety.items, *(definition.item(key, v).code for key in safety_items)}

    item_scores: dict[str, float | None] = {}
    missing_required: list[str] = []
    safety_missing: list[str] = []
    for it in items:
        value = normalised[it.code]
        if it.code in skipped:
            item_scores[it.code] = None
            continue
        if value is None and (it.required or it.code in safety) and it.code not in undecided:
            missing_required.append(it.ref)
            if it.code in safety:
                safety_missing.append(it.code)
        if value is None and it.blank_value is not None and it.kind != "boolean":
            notes.append(f"item {it.ref} ({it.code}) blank, counted as {it.blank_value:g}")
        if it.scored:
            item_scores[it.code] = _item_score(it, value)

    subscale_items: dict[str, tuple[str, ...]] = {}
    subscales: dict[str, float | None] = {}
    derived: dict[str, RuleValue] = {}

    effective: dict[str, Normalised] = dict(normalised)
    for it in items:
        if effective[it.code] is None and it.blank_value is not None and it.code not in skipped:
            blank = it.blank_value
            effective[it.code] = bool(blank) if it.kind == "boolean" else _num(blank)

    def context(total: float | None) -> RuleContext:
        return RuleContext(
            answers=effective,
            item_scores=item_scores,
            skipped=skipped,
            subscales=subscales,
            total=total,
            derived=derived,
            subscale_items=subscale_items,
        )

    plan = _plan_of(definition, v)
    for s in plan.subscales:
        codes: list[str] = []
        for p in s.items:
            codes.extend(subscale_items.get(p, (p,)))
        subscale_items[s.code] = tuple(codes)
        value = _subscale(s, item_scores, subscales, skipped, context(None))
        blocked = [c for c in codes if c in safety_missing]
        if value is not None and blocked and s.method != "rule":
            value = None
            notes.append(
                f"subscale {s.code} not prorated: safety item {', '.join(blocked)} missing"
            )
        subscales[s.code] = None if value is None else _num(value)
        if (
            value is None
            and s.method == "rule"
            and all(effective.get(p) is not None for p in s.items if p in effective)
        ):
            notes.append(
                f"subscale {s.code} could not be computed from the answers given "
                f"(rule {s.rule}: {', '.join(f'{p}={effective.get(p)!r}' for p in s.items)})"
            )

    total: float | None = None
    prorated = False
    if definition.total is not None:
        rule = missing or definition.missing_rule
        skipped_rule = rule.skipped or definition.total.skipped
        parts = plan.parts
        source = subscales if definition.total.source == "subscales" else item_scores
        present = [p for p in parts if p not in skipped]
        values = [source.get(p) for p in present]
        n_expected = len(parts) if skipped_rule == "prorate" else len(present)
        combined, prorated = _combine(values, definition.total.method, rule, n_expected)
        blocked = [
            c for c in safety_missing if any(c in subscale_items.get(p, (p,)) for p in present)
        ]
        if combined is not None and blocked:
            combined, prorated = None, False
            notes.append(
                f"total not prorated: safety item {', '.join(blocked)} is missing "
                "(a total is never prorated over a safety item)"
            )
        n_blank = sum(1 for x in values if x is None)
        noun = "items" if definition.total.source == "items" else "subscales"
        for p in parts:
            if p in skipped:
                it = definition.item(p, v)
                reason = it.skip_note or (it.skip_when.describe() if it.skip_when else "skipped")
                how = (
                    "total scaled up to all items"
                    if skipped_rule == "prorate"
                    else (f"total from the other {len(present)} {noun}, not prorated")
                )
                notes.append(f"{definition.code.upper()} item {it.ref} not scored: {reason}; {how}")
        if combined is None and n_blank:
            notes.append(
                f"total missing: {n_blank} of {len(values)} {noun} missing ({rule.describe()})"
            )
        elif prorated and definition.total.method == "sum":
            notes.append(f"total prorated from {len(values) - n_blank} of {n_expected} {noun}")
        if combined is not None:
            total = _num(combined)
            low, high = definition.total_range or (total, total)
            if not low - 1e-9 <= total <= high + 1e-9:
                raise ScaleError(
                    f"{definition.code} total {total:g} falls outside the declared range "
                    f"[{low:g}, {high:g}]",
                    hint="the definition's total_range or bins are wrong; report it",
                )

    for dv in plan.derived:
        value = get_rule(dv.rule).function(context(total), dv.params)
        derived[dv.name] = _num(value) if isinstance(value, float) else value

    return ScoreResult(
        scale=definition.code,
        version=v,
        total=total,
        band=_band(definition, total),
        subscales=subscales,
        derived=derived,
        n_missing=len(missing_required),
        prorated=prorated,
        notes=tuple(notes),
        answers=normalised,
        has_total=definition.total is not None,
        complete=not missing_required,
        missing_required=tuple(missing_required),
        safety_missing=tuple(safety_missing),
    )
