"""The report's figure sections drawn from the data and the endpoints: participant flow,
waterfall, status transitions, time on study and vital signs during dosing.

Each returns a :class:`~remit.reports.document.ReportSection` whose figure is not yet
numbered (:func:`remit.reports.content.build_sections` numbers figures in document order);
tables that belong under a figure come from the renderers of the analysis results.
"""

from __future__ import annotations

import pandas as pd

from remit.analysis import (
    AnalysisResult,
    McNemarSectionResult,
    TrialData,
    follow_up_visit,
    primary_visit,
)
from remit.protocol import Protocol
from remit.reports.document import ReportSection, captioned
from remit.reports.figures.consort import (
    ArmFlow,
    consort_figure,
    disposition,
    randomised_consort_figure,
    randomised_disposition,
)
from remit.reports.figures.outcomes import transition_figure, waterfall_figure
from remit.reports.figures.swimmer import lanes, swimmer_figure
from remit.reports.figures.vitals import vitals_figure
from remit.reports.format import fmt
from remit.reports.status import categories_at, outcome_definitions, percent_change_at
from remit.reports.tables import arm_labels, scale_name


def consort(result: AnalysisResult, protocol: Protocol, simulated: bool) -> ReportSection:
    """The participant flow (CONSORT) figure; by arm for a randomised protocol."""
    prim = primary_visit(protocol) or "primary visit"
    if result.blinded:
        return _blinded_consort(result, protocol, simulated, prim)
    if protocol.randomisation is not None:
        whole, randomised, arms = randomised_disposition(result.adsl, protocol)
        fig = randomised_consort_figure(
            whole, randomised, arms, primary_visit=prim, simulated=simulated
        )
        caption = (
            "Flow of participants of the randomised trial (CONSORT 2010): assessed for "
            "eligibility, excluded with the eligibility criteria recorded (in the protocol's "
            "words; one person may have several), randomised, then by the arm allocated from "
            "the concealed list: received the allocated intervention (dosed at least once), "
            f"lost to follow-up or discontinued (no {prim} assessment, with the reason "
            "recorded), analysed (full analysis set)."
        )
        return ReportSection(
            "consort",
            "Participant flow",
            figures=(captioned(fig, caption),),
            items=_blinding(protocol, randomised, arms, _unblinded(result)),
        )
    flow = disposition(result.adsl, protocol)
    fig = consort_figure(
        flow,
        primary_visit=prim,
        follow_up_visit=follow_up_visit(protocol),
        simulated=simulated,
    )
    caption = (
        "Flow of participants from screening to analysis (CONSORT). Counts are the population "
        "flags of the analysis dataset (screened, enrolled, dosed at least once, assessed at "
        "the primary and follow-up visits). Exclusion reasons are the eligibility criteria "
        "recorded at screening, in the protocol's words; one person may have several."
    )
    return ReportSection("consort", "Participant flow", figures=(captioned(fig, caption),))


def _blinded_consort(
    result: AnalysisResult, protocol: Protocol, simulated: bool, prim: str
) -> ReportSection:
    """The flow of a blinded (pooled) report: one column, both arms together, no arm box;
    the blinding summary counts (randomised, emergency unblindings) as items."""
    whole, randomised, _ = randomised_disposition(result.adsl, protocol)
    fig = consort_figure(
        whole,
        primary_visit=prim,
        follow_up_visit=follow_up_visit(protocol),
        simulated=simulated,
    )
    caption = (
        "Flow of participants of the randomised trial, blinded: both arms together, the "
        "allocation not shown (CONSORT boxes per arm are in the unblinded report). Counts are "
        "the population flags of the analysis dataset (screened, enrolled, dosed at least "
        "once, assessed at the primary and follow-up visits); exclusion reasons are the "
        "eligibility criteria recorded at screening, in the protocol's words."
    )
    plan = protocol.randomisation
    how = _METHOD_WORDS.get(plan.method, plan.method) if plan is not None else "none"
    unblinded = _unblinded(result)
    roles = protocol.blinding.blinded_roles if protocol.blinding is not None else ()
    items = (
        f"Design: {protocol.study.design}.",
        f"Randomisation: {how}; the allocation list is sealed and not read for this report.",
        f"Randomised: {randomised} of {whole.enrolled} enrolled (arms not shown).",
        f"Emergency unblindings: {len(unblinded)}"
        + (f" ({', '.join(unblinded)})" if unblinded else "")
        + " (recorded by an investigator with a reason; the arm is not shown here).",
        "Blinded roles: " + (", ".join(roles) or "none") + ".",
    )
    return ReportSection(
        "consort",
        "Participant flow (blinded: both arms together)",
        figures=(captioned(fig, caption),),
        items=items,
    )


_METHOD_WORDS = {
    "permuted_block": "permuted blocks",
    "simple": "simple randomisation",
    "minimisation": "minimisation (Pocock–Simon)",
}


def _unblinded(result: AnalysisResult) -> list[str]:
    """The participants whose blind was broken in an emergency (ADSL ``UNBLNDFL``)."""
    adsl = result.adsl
    if "UNBLNDFL" not in adsl:
        return []
    return sorted(str(p) for p in adsl.loc[adsl["UNBLNDFL"] == "Y", "participant_id"])


def _blinding(
    protocol: Protocol, randomised: int, arms: tuple[ArmFlow, ...], unblinded: list[str]
) -> tuple[str, ...]:
    """Randomisation and blinding, as items of the flow section: what the protocol declares,
    who was randomised to what, and the emergency unblindings recorded."""
    plan = protocol.randomisation
    assert plan is not None  # only called for a randomised protocol
    ratio = ":".join(str(a.ratio) for a in protocol.arms)
    how = _METHOD_WORDS.get(plan.method, plan.method)
    if plan.block_sizes:
        how += " of size " + " or ".join(str(b) for b in plan.block_sizes)
    strata = ", ".join(plan.stratification) or "none"
    items = (
        f"Design: {protocol.study.design}.",
        f"Randomisation: {how}, ratio {ratio} ("
        + " : ".join(a.code for a in protocol.arms)
        + f"), stratified by {strata}"
        + (f"; {plan.concealment}" if plan.concealment else "")
        + ".",
        f"Randomised: {randomised} ("
        + ", ".join(f"{a.label} {a.flow.enrolled}" for a in arms)
        + "). Each arm was read from the sealed allocation list by the unblinded "
        "statistician for this analysis; staff entered kits and blinded doses only.",
        f"Emergency unblindings: {len(unblinded)}"
        + (f" ({', '.join(unblinded)})" if unblinded else "")
        + " (recorded by an investigator with a reason through Remit's emergency unblinding).",
    )
    return items


def arm_of(result: AnalysisResult, protocol: Protocol) -> dict[str, str]:
    """Participant id → arm label of the enrolled (empty when the ADSL has no arm)."""
    adsl = result.adsl
    if "arm" not in adsl:
        return {}
    arms = arm_labels(protocol)
    return {
        str(pid): arms.get(str(arm), str(arm))
        for pid, arm in zip(adsl["participant_id"], adsl["arm"], strict=True)
        if str(pid) in set(result.population) and not pd.isna(arm)
    }


def waterfall(result: AnalysisResult, protocol: Protocol, simulated: bool) -> ReportSection:
    """Percent change per participant at the primary visit."""
    defs = outcome_definitions(protocol)
    prim = primary_visit(protocol) or (defs.visits[0] if defs.visits else "")
    pct = percent_change_at(result.endpoints, defs, prim)
    threshold = -defs.response.min_reduction_pct if defs.response is not None else None
    fig = waterfall_figure(
        pct,
        categories_at(result.endpoints, defs, prim),
        threshold_pct=threshold,
        visit_label=prim,
        scale_label=scale_name(result, defs.scale),
        groups=arm_of(result, protocol),
        simulated=simulated,
    )
    caption = (
        f"Percent change in {scale_name(result, defs.scale)} from baseline to {prim}, one bar per "
        f"participant, sorted from least to most improved, coloured by status at {prim}. "
    )
    if defs.response is not None:
        caption += f"The dashed line is the response threshold ({defs.response.definition}). "
    if len(set(arm_of(result, protocol).values())) > 1:
        caption += "Hatching tells the arms apart. "
    missing = sorted(str(p) for p in pct.index if pd.isna(pct[p]))
    if missing:
        caption += f"Not shown (no {prim} value): " + ", ".join(missing) + "."
    return ReportSection(
        "waterfall",
        f"Change at {prim} per participant",
        figures=(captioned(fig, caption),),
    )


def transition_visits(result: AnalysisResult, protocol: Protocol) -> tuple[str, str] | None:
    """The visits of the plan's McNemar analysis, else the first two outcome visits."""
    mcnemar = result.first(McNemarSectionResult)
    tests = pd.DataFrame() if mcnemar is None else mcnemar.tests
    if not tests.empty:
        r = tests.iloc[0]
        return str(r["from_visit"]), str(r["to_visit"])
    visits = outcome_definitions(protocol).visits
    return (visits[0], visits[1]) if len(visits) >= 2 else None


def transitions(result: AnalysisResult, protocol: Protocol, simulated: bool) -> ReportSection:
    """Status at two visits with the flows between them."""
    pair = transition_visits(result, protocol)
    if pair is None:
        return ReportSection(
            "transitions",
            "Status over time",
            ("The protocol defines no two visits to compare response status at.",),
        )
    defs = outcome_definitions(protocol)
    before, after = pair
    fig = transition_figure(
        categories_at(result.endpoints, defs, before),
        categories_at(result.endpoints, defs, after),
        before_label=before,
        after_label=after,
        simulated=simulated,
    )
    caption = (
        f"Outcome status of each participant at {before} (left) and {after} (right); bands "
        "show who moved between categories, their width the number of participants. "
        "Remission counts before response (a remitter is shown as remission whether or not "
        "the response criterion is met)."
    )
    return ReportSection(
        "transitions",
        f"Status from {before} to {after}",
        figures=(captioned(fig, caption),),
    )


def swimmer(
    result: AnalysisResult, data: TrialData, protocol: Protocol, simulated: bool
) -> ReportSection:
    """Each participant's time on study with doses, events and alerts."""
    defs = outcome_definitions(protocol)
    cats = {v: categories_at(result.endpoints, defs, v) for v in defs.visits}
    lanes_ = lanes(data, protocol, cats)
    if not lanes_:
        return ReportSection(
            "swimmer", "Time on study", ("No enrolled participant has a visit date yet.",)
        )
    fig = swimmer_figure(
        lanes_, reference_visit=protocol.study.reference_visit, simulated=simulated
    )
    caption = (
        "Each enrolled participant's time on study, from enrolment to the last visit, in days "
        f"from the reference visit {protocol.study.reference_visit}. Diamonds: dosing sessions "
        "(open: supplemental dose withheld). Triangles above a lane: adverse events by "
        "severity (star: serious). Triangles below: safety alerts. Squares: outcome status at "
        + " and ".join(defs.visits)
        + ". A cross marks a participant who left the study; an arrow one still on study."
    )
    outside = [(lane.participant_id, lane.alerts_outside) for lane in lanes_ if lane.alerts_outside]
    if outside:
        caption += (
            " Not drawn: safety alerts dated more than 30 days outside the participant's time "
            "on study (e.g. recorded long after the visit): "
            + ", ".join(f"{pid} ({fmt(n, 'count')})" for pid, n in outside)
            + "."
        )
    return ReportSection("swimmer", "Time on study", figures=(captioned(fig, caption),))


def vitals(
    result: AnalysisResult, data: TrialData, protocol: Protocol, simulated: bool
) -> ReportSection:
    """Vital signs during each dosing session."""
    if not protocol.dosing:
        return ReportSection("vitals", "Vital signs", ("The protocol has no dosing sessions.",))
    sessions = [
        (
            s.number,
            f"Session {s.number} ({s.visit}): {fmt(s.initial_mg, 'mg')} + "
            f"{fmt(s.supplemental_mg, 'mg')} mg",
        )
        for s in protocol.dosing
    ]
    thresholds = {s.number: protocol.vital_thresholds(s.visit) for s in protocol.dosing}
    vitals = data.vitals[data.vitals["participant_id"].isin(result.population)]
    fig = vitals_figure(vitals, sessions, thresholds, simulated=simulated)
    caption = (
        "Vital signs during each dosing session by hours after the initial dose. Thin lines: "
        "participants; thick line: mean at each time point (drawing aid); dashed lines: the "
        "protocol's thresholds for the session; rings: readings beyond a threshold."
    )
    return ReportSection(
        "vitals",
        "Vital signs during dosing sessions",
        figures=(captioned(fig, caption),),
    )
