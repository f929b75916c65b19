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
from remit.protocol.schedule import (
    Schedule,
    ScheduledVisit,
    VisitTiming,
    classify_visit_date,
    compute_schedule,
)
from remit.protocol.vital_signs import (
    VITAL_SIGN_CODES,
    VITAL_SIGNS,
    VitalSign,
    VitalSignDef,
    vital_sign,
)

__all__ = [
    "PROBLEM_CODES",
    "VITAL_SIGNS",
    "VITAL_SIGN_CODES",
    "Analysis",
    "AnalysisPlan",
    "Arm",
    "ArmDose",
    "Assessment",
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
    "Visit",
    "VisitTiming",
    "VitalSign",
    "VitalSignDef",
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
    "load_protocol",
    "parse_protocol",
    "protocol_from_text",
    "read_protocol_source",
    "vital_sign",
]
