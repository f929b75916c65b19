"""Words a protocol file may use: raters, visit kinds, operators, alert levels, vital signs."""

from __future__ import annotations

from typing import Literal

from remit.protocol.vital_signs import VitalSign as VitalSign  # declared with the signs

Rater = Literal["independent_rater", "therapist", "investigator", "self_report"]
VisitKind = Literal[
    "screening",
    "enrolment",
    "preparatory",
    "baseline",
    "dosing",
    "integration",
    "assessment",
    "termination",
    "follow-up",
]
Op = Literal[">=", "<=", ">", "<", "==", "!=", "in", "not_in", "between"]
CompareOp = Literal[">=", "<=", ">", "<", "==", "!="]
Level = Literal["immediate", "urgent", "same_day", "review"]
Role = Literal["primary", "secondary", "exploratory"]
Scalar = bool | int | float | str

RATERS: tuple[str, ...] = ("independent_rater", "therapist", "investigator", "self_report")
VISIT_KINDS: tuple[str, ...] = (
    "screening",
    "enrolment",
    "preparatory",
    "baseline",
    "dosing",
    "integration",
    "assessment",
    "termination",
    "follow-up",
)
MMRM_TERMS: tuple[str, ...] = ("visit", "arm", "baseline")
LEVELS: tuple[str, ...] = ("immediate", "urgent", "same_day", "review")
