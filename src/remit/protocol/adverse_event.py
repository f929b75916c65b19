"""Words of an adverse event record: severity, relatedness to the treatment, outcome.

The store checks them, the services and forms accept them, the analysis orders its tables
by them and the exports map them to CDISC terms; this module is the one place that lists them.

Examples
--------
>>> [s.value for s in Severity]
['mild', 'moderate', 'severe']
>>> Relatedness("possible").name, AEOutcome.UNKNOWN.value
('POSSIBLE', 'unknown')
>>> ActionTaken("drug_withdrawn").name
'DRUG_WITHDRAWN'
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


#: Outcomes that say the event has ended: the event needs an end date (the date it resolved, or
#: the date of death). The SDTM export's AEOUT of these (RECOVERED/RESOLVED, RECOVERED/RESOLVED
#: WITH SEQUELAE, FATAL) comes with an AEENDTC.
ENDED_OUTCOMES = frozenset(
    {AEOutcome.RECOVERED, AEOutcome.RECOVERED_WITH_SEQUELAE, AEOutcome.FATAL}
)
#: Outcomes that say the event goes on: the event has no end date yet (AEOUT RECOVERING/RESOLVING,
#: NOT RECOVERED/NOT RESOLVED come without AEENDTC). ``unknown`` is neither.
ONGOING_OUTCOMES = frozenset({AEOutcome.RECOVERING, AEOutcome.NOT_RECOVERED})


class ActionTaken(StrEnum):
    """Action taken with the study treatment because of an adverse event: the words of the
    CDISC codelist ACN (C66767, non-extensible), in Remit's lower-case spelling (the SDTM
    export writes the CDISC term, ``drug_interrupted`` → ``DRUG INTERRUPTED``).
    ``not_applicable``: no study treatment to act on (e.g. an event before the first dose or
    after the last)."""

    DOSE_NOT_CHANGED = "dose_not_changed"
    DOSE_REDUCED = "dose_reduced"
    DOSE_RATE_REDUCED = "dose_rate_reduced"
    DOSE_INCREASED = "dose_increased"
    DRUG_INTERRUPTED = "drug_interrupted"
    DRUG_WITHDRAWN = "drug_withdrawn"
    NOT_APPLICABLE = "not_applicable"
    UNKNOWN = "unknown"
