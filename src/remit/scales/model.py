"""The shape of a scale definition: items, subscales, bands, missing rules, derived values.

Every class here is a frozen dataclass built by :mod:`remit.scales.build` from a TOML file
(whose shape :mod:`remit.scales.schema` validates); nothing here knows about any particular
scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, get_args

from remit.errors import AnswerError, InputError, ScaleError

ItemKind = Literal["integer", "number", "boolean", "choice", "time", "text"]
Respondent = Literal["clinician", "self", "investigator"]
Number = int | float
Answer = int | float | str | bool | None

ITEM_KINDS: tuple[ItemKind, ...] = get_args(ItemKind)
RESPONDENTS: tuple[Respondent, ...] = get_args(Respondent)

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class MissingRule:
    """How a total (or subscale) is scored when some of its items are missing.

    Parameters
    ----------
    kind
        ``"none"``: the total is missing when any of its items is missing. ``"prorate"``: the
        total is the mean of the answered items times the number of items, provided at most
        ``max_missing`` are missing.
    max_missing
        The largest number of missing items a prorated total tolerates.
    skipped
        What to do with items legitimately skipped by the form's own logic (for instance SDS
        item 1 when the participant does not work for reasons unrelated to the disorder):
        ``"exclude"`` scores the total from the remaining items as they are, ``"prorate"``
        scales it up to the full number of items. ``None`` keeps the definition's setting.

    Examples
    --------
    >>> MissingRule("prorate", max_missing=1)
    MissingRule(kind='prorate', max_missing=1, skipped=None)
    >>> MissingRule("sometimes")
    Traceback (most recent call last):
    ...
    remit.errors.InputError: missing rule kind 'sometimes' is unknown; expected 'none' or 'prorate'
    """

    kind: Literal["none", "prorate"] = "none"
    max_missing: int = 0
    skipped: Literal["exclude", "prorate"] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("none", "prorate"):
            raise InputError(
                f"missing rule kind {self.kind!r} is unknown", expected="'none' or 'prorate'"
            )
        if (
            isinstance(self.max_missing, bool)
            or not isinstance(self.max_missing, int)
            or self.max_missing < 0
        ):
            raise InputError(
                f"max_missing {self.max_missing!r} is not allowed",
                expected="a whole number of items, 0 or more",
            )
        if self.kind == "none" and self.max_missing != 0:
            raise InputError(
                f"max_missing={self.max_missing} makes no sense with kind 'none'",
                expected="max_missing=0, or kind='prorate'",
            )
        if self.skipped not in (None, "exclude", "prorate"):
            raise InputError(
                f"skipped-item rule {self.skipped!r} is unknown",
                expected="'exclude', 'prorate' or None",
            )

    def describe(self) -> str:
        """Say the rule in words, e.g. ``"prorate when at most 1 item is missing"``."""
        if self.kind == "none":
            text = "no missing item allowed"
        else:
            text = (
                f"prorate when at most {self.max_missing} item"
                f"{'' if self.max_missing == 1 else 's'} {'is' if self.max_missing == 1 else 'are'}"
                " missing"
            )
        if self.skipped is not None:
            text += f"; skipped items: {self.skipped}"
        return text


@dataclass(frozen=True)
class Bin:
    """One step of a recode by thresholds: the first bin whose conditions hold gives ``value``.

    A bin without any condition is the catch-all.
    """

    value: float
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None

    def matches(self, x: float) -> bool:
        """Whether ``x`` meets every condition of this bin."""
        if self.lt is not None and not x < self.lt:
            return False
        if self.le is not None and not x <= self.le:
            return False
        if self.gt is not None and not x > self.gt:
            return False
        return not (self.ge is not None and not x >= self.ge)

    def describe(self) -> str:
        """The bin in words, e.g. ``"<= 15 -> 0"``."""
        parts = [
            f"{op} {bound:g}"
            for op, bound in (("<", self.lt), ("<=", self.le), (">", self.gt), (">=", self.ge))
            if bound is not None
        ]
        return f"{' and '.join(parts) or 'otherwise'} -> {self.value:g}"


def apply_bins(bins: tuple[Bin, ...], x: float) -> float:
    """Recode ``x`` with the first matching bin.

    Examples
    --------
    >>> apply_bins((Bin(0, le=15), Bin(1, le=30), Bin(2)), 20)
    1
    """
    for b in bins:
        if b.matches(x):
            return b.value
    raise ScaleError(
        f"value {x:g} matches no recode bin",
        expected="bins ending with a catch-all (a bin without conditions)",
    )


@dataclass(frozen=True)
class Condition:
    """When an item is legitimately skipped.

    ``kind="all_false"``: every listed item was answered no (or was itself skipped).
    ``kind="any_true"``: at least one listed item was answered yes.
    ``kind="not_zero"``: some listed item was not answered 0 (a higher value, blank, or itself
    skipped): the item is asked only when every listed item is 0 (e.g. the C-SSRS potential
    lethality, rated only when the actual lethality is 0).

    Examples
    --------
    >>> Condition("not_zero", ("actual_lethality",)).describe()
    'actual_lethality not answered 0'
    """

    kind: Literal["all_false", "any_true", "not_zero"]
    items: tuple[str, ...]

    def describe(self) -> str:
        """The condition in words."""
        joined = ", ".join(self.items)
        if self.kind == "all_false":
            return f"all of {joined} answered no"
        if self.kind == "not_zero":
            return f"{joined} not answered 0"
        return f"any of {joined} answered yes"


@dataclass(frozen=True)
class ItemDefinition:
    """One item of a scale.

    Attributes
    ----------
    number
        1-based position of the item in the version it belongs to.
    code
        snake_case name, unique in the scale, e.g. ``suicidal_thoughts``.
    label
        Short name (never copyrighted item wording).
    kind
        ``integer``, ``number``, ``boolean``, ``choice``, ``time`` (``HH:MM``) or ``text``.
    min, max
        Allowed range of ``integer`` and ``number`` items (inclusive).
    options
        Value → label: the allowed values of a ``choice`` item, anchors of an ``integer`` item.
    required
        Whether a blank answer counts as missing.
    section
        Part of the form, e.g. ``lifetime`` / ``recent`` for C-SSRS.
    scored
        Whether the item enters a total, a subscale or a derived value.
    ref
        The key a person types for this item: its printed number (``"10"``, or ``"5a"`` in the
        PSQI). Answers may be keyed by ``ref`` or by ``code``.
    recode
        Choice value → score (e.g. BDI-II ``"1a"`` → 1).
    bins
        Threshold recode of the item's value into its score (e.g. PSQI latency minutes → 0–3).
    accept_range
        Whether a range answer such as ``"30-60"`` is accepted (it counts as its midpoint).
    blank_value
        Score of a blank answer when a blank is not missing (PSQI item 5j counts 0).
    skip_when
        When the form's logic skips this item; a skipped item must be left blank (or "no").
    skip_note
        Why it is skipped, in words, for the result's notes.
    implies
        Codes of yes/no items that a "yes" to this item implies are "yes" too, where the version
        has them (a C-SSRS recent-window yes implies the lifetime yes). A contradiction is not
        refused: the result carries a note asking to query the rater.
    wording
        Licensed item wording from a local overlay file (never shipped).
    versions
        The versions of the scale that contain the item.
    """

    number: int
    code: str
    label: str
    kind: ItemKind
    min: float | None = None
    max: float | None = None
    options: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    required: bool = True
    section: str | None = None
    scored: bool = True
    ref: str = ""
    recode: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    bins: tuple[Bin, ...] = ()
    accept_range: bool = False
    blank_value: float | None = None
    skip_when: Condition | None = None
    skip_note: str | None = None
    implies: tuple[str, ...] = ()
    wording: str | None = None
    versions: tuple[str, ...] = ()

    def describe_allowed(self) -> str:
        """What answers the item accepts, in words (used in error messages)."""
        if self.kind == "integer":
            return f"a whole number from {self.min:g} to {self.max:g}"
        if self.kind == "number":
            extra = ' or a range such as "30-60"' if self.accept_range else ""
            return f"a number from {self.min:g} to {self.max:g}{extra}"
        if self.kind == "boolean":
            return "yes or no (true/false)"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(k) for k in self.options)
        if self.kind == "time":
            return 'a clock time "HH:MM" (00:00 to 23:59)'
        return "text"

    def with_number(self, number: int) -> ItemDefinition:
        """A copy at another position (items are numbered per version)."""
        ref = self.ref or str(number)
        return replace(self, number=number, ref=ref)


@dataclass(frozen=True)
class Band:
    """A severity band of the total: ``min`` ≤ total, up to the next band's ``min``."""

    min: float
    max: float
    label: str


@dataclass(frozen=True)
class SubscaleDefinition:
    """A subscale, cluster or component computed from items or earlier subscales.

    ``method`` is ``sum``, ``mean``, ``max`` or ``rule`` (a named rule of
    :mod:`remit.scales.rules` with ``params``); ``bins`` then recode the value.
    """

    code: str
    label: str
    items: tuple[str, ...]
    method: Literal["sum", "mean", "max", "rule"] = "sum"
    rule: str | None = None
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    bins: tuple[Bin, ...] = ()
    range: tuple[float, float] | None = None
    missing_rule: MissingRule = field(default_factory=MissingRule)
    versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class TotalDefinition:
    """How the total is made: ``method`` (``sum`` or ``mean``) over ``parts``.

    ``parts`` are item codes (``source="items"``: all scored items of the version, by default)
    or subscale codes (``source="subscales"``).
    """

    source: Literal["items", "subscales"] = "items"
    parts: tuple[str, ...] = ()
    method: Literal["sum", "mean"] = "sum"
    skipped: Literal["exclude", "prorate"] = "exclude"


@dataclass(frozen=True)
class DerivedDefinition:
    """A value computed by a named rule, e.g. ``provisional_ptsd`` by ``pcl5_provisional``.

    ``range`` is the ``[low, high]`` the value can take, declared in the scale file where it
    cannot be read off the items (C-SSRS ``ideation_type`` 0–5); the protocol check compares
    safety-rule thresholds and cut-offs with it.
    """

    name: str
    rule: str
    label: str = ""
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    versions: tuple[str, ...] = ()
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class SafetyDeclaration:
    """Which values of a scale a safety review looks at, and what their values mean.

    Attributes
    ----------
    items
        Codes of the safety items (MADRS item 10 ``suicidal_thoughts``; the C-SSRS behaviour
        questions).
    fields
        Scored values (derived values, subscales or ``total``) that safety rules look at, e.g.
        C-SSRS ``ideation_type``.
    categories
        Item code or field → value → words, e.g. C-SSRS ideation type 4 → "active ideation
        with some intent, no plan".

    Examples
    --------
    >>> from remit.scales import load_scale
    >>> cssrs = load_scale("cssrs").safety
    >>> cssrs.category("ideation_type", 1)
    'wish to be dead'
    >>> load_scale("madrs").safety.items
    ('suicidal_thoughts',)
    """

    items: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    categories: Mapping[str, Mapping[int, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def is_item(self, code: str) -> bool:
        """Whether the item ``code`` is one of the safety items (always required)."""
        return code in self.items

    @property
    def subjects(self) -> tuple[str, ...]:
        """The safety items and fields together."""
        return (*self.items, *self.fields)

    def category(self, subject: str, value: object) -> str | None:
        """The words for ``value`` of ``subject`` (an item code or field), or ``None``."""
        table = self.categories.get(subject)
        if table is None or isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not float(value).is_integer():
            return None
        return table.get(int(value))


@dataclass(frozen=True)
class ScaleDefinition:
    """A rating scale as declared by its TOML file.

    ``items`` are the items of the default version (the first of ``versions``); use
    :meth:`items_for` for another version. ``short_name`` is the display name of tables and
    figures (``GAD-7``); ``safety`` the scale's safety items, fields and their categories.

    Examples
    --------
    >>> from remit.scales import load_scale
    >>> madrs = load_scale("madrs")
    >>> madrs.versions, len(madrs.items), madrs.total_range
    (('default',), 10, (0.0, 60.0))
    >>> madrs.item("10").code
    'suicidal_thoughts'
    """

    code: str
    name: str
    description: str
    respondent: Respondent
    recall: str
    versions: tuple[str, ...]
    items: tuple[ItemDefinition, ...]
    total_range: tuple[float, float] | None
    bands: tuple[Band, ...]
    subscales: tuple[SubscaleDefinition, ...]
    missing_rule: MissingRule
    licence_note: str
    total: TotalDefinition | None = None
    derived: tuple[DerivedDefinition, ...] = ()
    references: tuple[str, ...] = ()
    version_items: Mapping[str, tuple[ItemDefinition, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    short_name: str = ""
    safety: SafetyDeclaration = field(default_factory=SafetyDeclaration)

    @property
    def display_name(self) -> str:
        """The short name used in tables and figures (``GAD-7``), else the code upper-cased."""
        return self.short_name or self.code.upper()

    def check_version(self, version: str | None) -> str:
        """Return ``version`` (or the default one), refusing a version the scale lacks."""
        if version is None:
            return self.versions[0]
        if version not in self.versions:
            raise ScaleError(
                f"scale {self.code!r} has no version {version!r}",
                expected="one of " + ", ".join(self.versions),
                hint=f"run `remit scales show {self.code}`",
            )
        return version

    def items_for(self, version: str | None = None) -> tuple[ItemDefinition, ...]:
        """The items of ``version`` (default: the first version), numbered from 1.

        Examples
        --------
        >>> from remit.scales import load_scale
        >>> cssrs = load_scale("cssrs")
        >>> cssrs.items_for("since_last_visit")[0].code
        'wish_to_be_dead'
        """
        return self.version_items[self.check_version(version)]

    def subscales_for(self, version: str | None = None) -> tuple[SubscaleDefinition, ...]:
        """The subscales that apply to ``version``."""
        v = self.check_version(version)
        return tuple(s for s in self.subscales if not s.versions or v in s.versions)

    def derived_for(self, version: str | None = None) -> tuple[DerivedDefinition, ...]:
        """The derived values that apply to ``version``."""
        v = self.check_version(version)
        return tuple(d for d in self.derived if not d.versions or v in d.versions)

    def item(self, key: str | int, version: str | None = None) -> ItemDefinition:
        """Find an item by its code or its printed number (``ref``).

        Raises
        ------
        AnswerError
            If no item of the version has that code or number.
        """
        items = self.items_for(version)
        k = str(key)
        found = _first_by_key(items).get(k)
        if found is not None:
            return found
        raise AnswerError(
            f"{self.code} has no item {k!r}",
            item=k,
            expected="an item number ("
            + ", ".join(it.ref for it in items[:3])
            + ", …) or code ("
            + ", ".join(it.code for it in items[:2])
            + ", …)",
            hint=f"run `remit scales show {self.code}` to list the items",
        )


#: Each items tuple's items by code and by ref, the first item of either in order (what
#: :meth:`ScaleDefinition.item` looks for), by the tuple's identity (a definition's tuples
#: live as long as it; a changed scale is a new definition with new tuples).
_FIRST_BY_KEY: dict[int, tuple[tuple[ItemDefinition, ...], Mapping[str, ItemDefinition]]] = {}
_FIRST_BY_KEY_KEPT = 256


def _first_by_key(items: tuple[ItemDefinition, ...]) -> Mapping[str, ItemDefinition]:
    """``{code or ref: the first item in order with that code or ref}`` of ``items``, worked out
    once per tuple (kept with the tuple: an id reused by another tuple is worked out again)."""
    found = _FIRST_BY_KEY.get(id(items))
    if found is not None and found[0] is items:
        return found[1]
    first: dict[str, ItemDefinition] = {}
    for it in items:
        first.setdefault(it.code, it)
        first.setdefault(it.ref, it)
    if len(_FIRST_BY_KEY) >= _FIRST_BY_KEY_KEPT:
        _FIRST_BY_KEY.clear()
    _FIRST_BY_KEY[id(items)] = (items, MappingProxyType(first))
    return first


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
