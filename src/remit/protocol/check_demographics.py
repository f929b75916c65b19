"""Whole-protocol check of the ``[demographics]`` table (P042): only known characteristics,
each once, and a justification whenever race or ethnic origin is collected (special
categories of personal data, GDPR article 9)."""

from __future__ import annotations

from remit.protocol._checker import Check, Checker, suggest
from remit.protocol.demographics import Characteristic

_KNOWN = tuple(c.value for c in Characteristic)


def _check_demographics(c: Checker) -> None:
    d = c.p.demographics
    seen: set[str] = set()
    for j, field in enumerate(d.collect):
        if field not in _KNOWN:
            c.add(
                "P042",
                ("demographics", "collect", j),
                f"unknown characteristic {field!r} in [demographics] collect",
                suggest(field, _KNOWN, "collect " + " and/or ".join(_KNOWN)),
            )
        elif field in seen:
            c.add(
                "P042",
                ("demographics", "collect", j),
                f"{field!r} is listed twice in [demographics] collect",
                f"list {field!r} once",
            )
        seen.add(field)
    if d.collect and not (d.justification or "").strip():
        c.add(
            "P042",
            ("demographics", "collect"),
            f"[demographics] collects {', '.join(d.collect)} without a justification: race "
            "and ethnic origin are special categories of personal data (GDPR article 9)",
            'say why the trial needs them in justification = "..." (e.g. a regulator\'s '
            "request for subgroup data), or stop collecting them",
        )


#: The checks of this module, in the order they report.
DEMOGRAPHICS_CHECKS: tuple[Check, ...] = (_check_demographics,)
