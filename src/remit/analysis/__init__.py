"""Analysis datasets, endpoint derivation and the protocol's analysis plan, run with ``stats``.

Examples
--------
>>> from remit.analysis import TrialData
>>> TrialData().enrolled_ids
()
"""

from remit.analysis.blinded import BLINDED_ARM, POOLED_LABEL, arms_concealed, pooled_protocol
from remit.analysis.data import (
    DOSE_KINDS,
    DOSE_STATUSES,
    ENROLLED_STATUSES,
    FRAME_NAMES,
    PARTICIPANT_STATUSES,
    SCHEMA,
    Column,
    TrialData,
    empty_frame,
    frame_columns,
    frame_records,
)
from remit.analysis.datasets import (
    AGE_GROUPS,
    baseline_visits,
    build_adqs,
    build_adsl,
    follow_up_visit,
    primary_visit,
    remits,
    responds,
    scale_values,
    visit_order,
)
from remit.analysis.endpoints import EndpointsResult, derive_endpoints
from remit.analysis.examples import example_trial
from remit.analysis.methods import methods_text
from remit.analysis.plan import (
    ArmsConcealedError,
    NothingToAnalyseError,
    missing_data_table,
    run_analysis_plan,
    software_versions,
)
from remit.analysis.result import (
    HEADLINE_COLUMNS,
    AnalysisResult,
    Provenance,
    SectionResult,
)
from remit.analysis.scale_info import ScaleInfo
from remit.analysis.sections import (
    RUNNERS,
    DescriptiveSectionResult,
    EffectSizeSectionResult,
    LMMSectionResult,
    McNemarSectionResult,
    MMRMSectionResult,
    ProportionSectionResult,
    RbmiSectionResult,
    RTMSectionResult,
    SafetySectionResult,
    TimeToEventSectionResult,
    WilcoxonSectionResult,
)

__all__ = [
    "AGE_GROUPS",
    "BLINDED_ARM",
    "DOSE_KINDS",
    "DOSE_STATUSES",
    "ENROLLED_STATUSES",
    "FRAME_NAMES",
    "HEADLINE_COLUMNS",
    "PARTICIPANT_STATUSES",
    "POOLED_LABEL",
    "RUNNERS",
    "SCHEMA",
    "AnalysisResult",
    "ArmsConcealedError",
    "Column",
    "DescriptiveSectionResult",
    "EffectSizeSectionResult",
    "EndpointsResult",
    "LMMSectionResult",
    "MMRMSectionResult",
    "McNemarSectionResult",
    "NothingToAnalyseError",
    "ProportionSectionResult",
    "Provenance",
    "RTMSectionResult",
    "RbmiSectionResult",
    "SafetySectionResult",
    "ScaleInfo",
    "SectionResult",
    "TimeToEventSectionResult",
    "TrialData",
    "WilcoxonSectionResult",
    "arms_concealed",
    "baseline_visits",
    "build_adqs",
    "build_adsl",
    "derive_endpoints",
    "empty_frame",
    "example_trial",
    "follow_up_visit",
    "frame_columns",
    "frame_records",
    "methods_text",
    "missing_data_table",
    "pooled_protocol",
    "primary_visit",
    "remits",
    "responds",
    "run_analysis_plan",
    "scale_values",
    "software_versions",
    "visit_order",
]
