"""Whole-protocol checks of vital-sign limits against the signs themselves (P030): a limit
outside the sign's plausible range (:data:`~remit.protocol.vital_signs.VITAL_SIGNS`) can never
be crossed, or is crossed by every reading; a limit written in another unit (100.4 for a
temperature measured in °C) is one of those.

:func:`check_vital_limit` is the one check every vital-sign limit of a protocol goes through:
the dosing sessions' thresholds and eligibility limits on a sign today; any other place a
protocol gives a limit on a sign calls it too (:func:`check_limit_table` for a table of
``{sign = { high, low, unit }}``, as dose-stop or discharge limits are).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from remit.protocol._checker import Check, Checker
from remit.protocol.dosing import VitalThreshold
from remit.protocol.vital_signs import VITAL_SIGNS, Side, VitalSign
from remit.tomlpos import PathPart


def check_vital_limit(
    c: Checker,
    sign: str,
    value: float,
    where: Sequence[PathPart],
    *,
    side: Side = "high",
    unit: str | None = None,
    what: str = "",
) -> bool:
    """Report ``P030`` when limit ``value`` on vital sign ``sign`` is not sound.

    A limit is sound when it lies in the sign's plausible range (where readings can be) and,
    when the protocol writes a ``unit`` next to it, that unit is the sign's. ``side`` says
    what the limit is: a ``high`` limit above the plausible range is never crossed (the alert
    can never fire), one below it is crossed by every reading; likewise a ``low`` limit.
    When the value would be plausible in the unit it is often typed in by mistake (°F for
    temperature), the problem says so; the words are
    :meth:`~remit.protocol.vital_signs.VitalSignDef.limit_problem`'s, which a model validator
    refusing a limit can use too. An unknown sign is left to the shape checks. Returns whether
    the limit is sound.

    Parameters
    ----------
    c
        The checker to report to.
    sign
        The vital-sign code (``temperature`` …).
    value
        The limit, in the sign's unit.
    where
        The key path of the limit in the protocol file, for the problem's line.
    side
        ``"high"`` or ``"low"``.
    unit
        The unit written in the protocol file next to the limit, if any.
    what
        What the limit belongs to, for the message (e.g. ``"dosing session 1"``).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> c = Checker(load_protocol("oslo-mdma-mdd"))
    >>> check_vital_limit(c, "temperature", 38.0, ("x",))
    True
    >>> check_vital_limit(c, "temperature", 100.4, ("x",), what="dosing session 1")
    False
    >>> head, effect = c.problems[0].what.split(", so ")
    >>> head
    'dosing session 1: temperature high limit 100.4 °C is above the plausible range 25–45 °C'
    >>> effect
    'no reading can ever cross it'
    """
    definition = VITAL_SIGNS.get(sign)
    if definition is None:
        return True
    problem = definition.limit_problem(value, side, unit)
    if problem is None:
        return True
    c.add("P030", where, f"{what}: {problem.what}" if what else problem.what, problem.todo)
    return False


def check_limit_table(
    c: Checker,
    limits: Mapping[VitalSign, VitalThreshold],
    where: Sequence[PathPart],
    what: str,
) -> None:
    """:func:`check_vital_limit` for every high and low limit of a table of limits by sign
    (``{systolic_bp = { high = 160, unit = "mmHg" }, …}``) found at ``where``.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> c = Checker(load_protocol("oslo-mdma-mdd"))
    >>> check_limit_table(c, {"heart_rate": VitalThreshold(high=300, low=45)}, ("x",), "t")
    >>> [(p.code, p.where) for p in c.problems]
    [('P030', 'x.heart_rate')]
    """
    for sign, limit in limits.items():
        sides: tuple[tuple[Side, float | None], ...] = (("high", limit.high), ("low", limit.low))
        for side, value in sides:
            if value is not None:
                check_vital_limit(
                    c, sign, value, (*where, sign), side=side, unit=limit.unit, what=what
                )


def _check_dosing_limits(c: Checker) -> None:
    for i, d in enumerate(c.p.dosing):
        where = ("dosing", i, "vitals", "thresholds")
        check_limit_table(c, d.vitals.thresholds, where, f"dosing session {d.number}")


def _check_eligibility_limits(c: Checker) -> None:
    for i, criterion in enumerate(c.p.eligibility.criteria):
        if criterion.field not in VITAL_SIGNS:
            continue
        values = criterion.value if isinstance(criterion.value, tuple) else (criterion.value,)
        side: Side = "low" if criterion.op in ("<", "<=") else "high"
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            check_vital_limit(
                c,
                criterion.field,
                float(value),
                ("eligibility", "criteria", i, "value"),
                side=side,
                what=f"eligibility criterion {criterion.id}",
            )


#: The checks of this module, in the order they report.
VITALS_CHECKS: tuple[Check, ...] = (_check_dosing_limits, _check_eligibility_limits)
