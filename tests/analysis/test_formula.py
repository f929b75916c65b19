"""One formula parser: the MMRM section reads the plan's formula as the fit does, so every
spelling of a model that names ``arm`` compares the arms (``visit+arm`` used to drop it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from remit.analysis import AnalysisResult, MMRMSectionResult, TrialData, run_analysis_plan
from remit.protocol import formula_variables as protocol_variables
from remit.protocol import protocol_from_text, read_protocol_source
from remit.stats.mmrm import formula_variables as stats_variables

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
RCT_FORMULA = 'formula = "baseline + arm * visit"'

#: Spellings of the same interaction model (arm, visit and arm × visit, with baseline).
INTERACTION = (
    "baseline + arm * visit",
    "baseline+arm*visit",
    "visit*arm + baseline",
    "baseline + arm:visit + arm + visit",
    "(arm + visit)**2 + baseline",
)
#: Spellings of the additive model (no interaction).
ADDITIVE = ("baseline + visit+arm", "arm+visit+baseline", "baseline + (visit + arm)")


def _rct_with(formula: str) -> object:
    text = read_protocol_source("mdma-mdd-rct-example")[0]
    assert text.count(RCT_FORMULA) == 1
    return protocol_from_text(text.replace(RCT_FORMULA, f'formula = "{formula}"'))


@pytest.fixture(scope="module")
def two_arm_data(trial: TrialData) -> TrialData:
    arm = {p: ("MDMA" if i < 6 else "PLACEBO") for i, p in enumerate(trial.enrolled_ids)}
    people = trial.participants.assign(arm=trial.participants["participant_id"].map(arm))
    scores = trial.scores.assign(visit_code=trial.scores["visit_code"].replace({"V13": "V17"}))
    return TrialData(**{**trial.frames(), "participants": people, "scores": scores})


def _mmrm(data: TrialData, formula: str) -> MMRMSectionResult:
    result: AnalysisResult = run_analysis_plan(data, _rct_with(formula), now=NOW)  # type: ignore[arg-type]
    section = result.first(MMRMSectionResult)
    assert section is not None
    return section


def _numbers(section: MMRMSectionResult) -> pd.DataFrame:
    assert section.arm_differences is not None, section.notes
    cols = ["scale", "visit", "contrast", "estimate", "se", "df", "p", "ci_low", "ci_high"]
    return section.arm_differences[cols].reset_index(drop=True)


def test_every_spelling_of_the_interaction_model_gives_the_same_arm_comparison(
    two_arm_data: TrialData,
) -> None:
    # the fit is iterative and the columns of X come in another order per spelling: equal to
    # the optimiser's tolerance, not to the last bit
    first = _numbers(_mmrm(two_arm_data, INTERACTION[0]))
    assert set(first["visit"]) == {"V17", "FU7"}
    for formula in INTERACTION[1:]:
        pd.testing.assert_frame_equal(_numbers(_mmrm(two_arm_data, formula)), first, rtol=1e-6)


def test_visit_plus_arm_compares_the_arms(two_arm_data: TrialData) -> None:
    """``visit+arm`` (no spaces) used to be read as no arm term: no comparison, no note."""
    sections = [_mmrm(two_arm_data, f) for f in ADDITIVE]
    first = _numbers(sections[0])
    assert set(sections[0].lsmeans["arm"]) == {"MDMA", "PLACEBO"}
    assert not any("arm_by_visit" in n for n in sections[0].notes)
    for s in sections[1:]:
        pd.testing.assert_frame_equal(_numbers(s), first, rtol=1e-6)
    # the additive model has one arm effect: the same difference at every visit
    for _scale, rows in first.groupby("scale"):
        assert rows["estimate"].nunique() == 1 or rows["estimate"].std() < 1e-9


@pytest.mark.parametrize(
    "formula",
    [
        "visit",
        "visit+arm",
        "arm * visit",
        "visit*arm",
        "arm:visit + arm + visit",
        "baseline + arm * visit",
        "baseline+arm*visit",
        "(arm + visit)**2",
        "(arm+visit)*baseline",
        "baseline:visit + visit",
        "visit + 1",
        "0 + visit + arm",
        "  visit  ",
        "visit + visit",
        "arm:baseline:visit",
    ],
)
def test_protocol_reads_a_formula_as_the_stats_parser_does(formula: str) -> None:
    assert protocol_variables(formula) == stats_variables(formula)
    assert protocol_variables(formula) == stats_variables(f"value ~ {formula}")


@pytest.mark.parametrize(
    "formula", ["visit - 1", "C(visit)", "log(baseline) + visit", "visit ~ arm"]
)
def test_the_plan_refuses_what_it_cannot_read_the_same_way(formula: str) -> None:
    with pytest.raises(Exception, match="formula"):
        _rct_with(formula)
