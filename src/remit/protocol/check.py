"""Whole-protocol checks: every problem gets a stable code (listed in ``docs/protocol.md``).

``P001``–``P004`` (TOML and shape) come from :mod:`remit.protocol.loader`; the codes from
``P005`` on are found here on a well-formed protocol.
"""

from __future__ import annotations

import difflib
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from remit.errors import Problem, RemitError
from remit.protocol.baseline import check_baseline
from remit.protocol.loader import parse_protocol, read_protocol_source
from remit.protocol.locate import PathPart, format_path, line_index
from remit.protocol.model import (
    BINARY_ENDPOINT_KINDS,
    McNemarAnalysis,
    MMRMAnalysis,
    ProportionAnalysis,
    Protocol,
    Visit,
)
from remit.scales import ScaleDefinition, list_scales, load_scale

T = TypeVar("T")

PROBLEM_CODES: dict[str, str] = {
    "P001": "the file is not valid TOML",
    "P002": "unknown key",
    "P003": "required key missing",
    "P004": "value of the wrong type or not allowed",
    "P005": "unknown scale",
    "P006": "unknown scale version",
    "P007": "unknown anchor",
    "P008": "anchor cycle",
    "P009": "duplicate visit code",
    "P010": "inverted window (lower bound above upper bound)",
    "P011": "overlapping windows",
    "P012": "doses above the session maximum",
    "P013": "supplemental offer window inverted or negative",
    "P014": "reference to a visit that does not exist",
    "P015": "dosing session on a non-dosing visit, or dosing visit without a session",
    "P016": "safety rule on an unknown item or field of its scale",
    "P017": "unknown arm",
    "P018": "duplicate id, code or number",
    "P019": "reference to an endpoint that does not exist or is of the wrong kind",
    "P020": "scale not assessed at a visit that needs it",
    "P021": "randomisation does not fit the arms",
    "P022": "vital-sign limits or schedule not sound",
    "P023": "dosing sessions not numbered 1, 2, … in visit order",
    "P024": "window does not contain the target day",
    "P025": "analysis compares arms in a one-arm protocol",
    "P026": "baseline not consistent: an endpoint or analysis baseline that differs from the "
    "protocol's baseline of its scale, or a compare-to-baseline rule on a scale without one",
}


def check_protocol(source: str | Path) -> list[Problem]:
    """Every problem of a protocol file or built-in protocol (empty when it is sound).

    Never raises for a bad protocol: bad TOML, a wrong key or a broken reference each become
    a :class:`~remit.errors.Problem`. Only a source that does not exist raises
    :class:`~remit.errors.NotFoundError`.

    Examples
    --------
    >>> check_protocol("oslo-mdma-mdd")
    []
    """
    text, name = read_protocol_source(source)
    return check_text(text, name)


def check_text(text: str, source: str = "<text>") -> list[Problem]:
    """Every problem of protocol text (see :func:`check_protocol`).

    Examples
    --------
    >>> [p.code for p in check_text("format_version = 1\\n")]
    ['P003', 'P003', 'P003']
    """
    _, problems = parse_protocol(text, source)
    return problems


class _Scales:
    """Scale definitions looked up once per check, with unknown codes remembered."""

    def __init__(self) -> None:
        self.known = set(list_scales())
        self._cache: dict[str, ScaleDefinition] = {}

    def get(self, code: str) -> ScaleDefinition | None:
        if code not in self.known:
            return None
        if code not in self._cache:
            self._cache[code] = load_scale(code)
        return self._cache[code]


class _Checker:
    def __init__(self, protocol: Protocol):
        self.p = protocol
        self.problems: list[Problem] = []
        self._index = line_index(protocol.text) if protocol.text else {}
        self.scales = _Scales()
        self.visit_codes = [v.code for v in protocol.visits]
        self.visits = {v.code: v for v in protocol.visits}
        self.events = {e.code for e in protocol.events}
        self.arms = {a.code for a in protocol.arms}

    def add(self, code: str, path: Sequence[PathPart], what: str, todo: str) -> None:
        line = None
        for end in range(len(path), 0, -1):
            line = self._index.get(tuple(path[:end]))
            if line is not None:
                break
        where = format_path(path) + (f" (line {line})" if line else "")
        self.problems.append(Problem(code, where, what, todo))

    # -- references -----------------------------------------------------------------

    def visit_ref(self, code: str, path: Sequence[PathPart], what: str) -> bool:
        if code in self.visits:
            return True
        self.add(
            "P014",
            path,
            f"{what} refers to visit {code!r}, which is not in the protocol",
            _suggest(code, self.visit_codes, "use one of the visit codes"),
        )
        return False

    def scale_ref(self, code: str, path: Sequence[PathPart]) -> ScaleDefinition | None:
        definition = self.scales.get(code)
        if definition is None:
            self.add(
                "P005",
                path,
                f"unknown scale {code!r}",
                _suggest(
                    code, sorted(self.scales.known), "use a scale code from `remit scales list`"
                ),
            )
        return definition

    def assessed(self, scale: str, visit: str, path: Sequence[PathPart], what: str) -> None:
        v = self.visits.get(visit)
        if v is None or scale not in self.scales.known:
            return
        if scale not in v.scales():
            self.add(
                "P020",
                path,
                f"{what} needs {scale} at {visit}, but {visit} does not assess {scale}",
                f"add {scale} to the assessments of {visit}, or change the {what}",
            )


def _suggest(given: str, choices: Iterable[str], fallback: str) -> str:
    choices = list(dict.fromkeys(choices))
    close = difflib.get_close_matches(given, choices, n=1)
    head = f"did you mean {close[0]!r}? " if close else ""
    shown = ", ".join(choices[:25]) + (" …" if len(choices) > 25 else "")
    return f"{head}{fallback} ({shown})"


def _duplicates(values: Sequence[T]) -> list[T]:
    return [v for v, n in Counter(values).items() if n > 1]


def _last_index(values: Sequence[T], value: T) -> int:
    return len(values) - 1 - list(values)[::-1].index(value)


def check_model(protocol: Protocol) -> list[Problem]:
    """Whole-protocol checks of a well-formed protocol (codes ``P005`` on).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> check_model(load_protocol("mdma-mdd-rct-example"))
    []
    """
    c = _Checker(protocol)
    _check_ids(c)
    _check_anchors(c)
    _check_windows(c)
    _check_assessments(c)
    _check_dosing(c)
    _check_endpoints(c)
    _check_analyses(c)
    _check_safety(c)
    _check_randomisation(c)
    check_baseline(c)
    if protocol.study.reference_visit not in c.visits:
        c.visit_ref(protocol.study.reference_visit, ("study", "reference_visit"), "the study")
    return c.problems


# --------------------------------------------------------------------------- individual checks


def _check_ids(c: _Checker) -> None:
    p = c.p
    for code in _duplicates(c.visit_codes):
        i = _last_index(c.visit_codes, code)
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
        for value in _duplicates(values):
            i = _last_index(values, value)
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
                    _suggest(arm, sorted(c.arms), "use an arm code"),
                )


def _check_anchors(c: _Checker) -> None:
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
                _suggest(
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


def _check_windows(c: _Checker) -> None:
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


def _check_assessments(c: _Checker) -> None:
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
                    _suggest(a.version, definition.versions, "use one of its versions"),
                )


def _check_dosing(c: _Checker) -> None:
    sessions_at: dict[str, int] = {}
    for i, d in enumerate(c.p.dosing):
        where = ("dosing", i)
        if c.visit_ref(d.visit, (*where, "visit"), f"dosing session {d.number}"):
            kind = c.visits[d.visit].kind
            if kind != "dosing":
                c.add(
                    "P015",
                    (*where, "visit"),
                    f"dosing session {d.number} is held at {d.visit}, a {kind} visit",
                    f'set kind = "dosing" on {d.visit} or move the session to a dosing visit',
                )
            if d.visit in sessions_at:
                c.add(
                    "P018",
                    (*where, "visit"),
                    f"visit {d.visit} holds two dosing sessions ({sessions_at[d.visit]} and "
                    f"{d.number})",
                    "hold each session at its own visit",
                )
            sessions_at[d.visit] = d.number
        doses = [(None, d.dose_for(None))] + [(arm, dose) for arm, dose in d.arm_doses.items()]
        for arm, dose in doses:
            if arm is not None and arm not in c.arms:
                c.add(
                    "P017",
                    (*where, "arm_doses", arm),
                    f"dosing session {d.number} gives a dose to arm {arm!r}, which is not in the "
                    "protocol",
                    _suggest(arm, sorted(c.arms), "use an arm code"),
                )
            total = dose.initial_mg + dose.supplemental_mg
            if total > d.max_total_mg:
                who = f" (arm {arm})" if arm else ""
                path = (*where, "arm_doses", arm) if arm else (*where, "supplemental_mg")
                c.add(
                    "P012",
                    path,
                    f"dosing session {d.number}{who}: initial {dose.initial_mg:g} mg + "
                    f"supplemental {dose.supplemental_mg:g} mg = {total:g} mg is above the "
                    f"session maximum of {d.max_total_mg:g} mg",
                    "lower a dose or raise max_total_mg",
                )
        lo, hi = d.supplemental_offer_min
        if lo > hi or lo < 0:
            c.add(
                "P013",
                (*where, "supplemental_offer_min"),
                f"supplemental offer window [{lo}, {hi}] min of session {d.number} is "
                f"{'inverted' if lo > hi else 'negative'}",
                "give [earliest, latest] minutes after the initial dose, earliest ≥ 0 and ≤ "
                "latest, e.g. [90, 150]",
            )
        elif hi > d.duration_h * 60:
            c.add(
                "P013",
                (*where, "supplemental_offer_min"),
                f"supplemental offer window ends at {hi} min, after the {d.duration_h:g} h session",
                "end the offer window within the session",
            )
        vitals = d.vitals
        for sign, limit in vitals.thresholds.items():
            if limit.low is not None and limit.high is not None and limit.low >= limit.high:
                c.add(
                    "P022",
                    (*where, "vitals", "thresholds", sign),
                    f"{sign} limits of session {d.number}: low {limit.low:g} is not below high "
                    f"{limit.high:g}",
                    "give low < high",
                )
        if vitals.until_min < vitals.every_min:
            c.add(
                "P022",
                (*where, "vitals", "until_min"),
                f"vital signs of session {d.number}: until_min {vitals.until_min} is below "
                f"every_min {vitals.every_min}, so no reading is scheduled after the dose",
                "give until_min ≥ every_min",
            )
    for i, v in enumerate(c.p.visits):
        if v.kind == "dosing" and v.code not in sessions_at:
            c.add(
                "P015",
                ("visits", i, "kind"),
                f"{v.code} is a dosing visit but no [[dosing]] session is held there",
                f'add a [[dosing]] session with visit = "{v.code}" or change its kind',
            )
    order = [d for d in c.p.dosing if d.visit in c.visits]
    order.sort(key=lambda d: c.visit_codes.index(d.visit))
    numbers = [d.number for d in order]
    if numbers and numbers != list(range(1, len(numbers) + 1)) and not _duplicates(numbers):
        c.add(
            "P023",
            ("dosing",),
            f"dosing sessions in visit order are numbered {numbers}",
            f"number them {list(range(1, len(numbers) + 1))} in visit order",
        )


def _check_endpoints(c: _Checker) -> None:
    for i, e in enumerate(c.p.endpoints):
        where = ("endpoints", i)
        c.scale_ref(e.scale, (*where, "scale"))
        for visit in dict.fromkeys(e.visit_refs()):
            if c.visit_ref(visit, (*where,), f"endpoint {e.id}"):
                c.assessed(e.scale, visit, where, f"endpoint {e.id}")


def _check_analyses(c: _Checker) -> None:
    endpoints = {e.id: e for e in c.p.endpoints}
    for i, a in enumerate(c.p.analysis.analyses):
        where = ("analysis", "analyses", i)
        scales = [s for s in a.scale_refs() if c.scale_ref(s, (*where, "scales")) is not None]
        visits = [
            v for v in dict.fromkeys(a.visit_refs()) if c.visit_ref(v, where, f"analysis {a.id}")
        ]
        for s in scales:
            for v in visits:
                c.assessed(s, v, where, f"analysis {a.id}")
        if isinstance(a, MMRMAnalysis) and len(c.p.arms) < 2:
            uses_arm = "arm" in a.variables or "arm_by_visit" in a.contrasts
            if uses_arm:
                c.add(
                    "P025",
                    (*where, "formula"),
                    f"analysis {a.id} models arm ({a.formula!r}, contrasts "
                    f"{', '.join(a.contrasts)}) but the protocol has one arm",
                    'drop arm from the formula and use contrasts = ["visit_vs_baseline"], '
                    "or add the other arms",
                )
        for ref in a.endpoint_refs():
            endpoint = endpoints.get(ref)
            if endpoint is None:
                c.add(
                    "P019",
                    (*where, "endpoints"),
                    f"analysis {a.id} refers to endpoint {ref!r}, which is not in the protocol",
                    _suggest(ref, list(endpoints), "use an endpoint id"),
                )
                continue
            if (
                isinstance(a, ProportionAnalysis | McNemarAnalysis)
                and endpoint.kind not in BINARY_ENDPOINT_KINDS
            ):
                c.add(
                    "P019",
                    (*where, "endpoints"),
                    f"analysis {a.id} ({a.kind}) needs a yes/no endpoint, but {ref} is a "
                    f"{endpoint.kind} endpoint",
                    "refer to a response, remission, relapse or sustained_response endpoint",
                )
            if isinstance(a, McNemarAnalysis):
                endpoint_visits = set(endpoint.visit_refs())
                missing = [v for v in (a.from_visit, a.to_visit) if v not in endpoint_visits]
                if missing and endpoint.kind in ("response", "remission"):
                    c.add(
                        "P019",
                        (*where, "endpoints"),
                        f"analysis {a.id} compares {a.from_visit} and {a.to_visit}, but endpoint "
                        f"{ref} is not defined at {', '.join(missing)}",
                        f"add {', '.join(missing)} to the visits of {ref}",
                    )


def _check_safety(c: _Checker) -> None:
    for i, rule in enumerate(c.p.safety.rules):
        where = ("safety", "rules", i)
        definition = c.scale_ref(rule.scale, (*where, "scale"))
        if definition is None:
            continue
        versions = rule.versions or definition.versions
        bad_versions = [v for v in versions if v not in definition.versions]
        for v in bad_versions:
            c.add(
                "P006",
                (*where, "versions"),
                f"safety rule {rule.id}: scale {rule.scale} has no version {v!r}",
                _suggest(v, definition.versions, "use one of its versions"),
            )
        for version in [v for v in versions if v in definition.versions]:
            if rule.item is not None:
                try:
                    definition.item(rule.item, version)
                except RemitError:
                    numbers = len(definition.items_for(version))
                    c.add(
                        "P016",
                        (*where, "item"),
                        f"safety rule {rule.id}: scale {rule.scale} ({version}) has no item "
                        f"{rule.item!r}",
                        f"use an item number 1–{numbers} or an item code",
                    )
                    break
            else:
                fields = _scale_fields(definition, version)
                if rule.field not in fields:
                    c.add(
                        "P016",
                        (*where, "field"),
                        f"safety rule {rule.id}: scale {rule.scale} ({version}) has no scored "
                        f"field {rule.field!r}",
                        _suggest(str(rule.field), sorted(fields), "use one of its scored fields"),
                    )
                    break


def _scale_fields(definition: ScaleDefinition, version: str) -> set[str]:
    fields = {s.code for s in definition.subscales_for(version)}
    fields |= {d.name for d in definition.derived if not d.versions or version in d.versions}
    if definition.total is not None:
        fields.add("total")
    return fields


def _check_randomisation(c: _Checker) -> None:
    r = c.p.randomisation
    if r is None:
        return
    if len(c.p.arms) < 2:
        c.add(
            "P021",
            ("randomisation",),
            "randomisation is declared but the protocol has only one arm",
            "add the other arms or remove [randomisation]",
        )
        return
    ratio_sum = sum(a.ratio for a in c.p.arms)
    for j, size in enumerate(r.block_sizes):
        if size <= 0 or size % ratio_sum:
            c.add(
                "P021",
                ("randomisation", "block_sizes", j),
                f"block size {size} is not a multiple of the allocation ratio total {ratio_sum} "
                f"({':'.join(str(a.ratio) for a in c.p.arms)})",
                f"use multiples of {ratio_sum}, e.g. {ratio_sum * 2}",
            )
    if r.method == "permuted_block" and not r.block_sizes:
        c.add(
            "P021",
            ("randomisation", "block_sizes"),
            "permuted-block randomisation without block sizes",
            f"give block_sizes, e.g. [{ratio_sum * 2}, {ratio_sum * 3}]",
        )
