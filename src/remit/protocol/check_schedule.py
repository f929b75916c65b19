"""Whole-protocol checks of identities and the visit schedule: duplicate codes and ids
(P009, P018), unknown arms (P017), anchors and their cycles (P007, P008), windows (P010, P011,
P024), the scales assessed at each visit (P005, P006), site time zones (P038) and period
limits (P039)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from remit.protocol._checker import Check, Checker, duplicates, last_index, suggest
from remit.protocol.model import Visit


def _check_ids(c: Checker) -> None:
    p = c.p
    for code in duplicates(c.visit_codes):
        i = last_index(c.visit_codes, code)
        c.add(
            "P009",
            ("visits", i, "code"),
            f"visit code {code!r} is used twice",
            "give each visit its own code",
        )
    groups: list[tuple[str, Sequence[object], str]] = [
        ("arms", [a.code for a in p.arms], "arm code"),
        ("events", [e.code for e in p.events], "event code"),
        ("endpoints", [e.id for e in p.endpoints], "endpoint id"),
        ("analysis.analyses", [a.id for a in p.analysis.analyses], "analysis id"),
        ("eligibility.criteria", [k.id for k in p.eligibility.criteria], "criterion id"),
        ("safety.rules", [r.id for r in p.safety.rules], "safety rule id"),
        ("dosing", [d.number for d in p.dosing], "dosing session number"),
        (
            "visits",
            [float(v.number if v.number is not None else i + 1) for i, v in enumerate(p.visits)],
            "visit number",
        ),
    ]
    for key, values, noun in groups:
        for value in duplicates(values):
            i = last_index(values, value)
            c.add(
                "P018",
                (*key.split("."), i),
                f"{noun} {value!r} is used twice",
                f"give each {noun.split()[0]} its own {noun.split()[-1]}",
            )
    for i, event in enumerate(p.events):
        if event.code in c.visits:
            c.add(
                "P018",
                ("events", i, "code"),
                f"event code {event.code!r} is also a visit code",
                "rename the event so that anchors are unambiguous",
            )
    for i, v in enumerate(p.visits):
        for arm in v.arms:
            if arm not in c.arms:
                c.add(
                    "P017",
                    ("visits", i, "arms"),
                    f"visit {v.code} is limited to arm {arm!r}, which is not in the protocol",
                    suggest(arm, sorted(c.arms), "use an arm code"),
                )


def _check_anchors(c: Checker) -> None:
    for i, v in enumerate(c.p.visits):
        parent = c.visits.get(v.anchor)
        if parent is not None and parent.arms:
            stranded = sorted((set(v.arms) or c.arms) - set(parent.arms))
            if stranded:
                c.add(
                    "P007",
                    ("visits", i, "anchor"),
                    f"visit {v.code} is anchored to {v.anchor}, which arm(s) "
                    f"{', '.join(stranded)} never attend, so {v.code} would never get a date there",
                    f"anchor {v.code} to a visit of every arm it has, or limit its arms",
                )
        if v.anchor not in c.visits and v.anchor not in c.events:
            c.add(
                "P007",
                ("visits", i, "anchor"),
                f"visit {v.code} is anchored to {v.anchor!r}, which is neither a visit nor an "
                "event",
                suggest(
                    v.anchor,
                    [*c.visit_codes, *sorted(c.events)],
                    "anchor it to a visit or declare the event under [[events]]",
                ),
            )
        if v.anchor == v.code:
            c.add(
                "P008",
                ("visits", i, "anchor"),
                f"visit {v.code} is anchored to itself",
                "anchor it to an earlier visit or an event",
            )
    reported: set[frozenset[str]] = set()
    for start in c.visit_codes:
        chain: list[str] = []
        code: str | None = start
        while code is not None and code in c.visits and code not in chain:
            chain.append(code)
            nxt = c.visits[code].anchor
            code = nxt if nxt in c.visits else None
        if code is None or code not in chain:
            continue
        cycle = chain[chain.index(code) :]
        key = frozenset(cycle)
        if key in reported or len(cycle) < 2:
            continue
        reported.add(key)
        i = c.visit_codes.index(cycle[0])
        c.add(
            "P008",
            ("visits", i, "anchor"),
            "anchor cycle: " + " → ".join([*cycle, cycle[0]]) + " (each visit waits for the next)",
            "anchor one of these visits to an earlier visit or an event",
        )


def _overlap(a: Visit, b: Visit) -> bool:
    a_arms, b_arms = set(a.arms), set(b.arms)
    if a_arms and b_arms and not (a_arms & b_arms):
        return False
    a_lo, a_hi = a.target_day + a.window[0], a.target_day + a.window[1]
    b_lo, b_hi = b.target_day + b.window[0], b.target_day + b.window[1]
    return a_lo <= b_hi and b_lo <= a_hi


def _check_windows(c: Checker) -> None:
    index = {v.code: i for i, v in enumerate(c.p.visits)}
    for i, v in enumerate(c.p.visits):
        lo, hi = v.window
        if lo > hi:
            c.add(
                "P010",
                ("visits", i, "window"),
                f"window of {v.code} is inverted: lower {lo} is above upper {hi}",
                "write the window as [lower, upper] with lower ≤ upper, e.g. [-7, 7]",
            )
        elif not lo <= 0 <= hi:
            c.add(
                "P024",
                ("visits", i, "window"),
                f"window [{lo}, {hi}] of {v.code} does not contain its target day (0)",
                "give a window with lower ≤ 0 ≤ upper, or move target_day",
            )
        if v.anchor in c.visits and lo <= hi and v.target_day + lo < 0:
            c.add(
                "P011",
                ("visits", i, "window"),
                f"window of {v.code} opens {-(v.target_day + lo)} day(s) before its anchor visit "
                f"{v.anchor} (target day {v.target_day}, window [{lo}, {hi}])",
                f"raise the lower bound to at least {-v.target_day} or move target_day",
            )
    by_anchor: dict[str, list[Visit]] = {}
    for v in c.p.visits:
        if v.window[0] <= v.window[1]:
            by_anchor.setdefault(v.anchor, []).append(v)
    for anchor, siblings in by_anchor.items():
        ordered = sorted(siblings, key=lambda v: (v.target_day, index[v.code]))
        for a, b in itertools.pairwise(ordered):
            if _overlap(a, b):
                c.add(
                    "P011",
                    ("visits", index[b.code], "window"),
                    f"windows of consecutive visits {a.code} (days "
                    f"{a.target_day + a.window[0]}…{a.target_day + a.window[1]} after {anchor}) "
                    f"and {b.code} (days "
                    f"{b.target_day + b.window[0]}…{b.target_day + b.window[1]}) overlap",
                    f"narrow one of the windows or move a target day so that {a.code} closes "
                    f"before {b.code} opens",
                )


def _check_assessments(c: Checker) -> None:
    for i, v in enumerate(c.p.visits):
        for j, a in enumerate(v.assessments):
            definition = c.scale_ref(a.scale, ("visits", i, "assessments", j, "scale"))
            if (
                definition is not None
                and a.version is not None
                and a.version not in definition.versions
            ):
                c.add(
                    "P006",
                    ("visits", i, "assessments", j, "version"),
                    f"scale {a.scale} has no version {a.version!r} (at {v.code})",
                    suggest(a.version, definition.versions, "use one of its versions"),
                )


def _check_time_zones(c: Checker) -> None:
    from remit.protocol.clock import is_zone_name

    for i, site in enumerate(c.p.study.sites):
        if site.time_zone is not None and not is_zone_name(site.time_zone):
            c.add(
                "P038",
                ("study", "sites", i, "time_zone"),
                f"time zone {site.time_zone!r} of site {site.code} is not a known IANA zone",
                suggest(
                    site.time_zone,
                    sorted(_zone_names()),
                    "use an IANA name such as Europe/Oslo (or leave it out for UTC)",
                ),
            )


def _zone_names() -> set[str]:
    from zoneinfo import available_timezones

    return available_timezones()


def _check_periods(c: Checker) -> None:
    nominal = c.p.nominal_days()
    for i, v in enumerate(c.p.visits):
        period = v.period
        if period is None:
            continue
        where = ("visits", i, "period", "from")
        start = period.from_
        if start not in c.visits and start not in c.events:
            c.add(
                "P039",
                where,
                f"the period limit of {v.code} counts from {start!r}, which is neither a visit "
                "nor an event",
                suggest(start, [*c.visit_codes, *sorted(c.events)], "name an earlier visit"),
            )
            continue
        if start == v.code or (
            start in c.visits and c.visit_codes.index(start) > c.visit_codes.index(v.code)
        ):
            c.add(
                "P039",
                where,
                f"the period limit of {v.code} counts from {start}, which is not an earlier visit",
                "count the period from an earlier visit (e.g. the baseline visit)",
            )
            continue
        planned, base = nominal.get(v.code), nominal.get(start)
        if planned is None or base is None:
            continue
        lo, hi = period.bounds
        day = planned - base
        if not lo <= day <= hi:
            c.add(
                "P039",
                ("visits", i, "period"),
                f"{v.code} is planned {day} days after {start}, outside its period limit "
                f"({period.days} ± {period.tolerance} days: {lo}…{hi})",
                "move target_day or the period so that the planned day is inside it",
            )


#: The checks of this module, in the order they report.
SCHEDULE_CHECKS: tuple[Check, ...] = (
    _check_ids,
    _check_anchors,
    _check_windows,
    _check_assessments,
    _check_time_zones,
    _check_periods,
)
