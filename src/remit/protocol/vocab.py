"""Words a protocol file may use: raters, visit kinds, criterion kinds, operators, alert
levels, endpoint roles, MMRM formula terms, df methods, proportion CI methods, alternative
hypotheses and effect-size measures. The last four mirror :mod:`remit.stats`, which the
protocol may not import: ``tests/protocol/test_vocabularies.py`` checks the df methods and
``tests/protocol/test_stats_mirrors.py`` the other three. ``VitalSign`` is re-exported from
:mod:`remit.protocol.vital_signs`, where the signs are declared.

Each vocabulary is declared once, as a ``Literal``; a tuple of its words, where code needs
one, is derived from it with :func:`typing.get_args`.

Examples
--------
>>> LEVELS[0], DF_METHODS[1]
('immediate', 'kenward-roger')
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args

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
CriterionKind = Literal["inclusion", "exclusion"]
Op = Literal[">=", "<=", ">", "<", "==", "!=", "in", "not_in", "between"]
CompareOp = Literal[">=", "<=", ">", "<", "==", "!="]
#: What each comparison word does, for safety rules, eligibility and the safety tables alike.
COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
Level = Literal["immediate", "urgent", "same_day", "review"]
EndpointRole = Literal["primary", "secondary", "exploratory"]
Scalar = bool | int | float | str

#: Alert levels, most pressing first.
LEVELS: tuple[Level, ...] = get_args(Level)

#: Terms an MMRM formula of the analysis plan may use (no Literal: a formula is free text).
MMRM_TERMS: tuple[str, ...] = ("visit", "arm", "baseline")

#: Denominator degrees-of-freedom methods of an MMRM. They mirror
#: :data:`remit.stats.mmrm.DfMethod` word for word (the protocol may not import the
#: statistics); ``tests/protocol/test_vocabularies.py`` checks that the two are equal.
DfMethod = Literal[
    "satterthwaite", "kenward-roger", "kenward-roger-linear", "residual", "between-within"
]
DF_METHODS: tuple[DfMethod, ...] = get_args(DfMethod)

#: Confidence-interval methods of a proportion the analysis plan may name: a subset of
#: :data:`remit.stats.proportion.CiMethod` (the two the report prints), spelled as there.
ProportionCiMethod = Literal["clopper-pearson", "wilson"]
PROPORTION_CI_METHODS: tuple[ProportionCiMethod, ...] = get_args(ProportionCiMethod)

#: Alternative hypotheses: :data:`remit.stats._tidy.Alternative` word for word.
Alternative = Literal["two-sided", "less", "greater"]

#: Paired effect sizes: :data:`remit.stats.effect_size.EffectSizeMeasure` word for word.
EffectSizeMeasure = Literal["d_z", "g_z", "d_av", "g_av"]

#: Imputation strategies of reference-based MI: :data:`remit.stats.rbmi.STRATEGIES` in lower
#: case (``tests/protocol/test_stats_mirrors.py`` checks them).
RbmiStrategy = Literal["mar", "j2r", "cr", "cir"]

#: ICH E9(R1) strategies for an intercurrent event.
IceStrategy = Literal[
    "treatment_policy", "hypothetical", "composite", "while_on_treatment", "principal_stratum"
]
ICE_STRATEGIES: tuple[IceStrategy, ...] = get_args(IceStrategy)

#: Population-level summaries of an estimand.
EstimandSummary = Literal[
    "mean",
    "difference_in_means",
    "proportion",
    "difference_in_proportions",
    "odds_ratio",
    "hazard_ratio",
]
