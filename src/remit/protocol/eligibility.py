"""Check screening data against a protocol's eligibility criteria."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from remit.errors import InputError
from remit.protocol.status import UNFINISHED_STATUSES, AssessmentStatus
from remit.protocol.vocab import COMPARE, CriterionKind

if TYPE_CHECKING:
    import pandas as pd

    from remit.protocol.model import Criterion, CriterionSource, Protocol

CriterionStatus = Literal["met", "unmet", "missing"]

#: Form statuses whose values count: every status but the unfinished ones (a draft or
#: incomplete form gives "missing", never "met").
COUNTED_FORM_STATUSES: frozenset[str] = frozenset(
    s.value for s in set(AssessmentStatus) - UNFINISHED_STATUSES
)


@dataclass(frozen=True)
class RecordedForm:
    """A stored form as eligibility reads it: its status and the scoring engine's result
    (:meth:`remit.scales.engine.ScoreResult.to_dict`)."""

    visit: str
    scale: str
    status: str
    score: Mapping[str, Any]

    def value(self, name: str) -> object:
        """``total``, a derived value, a subscale or an item answer (``None``: absent)."""
        if name == "total":
            return self.score.get("total")
        for part in ("derived", "subscales", "answers"):
            found = (self.score.get(part) or {}).get(name)
            if found is not None:
                return found
        return None


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
    source: str = "checklist"
    stage: str = "enrolment"

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
    (False, False, 12)
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


def _source_value(
    src: CriterionSource, forms: Mapping[tuple[str, str], RecordedForm]
) -> tuple[Any, str | None]:
    """The value a form gives a sourced criterion, or ``None`` and why it is missing."""
    form = forms.get((src.visit, src.scale))
    if form is None:
        return None, f"no {src.scale} form recorded at {src.visit}"
    if form.status not in COUNTED_FORM_STATUSES:
        return None, f"the {src.scale} form at {src.visit} is {form.status}, not complete"
    value = form.value(src.value)
    if value is None:
        return None, f"the {src.scale} form at {src.visit} has no {src.value}"
    return value, None


def evaluate_eligibility(
    protocol: Protocol,
    data: Mapping[str, object],
    forms: Mapping[tuple[str, str], RecordedForm] | None = None,
    *,
    stage: Literal["enrolment", "confirmation"] = "confirmation",
) -> EligibilityResult:
    """Check screening data against every eligibility criterion of the protocol.

    Parameters
    ----------
    protocol
        The protocol whose ``[[eligibility.criteria]]`` apply.
    data
        Checklist answers by field name (``age_years``, ``psychosis`` …); an absent field or
        ``None`` is missing. A criterion with a ``source`` never reads ``data``.
    forms
        The recorded forms by ``(visit, scale)``: sourced criteria read their value there.
        A form that is not complete (draft, incomplete) or absent leaves the criterion
        missing.
    stage
        ``"enrolment"`` checks only the criteria decided before enrolment;
        ``"confirmation"`` (the default) every criterion.

    Raises
    ------
    InputError
        A value has the wrong type for its criterion (e.g. text where a number is needed).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> from remit.scales import load_scale, score
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> data = {"age_years": 34, "mdd_dsm5": True, "episode_weeks": 30,
    ...         "psychosis": False, "bipolar_i": False, "personality_disorder": False,
    ...         "substance_use_disorder": False, "cardiovascular_disease": False,
    ...         "lives_within_1h": True, "systolic_bp": 128}
    >>> items = load_scale("cssrs").items_for("baseline")
    >>> answers = {i.code: False for i in items if i.kind == "boolean"}  # no ideation, no acts
    >>> cssrs = score("cssrs", answers, version="baseline")
    >>> forms = {("SCR", "cssrs"): RecordedForm("SCR", "cssrs", "complete", cssrs.to_dict())}
    >>> evaluate_eligibility(p, data, forms, stage="enrolment").eligible
    True
    >>> evaluate_eligibility(p, {**data, "age_years": 17}, forms, stage="enrolment").summary()
    'not eligible: fails age (age_years is 17; needs >= 18)'
    >>> evaluate_eligibility(p, data, stage="enrolment").missing[0].reason
    'no cssrs form recorded at SCR'
    """
    found_forms = forms or {}
    results = []
    for criterion in protocol.eligibility.criteria:
        if stage == "enrolment" and criterion.stage != "enrolment":
            continue
        condition = f"{criterion.op} {_shown(criterion)}"
        status: CriterionStatus
        if criterion.source is not None:
            src = criterion.source
            where = f"{src.visit} {src.scale} {src.value}"
            value, why_missing = _source_value(src, found_forms)
        else:
            where = "checklist"
            value = data.get(criterion.field)
            why_missing = None if value is not None else f"{criterion.field} not given"
        if value is None:
            status, reason = "missing", str(why_missing)
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
                source=where,
                stage=criterion.stage,
            )
        )
    complete = all(r.status != "missing" for r in results)
    eligible = all(r.status == "met" for r in results)
    return EligibilityResult(eligible=eligible, complete=complete, criteria=tuple(results))
