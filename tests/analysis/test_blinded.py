"""The blinded (pooled) analysis of a randomised protocol: a blinded reader's data (every arm
masked) run the plan with both arms together, and the numbers equal a hand computation on six
made-up participants (the analysis examples' trial, on the RCT example's visits)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats as st

from remit.analysis import (
    BLINDED_ARM,
    POOLED_LABEL,
    AnalysisResult,
    ArmsConcealedError,
    MMRMSectionResult,
    TrialData,
    arms_concealed,
    pooled_protocol,
    run_analysis_plan,
)
from remit.analysis.examples import EXAMPLE_TOTALS, example_trial
from remit.protocol import load_protocol
from remit.protocol.sap import MMRMAnalysis, RbmiAnalysis
from remit.stats.mmrm import formula_without

RCT = load_protocol("mdma-mdd-rct-example")
#: the example trial's primary visit V13 is the RCT example's V17
VISITS = {"V3": 0, "V17": 1, "FU7": 2}


def blinded_trial(arms: list[str | None] | None = None) -> TrialData:
    """Six participants on the RCT visits; every arm masked unless ``arms`` are given; E2's
    blind broken in an emergency."""
    data = example_trial()
    people = data.participants
    people["arm"] = arms if arms is not None else BLINDED_ARM
    people["unblinded_at"] = [
        pd.Timestamp("2024-03-01", tz="UTC") if p == "E2" else None for p in people.participant_id
    ]
    data.scores["visit_code"] = data.scores["visit_code"].replace({"V13": "V17"})
    data.doses["dose_mg"] = math.nan  # a blinded reader has no dose in mg
    return data


@pytest.fixture(scope="module")
def pooled() -> AnalysisResult:
    return run_analysis_plan(blinded_trial(), RCT)


def _change(scale: str, visit: str) -> list[float]:
    return [t[VISITS[visit]] - t[0] for t in EXAMPLE_TOTALS[scale].values()]


def test_formula_without_drops_every_term_of_the_variable() -> None:
    assert formula_without("baseline + arm * visit", "arm") == "baseline + visit"
    assert formula_without("arm:visit + visit + baseline:arm", "arm") == "visit"
    assert formula_without("arm", "arm") == ""
    assert formula_without("visit + baseline", "arm") == "visit + baseline"


def test_the_pooled_protocol_has_one_arm_and_no_arm_term() -> None:
    pooled = pooled_protocol(RCT)
    assert [(a.code, a.label) for a in pooled.arms] == [(BLINDED_ARM, POOLED_LABEL)]
    mmrm = [a for a in pooled.analysis.analyses if isinstance(a, MMRMAnalysis)]
    assert [(a.formula, a.contrasts) for a in mmrm] == [
        ("baseline + visit", ("visit_vs_baseline",))
    ]
    assert all(a.reference is None for a in pooled.analysis.analyses if isinstance(a, RbmiAnalysis))
    assert all(POOLED_LABEL in a.label for a in pooled.analysis.analyses)
    # the same protocol: text, hash, randomisation and blinding kept; the original untouched
    assert pooled.sha256 == RCT.sha256
    assert pooled.randomisation == RCT.randomisation
    assert pooled.blinding == RCT.blinding
    assert [a.code for a in RCT.arms] == ["MDMA", "PLACEBO"]


def test_masked_or_missing_arms_are_concealed_known_arms_are_not() -> None:
    assert arms_concealed(blinded_trial(), RCT)
    assert arms_concealed(blinded_trial([None] * 6), RCT)
    assert not arms_concealed(blinded_trial(["MDMA", "PLACEBO"] * 3), RCT)
    assert not arms_concealed(blinded_trial(), load_protocol("oslo-mdma-mdd"))


def test_the_blinded_mmrm_is_the_pooled_change_from_baseline(pooled: AnalysisResult) -> None:
    assert pooled.blinded
    assert pooled.to_dict()["blinded"] is True
    mmrm = pooled.first(MMRMSectionResult)
    assert mmrm is not None
    assert mmrm.arm_differences is None
    assert mmrm.notes == ()
    change = mmrm.tables["change_vs_baseline"]
    assert list(mmrm.tables["fits"]["formula"]) == ["change ~ baseline + visit"] * 2
    for scale in ("madrs", "sds"):
        for visit in ("V17", "FU7"):
            row = change[(change.scale == scale) & (change.visit == visit)].iloc[0]
            # complete data: the least-squares mean at the mean baseline is the mean change
            hand = sum(_change(scale, visit)) / 6
            assert row["estimate"] == pytest.approx(hand, abs=1e-6), (scale, visit)
            assert row["ci_low"] < hand < row["ci_high"]
            assert row["n_obs"] == 6
    assert sum(_change("madrs", "V17")) / 6 == -17.0


def test_the_blinded_rates_and_effect_sizes_pool_both_arms(pooled: AnalysisResult) -> None:
    props = pooled.section("responders").tables["proportions"]
    v17 = props[props.visit == "V17"].set_index("kind")
    base = {p: t[0] for p, t in EXAMPLE_TOTALS["madrs"].items()}
    at = {p: t[1] for p, t in EXAMPLE_TOTALS["madrs"].items()}
    responders = sum(at[p] <= 0.5 * base[p] for p in base)  # reduced by at least 50%
    remitters = sum(at[p] <= 10 for p in at)
    assert (responders, remitters) == (5, 3)
    assert (v17.loc["response", "k"], v17.loc["response", "n"]) == (responders, 6)
    assert v17.loc["remission", "k"] == remitters
    # Clopper-Pearson by hand: beta quantiles
    low = st.beta.ppf(0.025, responders, 6 - responders + 1)
    high = st.beta.ppf(0.975, responders + 1, 6 - responders)
    row = props[(props.kind == "response") & (props.visit == "V17")].iloc[0]
    assert (row["clopper_pearson_low"], row["clopper_pearson_high"]) == pytest.approx(
        (low, high), abs=1e-9
    )
    assert set(props["arm"]) == {BLINDED_ARM}
    d = pooled.section("effect_size").tables["effect_sizes"]
    x = _change("madrs", "V17")
    dz = d[(d.scale == "madrs") & (d.visit == "V17")].iloc[0]["estimate"]
    mean = sum(x) / 6
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 5)
    assert dz == pytest.approx(mean / sd, rel=1e-9)


def test_the_blinded_safety_tables_pool_both_arms(pooled: AnalysisResult) -> None:
    safety = pooled.section("safety")
    overview = safety.tables["ae_overview"]
    assert list(overview["arm"]) == [BLINDED_ARM]
    assert (overview.iloc[0]["n_events"], overview.iloc[0]["n_participants"]) == (1, 1)
    doses = safety.tables["doses_by_session"]
    assert set(doses["arm"]) == {BLINDED_ARM}
    assert int(doses["n_given"].sum()) == 11  # E4's supplemental dose was withheld


def test_nothing_by_arm_is_left_and_the_flag_is_kept(pooled: AnalysisResult) -> None:
    headline = pooled.to_frame()
    assert set(headline["arm"].dropna()) == {BLINDED_ARM}
    main = ("descriptive", "mmrm", "effect_size", "responders", "transitions", "safety")
    for sid in main:
        assert not any("not estimable" in n for n in pooled.section(sid).notes), sid
    assert list(pooled.adsl.loc[pooled.adsl.UNBLNDFL == "Y", "participant_id"]) == ["E2"]
    assert "BLINDED (POOLED)" in pooled.summary()


def test_require_arms_refuses_blinded_data() -> None:
    with pytest.raises(ArmsConcealedError, match=r"6 enrolled participants .* are concealed"):
        run_analysis_plan(blinded_trial(), RCT, require_arms=True)


def test_unblinded_data_are_still_analysed_by_arm() -> None:
    result = run_analysis_plan(blinded_trial(["MDMA", "PLACEBO"] * 3), RCT, require_arms=True)
    assert not result.blinded
    mmrm = result.first(MMRMSectionResult)
    assert mmrm is not None
    assert mmrm.arm_differences is not None
    assert set(mmrm.arm_differences["contrast"]) == {"PLACEBO - MDMA"}
    props = result.section("responders").tables["proportions"]
    assert set(props["arm"]) == {"MDMA", "PLACEBO"}
