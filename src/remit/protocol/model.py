"""The protocol of a trial as data: frozen pydantic models read from a TOML file.

The models check the *shape* of a protocol (keys, types, allowed words). Checks that need the
whole protocol (anchors, windows, references to visits and scales) live in
:mod:`remit.protocol.check`, so that every problem gets its own stable code.

Every value the study did not publish carries an ``assumption`` note in the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

from pydantic import Field, PrivateAttr, model_validator

from remit.errors import NotFoundError
from remit.protocol._base import _Model
from remit.protocol.baseline import Baseline, baseline_visit
from remit.protocol.blinding import Blinding
from remit.protocol.consent import Consent
from remit.protocol.demographics import Demographics
from remit.protocol.dosing import ArmDose, DosingSession, Vitals, VitalThreshold
from remit.protocol.dsmb import Dsmb
from remit.protocol.estimands import Estimand, IntercurrentEvent
from remit.protocol.medications import Medications
from remit.protocol.results import Results
from remit.protocol.safety_table import (
    MissedReadings,
    SAEClock,
    Safety,
    SafetyRule,
    VitalLimits,
    VitalsRule,
)
from remit.protocol.sap import (
    BINARY_ENDPOINT_KINDS,
    Analysis,
    AnalysisPlan,
    ChangeEndpoint,
    DescriptiveAnalysis,
    EffectSizeAnalysis,
    Endpoint,
    McNemarAnalysis,
    MMRMAnalysis,
    ProportionAnalysis,
    RbmiAnalysis,
    RelapseEndpoint,
    RemissionEndpoint,
    ResponseEndpoint,
    RTMAnalysis,
    SafetyAnalysis,
    SustainedResponseEndpoint,
    WilcoxonAnalysis,
)
from remit.protocol.scoring import ScaleScoring, ScoringTable
from remit.protocol.vocab import (
    DF_METHODS,
    LEVELS,
    MMRM_TERMS,
    CompareOp,
    CriterionKind,
    DfMethod,
    EndpointRole,
    Level,
    Op,
    Rater,
    Scalar,
    VisitKind,
    VitalSign,
)

FORMAT_VERSION = 1

T = TypeVar("T")

__all__ = [
    "BINARY_ENDPOINT_KINDS",
    "DF_METHODS",
    "FORMAT_VERSION",
    "LEVELS",
    "MMRM_TERMS",
    "Analysis",
    "AnalysisPlan",
    "Arm",
    "ArmDose",
    "Assessment",
    "ChangeEndpoint",
    "CompareOp",
    "Criterion",
    "DescriptiveAnalysis",
    "DfMethod",
    "DosingSession",
    "EffectSizeAnalysis",
    "Eligibility",
    "Endpoint",
    "EndpointRole",
    "Estimand",
    "Event",
    "IntercurrentEvent",
    "Level",
    "MMRMAnalysis",
    "McNemarAnalysis",
    "MissedReadings",
    "Op",
    "PeriodLimit",
    "ProportionAnalysis",
    "Protocol",
    "RTMAnalysis",
    "Randomisation",
    "Rater",
    "RbmiAnalysis",
    "RelapseEndpoint",
    "RemissionEndpoint",
    "ResponseEndpoint",
    "SAEClock",
    "Safety",
    "SafetyAnalysis",
    "SafetyRule",
    "Scalar",
    "Site",
    "StratumFactor",
    "StratumLevel",
    "Study",
    "SustainedResponseEndpoint",
    "Visit",
    "VisitKind",
    "VitalLimits",
    "VitalSign",
    "VitalThreshold",
    "Vitals",
    "VitalsRule",
    "WilcoxonAnalysis",
]


# --------------------------------------------------------------------------- study and arms


class Site(_Model):
    """A site that enrols participants."""

    code: str
    name: str
    country: str | None = None
    #: IANA time zone of the site's clocks (e.g. ``"Europe/Oslo"``): clinical times are entered
    #: and shown in it (stored in UTC). ``None``: UTC. Checked by ``remit protocol check`` (P033).
    time_zone: str | None = None


class Study(_Model):
    """What the study is: names, registry ids, design, size, sites.

    ``reference_visit`` is the visit whose date is day 0 of the study (the baseline visit);
    nominal days of every other visit are counted from it.
    """

    id: str
    title: str
    short_title: str
    sponsor: str
    registry_ids: dict[str, str] = Field(default_factory=dict)
    version: str
    phase: str
    design: str
    population: str = ""
    target_enrolment: int = Field(gt=0)
    sites: tuple[Site, ...] = ()
    reference_visit: str
    references: tuple[str, ...] = ()
    assumption: str | None = None


class Arm(_Model):
    """A treatment arm; ``ratio`` is its planned share in the randomisation (1 for 1:1)."""

    code: str
    label: str
    ratio: int = Field(default=1, ge=1)
    description: str = ""


class CriterionSource(_Model):
    """Where a criterion's value is read: a recorded form of a visit.

    ``value`` is what the scoring engine reports for the form: ``total``, a derived value
    (C-SSRS ``ideation_type``, ``any_behaviour``), a subscale or an item code.
    """

    visit: str
    scale: str
    value: str


class StratumLevel(_Model):
    """One level of a stratification factor read from a form: ``code`` when the value lies
    in ``[min, max]`` (both inclusive; a missing bound is open)."""

    code: str
    min: float | None = None
    max: float | None = None

    def holds(self, value: float) -> bool:
        """Whether ``value`` falls in this level."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class StratumFactor(_Model):
    """How a stratification factor's level is found at randomisation.

    ``source = "site"``: the participant's site code (the levels are the study's sites).
    ``source = { visit, scale, value }``: a value of a recorded form (as an eligibility
    criterion's source), put into one of ``levels`` by its bounds.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> band = load_protocol("mdma-mdd-rct-example").randomisation.factor("madrs_baseline_band")
    >>> [lv.code for lv in band.levels], band.source.visit
    (['20-34', '35+'], 'V3')
    """

    factor: str
    source: Literal["site"] | CriterionSource
    levels: tuple[StratumLevel, ...] = ()
    assumption: str | None = None


class Randomisation(_Model):
    """How participants are allocated to arms (the ratio is each arm's ``ratio``).

    ``strata`` declares how each factor of ``stratification`` is found; ``first_kit`` is the
    lowest kit number of the kit list made with the allocation list.
    """

    method: Literal["permuted_block", "simple", "minimisation"] = "permuted_block"
    block_sizes: tuple[int, ...] = ()
    stratification: tuple[str, ...] = ()
    strata: tuple[StratumFactor, ...] = ()
    first_kit: int = Field(default=1001, ge=0)
    concealment: str = ""
    assumption: str | None = None

    def factor(self, name: str) -> StratumFactor:
        """The declaration of stratification factor ``name``."""
        for f in self.strata:
            if f.factor == name:
                return f
        raise KeyError(name)


class Event(_Model):
    """A dated event that visits may be anchored to (e.g. ``referral``, ``consent``)."""

    code: str
    label: str
    description: str = ""


# --------------------------------------------------------------------------- visits


class Assessment(_Model):
    """A form filled in at a visit: which scale, which version, who rates it, when.

    ``version`` ``None`` means the scale's default version.
    """

    scale: str
    version: str | None = None
    rater: Rater
    timing: str | None = None
    required: bool = True


class PeriodLimit(_Model):
    """A limit on a visit's date counted from another visit or event (``from``), on top of its
    own window: ``days`` after it, ± ``tolerance`` days (e.g. the primary endpoint V13 at
    13 ± 3 weeks after baseline: ``period = { from = "V4", days = 91, tolerance = 21 }``).

    The visit's window is the intersection of its chained window and this period.
    """

    from_: str = Field(alias="from")
    days: int
    tolerance: int = Field(ge=0)
    assumption: str | None = None

    @property
    def bounds(self) -> tuple[int, int]:
        """The first and last day after ``from`` that the period allows."""
        return self.days - self.tolerance, self.days + self.tolerance


class Visit(_Model):
    """One visit of the schedule.

    The visit's target date is ``target_day`` days after its ``anchor`` (a visit code or an
    event code); ``window`` is the (lower, upper) number of days around the target inside
    which the visit still counts as done on schedule.
    """

    code: str
    label: str
    kind: VisitKind
    number: float | None = None
    anchor: str
    target_day: int
    window: tuple[int, int]
    duration_min: int | None = Field(default=None, gt=0)
    therapy_session: bool = False
    description: str = ""
    assessments: tuple[Assessment, ...] = ()
    arms: tuple[str, ...] = ()
    assumption: str | None = None
    period: PeriodLimit | None = None

    def scales(self) -> tuple[str, ...]:
        """Codes of the scales assessed at this visit, in order, without repeats.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("oslo-mdma-mdd").visit("V5").scales()
        ('cssrs', 'se_vas')
        """
        return tuple(dict.fromkeys(a.scale for a in self.assessments))

    def applies_to(self, arm: str | None) -> bool:
        """Whether this visit is part of the schedule of ``arm`` (``None``: any arm).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("mdma-mdd-rct-example").visit("V13").applies_to("PLACEBO")
        True
        """
        return arm is None or not self.arms or arm in self.arms


# --------------------------------------------------------------------------- eligibility


class Criterion(_Model):
    """A checkable eligibility rule on one screening field.

    An inclusion criterion is satisfied when ``field op value`` holds; an exclusion criterion
    when it does not (e.g. ``{field = "psychosis", op = "==", value = true}`` excludes).
    With a ``source`` the value is read from the recorded form it names; without one the
    criterion is a checklist item the investigator answers (yes/no, or a number).
    ``stage = "confirmation"`` defers the criterion to the confirmation of enrolment (its
    value is recorded after enrolment, e.g. the baseline rating before V4).
    """

    id: str
    kind: CriterionKind
    field: str
    op: Op
    value: Scalar | tuple[Scalar, ...]
    text: str
    source: CriterionSource | None = None
    stage: Literal["enrolment", "confirmation"] = "enrolment"
    assumption: str | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Criterion:
        if self.op == "between":
            if (
                not isinstance(self.value, tuple)
                or len(self.value) != 2
                or not all(_is_number(v) for v in self.value)
            ):
                raise ValueError("op 'between' needs value = [low, high] (two numbers)")
            low, high = self.value
            if float(low) > float(high):
                raise ValueError(f"between [{low}, {high}]: low is above high")
        elif self.op in ("in", "not_in"):
            if not isinstance(self.value, tuple):
                raise ValueError(f"op {self.op!r} needs a list of values")
        elif isinstance(self.value, tuple):
            raise ValueError(f"op {self.op!r} needs one value, not a list")
        elif self.op in (">=", "<=", ">", "<") and not _is_number(self.value):
            raise ValueError(f"op {self.op!r} needs a number")
        return self


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ScreenFailureReason(_Model):
    """A coded reason a candidate fails screening (``code`` is stored and exported)."""

    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    label: str


class Eligibility(_Model):
    """The eligibility criteria, checked on screening data by ``evaluate_eligibility``, and
    the coded reasons a screen failure is recorded with (each failing criterion's id is a
    reason too)."""

    criteria: tuple[Criterion, ...] = ()
    screen_failure_reasons: tuple[ScreenFailureReason, ...] = ()

    def failure_reasons(self) -> dict[str, str]:
        """Every screen-failure code with its label: the declared reasons, then one per
        criterion (``criterion id`` → its text)."""
        reasons = {r.code: r.label for r in self.screen_failure_reasons}
        for c in self.criteria:
            reasons.setdefault(c.id, c.text)
        return reasons


class Enrolment(_Model):
    """The published two-step enrolment: enrolled at ``enrol_at``, confirmed at
    ``confirm_at`` (``None``: enrolment needs no confirmation)."""

    enrol_at: str
    confirm_at: str | None = None
    assumption: str | None = None


# --------------------------------------------------------------------------- protocol


#: Each protocol's visits by code (the first of a code, as :meth:`Protocol.visit` finds it),
#: by the protocol's identity: a protocol is frozen; one read again is a new object.
_VISITS_BY_CODE: dict[int, tuple[Protocol, Mapping[str, Visit]]] = {}
_VISITS_BY_CODE_KEPT = 64


def _visits_by_code(protocol: Protocol) -> Mapping[str, Visit]:
    """``{code: visit}`` of ``protocol``, worked out once per protocol object (kept with it:
    an id reused by another protocol is worked out again)."""
    found = _VISITS_BY_CODE.get(id(protocol))
    if found is not None and found[0] is protocol:
        return found[1]
    by_code: dict[str, Visit] = {}
    for v in protocol.visits:
        by_code.setdefault(v.code, v)
    if len(_VISITS_BY_CODE) >= _VISITS_BY_CODE_KEPT:
        _VISITS_BY_CODE.clear()
    _VISITS_BY_CODE[id(protocol)] = (protocol, by_code)
    return by_code


class Protocol(_Model):
    """A whole protocol. Build it with :func:`remit.protocol.load_protocol`.

    ``text`` is the TOML text it was read from and ``sha256`` the hash of that text, so that
    every record can name the protocol version in force.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> p.visit("V13").label
    'Primary endpoint'
    >>> [a.scale for a in p.assessments_at("V3")][:2]
    ['madrs', 'sds']
    >>> p.dosing_session("V5").initial_mg
    80.0
    """

    format_version: Literal[1] = 1
    study: Study
    arms: tuple[Arm, ...] = Field(min_length=1)
    randomisation: Randomisation | None = None
    blinding: Blinding | None = None
    events: tuple[Event, ...] = ()
    visits: tuple[Visit, ...] = Field(min_length=1)
    dosing: tuple[DosingSession, ...] = ()
    eligibility: Eligibility = Field(default_factory=Eligibility)
    endpoints: tuple[Endpoint, ...] = ()
    estimands: tuple[Estimand, ...] = ()
    analysis: AnalysisPlan = Field(default_factory=AnalysisPlan)
    safety: Safety = Field(default_factory=Safety)
    baseline: Baseline = Field(default_factory=Baseline)
    scoring: ScoringTable = Field(default_factory=dict)
    medications: Medications = Field(default_factory=Medications)
    consent: Consent = Field(default_factory=Consent)
    enrolment: Enrolment | None = None
    results: Results = Field(default_factory=Results)
    demographics: Demographics = Field(default_factory=Demographics)
    dsmb: Dsmb = Field(default_factory=Dsmb)

    _text: str = PrivateAttr(default="")
    _source: str = PrivateAttr(default="")

    @property
    def text(self) -> str:
        """The TOML text the protocol was read from."""
        return self._text

    @property
    def source(self) -> str:
        """Where the protocol came from: a built-in name or a file path."""
        return self._source

    @property
    def sha256(self) -> str:
        """SHA-256 of :attr:`text` (hex), naming this exact version of the protocol."""
        return hashlib.sha256(self._text.encode("utf-8")).hexdigest()

    @property
    def visit_codes(self) -> tuple[str, ...]:
        """Codes of the visits, in protocol order."""
        return tuple(v.code for v in self.visits)

    def _named(
        self, noun: str, wanted: str, named: Sequence[tuple[str, T]], hint: str | None = None
    ) -> T:
        """The first of ``named`` (name, thing) called ``wanted``; NotFoundError listing them."""
        for name, thing in named:
            if name == wanted:
                return thing
        raise NotFoundError(
            f"{noun} {wanted!r} is not in protocol {self.study.id}",
            expected="one of " + ", ".join(name for name, _ in named),
            hint=hint,
        )

    def scoring_of(self, scale: str) -> ScaleScoring:
        """The protocol's ``[scoring.<scale>]`` settings (defaults when it has none).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("oslo-mdma-mdd").scoring_of("gad7").missing_rule() is None
        True
        """
        return self.scoring.get(scale) or ScaleScoring()

    def baseline_visit(self, scale: str) -> str:
        """The baseline visit of ``scale``: the one rule of :mod:`remit.protocol.baseline`.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> oslo = load_protocol("oslo-mdma-mdd")
        >>> oslo.baseline_visit("madrs"), oslo.baseline_visit("cssrs")
        ('V3', 'SCR')
        """
        return baseline_visit(self, scale)

    def visit(self, code: str) -> Visit:
        """The visit called ``code``; :class:`NotFoundError` if there is none.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> v = load_protocol("oslo-mdma-mdd").visit("FU7")
        >>> v.anchor, v.target_day, v.window
        ('V4', 210, (-14, 14))
        """
        found = _visits_by_code(self).get(code) if type(code) is str else None
        if found is not None:
            return found
        return self._named(  # the error, naming every visit
            "visit",
            code,
            [(v.code, v) for v in self.visits],
            hint="run `remit protocol show` to list the visits",
        )

    def visit_number(self, code: str) -> float:
        """The visit's number for exports (SDTM ``VISITNUM``): its ``number``, else its position.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("oslo-mdma-mdd").visit_number("V0")
        3.0
        """
        visit = self.visit(code)
        if visit.number is not None:
            return float(visit.number)
        return float(self.visit_codes.index(code) + 1)

    def assessments_at(self, code: str) -> tuple[Assessment, ...]:
        """The forms due at visit ``code``."""
        return self.visit(code).assessments

    def dosing_session(self, visit_code: str) -> DosingSession | None:
        """The dosing session held at ``visit_code``, or ``None`` if none is held there.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> p = load_protocol("oslo-mdma-mdd")
        >>> p.dosing_session("V9").supplemental_offer_min, p.dosing_session("V10") is None
        ((90, 150), True)
        """
        self.visit(visit_code)
        for d in self.dosing:
            if d.visit == visit_code:
                return d
        return None

    def vital_thresholds(self, visit_code: str) -> Mapping[str, VitalThreshold]:
        """The limits beyond which a vital-sign reading at ``visit_code`` raises an alert.

        For each sign with limits in ``[safety.vitals]``, the least pressing tier of each side
        (the protocol's tiers apply at every visit; :class:`NotFoundError` for an unknown one).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("oslo-mdma-mdd").vital_thresholds("V5")["temperature"].high
        37.5
        """
        self.visit(visit_code)
        rule = self.safety.vitals
        if rule is None:
            return {}
        found: dict[str, VitalThreshold] = {}
        for sign, limits in rule.limits.items():
            low, high = limits.alerting()
            found[str(sign)] = VitalThreshold(high=high, low=low, assumption=limits.assumption)
        return found

    def arm(self, code: str) -> Arm:
        """The arm called ``code``; :class:`NotFoundError` if there is none.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("mdma-mdd-rct-example").arm("PLACEBO").label
        'Placebo with the same therapy'
        """
        return self._named("arm", code, [(a.code, a) for a in self.arms])

    def endpoint(
        self, id: str
    ) -> (
        ChangeEndpoint
        | ResponseEndpoint
        | RemissionEndpoint
        | (RelapseEndpoint | SustainedResponseEndpoint)
    ):
        """The endpoint with this ``id``; :class:`NotFoundError` if there is none.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("oslo-mdma-mdd").endpoint("madrs_remission").definition
        'remission at V13 and FU7 (each visit on its own): madrs total ≤ 10'
        """
        return self._named("endpoint", id, [(e.id, e) for e in self.endpoints])

    def therapy_sessions(self) -> tuple[Visit, ...]:
        """The visits that are non-drug therapy sessions (``therapy_session = true``).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> [v.code for v in load_protocol("oslo-mdma-mdd").therapy_sessions()][:4]
        ['V1', 'V2', 'V4', 'V6']
        """
        return tuple(v for v in self.visits if v.therapy_session)

    def nominal_days(self) -> dict[str, int | None]:
        """Each visit's planned day relative to the reference (baseline) visit.

        Follows the anchor chain with every visit on its target; ``None`` for a visit whose
        chain does not meet the reference visit's chain (a different root event).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> days = load_protocol("oslo-mdma-mdd").nominal_days()
        >>> days["V4"], days["FU7"]
        (0, 210)
        """
        offsets: dict[str, tuple[str, int]] = {}
        by_code = {v.code: v for v in self.visits}

        def resolve(code: str, seen: frozenset[str]) -> tuple[str, int] | None:
            if code in offsets:
                return offsets[code]
            visit = by_code.get(code)
            if visit is None or code in seen:
                return None
            if visit.anchor in by_code:
                parent = resolve(visit.anchor, seen | {code})
                if parent is None:
                    return None
                result = (parent[0], parent[1] + visit.target_day)
            else:
                result = (visit.anchor, visit.target_day)
            offsets[code] = result
            return result

        ref = resolve(self.study.reference_visit, frozenset())
        days: dict[str, int | None] = {}
        for v in self.visits:
            r = resolve(v.code, frozenset())
            days[v.code] = None if r is None or ref is None or r[0] != ref[0] else r[1] - ref[1]
        return days

    def with_text(self, text: str, source: str) -> Protocol:
        """A copy that remembers the text and source it was read from (used by the loader)."""
        copy = self.model_copy()
        copy._text = text
        copy._source = source
        return copy
