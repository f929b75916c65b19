"""Whole-protocol checks of how the protocol uses its scales: safety-rule thresholds a form can
reach (P027), yes/no values compared as yes/no (P028), endpoint cut-offs and eligibility limits
within the scale's range (P029), and forms given to the rater the scale is made for (P031).

The ranges come from the scale definitions (:func:`remit.scales.field_range`,
:func:`remit.scales.answer_range`): a total's ``total_range``, an item's min/max, a derived
value's declared ``range``. A value whose range the definition does not give is not checked.
A rule on an item, field or version the scale lacks is ``P016``/``P006``
(:mod:`~remit.protocol.check_plan`) and is skipped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, get_args

from remit.errors import RemitError
from remit.protocol._checker import Check, Checker
from remit.protocol.model import (
    Criterion,
    RelapseEndpoint,
    RemissionEndpoint,
    RTMAnalysis,
    SafetyRule,
)
from remit.protocol.roles import Role
from remit.protocol.vocab import Rater
from remit.scales import ScaleDefinition, ValueRange, answer_range, field_range

Reach = Literal["never", "always"]

#: The raters a protocol may name who are people of the study team (a :class:`Role`), not the
#: participant: they can rate a clinician-rated scale.
CLINICIAN_RATERS: tuple[str, ...] = tuple(r for r in get_args(Rater) if r in {*Role})

#: Who may fill in a scale, by who the scale says rates it (``respondent`` of its definition).
RATED_BY: Mapping[str, tuple[str, ...]] = {
    "self": tuple(r for r in get_args(Rater) if r not in CLINICIAN_RATERS),
    "clinician": CLINICIAN_RATERS,
    "investigator": (Role.INVESTIGATOR.value,),
}

#: How a problem names a scale by who rates it.
RESPONDENT_WORDS: Mapping[str, str] = {
    "self": "a self-report scale",
    "clinician": "a clinician-rated scale",
    "investigator": "a scale rated by the investigator",
}


def reach(values: ValueRange, op: str, value: float) -> Reach | None:
    """Whether ``x op value`` holds for no ``x`` in ``values`` (``"never"``), for every one
    (``"always"``), or depends on ``x`` (``None``).

    Examples
    --------
    >>> reach(ValueRange(0, 5), ">=", 9), reach(ValueRange(0, 60), "<=", 70)
    ('never', 'always')
    >>> reach(ValueRange(0, 5), ">=", 4) is None
    True
    """
    lo, hi = values.low, values.high
    never = {
        ">=": value > hi,
        ">": value >= hi,
        "<=": value < lo,
        "<": value <= lo,
        "==": not lo <= value <= hi,
        "!=": lo == hi == value,
    }
    always = {
        ">=": value <= lo,
        ">": value < lo,
        "<=": value >= hi,
        "<": value > hi,
        "==": lo == hi == value,
        "!=": not lo <= value <= hi,
    }
    if never.get(op, False):
        return "never"
    if always.get(op, False):
        return "always"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _versions(definition: ScaleDefinition, versions: Sequence[str]) -> list[str]:
    return [v for v in (versions or definition.versions) if v in definition.versions]


def _rule_range(definition: ScaleDefinition, rule: SafetyRule) -> ValueRange | None:
    """The values the rule looks at, over the versions it applies to (unknown: ``None``)."""
    ranges: list[ValueRange | None] = []
    for version in _versions(definition, rule.versions):
        if rule.item is not None:
            try:
                item = definition.item(rule.item, version)
            except RemitError:
                return None  # P016
            ranges.append(answer_range(item))
        else:
            ranges.append(field_range(definition, str(rule.field), version))
    return ValueRange.union(ranges)


def _yes_no_mismatch(
    c: Checker, values: ValueRange, value: object, path: Sequence[str | int], head: str
) -> bool:
    """P028 when a yes/no is compared with a number or a number with true/false."""
    if values.yes_no and _is_number(value):
        c.add(
            "P028",
            path,
            f"{head} is a yes/no, compared with the number {value}",
            "compare it with true or false (value = true)",
        )
        return True
    if not values.yes_no and isinstance(value, bool):
        c.add(
            "P028",
            path,
            f"{head} is a number ({values.describe()}), compared with {str(value).lower()}",
            f"give a number within {values.describe()}",
        )
        return True
    return False


def _check_rules(c: Checker) -> None:
    for i, rule in enumerate(c.p.safety.rules):
        definition = c.scales.get(rule.scale)
        if definition is None:
            continue
        values = _rule_range(definition, rule)
        if values is None:
            continue
        subject = f"item {rule.item}" if rule.item is not None else str(rule.field)
        where = ("safety", "rules", i)
        if rule.compare_to == "baseline":
            values = values.change()
            subject = f"the change of {subject} from baseline"
        head = f"safety rule {rule.id}: {subject} of {rule.scale}"
        if _yes_no_mismatch(c, values, rule.value, (*where, "value"), head):
            continue
        if values.yes_no:
            continue
        found = reach(values, rule.op, float(rule.value))
        if found is None:
            continue
        effect = "can never fire" if found == "never" else "fires on every form"
        c.add(
            "P027",
            (*where, "value"),
            f"{head} ranges {values.describe()}, so {rule.op} {rule.value:g} is {found} true: "
            f"the rule {effect}",
            f"give a threshold within {values.describe()}",
        )


def _check_endpoints(c: Checker) -> None:
    for i, e in enumerate(c.p.endpoints):
        if not isinstance(e, RemissionEndpoint | RelapseEndpoint):
            continue
        definition = c.scales.get(e.scale)
        values = None if definition is None else field_range(definition, "total")
        if values is None:
            continue
        found = reach(values, "<=", e.max_total)
        if found is None:
            continue
        effect = (
            "no participant can ever be in remission"
            if found == "never"
            else "every participant counts as in remission"
        )
        c.add(
            "P029",
            ("endpoints", i, "max_total"),
            f"endpoint {e.id}: {e.scale} total ≤ {e.max_total:g} is {found} true on a total "
            f"of {values.describe()}, so {effect}",
            f"give a cut-off within {values.describe()}",
        )


def _check_analyses(c: Checker) -> None:
    for i, a in enumerate(c.p.analysis.analyses):
        if not isinstance(a, RTMAnalysis):
            continue
        definition = c.scales.get(a.scale)
        values = None if definition is None else field_range(definition, "total")
        if values is None:
            continue
        where = ("analysis", "analyses", i)
        named: list[tuple[str, int | None, float | None]] = [("entry_cutoff", None, a.entry_cutoff)]
        named += [("population_means", j, m) for j, m in enumerate(a.population_means)]
        for key, j, value in named:
            if value is None or values.low <= value <= values.high:
                continue
            path = (*where, key) if j is None else (*where, key, j)
            c.add(
                "P029",
                path,
                f"analysis {a.id}: {key.replace('_', ' ')} {value:g} is outside the {a.scale} "
                f"total's range {values.describe()}",
                f"give a value within {values.describe()}",
            )


def _criterion_range(c: Checker, field: str) -> tuple[str, ValueRange] | None:
    """The scale and range of an eligibility field named ``<scale>_<value>`` (``madrs_total``,
    ``cssrs_ideation_type``), or ``None`` when it names no scored value of a scale."""
    for code in sorted(c.scales.known, key=len, reverse=True):
        if not field.startswith(code + "_"):
            continue
        definition = c.scales.get(code)
        if definition is None:
            continue
        name = field[len(code) + 1 :]
        ranges: list[ValueRange | None] = []
        for version in definition.versions:
            found = field_range(definition, name, version)
            if found is None:
                try:
                    found = answer_range(definition.item(name, version))
                except RemitError:
                    continue
            ranges.append(found)
        values = ValueRange.union(ranges)
        if values is not None:
            return code, values
    return None


def _criterion_reach(values: ValueRange, criterion: Criterion) -> Reach | None:
    v = criterion.value
    if criterion.op == "between" and isinstance(v, tuple):
        low, high = float(v[0]), float(v[1])
        if high < values.low or low > values.high:
            return "never"
        return "always" if low <= values.low and high >= values.high else None
    if criterion.op in ("in", "not_in") and isinstance(v, tuple):
        inside = any(_is_number(x) and values.low <= float(x) <= values.high for x in v)
        if inside:
            return None
        return "never" if criterion.op == "in" else "always"
    if _is_number(v):
        return reach(values, criterion.op, float(v))  # type: ignore[arg-type]
    return None


def _check_eligibility(c: Checker) -> None:
    for i, criterion in enumerate(c.p.eligibility.criteria):
        found = _criterion_range(c, criterion.field)
        if found is None:
            continue
        scale, values = found
        where = ("eligibility", "criteria", i, "value")
        head = f"eligibility criterion {criterion.id}: {criterion.field}"
        given = criterion.value if isinstance(criterion.value, tuple) else (criterion.value,)
        # one problem per criterion, for the first value that does not fit (a list is one kind)
        if next((True for v in given if _yes_no_mismatch(c, values, v, where, head)), False):
            continue
        if values.yes_no:
            continue
        outcome = _criterion_reach(values, criterion)
        if outcome is None:
            continue
        inclusion = criterion.kind == "inclusion"
        effect = {
            ("never", True): "no one can be included",
            ("never", False): "it never excludes anyone",
            ("always", True): "it never excludes anyone",
            ("always", False): "everyone is excluded",
        }[(outcome, inclusion)]
        shown = (
            f"[{', '.join(str(x) for x in criterion.value)}]"
            if isinstance(criterion.value, tuple)
            else str(criterion.value)
        )
        c.add(
            "P029",
            where,
            f"{head} {criterion.op} {shown} is {outcome} true on {scale} values of "
            f"{values.describe()}, so {effect}",
            f"give a limit within {values.describe()}",
        )


def _check_raters(c: Checker) -> None:
    for i, visit in enumerate(c.p.visits):
        for j, a in enumerate(visit.assessments):
            definition = c.scales.get(a.scale)
            if definition is None:
                continue
            allowed = RATED_BY.get(definition.respondent, ())
            if a.rater in allowed:
                continue
            c.add(
                "P031",
                ("visits", i, "assessments", j, "rater"),
                f"{visit.code} gives {a.scale}, {RESPONDENT_WORDS[definition.respondent]}, "
                f"to rater {a.rater!r}",
                f"set rater to {' or '.join(repr(r) for r in allowed)}",
            )


#: The checks of this module, in the order they report.
SCALE_CHECKS: tuple[Check, ...] = (
    _check_raters,
    _check_rules,
    _check_endpoints,
    _check_analyses,
    _check_eligibility,
)
