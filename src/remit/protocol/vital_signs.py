"""The vital signs Remit knows: one declaration that every layer reads.

A protocol's dosing session names vital signs by their ``code`` (``systolic_bp`` …) for its
thresholds and for the signs read at each timepoint; the store keeps one row per sign and
reading under the same code; the web form, the safety rules, the report, the ODM items and the
SDTM VS domain take label, unit, plausible range and CDISC terms from here. To add a sign, add
it to :data:`VitalSign` and :data:`VITAL_SIGNS` (and a migration widening the store's CHECK
constraint on ``vital_sign_value.sign``); ``docs/architecture.md`` has the recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from remit.errors import InputError

#: The code of a vital sign, as protocol files, the store and the analysis frames spell it.
VitalSign = Literal[
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "temperature",
    "respiratory_rate",
    "oxygen_saturation",
]


@dataclass(frozen=True)
class OtherUnit:
    """A unit a reading is often typed in by mistake, and how it converts to the sign's unit.

    ``value in the sign's unit = (value − offset) × factor``.
    """

    unit: str
    name: str
    offset: float
    factor: float

    def convert(self, value: float) -> float:
        """``value`` (in this unit) in the sign's unit.

        Examples
        --------
        >>> OtherUnit("°F", "degrees Fahrenheit", 32.0, 5 / 9).convert(212.0)
        100.0
        """
        return (value - self.offset) * self.factor


#: The side of a vital-sign limit: a reading above a ``high`` limit or below a ``low`` one.
Side = Literal["high", "low"]


@dataclass(frozen=True)
class LimitProblem:
    """Why a vital-sign limit is not sound (``what``) and what to do about it (``todo``)."""

    what: str
    todo: str

    def __str__(self) -> str:
        return f"{self.what}: {self.todo}"


def _placed(value: float, low: float, high: float) -> str:
    """Where ``value`` lies against the range ``low``–``high`` when not strictly inside it."""
    if value in (low, high):
        return "at the edge of"
    return "above" if value > high else "below"


@dataclass(frozen=True)
class VitalSignDef:
    """One vital sign: its code, how people read it, what is plausible, its CDISC terms.

    ``low``/``high`` bound the plausible values (outside them a value is a typing or unit
    error, refused on entry; they are not alert thresholds, which the protocol sets).
    ``integer`` signs are recorded in whole units; ``decimals`` is how many decimals a reading
    is shown with. ``testcd``, ``test`` and ``sdtm_unit`` are the CDISC SDTM ``VSTESTCD``,
    ``VSTEST`` and ``VSORRESU`` (controlled terminology); ``testcd`` also names the ODM item.
    """

    code: VitalSign
    label: str
    unit: str
    low: float
    high: float
    integer: bool
    decimals: int
    testcd: str
    test: str
    sdtm_unit: str
    other_unit: OtherUnit | None = None

    def limit_problem(
        self, value: float, side: Side = "high", unit: str | None = None
    ) -> LimitProblem | None:
        """What is wrong with ``value`` as a ``side`` limit on this sign (``None``: nothing).

        A limit is sound when it lies in the plausible range and, when the protocol writes a
        ``unit`` next to it, that unit is the sign's. A ``high`` limit above the plausible range
        is never crossed, one below it is crossed by every reading (mirrored for ``low``). A
        value plausible in :attr:`other_unit` (100.4 read as °F) is named in what to do. Every
        check of a vital-sign limit, in the protocol model or ``remit protocol check``
        (``P030``), says it with these words.

        Examples
        --------
        >>> VITAL_SIGNS["temperature"].limit_problem(38.0) is None
        True
        >>> problem = VITAL_SIGNS["temperature"].limit_problem(100.4)
        >>> problem.what
        'temperature high limit 100.4 °C is above the plausible range 25–45 °C, so no reading can ever cross it'
        >>> problem.todo
        '100.4 looks like degrees Fahrenheit (°F); in °C it is 38.0: give a limit within 25–45 °C'
        >>> print(VITAL_SIGNS["heart_rate"].limit_problem(45, "low", unit="bpm"))
        heart_rate limit 45 is given in bpm, but heart_rate is recorded in /min: give the limit in /min (unit = '/min') or leave unit out
        """  # noqa: E501
        if unit is not None and unit != self.unit:
            return LimitProblem(
                f"{self.code} limit {value:g} is given in {unit}, but {self.code} is recorded "
                f"in {self.unit}",
                f"give the limit in {self.unit} (unit = {self.unit!r}) or leave unit out",
            )
        if self.low < value < self.high:
            return None
        # a limit on the edge of the plausible range is as useless as one beyond it: a high
        # limit at the top can never be crossed by a value Remit accepts (mirrored for low)
        above = value >= self.high
        never = above == (side == "high")
        effect = "no reading can ever cross it" if never else "every reading crosses it"
        todo = f"give a limit within {self.low:g}–{self.high:g} {self.unit}"
        other = self.other_unit
        if other is not None and self.plausible(other.convert(value)):
            todo = (
                f"{value:g} looks like {other.name} ({other.unit}); in {self.unit} it is "
                f"{other.convert(value):.{self.decimals}f}: {todo}"
            )
        return LimitProblem(
            f"{self.code} {side} limit {value:g} {self.unit} is "
            f"{_placed(value, self.low, self.high)} the plausible range {self.low:g}–{self.high:g} "
            f"{self.unit}, so {effect}",
            todo,
        )

    def plausible(self, value: float) -> bool:
        """Whether ``value`` lies in the plausible range (inclusive).

        Examples
        --------
        >>> VITAL_SIGNS["heart_rate"].plausible(72), VITAL_SIGNS["heart_rate"].plausible(720)
        (True, False)
        """
        return self.low <= value <= self.high


#: Every vital sign, in the order forms, tables and figures show them.
VITAL_SIGNS: Mapping[str, VitalSignDef] = {
    s.code: s
    for s in (
        VitalSignDef(
            "systolic_bp", "Systolic BP", "mmHg", 50, 300, True, 0,
            "SYSBP", "Systolic Blood Pressure", "mmHg",
        ),
        VitalSignDef(
            "diastolic_bp", "Diastolic BP", "mmHg", 20, 200, True, 0,
            "DIABP", "Diastolic Blood Pressure", "mmHg",
        ),
        VitalSignDef(
            "heart_rate", "Heart rate", "/min", 20, 250, True, 0,
            "PULSE", "Pulse Rate", "beats/min",
        ),
        VitalSignDef(
            "temperature", "Temperature", "°C", 25.0, 45.0, False, 1,
            "TEMP", "Temperature", "C", OtherUnit("°F", "degrees Fahrenheit", 32.0, 5 / 9),
        ),
        VitalSignDef(
            "respiratory_rate", "Respiratory rate", "/min", 4, 60, True, 0,
            "RESP", "Respiratory Rate", "breaths/min",
        ),
        VitalSignDef(
            "oxygen_saturation", "Oxygen saturation", "%", 50, 100, True, 0,
            "OXYSAT", "Oxygen Saturation", "%",
        ),
    )
}  # fmt: skip

#: Vital-sign values by code, as a reading is given (``None``: not read).
VitalValues = Mapping[str, float | None] | Mapping[VitalSign, float | None]

#: The codes of :data:`VITAL_SIGNS`, in order.
VITAL_SIGN_CODES: tuple[VitalSign, ...] = tuple(s.code for s in VITAL_SIGNS.values())

#: Pairs of signs read together where the first must be above the second.
ABOVE: tuple[tuple[VitalSign, VitalSign], ...] = (("systolic_bp", "diastolic_bp"),)


def vital_sign(code: str) -> VitalSignDef:
    """The declaration of the vital sign ``code``.

    Raises :class:`~remit.errors.InputError` naming the known codes for an unknown one.

    Examples
    --------
    >>> vital_sign("oxygen_saturation").testcd
    'OXYSAT'
    """
    found = VITAL_SIGNS.get(code)
    if found is None:
        raise InputError(
            f"{code!r} is not a vital sign Remit knows",
            expected="one of " + ", ".join(VITAL_SIGN_CODES),
        )
    return found


__all__ = [
    "ABOVE",
    "VITAL_SIGNS",
    "VITAL_SIGN_CODES",
    "LimitProblem",
    "OtherUnit",
    "Side",
    "VitalSign",
    "VitalSignDef",
    "VitalValues",
    "vital_sign",
]
