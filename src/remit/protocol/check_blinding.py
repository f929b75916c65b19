"""Whole-protocol check of the ``[blinding]`` table (P041): blinding needs a randomised
protocol; every blinded role and every role allowed to break the blind is a known role; the
unblinded roles (who hold the list) are never blinded; and the roles allowed to unblind in an
emergency are not the unblinded ones (they see every arm already); and an independent rater
blind to the safety data is not told of alerts by the notification chain, nor sees the dosing
day (whose vital signs and adverse events are safety data); and no step of the chain names only
an independent rater blind to dosing (who is never told of an alert from the dosing day)."""

from __future__ import annotations

from remit.protocol._checker import Check, Checker, suggest
from remit.protocol.blinding import NEVER_BLINDED
from remit.protocol.roles import Role

_ROLES = tuple(r.value for r in Role)


def _known(c: Checker, roles: tuple[str, ...], key: str) -> None:
    for j, role in enumerate(roles):
        if role not in _ROLES:
            c.add(
                "P041",
                ("blinding", key, j),
                f"unknown role {role!r} in [blinding] {key}",
                suggest(role, _ROLES, "use a role of Remit"),
            )


def _check_blinding(c: Checker) -> None:
    b = c.p.blinding
    if b is None:
        return
    if c.p.randomisation is None:
        c.add(
            "P041",
            ("blinding",),
            "[blinding] is declared but the protocol does not randomise: there is no "
            "concealed allocation to be blind to",
            "add [randomisation] or remove [blinding] (an open-label protocol has none)",
        )
    _known(c, b.blinded_roles, "blinded_roles")
    _known(c, b.emergency_unblinding, "emergency_unblinding")
    for j, role in enumerate(b.blinded_roles):
        if role in NEVER_BLINDED:
            c.add(
                "P041",
                ("blinding", "blinded_roles", j),
                f"role {role!r} holds the randomisation list and cannot be blinded",
                f"remove {role!r} from blinded_roles",
            )
    for j, role in enumerate(b.emergency_unblinding):
        if role in NEVER_BLINDED:
            c.add(
                "P041",
                ("blinding", "emergency_unblinding", j),
                f"role {role!r} sees every arm already; emergency unblinding is for a blinded "
                "role that must know one participant's arm",
                f"remove {role!r} from emergency_unblinding",
            )
    _rater_not_notified(c)
    _dosing_alerts_reach_someone(c)


def _rater_not_notified(c: Checker) -> None:
    """An alert told to a rater blind to the safety data would tell them what the protocol
    hides (a raised heart rate, a serious adverse event): the chain must not name them."""
    b, notify = c.p.blinding, c.p.safety.notify
    rater = Role.INDEPENDENT_RATER.value
    if b is None or not b.hides_safety_from(rater):
        return
    if b.rater_sees_dosing:
        c.add(
            "P041",
            ("blinding", "rater_sees_dosing"),
            "[blinding] lets the independent rater see dosing data but keeps them blind to "
            "the safety data: the dosing day shows its vital signs and adverse events",
            "set rater_sees_dosing = false, or rater_sees_safety = true",
        )
    if notify is None:
        return
    for i, level in enumerate(notify.levels):
        steps: list[tuple[tuple[str | int, ...], tuple[Role, ...]]] = [(("roles",), level.roles)]
        steps += [(("escalate", j, "roles"), e.roles) for j, e in enumerate(level.escalate)]
        for where, roles in steps:
            if rater in roles:
                c.add(
                    "P041",
                    ("safety", "notify", "levels", i, *where),
                    f"[safety.notify] tells the independent rater of {level.level} alerts, "
                    "but [blinding] keeps the rater blind to the safety data",
                    "tell the investigators instead, or set rater_sees_safety = true",
                )
    if rater in notify.undeliverable_roles:
        c.add(
            "P041",
            ("safety", "notify", "undeliverable_roles"),
            "[safety.notify] tells the independent rater of undeliverable alerts, but "
            "[blinding] keeps the rater blind to the safety data",
            "name another role, or set rater_sees_safety = true",
        )


def _dosing_alerts_reach_someone(c: Checker) -> None:
    """An alert from the dosing day (a reading of vital signs beyond its limits, the session's
    VAS, a planned reading missed) is never told to an independent rater blind to dosing: a
    step of the chain (or ``undeliverable_roles``) naming only that rater reaches nobody with
    it, and the escalation stalls at an undeliverable alert. (A rater blind to the safety data
    is flagged above for any mention in the chain.)"""
    b, notify = c.p.blinding, c.p.safety.notify
    rater = Role.INDEPENDENT_RATER.value
    if b is None or notify is None or b.rater_sees_dosing or b.hides_safety_from(rater):
        return
    for i, level in enumerate(notify.levels):
        steps: list[tuple[tuple[str | int, ...], tuple[Role, ...]]] = [(("roles",), level.roles)]
        steps += [(("escalate", j, "roles"), e.roles) for j, e in enumerate(level.escalate)]
        for where, roles in steps:
            if set(roles) == {rater}:
                c.add(
                    "P041",
                    ("safety", "notify", "levels", i, *where),
                    f"[safety.notify] tells only the independent rater at a step of the "
                    f"{level.level} chain, but [blinding] keeps the rater blind to dosing: the "
                    "alerts from the dosing day (vital signs, the session's VAS, missed "
                    "readings) would reach nobody at that step",
                    "name the investigators at that step too, or set rater_sees_dosing = true",
                )
    if set(notify.undeliverable_roles) == {rater}:
        c.add(
            "P041",
            ("safety", "notify", "undeliverable_roles"),
            "[safety.notify] tells only the independent rater of undeliverable alerts, but "
            "[blinding] keeps the rater blind to dosing: an undeliverable alert from the "
            "dosing day would reach nobody",
            "name another role (the admin, the data manager)",
        )


#: The checks of this module, in the order they report.
BLINDING_CHECKS: tuple[Check, ...] = (_check_blinding,)
