"""Analysis datasets, endpoint derivation and the protocol's analysis plan, run with ``stats``.

Examples
--------
>>> from remit.analysis import TrialData
>>> TrialData().enrolled_ids
()

The names below are imported when first used (``remit.analysis.run_analysis_plan``), not
when the package is: the services and the exports read ``remit.analysis.data`` without
loading SciPy and statsmodels, which only the analysis plan needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remit.lazy import lazy_attributes

if TYPE_CHECKING:
    from remit.analysis.blinded import BLINDED_ARM as BLINDED_ARM
    from remit.analysis.blinded import POOLED_LABEL as POOLED_LABEL
    from remit.analysis.blinded import arms_concealed as arms_concealed
    from remit.analysis.blinded import pooled_protocol as pooled_protocol
    from remit.analysis.data import DOSE_KINDS as DOSE_KINDS
    from remit.analysis.data import DOSE_STATUSES as DOSE_STATUSES
    from remit.analysis.data import ENROLLED_STATUSES as ENROLLED_STATUSES
    from remit.analysis.data import FRAME_NAMES as FRAME_NAMES
    from remit.analysis.data import PARTICIPANT_STATUSES as PARTICIPANT_STATUSES
    from remit.analysis.data import SCHEMA as SCHEMA
    from remit.analysis.data import Column as Column
    from remit.analysis.data import TrialData as TrialData
    from remit.analysis.data import empty_frame as empty_frame
    from remit.analysis.data import frame_columns as frame_columns
    from remit.analysis.data import frame_records as frame_records
    from remit.analysis.datasets import AGE_GROUPS as AGE_GROUPS
    from remit.analysis.datasets import baseline_visits as baseline_visits
    from remit.analysis.datasets import build_adqs as build_adqs
    from remit.analysis.datasets import build_adsl as build_adsl
    from remit.analysis.datasets import follow_up_visit as follow_up_visit
    from remit.analysis.datasets import primary_visit as primary_visit
    from remit.analysis.datasets import remits as remits
    from remit.analysis.datasets import responds as responds
    from remit.analysis.datasets import scale_values as scale_values
    from remit.analysis.datasets import visit_order as visit_order
    from remit.analysis.endpoints import EndpointsResult as EndpointsResult
    from remit.analysis.endpoints import derive_endpoints as derive_endpoints
    from remit.analysis.examples import example_trial as example_trial
    from remit.analysis.methods import methods_text as methods_text
    from remit.analysis.plan import ArmsConcealedError as ArmsConcealedError
    from remit.analysis.plan import NothingToAnalyseError as NothingToAnalyseError
    from remit.analysis.plan import missing_data_table as missing_data_table
    from remit.analysis.plan import run_analysis_plan as run_analysis_plan
    from remit.analysis.plan import software_versions as software_versions
    from remit.analysis.result import HEADLINE_COLUMNS as HEADLINE_COLUMNS
    from remit.analysis.result import AnalysisResult as AnalysisResult
    from remit.analysis.result import Provenance as Provenance
    from remit.analysis.result import SectionResult as SectionResult
    from remit.analysis.scale_info import ScaleInfo as ScaleInfo
    from remit.analysis.sections import RUNNERS as RUNNERS
    from remit.analysis.sections import DescriptiveSectionResult as DescriptiveSectionResult
    from remit.analysis.sections import EffectSizeSectionResult as EffectSizeSectionResult
    from remit.analysis.sections import LMMSectionResult as LMMSectionResult
    from remit.analysis.sections import McNemarSectionResult as McNemarSectionResult
    from remit.analysis.sections import MMRMSectionResult as MMRMSectionResult
    from remit.analysis.sections import ProportionSectionResult as ProportionSectionResult
    from remit.analysis.sections import RbmiSectionResult as RbmiSectionResult
    from remit.analysis.sections import RTMSectionResult as RTMSectionResult
    from remit.analysis.sections import SafetySectionResult as SafetySectionResult
    from remit.analysis.sections import TimeToEventSectionResult as TimeToEventSectionResult
    from remit.analysis.sections import WilcoxonSectionResult as WilcoxonSectionResult

#: Each public name → the module that defines it.
_WHERE: dict[str, str] = {
    "BLINDED_ARM": "remit.analysis.blinded",
    "POOLED_LABEL": "remit.analysis.blinded",
    "arms_concealed": "remit.analysis.blinded",
    "pooled_protocol": "remit.analysis.blinded",
    "DOSE_KINDS": "remit.analysis.data",
    "DOSE_STATUSES": "remit.analysis.data",
    "ENROLLED_STATUSES": "remit.analysis.data",
    "FRAME_NAMES": "remit.analysis.data",
    "PARTICIPANT_STATUSES": "remit.analysis.data",
    "SCHEMA": "remit.analysis.data",
    "Column": "remit.analysis.data",
    "TrialData": "remit.analysis.data",
    "empty_frame": "remit.analysis.data",
    "frame_columns": "remit.analysis.data",
    "frame_records": "remit.analysis.data",
    "AGE_GROUPS": "remit.analysis.datasets",
    "baseline_visits": "remit.analysis.datasets",
    "build_adqs": "remit.analysis.datasets",
    "build_adsl": "remit.analysis.datasets",
    "follow_up_visit": "remit.analysis.datasets",
    "primary_visit": "remit.analysis.datasets",
    "remits": "remit.analysis.datasets",
    "responds": "remit.analysis.datasets",
    "scale_values": "remit.analysis.datasets",
    "visit_order": "remit.analysis.datasets",
    "EndpointsResult": "remit.analysis.endpoints",
    "derive_endpoints": "remit.analysis.endpoints",
    "example_trial": "remit.analysis.examples",
    "methods_text": "remit.analysis.methods",
    "ArmsConcealedError": "remit.analysis.plan",
    "NothingToAnalyseError": "remit.analysis.plan",
    "missing_data_table": "remit.analysis.plan",
    "run_analysis_plan": "remit.analysis.plan",
    "software_versions": "remit.analysis.plan",
    "HEADLINE_COLUMNS": "remit.analysis.result",
    "AnalysisResult": "remit.analysis.result",
    "Provenance": "remit.analysis.result",
    "SectionResult": "remit.analysis.result",
    "ScaleInfo": "remit.analysis.scale_info",
    "RUNNERS": "remit.analysis.sections",
    "DescriptiveSectionResult": "remit.analysis.sections",
    "EffectSizeSectionResult": "remit.analysis.sections",
    "LMMSectionResult": "remit.analysis.sections",
    "McNemarSectionResult": "remit.analysis.sections",
    "MMRMSectionResult": "remit.analysis.sections",
    "ProportionSectionResult": "remit.analysis.sections",
    "RbmiSectionResult": "remit.analysis.sections",
    "RTMSectionResult": "remit.analysis.sections",
    "SafetySectionResult": "remit.analysis.sections",
    "TimeToEventSectionResult": "remit.analysis.sections",
    "WilcoxonSectionResult": "remit.analysis.sections",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_attributes(globals(), _WHERE)
