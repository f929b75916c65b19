"""The statistical analysis plan of a protocol: endpoints and analyses."""

from __future__ import annotations

import re
import warnings
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from remit.protocol._base import _Model
from remit.protocol.vocab import (
    DF_METHODS,
    MMRM_TERMS,
    PROPORTION_CI_METHODS,
    Alternative,
    DfMethod,
    EffectSizeMeasure,
    EndpointRole,
    ProportionCiMethod,
    RbmiStrategy,
)

# --------------------------------------------------------------------------- endpoints


_VISIT_FIELDS = ("baseline_visit", "from_visit", "visit", "to_visit", "visits")


class _References(_Model):
    """What an endpoint or analysis refers to, read from its fields by name.

    ``own_baseline = true`` lets its ``baseline_visit`` differ from the protocol's baseline of
    the scale (``[baseline]``); otherwise the protocol check flags the difference (``P026``).
    """

    own_baseline: bool = False

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
    role: EndpointRole
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


#: Every endpoint kind a protocol may declare, in one place. :data:`Endpoint` is their union
#: (spelt out for the type checker; ``tests/analysis/test_families.py`` checks it equals this
#: tuple) and ``remit.analysis.endpoints.DERIVERS`` derives each one.
ENDPOINT_KINDS = (
    ChangeEndpoint,
    ResponseEndpoint,
    RemissionEndpoint,
    RelapseEndpoint,
    SustainedResponseEndpoint,
)
Endpoint = Annotated[
    ChangeEndpoint
    | ResponseEndpoint
    | RemissionEndpoint
    | RelapseEndpoint
    | SustainedResponseEndpoint,
    Field(discriminator="kind"),
]
#: The kinds whose value is a yes/no status (every kind but change), read off the classes.
BINARY_ENDPOINT_KINDS: tuple[str, ...] = tuple(
    get_args(cls.model_fields["kind"].annotation)[0]
    for cls in ENDPOINT_KINDS
    if cls is not ChangeEndpoint
)


# --------------------------------------------------------------------------- analysis plan

_FORMULA_CHARACTERS = re.compile(r"[A-Za-z0-9_.\s+*:()]*")
_FORMULA_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def formula_variables(rhs: str) -> tuple[str, ...]:
    """The variables the right-hand side of a model formula names, sorted, each once.

    Terms are joined by ``+``, ``*`` and ``:`` (brackets allowed); spacing does not matter.
    This reads a formula exactly as the MMRM fit does
    (:func:`remit.stats.mmrm.formula_variables`, which the protocol layer may not import):
    ``tests/analysis/test_formula.py`` checks the two agree on every formula a plan may use.

    Examples
    --------
    >>> formula_variables("visit+arm"), formula_variables("arm:visit + arm + visit")
    (('arm', 'visit'), ('arm', 'visit'))
    """
    return tuple(sorted(set(_FORMULA_WORD.findall(rhs))))


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
    alternative: Alternative = "two-sided"
    method: Literal["auto", "exact", "approx"] = "auto"
    zero_method: Literal["wilcox", "pratt", "zsplit"] = "wilcox"
    correction: bool = False


def _hyphens(
    field: str, words: tuple[str, ...], where: str = "the spelling of remit.stats"
) -> BeforeValidator:
    """Read a word of ``words`` (or each word of a list) written with underscores for hyphens
    (the spelling of protocol files before issue 10) as its hyphenated form, with a warning:
    protocols kept in a trial's database must still load. No other spelling is accepted."""

    def read(value: object) -> object:
        if isinstance(value, list | tuple):
            return [read(v) for v in value]
        if isinstance(value, str) and "_" in value and value.replace("_", "-") in words:
            hyphenated = value.replace("_", "-")
            warnings.warn(
                f"{field} {value!r} is deprecated and read as {hyphenated!r}; write "
                f"{hyphenated!r} in the protocol file ({where})",
                FutureWarning,
                stacklevel=2,
            )
            return hyphenated
        return value

    return BeforeValidator(read)


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
    df_method: Annotated[
        DfMethod, _hyphens("df_method", DF_METHODS, "the spelling of `remit stats mmrm --df`")
    ] = "satterthwaite"
    reml: bool = True
    contrasts: tuple[Literal["visit_vs_baseline", "arm_by_visit"], ...] = ("visit_vs_baseline",)

    @property
    def variables(self) -> tuple[str, ...]:
        """The variables the formula names, sorted (see :func:`formula_variables`)."""
        return formula_variables(self.formula)

    @model_validator(mode="after")
    def _formula_terms(self) -> MMRMAnalysis:
        terms = formula_variables(self.formula)
        unknown = [t for t in terms if t not in MMRM_TERMS]
        if not _FORMULA_CHARACTERS.fullmatch(self.formula):
            unknown.append(self.formula)
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
    measures: tuple[EffectSizeMeasure, ...] = ("d_z",)
    ci_method: Annotated[Literal["noncentral-t"], _hyphens("ci_method", ("noncentral-t",))] = (
        "noncentral-t"
    )


class ProportionAnalysis(_Analysis):
    """Counts and proportions of binary endpoints with named confidence intervals."""

    kind: Literal["proportion"]
    endpoints: tuple[str, ...] = Field(min_length=1)
    ci_methods: Annotated[
        tuple[ProportionCiMethod, ...], _hyphens("ci_method", PROPORTION_CI_METHODS)
    ] = PROPORTION_CI_METHODS


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


SafetyTable = Literal[
    "adverse_events",
    "serious_adverse_events",
    "cssrs",
    "cssrs_behaviour",
    "vitals",
    "madrs_item10",
    "alerts",
    "dose_stops",
    "deviations",
]
#: Every safety table a safety analysis may list, in the order the tables are reported
#: (``remit.analysis.safety_section.SAFETY_TABLE_KINDS`` builds each one).
SAFETY_TABLES: tuple[str, ...] = get_args(SafetyTable)


class SafetyAnalysis(_Analysis):
    """Safety tables: adverse events, suicidality, vital signs, alerts, dose stops,
    deviations."""

    kind: Literal["safety"]
    tables: tuple[SafetyTable, ...] = Field(min_length=1)


class TimeToEventAnalysis(_Analysis):
    """Kaplan–Meier estimate of the time to an event, for relapse endpoints.

    For each relapse endpoint of ``endpoints`` the participants at risk (in remission at its
    ``from_visit``) are followed over the visits up to its ``to_visit``: the time is the days
    from the ``from_visit`` assessment to the first visit out of remission (an event) or to
    the last visit observed (censored). The estimate reported is the proportion still free of
    the event at ``to_visit`` with a pointwise interval (``ci_method``, Greenwood variance).

    Examples
    --------
    >>> a = TimeToEventAnalysis(id="km", kind="time_to_event", label="Time to relapse",
    ...                         endpoints=("madrs_relapse",))
    >>> a.endpoint_refs(), a.ci_method
    (('madrs_relapse',), 'log-log')
    """

    kind: Literal["time_to_event"]
    endpoints: tuple[str, ...] = Field(min_length=1)
    ci_method: Literal["log-log", "log", "plain"] = "log-log"


class LMMAnalysis(_Analysis):
    """Linear mixed model with a random intercept and slope per participant (sensitivity).

    The fixed effects are the visit means (``visit`` as a factor, ``baseline_visit`` the
    reference level), as in the MMRM; the within-participant correlation is modelled by a
    random intercept and, if ``random_slope``, a correlated random slope on ``time``
    (``study_week``: study day / 7; ``visit_number``: the visit's position in the schedule)
    instead of an unstructured covariance. Fixed effects get Satterthwaite degrees of freedom.

    Examples
    --------
    >>> a = LMMAnalysis(id="lmm", kind="lmm", label="LMM", scales=("madrs",),
    ...                 visits=("V3", "V13", "FU7"), baseline_visit="V3")
    >>> a.visit_refs(), a.time, a.random_slope
    (('V3', 'V3', 'V13', 'FU7'), 'study_week', True)
    """

    kind: Literal["lmm"]
    scales: tuple[str, ...] = Field(min_length=1)
    visits: tuple[str, ...] = Field(min_length=2)
    baseline_visit: str
    time: Literal["study_week", "visit_number"] = "study_week"
    random_slope: bool = True
    reml: bool = True


class RbmiAnalysis(_Analysis):
    """Reference-based imputation of a change from baseline (R's rbmi), per visit, with an
    optional tipping-point grid: the sensitivity analyses of an estimand.

    The imputation model is an MMRM (unstructured Σ, ``arm*visit + baseline*visit``; one arm:
    ``visit + baseline*visit``) of the ``visits`` after ``baseline_visit``; missing values
    after a participant's last observed visit follow ``strategy`` (``mar``, ``j2r`` jump to
    reference, ``cr`` copy reference, ``cir`` copy increments in reference; the last three
    need ``reference``, the control arm) plus ``delta``. ``method`` ``condmean`` is conditional
    mean imputation with ``resampling`` jackknife or bootstrap; ``bayes`` approximate-Bayesian
    multiple imputation with ``samples`` data sets and Rubin's rules. Bootstrap and bayes draw
    from ``seed``, which the plan must fix so that the result can be reproduced.

    ``tipping_deltas`` (tried in order, from 0 towards less benefit) adds the tipping-point
    analysis at ``tipping_visit`` (default: the last visit): the first delta whose confidence
    interval includes 0.

    Examples
    --------
    >>> a = RbmiAnalysis(id="j2r", kind="rbmi", label="J2R", scales=("madrs",),
    ...                  baseline_visit="V3", visits=("V13", "FU7"), strategy="j2r",
    ...                  reference="PLACEBO", method="bayes", seed=2024)
    >>> a.visit_refs(), a.samples
    (('V3', 'V13', 'FU7'), 200)
    """

    kind: Literal["rbmi"]
    scales: tuple[str, ...] = Field(min_length=1)
    baseline_visit: str
    visits: tuple[str, ...] = Field(min_length=1)
    strategy: RbmiStrategy = "mar"
    reference: str | None = None
    delta: float = 0.0
    method: Literal["condmean", "bayes"] = "condmean"
    resampling: Literal["jackknife", "bootstrap"] = "jackknife"
    samples: int = Field(default=200, ge=2, le=100_000)
    seed: int | None = Field(default=None, ge=0)
    tipping_deltas: tuple[float, ...] = ()
    tipping_visit: str | None = None

    @model_validator(mode="after")
    def _sound(self) -> RbmiAnalysis:
        if self.seed is None and (self.method == "bayes" or self.resampling == "bootstrap"):
            raise ValueError(
                f"method {self.method!r} with resampling {self.resampling!r} draws at random: "
                "give seed = <a whole number> so that the analysis can be reproduced"
            )
        if self.strategy != "mar" and self.reference is None:
            raise ValueError(
                f"strategy {self.strategy!r} needs reference = <the control arm's code>"
            )
        if self.tipping_visit is not None and self.tipping_visit not in self.visits:
            raise ValueError(
                f"tipping_visit {self.tipping_visit!r} is not one of visits {list(self.visits)}"
            )
        if self.baseline_visit in self.visits:
            raise ValueError(
                f"visits must be after baseline_visit {self.baseline_visit!r}, not include it"
            )
        return self


#: Every analysis kind a plan may hold, in one place. :data:`Analysis` is their union (spelt
#: out for the type checker; ``tests/analysis/test_families.py`` checks it equals this tuple);
#: ``remit.analysis.sections.RUNNERS`` runs each one and ``remit.reports.renderers.RENDERERS``
#: renders each one's result.
ANALYSIS_KINDS = (
    DescriptiveAnalysis,
    WilcoxonAnalysis,
    MMRMAnalysis,
    EffectSizeAnalysis,
    ProportionAnalysis,
    McNemarAnalysis,
    RTMAnalysis,
    SafetyAnalysis,
    TimeToEventAnalysis,
    LMMAnalysis,
    RbmiAnalysis,
)
Analysis = Annotated[
    DescriptiveAnalysis
    | WilcoxonAnalysis
    | MMRMAnalysis
    | EffectSizeAnalysis
    | ProportionAnalysis
    | McNemarAnalysis
    | RTMAnalysis
    | SafetyAnalysis
    | TimeToEventAnalysis
    | LMMAnalysis
    | RbmiAnalysis,
    Field(discriminator="kind"),
]


class AnalysisPlan(_Model):
    """The statistical analysis plan: conventions and the ordered list of analyses."""

    alpha: float = Field(default=0.05, gt=0, lt=1)
    sides: Literal[1, 2] = 2
    ci_level: float = Field(default=0.95, gt=0, lt=1)
    missing_data: str = ""
    analyses: tuple[Analysis, ...] = ()
