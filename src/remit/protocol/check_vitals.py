"""Whole-protocol checks of vital-sign limits against the signs themselves (P030): a limit
outside the sign's plausible range (:data:`~remit.protocol.vital_signs.VITAL_SIGNS`) can never
be crossed, or is crossed by every reading; a limit written in another unit (100.4 for a
temperature measured in °C) is one of those.

:func:`check_vital_limit` is the one check every vital-sign limit of a protocol goes through.
Every table of limits by sign (``{systolic_bp = { high = 160, unit = "mmHg" }, …}``: a dosing
session's thresholds today, dose-stop or discharge limits when a protocol has them) is found
wherever the model holds it (:func:`limit_tables`) and checked with :func:`check_limit_table`;
eligibility criteria on a sign (``systolic_bp > 140``) are checked too. A limit held another
way calls :func:`check_vital_limit` from the check of its part.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from pydantic import BaseModel

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


def limit_tables(
    node: object, path: tuple[PathPart, ...] = ()
) -> Iterator[tuple[tuple[PathPart, ...], Mapping[VitalSign, VitalThreshold]]]:
    """Every table of vital-sign limits by sign in a protocol model, with its key path.

    A table is a mapping from sign codes to :class:`~remit.protocol.dosing.VitalThreshold`
    anywhere in the model (a dosing session's thresholds, and any limits added later), so a
    new place for limits is checked without a check of its own.

    Examples
    --------
    >>> stop = {"heart_rate": VitalThreshold(high=120), "temperature": VitalThreshold(high=39)}
    >>> [path for path, _ in limit_tables({"sessions": [{"stop": stop, "minutes": 30}]})]
    [('sessions', 0, 'stop')]
    """
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from limit_tables(getattr(node, name), (*path, name))
    elif isinstance(node, tuple | list):
        for k, value in enumerate(node):
            yield from limit_tables(value, (*path, k))
    elif isinstance(node, Mapping) and node:
        if all(isinstance(v, VitalThreshold) for v in node.values()):
            yield path, node
        else:
            for key, value in node.items():
                yield from limit_tables(value, (*path, str(key)))


def _check_limit_tables(c: Checker) -> None:
    for where, table in limit_tables(c.p):
        check_limit_table(c, table, where, "")


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
VITALS_CHECKS: tuple[Check, ...] = (_check_limit_tables, _check_eligibility_limits)
