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

__all__ = [
    "DOSE_KINDS",
    "DOSE_STATUSES",
    "ENROLLED_STATUSES",
    "FRAME_NAMES",
    "PARTICIPANT_STATUSES",
    "SCHEMA",
    "Column",
    "TrialData",
    "empty_frame",
    "frame_columns",
    "frame_records",
]
