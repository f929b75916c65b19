"""The safety table of a protocol: scale rules, the tiered vital-sign limits, the SAE clock,
missed readings.

Every rule has an id (:meth:`Safety.rule_ids`): a scale rule its ``id``, a vital-sign tier
``vitals:<sign>:<high|low>:<level>``, the SAE clock ``sae``, missed readings ``missed``.
:meth:`Safety.without` gives the table with one of them taken out (what a mutation check of
the truth tables removes).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Literal, get_args

from pydantic import Field, model_validator

from remit.errors import NotFoundError
from remit.protocol._base import _Model
from remit.protocol.notify import Notify
from remit.protocol.vital_signs import VITAL_SIGN_CODES, VITAL_SIGNS, Side, VitalSign
from remit.protocol.vocab import LEVELS, CompareOp, Level

# --------------------------------------------------------------------------- safety


class SafetyRule(_Model):
    """One row of the safety table: when a scale answer or score calls for a response.

    Exactly one of ``item`` (item number or code) and ``field`` (a scored value of the scale,
    e.g. ``total`` or ``ideation_type``) is given. With ``compare_to = "baseline"`` the
    comparison is made on the difference from the participant's baseline value. Tiers of one
    value are several rules on it with different levels; the most pressing that fires is kept.
    """

    id: str
    scale: str
    item: int | str | None = None
    field: str | None = None
    versions: tuple[str, ...] = ()
    op: CompareOp
    value: float | bool
    compare_to: Literal["baseline"] | None = None
    level: Level
    text: str
    assumption: str | None = None

    @model_validator(mode="after")
    def _item_or_field(self) -> SafetyRule:
        if (self.item is None) == (self.field is None):
            raise ValueError("give exactly one of 'item' and 'field'")
        return self


#: The two sides of a vital-sign limit (:data:`remit.protocol.vital_signs.Side`).
SIDES: tuple[Side, ...] = get_args(Side)


class VitalLimits(_Model):
    """The tiered limits of one vital sign, by side and level.

    ``high = { review = 150, urgent = 160, immediate = 180 }``: a reading strictly above a
    level's limit raises that level (the most pressing level crossed wins). The tiers must be
    ordered (a more pressing high limit above a less pressing one; mirrored for low limits),
    every limit inside the sign's plausible range, every low limit below every high limit.
    ``unit`` may be written for the reader and must then be the sign's unit.
    """

    high: dict[Level, float] = Field(default_factory=dict)
    low: dict[Level, float] = Field(default_factory=dict)
    unit: str | None = None
    assumption: str | None = None

    def side(self, side: Side) -> dict[Level, float]:
        """The limits of one side, by level."""
        return self.high if side == "high" else self.low

    def beyond(self, side: Side, level: Level, value: float) -> bool:
        """Whether ``value`` lies strictly beyond the ``level`` limit on ``side``.

        Examples
        --------
        >>> limits = VitalLimits(high={"urgent": 160})
        >>> limits.beyond("high", "urgent", 160), limits.beyond("high", "urgent", 161)
        (False, True)
        """
        limit = self.side(side)[level]
        return value > limit if side == "high" else value < limit

    def alerting(self) -> tuple[float | None, float | None]:
        """(low, high): the limits beyond which any alert is raised (the least pressing tiers).

        Examples
        --------
        >>> VitalLimits(high={"review": 150, "urgent": 160}, low={"urgent": 90}).alerting()
        (90.0, 150.0)
        """
        return (
            max(self.low.values()) if self.low else None,
            min(self.high.values()) if self.high else None,
        )

    def check(self, sign: VitalSign) -> None:
        """Refuse a wrong unit, a limit outside the plausible range, tiers out of order.

        Raises ``ValueError`` (pydantic reports it with the place in the protocol file).
        """
        d = VITAL_SIGNS[sign]
        if not self.high and not self.low:
            raise ValueError(f"{sign}: give high limits, low limits or both, by level")
        for side in SIDES:
            for level, limit in self.side(side).items():
                problem = d.limit_problem(limit, side, self.unit)
                if problem is not None:
                    raise ValueError(f"{level} tier: {problem}")
            ordered = [
                (lv, self.side(side)[lv]) for lv in reversed(LEVELS) if lv in self.side(side)
            ]
            for (less, a), (more, b) in pairwise(ordered):
                if (b <= a) if side == "high" else (b >= a):
                    word = "above" if side == "high" else "below"
                    raise ValueError(
                        f"{sign} {side} limits out of order: {more} {b:g} is not {word} "
                        f"{less} {a:g}, so the {less} tier could never be raised alone: give "
                        f"each more pressing {side} limit {word} the less pressing ones"
                    )
        low, high = self.alerting()
        if low is not None and high is not None and low >= high:
            raise ValueError(
                f"{sign}: low limit {low:g} is not below high limit {high:g} {d.unit}: "
                "give every low limit below every high limit"
            )


class VitalsRule(_Model):
    """The vital-sign rule: tiered limits per sign, applied to every reading at any visit.

    One reading raises at most one alert, at the most pressing level any of its signs crossed
    (``text`` followed by the worst sign and the others beyond a limit).
    """

    text: str
    limits: dict[VitalSign, VitalLimits] = Field(default_factory=dict)
    assumption: str | None = None

    @model_validator(mode="after")
    def _checked(self) -> VitalsRule:
        for sign, limits in self.limits.items():
            limits.check(sign)
        return self

    def tiers(self) -> Iterator[tuple[VitalSign, Side, Level, float]]:
        """Every tier as (sign, side, level, limit), signs in vocabulary order, levels most
        pressing first.

        Examples
        --------
        >>> rule = VitalsRule(text="t", limits={"heart_rate": {"high": {"urgent": 100}}})
        >>> list(rule.tiers())
        [('heart_rate', 'high', 'urgent', 100.0)]
        """
        for sign in (s for s in VITAL_SIGN_CODES if s in self.limits):
            for side in SIDES:
                limits = self.limits[sign].side(side)
                for level in (lv for lv in LEVELS if lv in limits):
                    yield sign, side, level, limits[level]


def vital_rule_id(sign: str, side: Side, level: Level) -> str:
    """The rule id of one vital-sign tier.

    Examples
    --------
    >>> vital_rule_id("systolic_bp", "high", "urgent")
    'vitals:systolic_bp:high:urgent'
    """
    return f"vitals:{sign}:{side}:{level}"


class SAEClock(_Model):
    """How soon a serious adverse event must be reported, and to whom."""

    report_within_h: float = Field(gt=0)
    report_to: str
    level: Level = "immediate"
    text: str
    assumption: str | None = None


class MissedReadings(_Model):
    """When a planned reading not recorded raises a ``review`` alert: ``grace_min`` minutes
    after its planned time (dosing-day vital signs and VAS timepoints)."""

    grace_min: int = Field(default=15, ge=0)
    level: Level = "review"
    text: str = "planned reading not recorded"
    assumption: str | None = None


class Safety(_Model):
    """The safety table: scale rules, the vital-sign limits, the SAE clock, missed readings;
    who is told."""

    rules: tuple[SafetyRule, ...] = ()
    vitals: VitalsRule | None = None
    sae: SAEClock | None = None
    notify: Notify | None = None
    missed: MissedReadings | None = None

    def rule_ids(self) -> tuple[str, ...]:
        """The id of every rule that can raise an alert, in table order.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> ids = load_protocol("oslo-mdma-mdd").safety.rule_ids()
        >>> "madrs_item10" in ids, "vitals:systolic_bp:high:immediate" in ids, ids[-2:]
        (True, True, ('sae', 'missed'))
        """
        ids = [r.id for r in self.rules]
        if self.vitals is not None:
            ids += [vital_rule_id(s, side, lv) for s, side, lv, _ in self.vitals.tiers()]
        if self.sae is not None:
            ids.append("sae")
        if self.missed is not None:
            ids.append("missed")
        return tuple(ids)

    def without(self, rule_id: str) -> Safety:
        """The table with rule ``rule_id`` taken out (:class:`NotFoundError` if it has none).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> safety = load_protocol("oslo-mdma-mdd").safety
        >>> len(safety.rule_ids()) - len(safety.without("madrs_item10").rule_ids())
        1
        """
        if rule_id not in self.rule_ids():
            raise NotFoundError(
                f"the safety table has no rule {rule_id!r}",
                expected="one of " + ", ".join(self.rule_ids()),
            )
        if rule_id in ("sae", "missed"):
            return self.model_copy(update={rule_id: None})
        if self.vitals is not None and rule_id.startswith("vitals:"):
            kept: dict[VitalSign, VitalLimits] = {}
            for sign, limits in self.vitals.limits.items():
                high = {
                    lv: x
                    for lv, x in limits.high.items()
                    if rule_id != vital_rule_id(sign, "high", lv)
                }
                low = {
                    lv: x
                    for lv, x in limits.low.items()
                    if rule_id != vital_rule_id(sign, "low", lv)
                }
                if high or low:
                    kept[sign] = limits.model_copy(update={"high": high, "low": low})
            return self.model_copy(
                update={"vitals": self.vitals.model_copy(update={"limits": kept})}
            )
        return self.model_copy(update={"rules": tuple(r for r in self.rules if r.id != rule_id)})
