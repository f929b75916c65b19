"""Whole-protocol checks: every problem gets a stable code (listed in ``docs/protocol.md``).

``P001``–``P004`` (TOML and shape) come from :mod:`remit.protocol.loader`; the codes from
``P005`` on are found on a well-formed protocol by the checks of
:mod:`~remit.protocol.check_schedule` (identities, visits, anchors, windows),
:mod:`~remit.protocol.check_dosing` (dosing sessions), :mod:`~remit.protocol.check_vitals`
(vital-sign limits against the signs), :mod:`~remit.protocol.check_plan` (endpoints, analyses,
safety rules, randomisation, baselines) and :mod:`~remit.protocol.check_scales` (thresholds and
cut-offs within the scales' ranges, raters), in that order.

To add a problem code: add it to :data:`PROBLEM_CODES` (and ``docs/protocol.md``), report it
with ``checker.add(code, path, what, todo)`` from a check of the module its part belongs to,
and list a new check function in that module's ``*_CHECKS`` tuple.
"""

from __future__ import annotations

from pathlib import Path

from remit.errors import Problem
from remit.protocol._checker import Check, Checker
from remit.protocol.check_blinding import BLINDING_CHECKS
from remit.protocol.check_demographics import DEMOGRAPHICS_CHECKS
from remit.protocol.check_dosing import DOSING_CHECKS
from remit.protocol.check_eligibility import ELIGIBILITY_CHECKS
from remit.protocol.check_estimands import ESTIMAND_CHECKS
from remit.protocol.check_notify import NOTIFY_CHECKS
from remit.protocol.check_plan import PLAN_CHECKS
from remit.protocol.check_results import RESULT_CHECKS
from remit.protocol.check_scales import SCALE_CHECKS
from remit.protocol.check_schedule import SCHEDULE_CHECKS
from remit.protocol.check_vitals import VITALS_CHECKS
from remit.protocol.loader import parse_protocol, read_protocol_source
from remit.protocol.model import Protocol

PROBLEM_CODES: dict[str, str] = {
    "P001": "the file is not valid TOML",
    "P002": "unknown key",
    "P003": "required key missing",
    "P004": "value of the wrong type or not allowed",
    "P005": "unknown scale",
    "P006": "unknown scale version",
    "P007": "unknown anchor",
    "P008": "anchor cycle",
    "P009": "duplicate visit code",
    "P010": "inverted window (lower bound above upper bound)",
    "P011": "overlapping windows",
    "P012": "doses above the session maximum",
    "P013": "supplemental offer window inverted or negative",
    "P014": "reference to a visit that does not exist",
    "P015": "dosing session on a non-dosing visit, or dosing visit without a session",
    "P016": "safety rule on an unknown item or field of its scale",
    "P017": "unknown arm",
    "P018": "duplicate id, code or number",
    "P019": "reference to an endpoint that does not exist or is of the wrong kind",
    "P020": "scale not assessed at a visit that needs it",
    "P021": "randomisation does not fit the arms",
    "P022": "vital-sign limits or schedule not sound",
    "P023": "dosing sessions not numbered 1, 2, … in visit order",
    "P024": "window does not contain the target day",
    "P025": "analysis compares arms in a one-arm protocol",
    "P026": "baseline not consistent: an endpoint or analysis baseline that differs from the "
    "protocol's baseline of its scale, or a compare-to-baseline rule on a scale without one",
    "P027": "safety-rule threshold outside the range of its value: the rule never or always fires",
    "P028": "a yes/no value compared with a number, or a number with true/false",
    "P029": "cut-off outside the scale's range (remission/relapse endpoint, analysis, "
    "eligibility criterion on a scale value)",
    "P030": "vital-sign limit outside the sign's plausible range, or in another unit",
    "P031": "rater does not match who rates the scale (clinician-rated vs self-report)",
    "P032": "alert level the safety rules raise but [safety.notify] tells no one of",
    "P033": "arrays or inline tables nested too deep (more than 32 levels)",
    "P034": "eligibility criterion read from a form names an unknown visit, a scale not given "
    "at that visit, or a value the scale does not report",
    "P035": "[enrolment] names an unknown visit or confirms before it enrols, or criteria "
    "deferred to a confirmation that is not declared",
    "P036": "pre-dose checklist item refers to a result test not declared, or not taken by "
    "its dosing visit",
    "P037": "pre-dose checklist item not sound (a safety item overridable, a result item "
    "without within_days, a field its kind does not read)",
    "P038": "unknown site time zone (not an IANA name such as Europe/Oslo)",
    "P039": "period limit not sound: counted from an unknown or later visit, or the visit's "
    "planned day outside it",
    "P040": "estimand not sound: an unknown endpoint or analysis, a strategy for an "
    "intercurrent event that its main analysis cannot serve, a summary that does not fit the "
    "endpoint or the arms, an event declared twice",
    "P041": "[blinding] not sound: no randomisation to be blind to, an unknown role, or an "
    "unblinded role (who holds the list) declared blinded or allowed to unblind, or the "
    "notification chain telling a rater blind to the safety data of alerts, or a step of it "
    "naming only a rater blind to dosing",
    "P042": "[demographics] not sound: an unknown characteristic, one listed twice, or race/"
    "ethnicity collected without a justification",
}

#: Every whole-protocol check, in the order its problems are reported.
CHECKS: tuple[Check, ...] = (
    *SCHEDULE_CHECKS,
    *DOSING_CHECKS,
    *RESULT_CHECKS,
    *VITALS_CHECKS,
    *PLAN_CHECKS,
    *ESTIMAND_CHECKS,
    *SCALE_CHECKS,
    *NOTIFY_CHECKS,
    *ELIGIBILITY_CHECKS,
    *BLINDING_CHECKS,
    *DEMOGRAPHICS_CHECKS,
)


def check_protocol(source: str | Path) -> list[Problem]:
    """Every problem of a protocol file or built-in protocol (empty when it is sound).

    Never raises for a bad protocol: bad TOML, a wrong key or a broken reference each become
    a :class:`~remit.errors.Problem`. Only a source that does not exist raises
    :class:`~remit.errors.NotFoundError`.

    Examples
    --------
    >>> check_protocol("oslo-mdma-mdd")
    []
    """
    text, name = read_protocol_source(source)
    return check_text(text, name)


def check_text(text: str, source: str = "<text>") -> list[Problem]:
    """Every problem of protocol text (see :func:`check_protocol`).

    Examples
    --------
    >>> [p.code for p in check_text("format_version = 1\\n")]
    ['P003', 'P003', 'P003']
    """
    _, problems = parse_protocol(text, source)
    return problems


def check_model(protocol: Protocol) -> list[Problem]:
    """Whole-protocol checks of a well-formed protocol (codes ``P005`` on).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> check_model(load_protocol("mdma-mdd-rct-example"))
    []
    """
    c = Checker(protocol)
    for check in CHECKS:
        check(c)
    if protocol.study.reference_visit not in c.visits:
        c.visit_ref(protocol.study.reference_visit, ("study", "reference_visit"), "the study")
    return c.problems
