"""Analysis datasets, endpoint derivation and the protocol's analysis plan, run with ``stats``.

Examples
--------
>>> from remit.analysis import TrialData
>>> TrialData().enrolled_ids
()
"""

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

__all__ = [
    "AGE_GROUPS",
    "DOSE_KINDS",
    "DOSE_STATUSES",
    "ENROLLED_STATUSES",
    "FRAME_NAMES",
    "PARTICIPANT_STATUSES",
    "SCHEMA",
    "Column",
    "EndpointsResult",
    "TrialData",
    "baseline_visits",
    "build_adqs",
    "build_adsl",
    "derive_endpoints",
    "empty_frame",
    "follow_up_visit",
    "frame_columns",
    "frame_records",
    "primary_visit",
    "remits",
    "responds",
    "scale_values",
    "visit_order",
]
