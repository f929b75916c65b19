"""The protocol of a trial as data: frozen pydantic models read from a TOML file.

The models check the *shape* of a protocol (keys, types, allowed words). Checks that need the
whole protocol (anchors, windows, references to visits and scales) live in
:mod:`remit.protocol.check`, so that every problem gets its own stable code.

Every value the study did not publish carries an ``assumption`` note in the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from remit.errors import NotFoundError

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
VitalSign = Literal[
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "temperature",
    "respiratory_rate",
    "oxygen_saturation",
]
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
FORMAT_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- study and arms


class Site(_Model):
    """A site that enrols participants."""

    code: str
    name: str
    country: str | None = None


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


class Randomisation(_Model):
    """How participants are allocated to arms (the ratio is each arm's ``ratio``)."""

    method: Literal["permuted_block", "simple", "minimisation"] = "permuted_block"
    block_sizes: tuple[int, ...] = ()
    stratification: tuple[str, ...] = ()
    concealment: str = ""
    assumption: str | None = None


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


# --------------------------------------------------------------------------- dosing


class ArmDose(_Model):
    """What one arm receives at a dosing session (placebo: ``initial_mg = 0``)."""

    substance: str
    initial_mg: float = Field(ge=0)
    supplemental_mg: float = Field(ge=0)
    description: str = ""


class VitalThreshold(_Model):
    """Limits for one vital sign: a reading above ``high`` or below ``low`` raises an alert."""

    high: float | None = None
    low: float | None = None
    unit: str
    assumption: str | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> VitalThreshold:
        if self.high is None and self.low is None:
            raise ValueError("give a high limit, a low limit or both")
        return self

    def breached(self, value: float) -> bool:
        """Whether ``value`` lies beyond a limit (strictly above high or below low).

        Examples
        --------
        >>> limit = VitalThreshold(high=160, unit="mmHg")
        >>> limit.breached(160), limit.breached(161)
        (False, True)
        """
        return (self.high is not None and value > self.high) or (
            self.low is not None and value < self.low
        )


class Vitals(_Model):
    """When vital signs are taken during a dosing session and what limits apply.

    Readings are taken before the dose (when ``pre_dose``) and every ``every_min`` minutes
    after the initial dose up to ``until_min``.
    """

    pre_dose: bool = True
    every_min: int = Field(gt=0)
    until_min: int = Field(gt=0)
    thresholds: dict[VitalSign, VitalThreshold] = Field(default_factory=dict)

    def timepoints_min(self) -> tuple[int, ...]:
        """Minutes after the initial dose at which readings are due (pre-dose not included).

        Examples
        --------
        >>> Vitals(every_min=60, until_min=240).timepoints_min()
        (60, 120, 180, 240)
        """
        return tuple(range(self.every_min, self.until_min + 1, self.every_min))


class DosingSession(_Model):
    """A drug-assisted session: doses, the supplemental-dose window, vitals, VAS timepoints.

    ``substance``, ``initial_mg`` and ``supplemental_mg`` apply to every arm unless
    ``arm_doses`` gives an arm its own (e.g. a placebo arm).
    """

    visit: str
    number: int = Field(ge=1)
    substance: str
    initial_mg: float = Field(ge=0)
    supplemental_mg: float = Field(ge=0)
    supplemental_offer_min: tuple[int, int]
    supplemental_may_be_withheld: bool = True
    max_total_mg: float = Field(gt=0)
    duration_h: float = Field(gt=0)
    vitals: Vitals
    vas_timepoints: tuple[str, ...] = ()
    arm_doses: dict[str, ArmDose] = Field(default_factory=dict)
    assumption: str | None = None

    def dose_for(self, arm: str | None = None) -> ArmDose:
        """The dose ``arm`` receives (the session's own dose when the arm has none of its own).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("oslo-mdma-mdd").dosing_session("V9").dose_for("MDMA").initial_mg
        120.0
        """
        if arm is not None and arm in self.arm_doses:
            return self.arm_doses[arm]
        return ArmDose(
            substance=self.substance,
            initial_mg=self.initial_mg,
            supplemental_mg=self.supplemental_mg,
        )


# --------------------------------------------------------------------------- eligibility


class Criterion(_Model):
    """A checkable eligibility rule on one screening field.

    An inclusion criterion is satisfied when ``field op value`` holds; an exclusion criterion
    when it does not (e.g. ``{field = "psychosis", op = "==", value = true}`` excludes).
    """

    id: str
    kind: Literal["inclusion", "exclusion"]
    field: str
    op: Op
    value: Scalar | tuple[Scalar, ...]
    text: str
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


class Eligibility(_Model):
    """The eligibility criteria, checked on screening data by ``evaluate_eligibility``."""

    criteria: tuple[Criterion, ...] = ()


# --------------------------------------------------------------------------- endpoints


_VISIT_FIELDS = ("baseline_visit", "from_visit", "visit", "to_visit", "visits")


class _References(_Model):
    """What an endpoint or analysis refers to, read from its fields by name."""

    def visit_refs(self) -> tuple[str, ...]:
        """Every visit code referred to (baseline, from, visit, to, then the visit list)."""
        return _collect(self, _VISIT_FIELDS)

    def scale_refs(self) -> tuple[str, ...]:
        """Every scale code referred to."""
        return _collect(self, ("scale", "scales"))

    def endpoint_refs(self) -> tuple[str, ...]:
        """Every endpoint id referred to."""
        return _collect(self, ("endpoints",))


def _collect(model: BaseModel, names: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for name in names:
        value = getattr(model, name, None)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(str(v) for v in value)
    return tuple(found)


class _Endpoint(_References):
    id: str
    label: str
    role: Role
    scale: str
    assumption: str | None = None

    @property
    def definition(self) -> str:
        """The endpoint in words, generated from its parameters."""
        raise NotImplementedError  # pragma: no cover - each kind defines it


def _visits_words(visits: tuple[str, ...]) -> str:
    if len(visits) == 1:
        return visits[0]
    return ", ".join(visits[:-1]) + " and " + visits[-1]


class ChangeEndpoint(_Endpoint):
    """Change of the scale total from one visit to another (``to`` minus ``from``).

    Examples
    --------
    >>> e = ChangeEndpoint(id="c", kind="change", label="Change", role="primary",
    ...                    scale="madrs", from_visit="V3", to_visit="V13")
    >>> e.definition, e.visit_refs()
    ('change in madrs total from V3 to V13 (V13 minus V3)', ('V3', 'V13'))
    """

    kind: Literal["change"]
    from_visit: str
    to_visit: str

    @property
    def definition(self) -> str:
        """The endpoint in words."""
        return (
            f"change in {self.scale} total from {self.from_visit} to {self.to_visit} "
            f"({self.to_visit} minus {self.from_visit})"
        )


class ResponseEndpoint(_Endpoint):
    """Response: the total fell by at least ``min_reduction_pct`` percent from baseline."""

    kind: Literal["response"]
    baseline_visit: str
    visits: tuple[str, ...] = Field(min_length=1)
    min_reduction_pct: float = Field(default=50.0, gt=0, le=100)

    @property
    def definition(self) -> str:
        """The endpoint in words."""
        return (
            f"response at {_visits_words(self.visits)} (each visit on its own): {self.scale} "
            f"total reduced by at least {self.min_reduction_pct:g}% from {self.baseline_visit}"
        )


class RemissionEndpoint(_Endpoint):
    """Remission: the total at a visit is at most ``max_total``."""

    kind: Literal["remission"]
    visits: tuple[str, ...] = Field(min_length=1)
    max_total: float

    @property
    def definition(self) -> str:
        """The endpoint in words."""
        return (
            f"remission at {_visits_words(self.visits)} (each visit on its own): "
            f"{self.scale} total ≤ {self.max_total:g}"
        )


class RelapseEndpoint(_Endpoint):
    """Relapse: in remission at ``from_visit`` and no longer in remission at ``to_visit``.

    Examples
    --------
    >>> e = RelapseEndpoint(id="r", kind="relapse", label="Relapse", role="secondary",
    ...                     scale="madrs", from_visit="V13", to_visit="FU7", max_total=10)
    >>> e.definition.split(";")[0]
    'relapse: in remission at V13 (madrs total ≤ 10) and no longer in remission at FU7 (total > 10)'
    """

    kind: Literal["relapse"]
    from_visit: str
    to_visit: str
    max_total: float

    @property
    def definition(self) -> str:
        """The endpoint in words."""
        return (
            f"relapse: in remission at {self.from_visit} ({self.scale} total ≤ "
            f"{self.max_total:g}) and no longer in remission at {self.to_visit} "
            f"(total > {self.max_total:g}); only remitters at {self.from_visit} count"
        )


class SustainedResponseEndpoint(_Endpoint):
    """Sustained response: a responder at every one of ``visits``."""

    kind: Literal["sustained_response"]
    baseline_visit: str
    visits: tuple[str, ...] = Field(min_length=2)
    min_reduction_pct: float = Field(default=50.0, gt=0, le=100)

    @property
    def definition(self) -> str:
        """The endpoint in words."""
        return (
            f"sustained response: {self.scale} total reduced by at least "
            f"{self.min_reduction_pct:g}% from {self.baseline_visit} at every one of "
            f"{_visits_words(self.visits)}"
        )


Endpoint = Annotated[
    ChangeEndpoint
    | ResponseEndpoint
    | RemissionEndpoint
    | RelapseEndpoint
    | SustainedResponseEndpoint,
    Field(discriminator="kind"),
]
BINARY_ENDPOINT_KINDS: tuple[str, ...] = ("response", "remission", "relapse", "sustained_response")


# --------------------------------------------------------------------------- analysis plan


class _Analysis(_References):
    id: str
    label: str
    assumption: str | None = None


class DescriptiveAnalysis(_Analysis):
    """Summary statistics of each scale total at each visit."""

    kind: Literal["descriptive"]
    scales: tuple[str, ...] = Field(min_length=1)
    visits: tuple[str, ...] = Field(min_length=1)
    statistics: tuple[Literal["n", "mean", "sd", "median", "iqr", "min", "max", "se"], ...] = (
        "n",
        "mean",
        "sd",
        "median",
        "iqr",
        "min",
        "max",
    )


class WilcoxonAnalysis(_Analysis):
    """Two-sided Wilcoxon signed-rank test of each visit against the baseline visit.

    ``method`` ``"auto"`` uses the exact distribution when there are no ties or zeros and
    the normal approximation otherwise; the result says which one gave the p-value.
    """

    kind: Literal["wilcoxon"]
    scales: tuple[str, ...] = Field(min_length=1)
    baseline_visit: str
    visits: tuple[str, ...] = Field(min_length=1)
    alternative: Literal["two-sided", "less", "greater"] = "two-sided"
    method: Literal["auto", "exact", "approx"] = "auto"
    zero_method: Literal["wilcox", "pratt", "zsplit"] = "wilcox"
    correction: bool = False


class MMRMAnalysis(_Analysis):
    """Mixed model for repeated measures over ``visits``.

    ``formula`` is the right-hand side in the canonical column names (``visit``, ``arm``,
    ``baseline``); ``outcome`` ``"value"`` models the total itself (baseline visit included),
    ``"change"`` the change from ``baseline_visit``.
    """

    kind: Literal["mmrm"]
    scales: tuple[str, ...] = Field(min_length=1)
    visits: tuple[str, ...] = Field(min_length=2)
    baseline_visit: str
    outcome: Literal["value", "change"] = "value"
    formula: str = "visit"
    covariance: Literal["us", "cs", "csh", "ar1", "ar1h", "toep", "toeph", "adh"] = "us"
    df_method: Literal["satterthwaite", "kenward_roger", "kenward_roger_linear", "residual"] = (
        "satterthwaite"
    )
    reml: bool = True
    contrasts: tuple[Literal["visit_vs_baseline", "arm_by_visit"], ...] = ("visit_vs_baseline",)

    @model_validator(mode="after")
    def _formula_terms(self) -> MMRMAnalysis:
        terms = [t for t in re.split(r"[\s+*:()]+", self.formula) if t]
        unknown = [t for t in terms if t not in MMRM_TERMS]
        if unknown or not terms:
            raise ValueError(
                f"formula {self.formula!r} uses {', '.join(map(repr, unknown)) or 'no term'}; "
                f"write it with {', '.join(MMRM_TERMS)} joined by +, * or :"
            )
        return self


class EffectSizeAnalysis(_Analysis):
    """Standardised within-subject change from baseline (d_z with an exact CI, d_av, g_z)."""

    kind: Literal["effect_size"]
    scales: tuple[str, ...] = Field(min_length=1)
    baseline_visit: str
    visits: tuple[str, ...] = Field(min_length=1)
    measures: tuple[Literal["d_z", "d_av", "g_z", "g_av"], ...] = ("d_z",)
    ci_method: Literal["noncentral_t"] = "noncentral_t"


class ProportionAnalysis(_Analysis):
    """Counts and proportions of binary endpoints with named confidence intervals."""

    kind: Literal["proportion"]
    endpoints: tuple[str, ...] = Field(min_length=1)
    ci_methods: tuple[Literal["clopper_pearson", "wilson"], ...] = ("clopper_pearson", "wilson")


class McNemarAnalysis(_Analysis):
    """Change of a binary status between two visits within the same people (McNemar)."""

    kind: Literal["mcnemar"]
    endpoints: tuple[str, ...] = Field(min_length=1)
    from_visit: str
    to_visit: str
    method: Literal["exact", "asymptotic"] = "exact"


class RTMAnalysis(_Analysis):
    """Expected regression to the mean, (1 − ρ)(selected mean − population mean), as a range.

    ``reliability`` is the (lowest, highest) test–retest reliability ρ to consider;
    ``population_means`` the population means of the scale to consider.
    """

    kind: Literal["rtm"]
    scale: str
    visit: str
    reliability: tuple[float, float]
    population_means: tuple[float, ...] = Field(min_length=1)
    entry_cutoff: float | None = None

    @model_validator(mode="after")
    def _reliability_range(self) -> RTMAnalysis:
        low, high = self.reliability
        if not (0 <= low <= high <= 1):
            raise ValueError("reliability must be [low, high] with 0 ≤ low ≤ high ≤ 1")
        return self


class SafetyAnalysis(_Analysis):
    """Safety tables: adverse events, suicidality, vital signs."""

    kind: Literal["safety"]
    tables: tuple[
        Literal[
            "adverse_events",
            "serious_adverse_events",
            "cssrs",
            "vitals",
            "madrs_item10",
            "alerts",
        ],
        ...,
    ] = Field(min_length=1)


Analysis = Annotated[
    DescriptiveAnalysis
    | WilcoxonAnalysis
    | MMRMAnalysis
    | EffectSizeAnalysis
    | ProportionAnalysis
    | McNemarAnalysis
    | RTMAnalysis
    | SafetyAnalysis,
    Field(discriminator="kind"),
]


class AnalysisPlan(_Model):
    """The statistical analysis plan: conventions and the ordered list of analyses."""

    alpha: float = Field(default=0.05, gt=0, lt=1)
    sides: Literal[1, 2] = 2
    ci_level: float = Field(default=0.95, gt=0, lt=1)
    missing_data: str = ""
    analyses: tuple[Analysis, ...] = ()


# --------------------------------------------------------------------------- safety


class SafetyRule(_Model):
    """One row of the safety table: when a scale answer or score calls for a response.

    Exactly one of ``item`` (item number or code) and ``field`` (a scored value of the scale,
    e.g. ``total`` or ``ideation_type``) is given. With ``compare_to = "baseline"`` the
    comparison is made on the difference from the participant's baseline value.
    """

    id: str
    scale: str
    item: int | str | None = None
    field: str | None = None
    versions: tuple[str, ...] = ()
    op: CompareOp
    value: float | bool
    compare_to: Literal["baseline"] | None = None
    level: Level
    text: str
    assumption: str | None = None

    @model_validator(mode="after")
    def _item_or_field(self) -> SafetyRule:
        if (self.item is None) == (self.field is None):
            raise ValueError("give exactly one of 'item' and 'field'")
        return self


class VitalsRule(_Model):
    """The alert raised when a vital sign crosses its dosing session's threshold."""

    level: Level
    text: str
    assumption: str | None = None


class SAEClock(_Model):
    """How soon a serious adverse event must be reported, and to whom."""

    report_within_h: float = Field(gt=0)
    report_to: str
    level: Level = "immediate"
    text: str
    assumption: str | None = None


class Safety(_Model):
    """The safety table: scale rules, the vital-sign rule, the SAE clock."""

    rules: tuple[SafetyRule, ...] = ()
    vitals: VitalsRule | None = None
    sae: SAEClock | None = None


# --------------------------------------------------------------------------- protocol


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
    events: tuple[Event, ...] = ()
    visits: tuple[Visit, ...] = Field(min_length=1)
    dosing: tuple[DosingSession, ...] = ()
    eligibility: Eligibility = Field(default_factory=Eligibility)
    endpoints: tuple[Endpoint, ...] = ()
    analysis: AnalysisPlan = Field(default_factory=AnalysisPlan)
    safety: Safety = Field(default_factory=Safety)

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

    def visit(self, code: str) -> Visit:
        """The visit called ``code``; :class:`NotFoundError` if there is none.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> v = load_protocol("oslo-mdma-mdd").visit("FU7")
        >>> v.anchor, v.target_day, v.window
        ('V4', 210, (-14, 14))
        """
        for v in self.visits:
            if v.code == code:
                return v
        raise NotFoundError(
            f"visit {code!r} is not in protocol {self.study.id}",
            expected="one of " + ", ".join(self.visit_codes),
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
        """Vital-sign limits in force at ``visit_code`` (empty when no session is held there).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("oslo-mdma-mdd").vital_thresholds("V5")["temperature"].high
        38.0
        """
        session = self.dosing_session(visit_code)
        return {} if session is None else {str(k): v for k, v in session.vitals.thresholds.items()}

    def arm(self, code: str) -> Arm:
        """The arm called ``code``; :class:`NotFoundError` if there is none.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("mdma-mdd-rct-example").arm("PLACEBO").label
        'Placebo with the same therapy'
        """
        for a in self.arms:
            if a.code == code:
                return a
        raise NotFoundError(
            f"arm {code!r} is not in protocol {self.study.id}",
            expected="one of " + ", ".join(a.code for a in self.arms),
        )

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
        for e in self.endpoints:
            if e.id == id:
                return e
        raise NotFoundError(
            f"endpoint {id!r} is not in protocol {self.study.id}",
            expected="one of " + ", ".join(e.id for e in self.endpoints),
        )

    def allocation_ratio(self) -> dict[str, int]:
        """The planned allocation ratio, arm code → share (e.g. 1:1).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("mdma-mdd-rct-example").allocation_ratio()
        {'MDMA': 1, 'PLACEBO': 1}
        """
        return {a.code: a.ratio for a in self.arms}

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
