"""Whole-protocol checks of the estimands (P040, ids P018) and of reference-based imputation
analyses (``rbmi``: their reference arm, P017, and J2R/CR/CIR in a one-arm protocol, P025).

An estimand must name an endpoint and analyses of the protocol; its main analysis must analyse
the endpoint's scale and be able to serve every intercurrent-event strategy it declares
(:data:`remit.protocol.estimands.STRATEGY_ANALYSES`); a summary that compares arms needs two
arms, a composite strategy a yes/no endpoint, and each event is declared once.
"""

from __future__ import annotations

from remit.protocol._checker import Check, Checker, duplicates, suggest
from remit.protocol.estimands import STRATEGY_ANALYSES, Estimand
from remit.protocol.model import BINARY_ENDPOINT_KINDS, Analysis, RbmiAnalysis

_COMPARES_ARMS = ("difference_in_means", "difference_in_proportions", "odds_ratio", "hazard_ratio")
_BINARY_SUMMARIES = ("proportion", "difference_in_proportions", "odds_ratio")


def _check_rbmi(c: Checker) -> None:
    arms = [a.code for a in c.p.arms]
    for i, a in enumerate(c.p.analysis.analyses):
        if not isinstance(a, RbmiAnalysis):
            continue
        where = ("analysis", "analyses", i)
        if a.reference is not None and a.reference not in arms:
            c.add(
                "P017",
                (*where, "reference"),
                f"analysis {a.id}: reference arm {a.reference!r} is not an arm of the protocol",
                suggest(a.reference, arms, "use an arm code"),
            )
        if len(arms) < 2 and (a.strategy != "mar" or a.reference is not None):
            c.add(
                "P025",
                (*where, "strategy"),
                f"analysis {a.id} imputes from a reference arm (strategy {a.strategy!r}) but "
                "the protocol has one arm",
                'use strategy = "mar" with delta or tipping_deltas, and no reference',
            )


def _scale_of(analysis: Analysis) -> tuple[str, ...]:
    return analysis.scale_refs()


def _check_one(c: Checker, i: int, e: Estimand, analyses: dict[str, Analysis]) -> None:
    where = ("estimands", i)
    endpoints = {x.id: x for x in c.p.endpoints}
    endpoint = endpoints.get(e.endpoint)
    if endpoint is None:
        c.add(
            "P040",
            (*where, "endpoint"),
            f"estimand {e.id} refers to endpoint {e.endpoint!r}, which is not in the protocol",
            suggest(e.endpoint, list(endpoints), "use the id of an [[endpoints]] entry"),
        )
    for field, ids in (("analysis", (e.analysis,)), ("sensitivity", e.sensitivity)):
        for ref in ids:
            if ref not in analyses:
                c.add(
                    "P040",
                    (*where, field),
                    f"estimand {e.id}: {field} {ref!r} is not an analysis of the plan",
                    suggest(ref, list(analyses), "use the id of an [[analysis.analyses]] entry"),
                )
    if e.analysis in e.sensitivity:
        c.add(
            "P040",
            (*where, "sensitivity"),
            f"estimand {e.id}: analysis {e.analysis!r} is both the main and a sensitivity analysis",
            "list other analyses under sensitivity",
        )
    if len(c.p.arms) < 2 and e.summary in _COMPARES_ARMS:
        c.add(
            "P040",
            (*where, "summary"),
            f"estimand {e.id}: summary {e.summary!r} compares arms but the protocol has one arm",
            'use summary = "mean" (or "proportion") for a single arm',
        )
    binary = endpoint is not None and endpoint.kind in BINARY_ENDPOINT_KINDS
    if endpoint is not None and (e.summary in _BINARY_SUMMARIES) != binary:
        c.add(
            "P040",
            (*where, "summary"),
            f"estimand {e.id}: summary {e.summary!r} does not fit the {endpoint.kind} "
            f"endpoint {endpoint.id}",
            "a change endpoint takes mean or difference_in_means; a yes/no endpoint "
            "proportion, difference_in_proportions or odds_ratio",
        )
    for event in duplicates([x.event for x in e.intercurrent_events]):
        c.add(
            "P040",
            (*where, "intercurrent_events"),
            f"estimand {e.id}: intercurrent event {event!r} is declared twice",
            "give each event one strategy",
        )
    main = analyses.get(e.analysis)
    for j, ice in enumerate(e.intercurrent_events):
        at = (*where, "intercurrent_events", j, "strategy")
        if ice.strategy == "composite" and endpoint is not None and not binary:
            c.add(
                "P040",
                at,
                f"estimand {e.id}: the composite strategy for {ice.event} needs a yes/no "
                f"endpoint, but {endpoint.id} is a {endpoint.kind} endpoint",
                "refer to a response, remission or relapse endpoint that counts the event as "
                "a failure, or choose another strategy",
            )
        if main is None:
            continue
        served = STRATEGY_ANALYSES[ice.strategy]
        if main.kind not in served:
            methods = ", ".join(sorted(served)) or "none (no analysis of Remit estimates it)"
            c.add(
                "P040",
                at,
                f"estimand {e.id}: strategy {ice.strategy} for {ice.event} has no method: "
                f"its main analysis {main.id} is a {main.kind} analysis",
                f"map it to an analysis of kind {methods}",
            )
        elif (
            ice.strategy == "hypothetical"
            and isinstance(main, RbmiAnalysis)
            and main.strategy != "mar"
        ):
            c.add(
                "P040",
                at,
                f"estimand {e.id}: hypothetical strategy for {ice.event}, but analysis "
                f"{main.id} imputes by {main.strategy} (the reference arm's outcome), which "
                "targets a treatment-policy question",
                'use strategy = "mar" in the main analysis and keep the reference-based one '
                "as a sensitivity analysis",
            )
    if endpoint is None:
        return
    for ref in (e.analysis, *e.sensitivity):
        a = analyses.get(ref)
        if a is None:
            continue
        scales, named = _scale_of(a), a.endpoint_refs()
        if endpoint.scale not in scales and endpoint.id not in named:
            c.add(
                "P040",
                (*where, "analysis" if ref == e.analysis else "sensitivity"),
                f"estimand {e.id}: analysis {ref} does not analyse endpoint {endpoint.id} "
                f"(scale {endpoint.scale})",
                f"map the estimand to an analysis of {endpoint.scale} or of {endpoint.id}",
            )


def _check_estimands(c: Checker) -> None:
    analyses = {a.id: a for a in c.p.analysis.analyses}
    for ident in duplicates([e.id for e in c.p.estimands]):
        c.add(
            "P018",
            ("estimands",),
            f"estimand id {ident!r} is used twice",
            "give every estimand its own id",
        )
    for i, e in enumerate(c.p.estimands):
        _check_one(c, i, e, analyses)


#: The checks of this module, in the order they report.
ESTIMAND_CHECKS: tuple[Check, ...] = (_check_rbmi, _check_estimands)
