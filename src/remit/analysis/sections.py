"""The analysis-kind family: one runner per kind of :data:`remit.protocol.ANALYSIS_KINDS`.

Each runner takes the plan's analysis and the shared :class:`Context`, calls
:mod:`remit.stats` and returns its own typed result (a :class:`SectionResult` subclass named
in its return annotation: raw result objects and tidy tables, unrounded). The runners live in
small modules by kind; :data:`RUNNERS` maps each analysis class to its runner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_type_hints

from pydantic import BaseModel

from remit.analysis.binary_sections import (
    McNemarSectionResult,
    ProportionSectionResult,
    run_mcnemar,
    run_proportion,
)
from remit.analysis.context import Context
from remit.analysis.lmm_section import LMMSectionResult, run_lmm
from remit.analysis.mmrm_section import MMRMSectionResult, run_mmrm
from remit.analysis.paired_sections import (
    DescriptiveSectionResult,
    EffectSizeSectionResult,
    WilcoxonSectionResult,
    pick_wilcoxon_p,
    run_descriptive,
    run_effect_size,
    run_wilcoxon,
    wilcoxon_convention,
)
from remit.analysis.rbmi_section import RbmiSectionResult, run_rbmi
from remit.analysis.result import SectionResult
from remit.analysis.rtm_section import RTMSectionResult, reliability_grid, run_rtm
from remit.analysis.safety_section import SafetySectionResult, run_safety
from remit.analysis.tte_section import TimeToEventSectionResult, run_time_to_event
from remit.protocol import (
    DescriptiveAnalysis,
    EffectSizeAnalysis,
    LMMAnalysis,
    McNemarAnalysis,
    MMRMAnalysis,
    ProportionAnalysis,
    RbmiAnalysis,
    RTMAnalysis,
    SafetyAnalysis,
    TimeToEventAnalysis,
    WilcoxonAnalysis,
)

Runner = Callable[[Any, Context], SectionResult]

#: Analysis class of the protocol → the function that runs it (one per ANALYSIS_KINDS).
RUNNERS: dict[type[BaseModel], Runner] = {
    DescriptiveAnalysis: run_descriptive,
    WilcoxonAnalysis: run_wilcoxon,
    MMRMAnalysis: run_mmrm,
    EffectSizeAnalysis: run_effect_size,
    ProportionAnalysis: run_proportion,
    McNemarAnalysis: run_mcnemar,
    RTMAnalysis: run_rtm,
    SafetyAnalysis: run_safety,
    TimeToEventAnalysis: run_time_to_event,
    LMMAnalysis: run_lmm,
    RbmiAnalysis: run_rbmi,
}


def result_class(analysis: type[BaseModel]) -> type[SectionResult]:
    """The result class the runner of an analysis class returns (its return annotation).

    Examples
    --------
    >>> result_class(MMRMAnalysis).__name__
    'MMRMSectionResult'
    """
    cls: type[SectionResult] = get_type_hints(RUNNERS[analysis])["return"]
    return cls


def run_section(analysis: BaseModel, ctx: Context) -> SectionResult:
    """Run one analysis of the plan with the runner of its class.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> s = run_section(oslo.analysis.analyses[1], ctx)
    >>> type(s).__name__
    'WilcoxonSectionResult'
    """
    return RUNNERS[type(analysis)](analysis, ctx)


__all__ = [
    "RUNNERS",
    "Context",
    "DescriptiveSectionResult",
    "EffectSizeSectionResult",
    "LMMSectionResult",
    "MMRMSectionResult",
    "McNemarSectionResult",
    "ProportionSectionResult",
    "RTMSectionResult",
    "RbmiSectionResult",
    "SafetySectionResult",
    "TimeToEventSectionResult",
    "WilcoxonSectionResult",
    "pick_wilcoxon_p",
    "reliability_grid",
    "result_class",
    "run_section",
    "wilcoxon_convention",
]
