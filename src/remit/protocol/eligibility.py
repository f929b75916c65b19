"""Check screening data against a protocol's eligibility criteria."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from remit.errors import InputError
from remit.protocol.vocab import COMPARE, CriterionKind

if TYPE_CHECKING:
    import pandas as pd

    from remit.protocol.model import Criterion, Protocol

CriterionStatus = Literal["met", "unmet", "missing"]


@dataclass(frozen=True)
class CriterionResult:
    """The outcome of one criterion.

    ``status`` is ``"met"`` when the participant satisfies the criterion as the protocol
    requires it (an inclusion that holds, an exclusion that does not apply), ``"unmet"``
    otherwise, ``"missing"`` when the screening field was not given. ``reason`` says why.
    """

    id: str
    kind: CriterionKind
    text: str
    field: str
    value: Any
    status: CriterionStatus
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The result as plain values."""
        return asdict(self)


@dataclass(frozen=True)
class EligibilityResult:
    """Whether a candidate is eligible, with the outcome of every criterion.

    ``eligible`` is true only when every criterion is met; ``complete`` is false while some
    field is missing (then ``eligible`` is false too, and ``missing`` lists what to collect).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> r = evaluate_eligibility(load_protocol("oslo-mdma-mdd"), {"age_years": 40})
    >>> r.eligible, r.complete, len(r.missing)
    (False, False, 11)
    >>> r.to_frame().loc[0, ["id", "status"]].tolist()
    ['age', 'met']
    """

    eligible: bool
    complete: bool
    criteria: tuple[CriterionResult, ...]

    @property
    def unmet(self) -> tuple[CriterionResult, ...]:
        """The criteria the candidate fails."""
        return tuple(c for c in self.criteria if c.status == "unmet")

    @property
    def missing(self) -> tuple[CriterionResult, ...]:
        """The criteria that could not be checked for want of data."""
        return tuple(c for c in self.criteria if c.status == "missing")

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return {
            "eligible": self.eligible,
            "complete": self.complete,
            "criteria": [c.to_dict() for c in self.criteria],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per criterion."""
        import pandas as pd

        return pd.DataFrame([c.to_dict() for c in self.criteria])

    def summary(self) -> str:
        """One line: eligible, or which criteria fail or lack data."""
        if self.eligible:
            return f"eligible: all {len(self.criteria)} criteria met"
        parts = []
        if self.unmet:
            parts.append("fails " + "; ".join(f"{c.id} ({c.reason})" for c in self.unmet))
        if self.missing:
            parts.append("missing " + ", ".join(c.field for c in self.missing))
        return "not eligible: " + "; ".join(parts)


def _number(criterion: Criterion, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(
            f"screening field {criterion.field!r} is {value!r}, not a number "
            f"(criterion {criterion.id})",
            expected="a number",
        )
    return float(value)


def _holds(criterion: Criterion, value: object) -> bool:
    op, target = criterion.op, criterion.value
    if isinstance(target, tuple):  # between, in, not_in (the model enforces the pairing)
        if op == "between":
            low, high = (float(x) for x in target)
            return low <= _number(criterion, value) <= high
        inside = value in target
        return inside if op == "in" else not inside
    if op in ("==", "!="):
        if isinstance(target, bool) and not isinstance(value, bool):
            raise InputError(
                f"screening field {criterion.field!r} is {value!r}, not true/false "
                f"(criterion {criterion.id})",
                expected="true or false",
            )
        same = value == target
        return same if op == "==" else not same
    x, y = _number(criterion, value), float(target)
    return COMPARE[op](x, y)


def _shown(criterion: Criterion) -> str:
    v = criterion.value
    if isinstance(v, tuple):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v).lower() if isinstance(v, bool) else str(v)


def evaluate_eligibility(protocol: Protocol, data: Mapping[str, object]) -> EligibilityResult:
    """Check screening data against every eligibility criterion of the protocol.

    Parameters
    ----------
    protocol
        The protocol whose ``[[eligibility.criteria]]`` apply.
    data
        Screening values by field name (``age_years``, ``psychosis`` …); an absent field or
        ``None`` is missing.

    Raises
    ------
    InputError
        A value has the wrong type for its criterion (e.g. text where a number is needed).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> data = {"age_years": 34, "mdd_dsm5": True, "episode_weeks": 30, "madrs_total": 31,
    ...         "psychosis": False, "bipolar_i": False, "personality_disorder": False,
    ...         "substance_use_disorder": False, "cardiovascular_disease": False,
    ...         "lives_within_1h": True, "systolic_bp": 128, "cssrs_ideation_type": 1}
    >>> evaluate_eligibility(p, data).eligible
    True
    >>> evaluate_eligibility(p, {**data, "age_years": 17}).summary()
    'not eligible: fails age (age_years is 17; needs >= 18)'
    """
    results = []
    for criterion in protocol.eligibility.criteria:
        value = data.get(criterion.field)
        condition = f"{criterion.op} {_shown(criterion)}"
        status: CriterionStatus
        if value is None:
            status, reason = "missing", f"{criterion.field} not given"
        else:
            holds = _holds(criterion, value)
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            if criterion.kind == "inclusion":
                status = "met" if holds else "unmet"
                reason = f"{criterion.field} is {shown}" + ("" if holds else f"; needs {condition}")
            else:
                status = "unmet" if holds else "met"
                reason = f"{criterion.field} is {shown}" + (
                    f"; excluded when {condition}" if holds else ""
                )
        results.append(
            CriterionResult(
                id=criterion.id,
                kind=criterion.kind,
                text=criterion.text,
                field=criterion.field,
                value=value,
                status=status,
                reason=reason,
            )
        )
    complete = all(r.status != "missing" for r in results)
    eligible = all(r.status == "met" for r in results)
    return EligibilityResult(eligible=eligible, complete=complete, criteria=tuple(results))
