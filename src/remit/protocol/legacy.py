"""Protocol files written before the tiered vital-sign limits still load.

Before issue 11 the vital-sign limits were per dosing session (``[dosing.vitals.thresholds]``,
one ``high``/``low`` per sign) and ``[safety.vitals]`` gave the one level of every breach. A
trial database keeps the protocol text it was started with, so that text must keep loading:
:func:`upgrade_vital_limits` rewrites the parsed TOML (never the stored text) into today's
shape — each old limit becomes a tier at the old level in ``[safety.vitals.limits]``, and a
session without ``signs`` keeps reading the signs it had thresholds for. Where sessions gave
one sign different limits, the most sensitive (lowest high, highest low) is kept, since the
limits now apply at every visit.
"""

from __future__ import annotations

from typing import Any


def upgrade_vital_limits(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a parsed protocol file) in today's shape of vital-sign limits.

    Data already in today's shape is returned unchanged (the same object).

    Examples
    --------
    >>> old = {"dosing": [{"vitals": {"every_min": 30, "until_min": 480,
    ...                               "thresholds": {"heart_rate": {"high": 100, "low": 45}}}}],
    ...        "safety": {"vitals": {"level": "immediate", "text": "beyond the threshold"}}}
    >>> new = upgrade_vital_limits(old)
    >>> new["safety"]["vitals"]["limits"]
    {'heart_rate': {'high': {'immediate': 100}, 'low': {'immediate': 45}}}
    >>> new["dosing"][0]["vitals"]["signs"]
    ['heart_rate']
    """
    sessions = [d for d in data.get("dosing", []) if isinstance(d, dict)]
    old_rule = data.get("safety", {}).get("vitals", {})
    old_level = isinstance(old_rule, dict) and "level" in old_rule and "limits" not in old_rule
    if not old_level and not any(
        isinstance(d.get("vitals"), dict) and "thresholds" in d["vitals"] for d in sessions
    ):
        return data
    safety = dict(data.get("safety", {}))
    rule = dict(safety.get("vitals", {}))
    level = rule.pop("level", "immediate")
    rule.setdefault("text", "vital sign beyond the protocol's threshold")
    merged: dict[str, dict[str, Any]] = {}
    dosing = []
    for d in data.get("dosing", []):
        vitals = d.get("vitals") if isinstance(d, dict) else None
        if not isinstance(vitals, dict) or "thresholds" not in vitals:
            dosing.append(d)
            continue
        vitals = dict(vitals)
        thresholds = vitals.pop("thresholds")
        if not vitals.get("signs"):
            vitals["signs"] = list(thresholds)
        for sign, limit in thresholds.items():
            into = merged.setdefault(sign, {})
            for key in ("unit", "assumption"):
                if key in limit:
                    into.setdefault(key, limit[key])
            for side, keep in (("high", min), ("low", max)):
                if limit.get(side) is not None:
                    old = into.get(side, {}).get(level)
                    value = limit[side] if old is None else keep(old, limit[side])
                    into[side] = {level: value}
        dosing.append({**d, "vitals": vitals})
    rule["limits"] = {**merged, **rule.get("limits", {})}
    safety["vitals"] = rule
    return {**data, "dosing": dosing, "safety": safety}
