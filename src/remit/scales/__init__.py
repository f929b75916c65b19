"""Rating scales as data (``definitions/*.toml``) and one generic scoring engine.

Examples
--------
>>> from remit.scales import list_scales, score
>>> "madrs" in list_scales()
True
>>> score("gad7", {"1": 3, "2": 3, "3": 2, "4": 2, "5": 1, "6": 1, "7": 0}).band
'moderate'
"""

from remit.scales.answers import (
    contradictions,
    normalise_answer,
    skipped_items,
    undecided_items,
    validate_answers,
)
from remit.scales.build import PROBLEM_CODES
from remit.scales.engine import ScoreResult, score
from remit.scales.loader import (
    SCALES_PATH_ENV,
    apply_wording,
    builtin_scales,
    check_scale,
    check_scale_text,
    list_scales,
    load_scale,
    load_scale_file,
    load_wording,
    parse_scale,
    scale_source,
    total_parts,
    trial_scales,
    trial_scales_key,
    use_trial_scales,
    user_scale_dirs,
)
from remit.scales.model import (
    Band,
    Bin,
    Condition,
    DerivedDefinition,
    ItemDefinition,
    MissingRule,
    SafetyDeclaration,
    ScaleDefinition,
    SubscaleDefinition,
    TotalDefinition,
)
from remit.scales.ranges import ValueRange, answer_range, field_range
from remit.scales.rules import RULES, Rule, RuleContext, get_rule

__all__ = [
    "PROBLEM_CODES",
    "RULES",
    "SCALES_PATH_ENV",
    "Band",
    "Bin",
    "Condition",
    "DerivedDefinition",
    "ItemDefinition",
    "MissingRule",
    "Rule",
    "RuleContext",
    "SafetyDeclaration",
    "ScaleDefinition",
    "ScoreResult",
    "SubscaleDefinition",
    "TotalDefinition",
    "ValueRange",
    "answer_range",
    "apply_wording",
    "builtin_scales",
    "check_scale",
    "check_scale_text",
    "contradictions",
    "field_range",
    "get_rule",
    "list_scales",
    "load_scale",
    "load_scale_file",
    "load_wording",
    "normalise_answer",
    "parse_scale",
    "scale_source",
    "score",
    "skipped_items",
    "total_parts",
    "trial_scales",
    "trial_scales_key",
    "undecided_items",
    "use_trial_scales",
    "user_scale_dirs",
    "validate_answers",
]
