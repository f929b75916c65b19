"""The protocol's words for statistical methods mirror :mod:`remit.stats` (one spelling each).

The protocol may not import the statistics, so it repeats their ``Literal``; these tests keep
the two equal, or the protocol's a documented subset. Old protocol files that wrote a hyphenated
word with underscores still load, with a FutureWarning.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import get_args

import pytest

import remit.protocol.vocab as protocol_vocab
from remit.analysis.binary_sections import CI_NAMES, CI_SHORT, ci_column
from remit.errors import ProtocolError
from remit.protocol import (
    EffectSizeAnalysis,
    ProportionAnalysis,
    TimeToEventAnalysis,
    WilcoxonAnalysis,
    builtin_protocols,
    load_protocol,
    protocol_from_text,
)
from remit.stats import survival
from remit.stats._tidy import ALTERNATIVES, Alternative
from remit.stats.effect_size import EFFECT_SIZE_MEASURES, EffectSizeMeasure
from remit.stats.proportion import CI_METHODS, CiMethod, proportion_ci

ROOT = Path(__file__).resolve().parents[2]


def _field_words(model: type, name: str) -> tuple[str, ...]:
    annotation = model.model_fields[name].annotation  # type: ignore[attr-defined]
    args = get_args(annotation)
    if args and args[-1] is Ellipsis:  # tuple[Literal[...], ...]
        return get_args(args[0])
    return args


# --------------------------------------------------------------------------- proportion CIs


def test_the_protocol_proportion_ci_methods_are_a_subset_of_the_statistics_ones() -> None:
    words = get_args(protocol_vocab.ProportionCiMethod)
    assert words == protocol_vocab.PROPORTION_CI_METHODS
    assert get_args(CiMethod) == CI_METHODS
    assert set(words) <= set(CI_METHODS)
    assert _field_words(ProportionAnalysis, "ci_methods") == words
    assert list(proportion_ci(3, 10).to_frame()["ci_method"]) == list(CI_METHODS)


def test_every_protocol_ci_method_has_a_report_label_and_its_old_column_name() -> None:
    words = protocol_vocab.PROPORTION_CI_METHODS
    assert set(CI_SHORT) == set(CI_NAMES) == set(words)
    # the report's columns keep their names: clopper_pearson_low, wilson_low
    assert [ci_column(m) for m in words] == ["clopper_pearson", "wilson"]


def _with_ci_methods(words: str) -> str:
    text = load_protocol("oslo-mdma-mdd").text
    changed = text.replace('ci_methods = ["clopper-pearson", "wilson"]', f"ci_methods = {words}")
    assert changed != text
    return changed


def test_the_old_underscore_ci_method_still_loads_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="'clopper_pearson' is deprecated.*'clopper-pearson'"):
        protocol = protocol_from_text(_with_ci_methods('["clopper_pearson", "wilson"]'), "o.toml")
    (a,) = [a for a in protocol.analysis.analyses if isinstance(a, ProportionAnalysis)]
    assert a.ci_methods == ("clopper-pearson", "wilson")


@pytest.mark.parametrize("spelling", ["Clopper-Pearson", "cp", "jeffreys", "wilson_"])
def test_any_other_ci_method_spelling_is_refused(spelling: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ProtocolError, match="ci_methods"):
            protocol_from_text(_with_ci_methods(f'["{spelling}"]'), "o.toml")


def test_no_underscore_ci_method_is_left_in_the_sources() -> None:
    pattern = re.compile(r"""["'`](clopper_pearson|noncentral_t)["'`]""")
    found = []
    for path in [*(ROOT / "src").rglob("*.py"), *(ROOT / "src").rglob("*.toml")]:
        if path.name == "sap.py":
            continue
        found += [f"{path.relative_to(ROOT)}: {m}" for m in pattern.findall(path.read_text())]
    assert found == []


# --------------------------------------------------------------------------- other mirrors


def test_the_protocol_alternatives_are_the_statistics_alternatives() -> None:
    assert get_args(protocol_vocab.Alternative) == get_args(Alternative) == ALTERNATIVES
    assert _field_words(WilcoxonAnalysis, "alternative") == ALTERNATIVES


def test_the_protocol_effect_size_measures_are_the_statistics_measures() -> None:
    assert get_args(protocol_vocab.EffectSizeMeasure) == get_args(EffectSizeMeasure)
    assert _field_words(EffectSizeAnalysis, "measures") == EFFECT_SIZE_MEASURES


def test_the_effect_size_ci_method_is_the_statistics_d_z_method() -> None:
    assert _field_words(EffectSizeAnalysis, "ci_method") == ("noncentral-t",)
    with pytest.warns(FutureWarning, match="'noncentral_t' is deprecated"):
        a = EffectSizeAnalysis.model_validate(
            {
                "id": "es",
                "label": "Effect sizes",
                "kind": "effect_size",
                "scales": ["MADRS"],
                "baseline_visit": "V0",
                "visits": ["V1"],
                "ci_method": "noncentral_t",
            }
        )
    assert a.ci_method == "noncentral-t"


def test_the_protocol_survival_ci_methods_are_the_statistics_ones() -> None:
    assert _field_words(TimeToEventAnalysis, "ci_method") == survival.CI_METHODS


def test_the_wilcoxon_zero_method_the_statistics_lack_is_refused_by_the_analysis() -> None:
    # remit.stats drops zero differences (Wilcoxon's convention) and has no other; the
    # protocol keeps scipy's three words and the analysis refuses pratt/zsplit by name.
    assert _field_words(WilcoxonAnalysis, "zero_method") == ("wilcox", "pratt", "zsplit")


def test_every_builtin_protocol_loads_without_a_deprecation_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        for name in builtin_protocols():
            load_protocol(name)


def test_rbmi_strategies_mirror_the_statistics() -> None:
    from remit.protocol import RbmiAnalysis
    from remit.stats.rbmi import STRATEGIES

    assert get_args(protocol_vocab.RbmiStrategy) == tuple(s.lower() for s in STRATEGIES)
    assert _field_words(RbmiAnalysis, "strategy") == get_args(protocol_vocab.RbmiStrategy)
