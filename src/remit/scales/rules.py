"""Named scoring rules: what a table cannot say, in small functions a TOML file names.

A definition refers to a rule by name (``rule = "cssrs_ideation"``) in a ``[[derived]]`` entry or
in a subscale with ``method = "rule"``; the rule gets a :class:`RuleContext` and the entry's
``params``. The engine itself never branches on a scale's code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from remit.errors import ScaleError

RuleValue = int | float | bool | None


@dataclass(frozen=True)
class RuleContext:
    """What a rule may look at while a form is scored.

    Attributes
    ----------
    answers
        Normalised answers by item code (``None`` when blank; a blank item with a
        ``blank_value`` reads as that value, a yes/no one as ``False``/``True``).
    item_scores
        Numeric score of each scored item by code (``None`` when missing).
    skipped
        Codes of items the form's logic skipped.
    subscales
        Subscale values computed so far.
    total
        The total (``None`` when the scale has none or it is missing).
    derived
        Derived values computed so far.
    subscale_items
        The item codes of each subscale of the version, by subscale code.
    """

    answers: Mapping[str, object]
    item_scores: Mapping[str, float | None]
    skipped: frozenset[str]
    subscales: Mapping[str, float | None]
    total: float | None
    derived: Mapping[str, RuleValue]
    subscale_items: Mapping[str, tuple[str, ...]]


RuleFunction = Callable[[RuleContext, Mapping[str, object]], RuleValue]
#: Checks a rule's params when a definition is read: (params, subscale code → its item codes)
#: → one sentence per problem found (empty when the params are sound).
ParamCheck = Callable[[Mapping[str, object], Mapping[str, tuple[str, ...]]], list[str]]


@dataclass(frozen=True)
class Rule:
    """A named rule: its function, which params name items, and what it computes.

    ``check`` tests the params beyond "these are present and name items" when the scale file
    is read (for instance that PCL-5 clusters are subscales); the loader calls it for every
    rule alike, so no rule needs a branch of its own in the loader. ``yes_no`` says the rule's
    value is always a yes/no (``True``/``False``/null), which the protocol check needs to
    refuse a safety rule comparing it with a number; ``answer_of`` names the param whose item's
    answer the rule gives back as it is (the ``item`` rule), so the value has that item's range.
    """

    name: str
    function: RuleFunction
    doc: str
    item_params: tuple[str, ...] = ()
    required_params: tuple[str, ...] = ()
    check: ParamCheck | None = None
    yes_no: bool = False
    answer_of: str | None = None


#: Every named rule, by name: the one registry a scale file's ``rule = "…"`` is looked up in.
RULES: dict[str, Rule] = {}


def _register(
    name: str,
    doc: str,
    item_params: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
    check: ParamCheck | None = None,
    yes_no: bool = False,
    answer_of: str | None = None,
) -> Callable[[RuleFunction], RuleFunction]:
    def deco(fn: RuleFunction) -> RuleFunction:
        RULES[name] = Rule(
            name, fn, doc, item_params, required or item_params, check, yes_no, answer_of
        )
        return fn

    return deco


def get_rule(name: str) -> Rule:
    """Look a rule up by name.

    Examples
    --------
    >>> get_rule("cssrs_ideation").name
    'cssrs_ideation'
    """
    try:
        return RULES[name]
    except KeyError:
        raise ScaleError(
            f"scoring rule {name!r} is unknown",
            expected="one of " + ", ".join(sorted(RULES)),
            hint="see docs/scales.md, section 'Named rules'",
        ) from None


def item_codes(params: Mapping[str, object], key: str) -> tuple[str, ...]:
    """The item code(s) a param names: a string or a list of strings."""
    value = params.get(key)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(str(v) for v in value)
    raise ScaleError(
        f"rule param {key!r} is {value!r}", expected="an item code or a list of item codes"
    )


def _number(params: Mapping[str, object], key: str) -> float:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScaleError(f"rule param {key!r} is {value!r}", expected="a number")
    return float(value)


def _flag(ctx: RuleContext, code: str) -> bool | None:
    """An item's yes/no: a skipped item counts as no, a blank one as unknown."""
    if code in ctx.skipped:
        return False
    value = ctx.answers.get(code)
    if value is None:
        return None
    return bool(value)


def highest_true(ctx: RuleContext, codes: tuple[str, ...]) -> int | None:
    """Position (1-based) of the last item answered yes; 0 when all are no.

    When some items are blank the highest yes is still returned (a lower bound); ``None`` only
    when no item is yes and some are blank.
    """
    flags = [_flag(ctx, c) for c in codes]
    for position in range(len(flags), 0, -1):
        if flags[position - 1]:
            return position
    if any(f is None for f in flags):
        return None
    return 0


@_register(
    "item",
    "The value of one item as answered (a yes/no stays a boolean; blank → null).",
    item_params=("item",),
    answer_of="item",
)
def _item(ctx: RuleContext, params: Mapping[str, object]) -> RuleValue:
    (code,) = item_codes(params, "item")
    if code in ctx.skipped:
        return None
    value = ctx.answers.get(code)
    if isinstance(value, bool | int | float):
        return value
    return None


@_register(
    "any_true",
    "True if any listed yes/no item is yes; False if all are no (or skipped); else null.",
    item_params=("items",),
    yes_no=True,
)
def _any_true(ctx: RuleContext, params: Mapping[str, object]) -> RuleValue:
    flags = [_flag(ctx, c) for c in item_codes(params, "items")]
    if any(flags):
        return True
    if any(f is None for f in flags):
        return None
    return False


@_register(
    "any_at_least",
    "True if any listed item scores at least `threshold`; False if none does (skipped items "
    "are left out); null when a blank leaves it undecided.",
    item_params=("items",),
    required=("items", "threshold"),
    yes_no=True,
)
def _any_at_least(ctx: RuleContext, params: Mapping[str, object]) -> RuleValue:
    threshold = _number(params, "threshold")
    codes = [c for c in item_codes(params, "items") if c not in ctx.skipped]
    scores = [ctx.item_scores.get(c) for c in codes]
    if any(s is not None and s >= threshold for s in scores):
        return True
    if any(s is None for s in scores):
        return None
    return False


@_register(
    "total_at_least",
    "True if the total is at least `threshold`; null when the total is missing.",
    required=("threshold",),
    yes_no=True,
)
def _total_at_least(ctx: RuleContext, params: Mapping[str, object]) -> RuleValue:
    if ctx.total is None:
        return None
    return ctx.total >= _number(params, "threshold")


@_register(
    "cssrs_ideation",
    "C-SSRS ideation type: position (1-5) of the most severe ideation answered yes, 0 if all "
    "are no; skipped questions count as no. With blanks it is the highest type answered yes "
    "(a lower bound, so that safety rules still see it), and null when none is yes.",
    item_params=("items",),
)
def _cssrs_ideation(ctx: RuleContext, params: Mapping[str, object]) -> RuleValue:
    return highest_true(ctx, item_codes(params, "items"))


@_register(
    "cssrs_intensity",
    "C-SSRS intensity of the most severe ideation: 0 when there is no ideation, otherwise the "
    "sum of the five intensity items (2-25); null if ideation or an intensity item is unknown.",
    item_params=("ideation", "items"),
)
def _cssrs_intensity(ctx: RuleContext, params: Mapping[str, object]) -> RuleValue:
    ideation = highest_true(ctx, item_codes(params, "ideation"))
    if ideation is None:
        return None
    if ideation == 0:
        return 0
    scores = [ctx.item_scores.get(c) for c in item_codes(params, "items")]
    if any(s is None for s in scores):
        return None
    return int(sum(s for s in scores if s is not None))


def _minutes(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def time_in_bed_hours(bedtime: object, rise_time: object) -> float | None:
    """Hours from bedtime to rise time, across midnight (modulo 24 h); None if unknown or zero.

    Examples
    --------
    >>> time_in_bed_hours("23:30", "07:00")
    7.5
    >>> time_in_bed_hours("01:00", "09:00")
    8.0
    """
    start, end = _minutes(bedtime), _minutes(rise_time)
    if start is None or end is None:
        return None
    minutes = (end - start) % (24 * 60)
    if minutes == 0:
        return None
    return minutes / 60


@_register(
    "psqi_time_in_bed",
    "Hours in bed from `bedtime` to `rise_time` (clock times), modulo 24 h.",
    item_params=("bedtime", "rise_time"),
)
def _psqi_time_in_bed(ctx: RuleContext, params: Mapping[str, object]) -> RuleValue:
    (bed,) = item_codes(params, "bedtime")
    (rise,) = item_codes(params, "rise_time")
    return time_in_bed_hours(ctx.answers.get(bed), ctx.answers.get(rise))


@_register(
    "psqi_sleep_efficiency",
    "Habitual sleep efficiency in percent: `hours_asleep` / hours in bed × 100, hours in bed "
    "from `bedtime` to `rise_time` modulo 24 h (bedtime after midnight works).",
    item_params=("bedtime", "rise_time", "hours_asleep"),
)
def _psqi_sleep_efficiency(ctx: RuleContext, params: Mapping[str, object]) -> RuleValue:
    (bed,) = item_codes(params, "bedtime")
    (rise,) = item_codes(params, "rise_time")
    (asleep,) = item_codes(params, "hours_asleep")
    in_bed = time_in_bed_hours(ctx.answers.get(bed), ctx.answers.get(rise))
    hours = ctx.answers.get(asleep)
    if in_bed is None or isinstance(hours, bool) or not isinstance(hours, int | float):
        return None
    return float(hours) / in_bed * 100.0


def _clusters_are_subscales(
    params: Mapping[str, object], subscales: Mapping[str, tuple[str, ...]]
) -> list[str]:
    clusters = params.get("clusters")
    if not isinstance(clusters, Mapping):
        return [f"param 'clusters' is {clusters!r}, not a table of subscale code → count"]
    out = []
    for cluster, needed in clusters.items():
        if cluster not in subscales:
            out.append(f"cluster {cluster!r} is not a subscale defined above")
        if isinstance(needed, bool) or not isinstance(needed, int | float):
            out.append(f"cluster {cluster!r} needs {needed!r}, not a number of items")
    return out


@_register(
    "pcl5_provisional",
    "PCL-5 provisional PTSD by the DSM-5 rule: an item rated at least `threshold` is endorsed; "
    "each subscale in `clusters` (subscale code → endorsed items needed) must have enough. "
    "Null when blanks leave it undecided.",
    required=("threshold", "clusters"),
    check=_clusters_are_subscales,
    yes_no=True,
)
def _pcl5_provisional(ctx: RuleContext, params: Mapping[str, object]) -> RuleValue:
    threshold = _number(params, "threshold")
    clusters = params.get("clusters")
    if not isinstance(clusters, Mapping):
        raise ScaleError(
            f"pcl5_provisional param 'clusters' is {clusters!r}",
            expected="a table: subscale code → number of endorsed items needed",
        )
    undecided = False
    for cluster, needed in clusters.items():
        codes = ctx.subscale_items.get(str(cluster))
        if codes is None or isinstance(needed, bool) or not isinstance(needed, int | float):
            raise ScaleError(
                f"pcl5_provisional cluster {cluster!r} = {needed!r} is not usable",
                expected="a subscale code of the scale mapped to a number",
            )
        scores = [ctx.item_scores.get(c) for c in codes]
        endorsed = sum(1 for s in scores if s is not None and s >= threshold)
        blank = sum(1 for s in scores if s is None)
        if endorsed >= float(needed):
            continue
        if endorsed + blank < float(needed):
            return False
        undecided = True
    return None if undecided else True
