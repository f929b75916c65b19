"""Safety rules as pure functions: a score, vital signs or an SAE in, alerts out.

Every threshold comes from the protocol's safety table (``[[safety.rules]]``, the tiered
limits of ``[safety.vitals]``, ``[safety.sae]``); what a scale's safety values mean
comes from the scale file (``[safety]``: safety items, fields and their categories); the
baseline a ``compare_to = "baseline"`` rule compares with is the protocol's baseline visit of
the scale. Nothing here is study- or scale-specific.
The functions never touch a database: the services store what they return in the same
transaction as the data that raised it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from remit.errors import InputError
from remit.protocol.baseline import resolve_baseline
from remit.protocol.model import LEVELS, Level, Protocol, SafetyRule
from remit.protocol.safety_table import SIDES, VitalLimits, vital_rule_id
from remit.protocol.vital_signs import VITAL_SIGN_CODES, VITAL_SIGNS, Side, VitalValues
from remit.protocol.vocab import COMPARE
from remit.scales import ScoreResult, load_scale


def level_rank(level: str) -> int:
    """Position of ``level`` in :data:`LEVELS` (0 is the most pressing).

    Examples
    --------
    >>> level_rank("immediate") < level_rank("review")
    True
    """
    try:
        return LEVELS.index(level)
    except ValueError:
        raise InputError(
            f"alert level {level!r} is unknown", expected="one of " + ", ".join(LEVELS)
        ) from None


@dataclass(frozen=True)
class Alert:
    """Something a clinician must respond to.

    Attributes
    ----------
    rule_id
        The id of the protocol rule that fired (``vitals:<sign>:<high|low>:<level>``, the worst
        sign's tier, for a vital-sign reading; ``sae`` for the SAE rule).
    level
        One of :data:`LEVELS`.
    message
        The rule's text followed by what was observed.
    subject
        What was looked at: ``item 10``, ``ideation_type``, ``systolic_bp`` …
    value
        The observed value (for a ``compare_to = "baseline"`` rule, the change from baseline).
    threshold
        The rule's limit.
    due_at
        When a response is due (the SAE reporting deadline), or ``None``.
    """

    rule_id: str
    level: Level
    message: str
    subject: str
    value: float | bool | None
    threshold: float | bool | None
    scale: str | None = None
    due_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of the alert."""
        return {
            "rule_id": self.rule_id,
            "level": self.level,
            "message": self.message,
            "subject": self.subject,
            "value": self.value,
            "threshold": self.threshold,
            "scale": self.scale,
            "due_at": None if self.due_at is None else self.due_at.isoformat(),
        }


@dataclass(frozen=True)
class SafetyResult:
    """The alerts raised by one evaluation and the rules that could not be evaluated.

    ``not_evaluated`` pairs a rule id with the reason (for example, no baseline to compare
    with, or the value was missing) so that a silent pass is never mistaken for a safe one.
    """

    alerts: tuple[Alert, ...] = ()
    not_evaluated: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def most_pressing(self) -> Level | None:
        """The most pressing level among the alerts, or ``None`` when there are none."""
        if not self.alerts:
            return None
        return min((a.level for a in self.alerts), key=level_rank)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "alerts": [a.to_dict() for a in self.alerts],
            "not_evaluated": [{"rule_id": r, "reason": why} for r, why in self.not_evaluated],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per alert."""
        columns = ["rule_id", "level", "message", "subject", "value", "threshold", "scale"]
        return pd.DataFrame(
            [{c: a.to_dict()[c] for c in columns} for a in self.alerts], columns=columns
        )

    def summary(self) -> str:
        """A few lines for a person."""
        if not self.alerts:
            lines = ["no alert"]
        else:
            lines = [f"{a.level}: {a.message}" for a in self.alerts]
        lines += [f"not evaluated: {r} ({why})" for r, why in self.not_evaluated]
        return "\n".join(lines)


def _observed(rule: SafetyRule, score: ScoreResult) -> tuple[str, Any]:
    """The value a rule looks at in ``score`` and how to name it."""
    if rule.item is not None:
        definition = load_scale(score.scale)
        item = definition.item(rule.item, score.version)
        return f"item {item.ref} ({item.code})", score.answers.get(item.code)
    name = rule.field or ""
    if name == "total":
        return "total", score.total
    if name in score.subscales:
        return name, score.subscales[name]
    if name in score.derived:
        return name, score.derived[name]
    raise InputError(
        f"safety rule {rule.id!r} looks at {name!r}, which scale {score.scale!r} does not produce",
        expected="total, a subscale ("
        + ", ".join(score.subscales)
        + ") or a derived value ("
        + ", ".join(score.derived)
        + ")",
        hint="correct the rule's `field` in the protocol's safety table",
    )


def _words(rule: SafetyRule, score: ScoreResult, value: Any) -> str:
    """`` (words)`` for a value the scale file gives categories for (``[safety.categories]``)."""
    definition = load_scale(score.scale)
    subject = rule.field
    if rule.item is not None:
        subject = definition.item(rule.item, score.version).code
    words = definition.safety.category(subject or "", value)
    return f" ({words})" if words else ""


def evaluate_score(
    protocol: Protocol,
    score: ScoreResult,
    *,
    baseline: ScoreResult | None = None,
) -> SafetyResult:
    """Apply the protocol's scale rules to one scored form.

    Rules of the form's scale (and version, when the rule names versions) are applied.
    When several rules fire on the same value (for example C-SSRS ideation type ≥ 2 and ≥ 4),
    only the most pressing alert is kept. A ``compare_to = "baseline"`` rule compares the
    change from ``baseline``, the participant's form at the protocol's baseline visit of the
    scale (:meth:`~remit.protocol.model.Protocol.baseline_visit`); without one it is listed in
    ``not_evaluated``. A value the scale file gives categories for is shown with its words.

    Parameters
    ----------
    protocol
        The protocol whose ``[[safety.rules]]`` apply.
    score
        The scored form.
    baseline
        The participant's form of the same scale at its baseline visit
        (``protocol.baseline_visit(score.scale)``), for rules that compare with it.

    Returns
    -------
    SafetyResult

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> from remit.scales import score
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> madrs = score("madrs", {str(i): 2 for i in range(1, 10)} | {"10": 4})
    >>> [a.rule_id for a in evaluate_score(p, madrs).alerts]
    ['madrs_item10']
    """
    fired: dict[str, Alert] = {}
    skipped: list[tuple[str, str]] = []
    for rule in protocol.safety.rules:
        if rule.scale != score.scale:
            continue
        if rule.versions and score.version not in rule.versions:
            continue
        subject, value = _observed(rule, score)
        if value is None:
            skipped.append((rule.id, f"{subject} is missing"))
            continue
        if rule.compare_to == "baseline":
            if baseline is None:
                skipped.append((rule.id, "no baseline to compare with"))
                continue
            _, base_value = _observed(rule, baseline)
            if base_value is None:
                skipped.append((rule.id, f"baseline {subject} is missing"))
                continue
            value = value - base_value
            visit = resolve_baseline(protocol, score.scale)
            at = f" ({visit})" if visit else ""
            shown = f"{subject} changed by {value:+g} from baseline{at}"
        else:
            shown = f"{subject} = {value}{_words(rule, score, value)}"
        if not COMPARE[rule.op](value, rule.value):
            continue
        alert = Alert(
            rule_id=rule.id,
            level=rule.level,
            message=f"{rule.text} ({shown}; rule {rule.op} {rule.value})",
            subject=subject,
            value=value,
            threshold=rule.value,
            scale=score.scale,
        )
        held = fired.get(subject)
        if held is None or level_rank(alert.level) < level_rank(held.level):
            fired[subject] = alert
    return SafetyResult(alerts=tuple(fired.values()), not_evaluated=tuple(skipped))


@dataclass(frozen=True)
class VitalFinding:
    """One sign of a reading beyond a limit: the most pressing tier it crossed.

    ``excess`` is how far beyond the limit the value lies, as a fraction of the way from the
    limit to the end of the sign's plausible range on that side (0 at the limit, 1 at the
    plausible bound): it makes millimetres of mercury and tenths of a degree comparable.
    """

    sign: str
    side: Side
    level: Level
    value: float
    limit: float
    excess: float

    @property
    def rule_id(self) -> str:
        """The id of the tier crossed (``vitals:<sign>:<side>:<level>``)."""
        return vital_rule_id(self.sign, self.side, self.level)

    def words(self) -> str:
        """``systolic_bp 200 mmHg above the immediate limit 180``."""
        unit = VITAL_SIGNS[self.sign].unit
        word = "above" if self.side == "high" else "below"
        return f"{self.sign} {self.value:g} {unit} {word} the {self.level} limit {self.limit:g}"


def _finding(sign: str, limits: VitalLimits, value: float) -> VitalFinding | None:
    """The most pressing tier ``value`` crosses, or ``None`` when it is within every limit."""
    d = VITAL_SIGNS[sign]
    for level in LEVELS:
        for side in SIDES:
            if level in limits.side(side) and limits.beyond(side, level, value):
                limit = limits.side(side)[level]
                room = (d.high - limit) if side == "high" else (limit - d.low)
                return VitalFinding(sign, side, level, value, limit, abs(value - limit) / room)
    return None


def worst_first(findings: list[VitalFinding]) -> list[VitalFinding]:
    """Findings ordered worst first: the more pressing level, then the larger ``excess``, then
    the order of the vital-sign vocabulary.

    Examples
    --------
    >>> a = VitalFinding("systolic_bp", "high", "urgent", 170, 160, 10 / 140)
    >>> b = VitalFinding("temperature", "high", "urgent", 38.9, 38.0, 0.9 / 7)
    >>> [f.sign for f in worst_first([a, b])]
    ['temperature', 'systolic_bp']
    """
    return sorted(
        findings,
        key=lambda f: (level_rank(f.level), -f.excess, VITAL_SIGN_CODES.index(f.sign)),
    )


def evaluate_vitals(
    protocol: Protocol,
    visit_code: str,
    readings: VitalValues,
) -> SafetyResult:
    """Compare one reading of vital signs, taken at any visit, with the protocol's tiered limits.

    One reading raises at most ONE alert, at the most pressing level any sign crossed: its
    ``rule_id`` is the worst sign's tier (``vitals:<sign>:<high|low>:<level>``), its message
    names the worst sign first and lists the others beyond a limit. "Worst" is the more pressing
    level, then the value further beyond its limit (:func:`worst_first`). A value exactly at a
    limit is within it.

    Every sign is accounted for: a sign that was read but has no limits, a sign with limits
    that was not read, a code that is not a vital sign, and every sign when the protocol has
    no ``[safety.vitals]`` are listed in ``not_evaluated`` with the reason.

    Parameters
    ----------
    protocol
        The protocol (``[safety.vitals]`` holds the text and the limits of each sign).
    visit_code
        The visit the reading was taken at (any visit of the protocol).
    readings
        Values by vital-sign code (:data:`remit.protocol.VITAL_SIGNS`); ``None`` for one not
        measured.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> result = evaluate_vitals(p, "V5", {"systolic_bp": 200, "diastolic_bp": 125,
    ...                                    "heart_rate": 80, "temperature": 39.6})
    >>> [(a.rule_id, a.level) for a in result.alerts]
    [('vitals:systolic_bp:high:immediate', 'immediate')]
    >>> for other in result.alerts[0].message.split("; also ")[1].split(", "):
    ...     print(other)
    diastolic_bp 125 mmHg above the immediate limit 110
    temperature 39.6 °C above the immediate limit 39)
    >>> evaluate_vitals(p, "V3", {"systolic_bp": 155}).alerts[0].level
    'review'
    >>> result.not_evaluated
    ()
    """
    protocol.visit(visit_code)  # NotFoundError for a visit the protocol does not have
    rule = protocol.safety.vitals
    measured = {sign: value for sign, value in readings.items() if value is not None}
    skipped: list[tuple[str, str]] = []
    for sign in measured:
        if sign not in VITAL_SIGNS:
            skipped.append((f"vitals:{sign}", "not a vital sign Remit knows"))
        elif rule is None:
            skipped.append((f"vitals:{sign}", "the protocol has no [safety.vitals] limits"))
        elif sign not in rule.limits:
            skipped.append((f"vitals:{sign}", "the protocol sets no limits for this sign"))
    if rule is None:
        return SafetyResult(not_evaluated=tuple(skipped))
    findings: list[VitalFinding] = []
    for sign in (s for s in VITAL_SIGN_CODES if s in rule.limits):
        value = measured.get(sign)
        if value is None:
            skipped.append((f"vitals:{sign}", "not measured in this reading"))
            continue
        if math.isnan(value):  # NaN compares false with every limit: never a pass
            skipped.append((f"vitals:{sign}", f"{value} is not a number that can be judged"))
            continue
        found = _finding(sign, rule.limits[sign], float(value))
        if found is not None:
            findings.append(found)
    if not findings:
        return SafetyResult(not_evaluated=tuple(skipped))
    worst, *others = worst_first(findings)
    also = "; also " + ", ".join(f.words() for f in others) if others else ""
    alert = Alert(
        rule_id=worst.rule_id,
        level=worst.level,
        message=f"{rule.text} ({worst.words()}{also})",
        subject=worst.sign,
        value=worst.value,
        threshold=worst.limit,
    )
    return SafetyResult(alerts=(alert,), not_evaluated=tuple(skipped))


@dataclass(frozen=True)
class SAEClock:
    """The reporting clock of a serious adverse event.

    ``due_at`` is the deadline (awareness + the protocol's hours), ``overdue`` whether ``now``
    is past it and ``remaining`` the time left (negative when overdue).
    """

    awareness_at: datetime
    due_at: datetime
    now: datetime
    overdue: bool
    remaining: timedelta

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "awareness_at": self.awareness_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "now": self.now.isoformat(),
            "overdue": self.overdue,
            "remaining_s": self.remaining.total_seconds(),
        }


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            f"{name} {value.isoformat()} has no time zone",
            expected="a time-zone-aware datetime (UTC)",
            hint="pass datetime.now(timezone.utc) or attach tzinfo",
        )


def sae_clock(protocol: Protocol, awareness_at: datetime, *, now: datetime) -> SAEClock:
    """Where the reporting clock of an SAE stands at ``now``.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from remit.protocol import load_protocol
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> t0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
    >>> sae_clock(p, t0, now=t0 + timedelta(hours=23, minutes=59)).overdue
    False
    >>> sae_clock(p, t0, now=t0 + timedelta(hours=24, minutes=1)).overdue
    True
    """
    _require_aware(awareness_at, "awareness time")
    _require_aware(now, "current time")
    if protocol.safety.sae is None:
        raise InputError(
            f"protocol {protocol.study.id} has no SAE reporting rule",
            expected="a [safety.sae] table with report_within_h",
            hint="add it to the protocol file",
        )
    due = awareness_at + timedelta(hours=protocol.safety.sae.report_within_h)
    return SAEClock(
        awareness_at=awareness_at, due_at=due, now=now, overdue=now > due, remaining=due - now
    )


def sae_alert(protocol: Protocol, awareness_at: datetime, *, term: str) -> Alert:
    """The alert an SAE raises, due when its reporting clock runs out.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from remit.protocol import load_protocol
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> alert = sae_alert(p, datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc), term="syncope")
    >>> alert.due_at.isoformat()
    '2024-03-02T09:00:00+00:00'
    """
    clock = sae_clock(protocol, awareness_at, now=awareness_at)
    rule = protocol.safety.sae
    if rule is None:  # pragma: no cover - sae_clock has refused already
        raise InputError("no SAE rule")
    return Alert(
        rule_id="sae",
        level=rule.level,
        message=f"{rule.text} ({term}; report to {rule.report_to} by {clock.due_at.isoformat()})",
        subject="sae",
        value=None,
        threshold=rule.report_within_h,
        due_at=clock.due_at,
    )
