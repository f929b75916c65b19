"""Words of a protocol deviation record: the categories a person may log, severity, source.

Deviations Remit records itself have the categories of
:class:`remit.protocol.status.DeviationCategory` (out-of-window visits, dose-stop overrides …);
a person logging one by hand picks a :class:`LoggedDeviationCategory`. The two sets do not
overlap, so where a deviation came from (:class:`DeviationSource`) follows from its category
and is never stored twice. Severity is two-level (:class:`DeviationSeverity`): ICH E3 §10.2
asks for the *important* protocol deviations, and the store has always kept that as
``protocol_deviation.major``; a third level ("critical") is a sponsor convention, not ICH's.

Examples
--------
>>> source_of("visit_out_of_window").value, source_of("informed_consent").value
('automatic', 'manual')
>>> category_label("eligibility")
'Eligibility criteria not met'
>>> DeviationSeverity.of(major=True).value
'major'
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from remit.protocol.status import DeviationCategory, values


class LoggedDeviationCategory(StrEnum):
    """The category a person gives a deviation logged by hand (after ICH E3 §10.2 and the
    SDTM DV examples: entry criteria, withdrawal criteria, wrong treatment or dose, excluded
    medication, plus the usual GCP headings)."""

    INFORMED_CONSENT = "informed_consent"
    ELIGIBILITY = "eligibility"
    WITHDRAWAL_CRITERIA = "withdrawal_criteria"
    TREATMENT = "treatment"
    EXCLUDED_MEDICATION = "excluded_medication"
    VISIT_SCHEDULE = "visit_schedule"
    PROCEDURE = "procedure"
    SAFETY_REPORTING = "safety_reporting"
    OTHER = "other"


class DeviationSeverity(StrEnum):
    """``major``: an important deviation (ICH E3 §10.2: it may affect the participant's
    safety or rights or the reliability of the results); ``minor``: any other."""

    MINOR = "minor"
    MAJOR = "major"

    @classmethod
    def of(cls, *, major: bool) -> DeviationSeverity:
        """The severity of a stored ``major`` flag.

        >>> DeviationSeverity.of(major=False).value
        'minor'
        """
        return cls.MAJOR if major else cls.MINOR


class DeviationSource(StrEnum):
    """``automatic``: recorded by Remit's services; ``manual``: logged by a person."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


#: What each category is called on pages and in exports' labels: every word of both sets.
CATEGORY_LABELS: Mapping[str, str] = {
    DeviationCategory.VISIT_OUT_OF_WINDOW: "Visit out of window",
    DeviationCategory.DOSE_STOP_OVERRIDE: "Dose given despite a dose stop",
    DeviationCategory.DOSE_ABOVE_CAP: "Dose above the session cap",
    DeviationCategory.WASHOUT_OVERRIDE: "Dose given during a medication washout",
    DeviationCategory.CHECKLIST_OVERRIDE: "Pre-dose checklist item overridden",
    LoggedDeviationCategory.INFORMED_CONSENT: "Informed consent",
    LoggedDeviationCategory.ELIGIBILITY: "Eligibility criteria not met",
    LoggedDeviationCategory.WITHDRAWAL_CRITERIA: "Not withdrawn as the protocol requires",
    LoggedDeviationCategory.TREATMENT: "Study treatment or dose",
    LoggedDeviationCategory.EXCLUDED_MEDICATION: "Excluded concomitant medication",
    LoggedDeviationCategory.VISIT_SCHEDULE: "Visit schedule",
    LoggedDeviationCategory.PROCEDURE: "Study procedure or assessment",
    LoggedDeviationCategory.SAFETY_REPORTING: "Safety reporting",
    LoggedDeviationCategory.OTHER: "Other",
}

#: The categories Remit records itself (the ``automatic`` source).
AUTOMATIC_CATEGORIES: tuple[str, ...] = values(DeviationCategory)
#: The categories a person may log.
LOGGED_CATEGORIES: tuple[str, ...] = values(LoggedDeviationCategory)


def source_of(category: str) -> DeviationSource:
    """Where a deviation of ``category`` came from: Remit's own categories are automatic,
    every other (the logged ones, and free text stored before the logged list existed) manual.

    >>> source_of("dose_above_cap").value
    'automatic'
    """
    if category in AUTOMATIC_CATEGORIES:
        return DeviationSource.AUTOMATIC
    return DeviationSource.MANUAL


def category_label(category: str) -> str:
    """The words for ``category`` (an unknown one, e.g. free text stored before the logged
    list existed, is shown as it was written).

    >>> category_label("consent form v1.1")
    'consent form v1.1'
    """
    return CATEGORY_LABELS.get(category, category)
