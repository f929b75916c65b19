"""A methods section generated from what the plan runner actually did: :func:`methods_text`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from remit.analysis.binary_sections import McNemarSectionResult, ProportionSectionResult
from remit.analysis.lmm_section import LMMSectionResult
from remit.analysis.mmrm_section import MMRMSectionResult
from remit.analysis.paired_sections import (
    DescriptiveSectionResult,
    EffectSizeSectionResult,
    WilcoxonSectionResult,
)
from remit.analysis.rbmi_section import RbmiSectionResult
from remit.analysis.result import AnalysisResult, SectionResult
from remit.analysis.rtm_section import RTMSectionResult
from remit.analysis.safety_section import SafetySectionResult
from remit.analysis.tte_section import TimeToEventSectionResult


def _words(items: list[str] | tuple[str, ...]) -> str:
    items = [str(i) for i in items]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _scales(spec: dict[str, Any]) -> str:
    return _words([s.upper() for s in spec.get("scales", ())])


def _descriptive(s: SectionResult, result: AnalysisResult) -> str:
    stats = _words(list(s.spec.get("statistics", ())))
    return (
        f"{s.label}: {_scales(s.spec)} totals at {_words(s.spec.get('visits', ()))} were "
        f"summarised ({stats}; {s.conventions['sd']}; {s.conventions['quartiles']})."
    )


def _wilcoxon(s: SectionResult, result: AnalysisResult) -> str:
    spec = s.spec
    return (
        f"{s.label}: {spec['alternative']} Wilcoxon signed-rank tests compared "
        f"{_words(spec['visits'])} with {spec['baseline_visit']} for {_scales(spec)} in "
        f"participants with both values. Zero differences were "
        f"{s.conventions['zero_differences']}; ties were given {s.conventions['ties']}. "
        "P-value convention: "
        f"{s.conventions['p_value']}; the method behind each p-value is reported with it. "
        "The Hodges-Lehmann estimate of the change is given with its confidence interval "
        f"({s.conventions['hodges_lehmann_ci']})."
    )


def _mmrm(s: SectionResult, result: AnalysisResult) -> str:
    spec = s.spec
    outcome = "the scale total" if spec["outcome"] == "value" else "the change from baseline"
    return (
        f"{s.label}: for {_scales(spec)}, {outcome} at {_words(spec['visits'])} was analysed "
        f"with a mixed model for repeated measures ({s.conventions['model']}), "
        f"{s.conventions['covariance']}, estimated by {s.conventions['estimation']}, with "
        f"{s.conventions['df']} degrees of freedom. Estimated: {s.conventions['contrasts']}; "
        f"each with standard error, confidence interval and p-value. Missing visits: "
        f"{s.conventions['missing_data']}."
    )


def _effect(s: SectionResult, result: AnalysisResult) -> str:
    spec = s.spec
    measures = list(spec.get("measures", ()))
    parts = [f"{m}: {s.conventions[m]}" for m in measures if m in s.conventions]
    if any(m.startswith("g") for m in measures):
        parts.append(f"g: {s.conventions['g']}")
    return (
        f"{s.label}: standardised change from {spec['baseline_visit']} to "
        f"{_words(spec['visits'])} for {_scales(spec)} ({'; '.join(parts)})."
    )


def _proportion(s: SectionResult, result: AnalysisResult) -> str:
    spec = s.spec
    cis = [v for k, v in s.conventions.items() if k.startswith("ci_")]
    defs = [result.endpoints.definitions[e] for e in spec["endpoints"]]
    return (
        f"{s.label}: counts and proportions with {_words(cis)} confidence intervals "
        f"(denominator: {s.conventions['denominator']}). Definitions: " + "; ".join(defs) + "."
    )


def _mcnemar(s: SectionResult, result: AnalysisResult) -> str:
    spec = s.spec
    return (
        f"{s.label}: the status of each participant at {spec['from_visit']} and "
        f"{spec['to_visit']} was cross-tabulated; change in status was tested with the "
        f"{s.conventions['test']}; {s.conventions['odds_ratio_ci']}. "
        f"{s.conventions['missing'].capitalize()}. Relapses are counted by the protocol's "
        "relapse definition."
    )


def _rtm(s: SectionResult, result: AnalysisResult) -> str:
    spec = s.spec
    cutoff = spec.get("entry_cutoff")
    entry = f" (entry required {spec['scale'].upper()} ≥ {cutoff:g})" if cutoff else ""
    return (
        f"{s.label}: the expected fall of {spec['scale'].upper()} from selection at "
        f"{spec['visit']}{entry} by regression to the mean alone was estimated as "
        f"{s.conventions['formula']}, over a grid of reliabilities and population means; "
        f"assumptions: {s.conventions['assumptions']}."
    )


def _safety(s: SectionResult, result: AnalysisResult) -> str:
    tables = list(s.spec.get("tables", ()))
    parts = [f"tables: {_words(tables)}, plus doses given and withheld per dosing session"]
    parts += [f"{k.replace('_', ' ')}: {v}" for k, v in s.conventions.items()]
    return f"{s.label}: " + "; ".join(parts) + "."


def _time_to_event(s: SectionResult, result: AnalysisResult) -> str:
    defs = [result.endpoints.definitions[e] for e in s.spec["endpoints"]]
    return (
        f"{s.label}: Kaplan-Meier estimate of the time to relapse among the participants at "
        f"risk ({'; '.join(defs)}). Time: {s.conventions['time']}. Estimated: "
        f"{s.conventions['estimate']}, with a {s.conventions['ci']}, and the median time "
        "where reached."
    )


def _lmm(s: SectionResult, result: AnalysisResult) -> str:
    spec = s.spec
    return (
        f"{s.label}: for {_scales(spec)}, the scale total at {_words(spec['visits'])} was "
        f"analysed with a linear mixed model ({s.conventions['model']}; "
        f"{s.conventions['random']}), estimated by {s.conventions['estimation']}, with "
        f"{s.conventions['df']} degrees of freedom; the change from {spec['baseline_visit']} "
        "at each visit is the visit's coefficient. Missing visits: "
        f"{s.conventions['missing_data']}."
    )


def _rbmi(s: SectionResult, result: AnalysisResult) -> str:
    spec = s.spec
    c = s.conventions
    text = (
        f"{s.label}: for {_scales(spec)}, the change from {spec['baseline_visit']} at "
        f"{_words(spec['visits'])} was imputed from an {c['imputation_model']}; "
        f"{c['strategy']}; {c['delta']}. Inference: {c['method']}; analysis: {c['analysis']}."
    )
    if spec.get("tipping_deltas"):
        visit = spec.get("tipping_visit") or spec["visits"][-1]
        text += (
            f" Tipping point at {visit}: delta was increased over "
            f"{_words([f'{d:g}' for d in spec['tipping_deltas']])} until the confidence "
            "interval included 0."
        )
    return text


Writer = Callable[[Any, AnalysisResult], str]

#: Result class of each analysis kind → the paragraph of the methods section describing it.
METHODS: dict[type[SectionResult], Writer] = {
    DescriptiveSectionResult: _descriptive,
    WilcoxonSectionResult: _wilcoxon,
    MMRMSectionResult: _mmrm,
    EffectSizeSectionResult: _effect,
    ProportionSectionResult: _proportion,
    McNemarSectionResult: _mcnemar,
    RTMSectionResult: _rtm,
    SafetySectionResult: _safety,
    TimeToEventSectionResult: _time_to_event,
    LMMSectionResult: _lmm,
    RbmiSectionResult: _rbmi,
}


def methods_text(result: AnalysisResult) -> list[str]:
    """The methods section, one paragraph per item, naming every test and convention used.

    Parameters
    ----------
    result
        What :func:`run_analysis_plan` returned; the text is built from its sections, so it
        says what was done, not what was meant to be done.

    Returns
    -------
    list of str
        Paragraphs: population and missing data, endpoints, conventions, one per analysis,
        software and provenance.

    Examples
    --------
    >>> import pandas as pd
    >>> from remit.analysis import TrialData, run_analysis_plan
    >>> from remit.protocol import load_protocol
    >>> people = pd.DataFrame({"participant_id": ["P1", "P2", "P3"], "site": ["OST"] * 3,
    ...     "arm": ["MDMA"] * 3, "sex": ["female"] * 3, "age_years": [30, 40, 50],
    ...     "status": ["completed"] * 3, "screened_date": ["2023-01-02"] * 3,
    ...     "enrolled_date": ["2023-01-09"] * 3, "ineligible_reasons": [[]] * 3,
    ...     "withdrawn_reason": [None] * 3, "simulated": [False] * 3})
    >>> scores = pd.DataFrame({"participant_id": ["P1", "P2", "P3"] * 2,
    ...     "visit_code": ["V3"] * 3 + ["V13"] * 3, "study_day": [-3] * 3 + [98] * 3,
    ...     "scale": ["madrs"] * 6, "version": ["default"] * 6,
    ...     "total": [30, 28, 25, 12, 20, 9], "band": [None] * 6, "n_missing": [0] * 6,
    ...     "prorated": [False] * 6, "assessed_at": ["2023-02-01T10:00Z"] * 6,
    ...     "items": [{}] * 6, "subscales": [{}] * 6, "derived": [{}] * 6})
    >>> result = run_analysis_plan(TrialData(participants=people, scores=scores),
    ...                            load_protocol("oslo-mdma-mdd"))
    >>> text = " ".join(methods_text(result))
    >>> "Wilcoxon signed-rank" in text and "Satterthwaite" in text and "Wilson" in text
    True
    """
    p = result.provenance
    paragraphs: list[str] = []
    if p.simulated:
        paragraphs.append(
            "SIMULATED DATA: every number below comes from synthetic participants, not from "
            "a real trial."
        )
    n = len(result.population)
    enrolled = result.adsl[result.adsl["ENRLFL"] == "Y"]
    arms = enrolled["arm"].value_counts(dropna=False)
    by_arm = ""
    if result.blinded:
        by_arm = (
            " The data were blinded (the arms concealed): every analysis pools both arms "
            "together (blinded (pooled) — arms not shown); the mixed model has no arm term and "
            "no comparison between arms is made."
        )
    elif len(arms) > 1:
        by_arm = (
            " Analyses other than the mixed model and regression to the mean are by arm ("
            + ", ".join(
                f"{a if isinstance(a, str) else 'no arm'}: n = {k}" for a, k in arms.items()
            )
            + ")."
        )
    gaps = result.missing[result.missing["n_missing"] > 0]
    gaps = gaps[gaps["n_missing"] < gaps["n_population"]]
    missing_words = [
        f"{r['scale'].upper()} at {r['visit_code']}: {r['n_missing']} of {r['n_population']} "
        f"({', '.join(str(x) for x in r['missing_ids'])})"
        for r in gaps.to_dict(orient="records")
    ]
    paragraphs.append(
        f"Population: every participant enrolled (full analysis set, n = {n}). Scores were "
        "analysed as recorded; when a form was recorded twice at one visit the later one was "
        f"used.{by_arm} Missing data: {result.missing_data_policy or 'no imputation'}."
        + (" Missing values: " + "; ".join(missing_words) + "." if missing_words else "")
    )
    paragraphs.append(
        "Endpoints: "
        + "; ".join(
            f"{result.endpoints.labels[e]} ({text})"
            for e, text in result.endpoints.definitions.items()
        )
        + ". A status that could not be decided because a value was missing was counted "
        "neither as yes nor as no."
    )
    if result.estimands:
        paragraphs.append("Estimands (ICH E9(R1)): " + " ".join(result.estimands))
    sided = "two-sided" if result.sides == 2 else "one-sided"
    paragraphs.append(
        f"Tests are {sided} at α = {result.alpha:g}; confidence intervals are "
        f"{100 * result.ci_level:g}%. No adjustment for multiple comparisons was made."
    )
    for s in result.sections:
        paragraphs.append(METHODS[type(s)](s, result))
        if s.assumption:
            paragraphs[-1] += f" Assumption: {s.assumption}."
    software = ", ".join(f"{k} {v}" for k, v in p.software.items())
    paragraphs.append(
        f"Software: {software}. Protocol {p.protocol_id} version {p.protocol_version} "
        f"(SHA-256 {p.protocol_sha256}); data snapshot SHA-256 {p.data_sha256}; run at "
        f"{p.created_at}."
    )
    return paragraphs
