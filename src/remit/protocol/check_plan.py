"""Whole-protocol checks of what the protocol measures and analyses: endpoints and analyses
(their scales, visits and endpoint references: P005, P014, P019, P020, P025), safety rules
(P006, P016), randomisation (P021) and baselines (P026: the check lives with the baseline rule,
:func:`remit.protocol.baseline.check_baseline`)."""

from __future__ import annotations

from remit.errors import RemitError
from remit.protocol._checker import Check, Checker, suggest
from remit.protocol.baseline import check_baseline
from remit.protocol.model import (
    BINARY_ENDPOINT_KINDS,
    McNemarAnalysis,
    MMRMAnalysis,
    ProportionAnalysis,
    Randomisation,
)
from remit.scales import ScaleDefinition


def _check_endpoints(c: Checker) -> None:
    for i, e in enumerate(c.p.endpoints):
        where = ("endpoints", i)
        c.scale_ref(e.scale, (*where, "scale"))
        for visit in dict.fromkeys(e.visit_refs()):
            if c.visit_ref(visit, (*where,), f"endpoint {e.id}"):
                c.assessed(e.scale, visit, where, f"endpoint {e.id}")


def _check_analyses(c: Checker) -> None:
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
                    suggest(ref, list(endpoints), "use an endpoint id"),
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


def _check_safety(c: Checker) -> None:
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
                suggest(v, definition.versions, "use one of its versions"),
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
                        suggest(str(rule.field), sorted(fields), "use one of its scored fields"),
                    )
                    break


def _scale_fields(definition: ScaleDefinition, version: str) -> set[str]:
    fields = {s.code for s in definition.subscales_for(version)}
    fields |= {d.name for d in definition.derived if not d.versions or version in d.versions}
    if definition.total is not None:
        fields.add("total")
    return fields


def _check_randomisation(c: Checker) -> None:
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
    _check_strata(c, r)


def _check_strata(c: Checker, r: Randomisation) -> None:
    declared = [f.factor for f in r.strata]
    for name in r.stratification:
        if name not in declared:
            c.add(
                "P021",
                ("randomisation", "stratification"),
                f"stratification factor {name!r} has no [[randomisation.strata]] declaration",
                'declare it: factor, source ("site" or { visit, scale, value }) and levels',
            )
    for j, f in enumerate(r.strata):
        where = ("randomisation", "strata", j)
        if f.factor not in r.stratification:
            c.add(
                "P021",
                where,
                f"stratum factor {f.factor!r} is not in stratification",
                "add it to stratification or remove the declaration",
            )
        if declared.count(f.factor) > 1:
            c.add(
                "P021",
                where,
                f"stratum factor {f.factor!r} is declared twice",
                "keep one declaration",
            )
        if f.source == "site":
            if f.levels:
                c.add(
                    "P021",
                    where,
                    "the site factor takes its levels from the study's sites",
                    "remove levels",
                )
            if not c.p.study.sites:
                c.add(
                    "P021",
                    where,
                    "stratified by site but the study declares no sites",
                    "declare the sites in [study] sites",
                )
            continue
        if not f.levels:
            c.add(
                "P021",
                where,
                f"stratum factor {f.factor!r} has no levels",
                "give levels = [{ code, min, max }, …]",
            )
        codes = [lv.code for lv in f.levels]
        if len(set(codes)) != len(codes):
            c.add(
                "P021",
                where,
                f"stratum factor {f.factor!r} repeats a level code",
                "give each level its own code",
            )
        for k, lv in enumerate(f.levels):
            if lv.min is not None and lv.max is not None and lv.min > lv.max:
                c.add(
                    "P021",
                    (*where, "levels", k),
                    f"level {lv.code!r} has min > max",
                    "swap the bounds",
                )
            for other in f.levels[k + 1 :]:
                low = max(x for x in (lv.min, other.min, float("-inf")) if x is not None)
                high = min(x for x in (lv.max, other.max, float("inf")) if x is not None)
                if low <= high:
                    c.add(
                        "P021",
                        (*where, "levels", k),
                        f"levels {lv.code!r} and {other.code!r} overlap",
                        "make the bands disjoint so each value has one level",
                    )


#: The checks of this module, in the order they report.
PLAN_CHECKS: tuple[Check, ...] = (
    _check_endpoints,
    _check_analyses,
    _check_safety,
    _check_randomisation,
    check_baseline,
)
