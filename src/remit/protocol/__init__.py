"""The protocol of a trial as a TOML file: model, loading, checks, schedule arithmetic, diff.

Examples
--------
>>> from remit.protocol import load_protocol, builtin_protocols
>>> builtin_protocols()
['mdma-mdd-rct-example', 'oslo-mdma-mdd']
>>> oslo = load_protocol("oslo-mdma-mdd")
>>> oslo.visit_codes[:4]
('PHONE', 'SCR', 'V0', 'V1')
"""

from remit.protocol.baseline import Baseline
from remit.protocol.check import PROBLEM_CODES, check_model, check_protocol, check_text
from remit.protocol.diff import Change, ProtocolDiff, diff_protocols
from remit.protocol.eligibility import CriterionResult, EligibilityResult, evaluate_eligibility
from remit.protocol.loader import (
    builtin_protocols,
    load_protocol,
    parse_protocol,
    protocol_from_text,
    read_protocol_source,
)
from remit.protocol.model import (
    Analysis,
    AnalysisPlan,
    Arm,
    ArmDose,
    Assessment,
    ChangeEndpoint,
    Criterion,
    DescriptiveAnalysis,
    DosingSession,
    EffectSizeAnalysis,
    Eligibility,
    Endpoint,
    Event,
    McNemarAnalysis,
    MMRMAnalysis,
    ProportionAnalysis,
    Protocol,
    Randomisation,
    RelapseEndpoint,
    RemissionEndpoint,
    ResponseEndpoint,
    RTMAnalysis,
    SAEClock,
    Safety,
    SafetyAnalysis,
    SafetyRule,
    Site,
    Study,
    SustainedResponseEndpoint,
    Visit,
    Vitals,
    VitalsRule,
    VitalThreshold,
    WilcoxonAnalysis,
)
from remit.protocol.sap import (
    ANALYSIS_KINDS,
    ENDPOINT_KINDS,
    SAFETY_TABLES,
    LMMAnalysis,
    TimeToEventAnalysis,
    formula_variables,
)
from remit.protocol.schedule import (
    Schedule,
    ScheduledVisit,
    VisitTiming,
    classify_visit_date,
    compute_schedule,
)

__all__ = [
    "ANALYSIS_KINDS",
    "ENDPOINT_KINDS",
    "PROBLEM_CODES",
    "SAFETY_TABLES",
    "Analysis",
    "AnalysisPlan",
    "Arm",
    "ArmDose",
    "Assessment",
    "Baseline",
    "Change",
    "ChangeEndpoint",
    "Criterion",
    "CriterionResult",
    "DescriptiveAnalysis",
    "DosingSession",
    "EffectSizeAnalysis",
    "Eligibility",
    "EligibilityResult",
    "Endpoint",
    "Event",
    "LMMAnalysis",
    "MMRMAnalysis",
    "McNemarAnalysis",
    "ProportionAnalysis",
    "Protocol",
    "ProtocolDiff",
    "RTMAnalysis",
    "Randomisation",
    "RelapseEndpoint",
    "RemissionEndpoint",
    "ResponseEndpoint",
    "SAEClock",
    "Safety",
    "SafetyAnalysis",
    "SafetyRule",
    "Schedule",
    "ScheduledVisit",
    "Site",
    "Study",
    "SustainedResponseEndpoint",
    "TimeToEventAnalysis",
    "Visit",
    "VisitTiming",
    "VitalThreshold",
    "Vitals",
    "VitalsRule",
    "WilcoxonAnalysis",
    "builtin_protocols",
    "check_model",
    "check_protocol",
    "check_text",
    "classify_visit_date",
    "compute_schedule",
    "diff_protocols",
    "evaluate_eligibility",
    "formula_variables",
    "load_protocol",
    "parse_protocol",
    "protocol_from_text",
    "read_protocol_source",
]
