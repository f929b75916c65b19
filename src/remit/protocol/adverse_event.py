"""Words of an adverse event record: severity, relatedness to the treatment, outcome.

The store checks them, the services and forms accept them, the analysis orders its tables
by them and the exports map them to CDISC terms; this module is the one place that lists them.

Examples
--------
>>> [s.value for s in Severity]
['mild', 'moderate', 'severe']
>>> Relatedness("possible").name, AEOutcome.UNKNOWN.value
('POSSIBLE', 'unknown')
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Severity of an adverse event, mildest first."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class Relatedness(StrEnum):
    """Relation of an adverse event to the study treatment, least related first."""

    NOT_RELATED = "not_related"
    UNLIKELY = "unlikely"
    POSSIBLE = "possible"
    PROBABLE = "probable"
    DEFINITE = "definite"


class AEOutcome(StrEnum):
    """Outcome of an adverse event."""

    RECOVERED = "recovered"
    RECOVERING = "recovering"
    NOT_RECOVERED = "not_recovered"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae"
    FATAL = "fatal"
    UNKNOWN = "unknown"
