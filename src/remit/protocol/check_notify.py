"""Whole-protocol check of who is told of an alert (P032): with a ``[safety.notify]`` table,
every alert level the protocol's rules can raise needs an entry, or its alerts would reach no
one outside the app (the delivery loop sends only the levels the table lists).
"""

from __future__ import annotations

from collections.abc import Iterator

from remit.protocol._checker import Check, Checker
from remit.protocol.safety_table import Safety
from remit.protocol.vocab import LEVELS


def raised_levels(safety: Safety) -> Iterator[tuple[str, str]]:
    """(level, rule id) for every rule of the safety table that raises an alert.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> sorted({lv for lv, _ in raised_levels(load_protocol("oslo-mdma-mdd").safety)})
    ['immediate', 'review', 'same_day', 'urgent']
    """
    for rule in safety.rules:
        yield rule.level, rule.id
    if safety.vitals is not None:
        for sign, side, level, _ in safety.vitals.tiers():
            yield level, f"vitals:{sign}:{side}:{level}"
    if safety.sae is not None:
        yield safety.sae.level, "sae"
    if safety.missed is not None:
        yield safety.missed.level, "missed"


def _check_notified_levels(c: Checker) -> None:
    notify = c.p.safety.notify
    if notify is None:
        return
    listed = {entry.level for entry in notify.levels}
    unsent: dict[str, list[str]] = {}
    for level, rule_id in raised_levels(c.p.safety):
        if level not in listed:
            unsent.setdefault(level, []).append(rule_id)
    for level in (lv for lv in LEVELS if lv in unsent):
        rules = unsent[level]
        shown = ", ".join(rules[:3]) + (f" and {len(rules) - 3} more" if len(rules) > 3 else "")
        c.add(
            "P032",
            ("safety", "notify", "levels"),
            f"{level} alerts ({shown}) are told to no one: [safety.notify] has no entry for "
            f"level {level!r}, so they show only in the app",
            f"add a [[safety.notify.levels]] entry with level = {level!r} and the roles to tell",
        )


#: The checks of this module, in the order they report.
NOTIFY_CHECKS: tuple[Check, ...] = (_check_notified_levels,)
