"""The built-in protocols say what the publications say (oslo-study.md) and load cleanly."""

from __future__ import annotations

import tomllib

import pytest

from remit.errors import NotFoundError
from remit.protocol import Protocol, builtin_protocols, load_protocol
from remit.scales import load_scale


@pytest.fixture(scope="module")
def oslo() -> Protocol:
    return load_protocol("oslo-mdma-mdd")


@pytest.fixture(scope="module")
def rct() -> Protocol:
    return load_protocol("mdma-mdd-rct-example")


def test_builtins_listed() -> None:
    assert builtin_protocols() == ["mdma-mdd-rct-example", "oslo-mdma-mdd"]


def test_unknown_name_is_refused() -> None:
    with pytest.raises(NotFoundError, match="remit protocol list"):
        load_protocol("oslo-mdma")


def test_oslo_study_facts(oslo: Protocol) -> None:
    s = oslo.study
    assert s.design == "open-label single-arm"
    assert s.target_enrolment == 12
    assert s.registry_ids == {"eudract": "2021-000805-26", "sponsor_code": "PSYKFORSK_MAT-MDD"}
    assert s.reference_visit == "V4"
    assert [a.code for a in oslo.arms] == ["MDMA"]
    assert oslo.randomisation is None


def test_oslo_visit_codes_and_kinds(oslo: Protocol) -> None:
    expected = ["PHONE", "SCR", *(f"V{i}" for i in range(15)), "FU7"]
    assert list(oslo.visit_codes) == expected
    kinds = {v.code: v.kind for v in oslo.visits}
    assert kinds["PHONE"] == kinds["SCR"] == "screening"
    assert kinds["V0"] == "enrolment"
    assert kinds["V5"] == kinds["V9"] == "dosing"
    assert [c for c, k in kinds.items() if k == "integration"] == [
        "V6", "V7", "V8", "V10", "V11", "V12",
    ]  # fmt: skip
    assert kinds["V13"] == "assessment"
    assert kinds["V14"] == "termination"
    assert kinds["FU7"] == "follow-up"


def test_oslo_nine_therapy_sessions_of_90_minutes(oslo: Protocol) -> None:
    therapy = oslo.therapy_sessions()
    assert [v.code for v in therapy] == [
        "V1", "V2", "V4", "V6", "V7", "V8", "V10", "V11", "V12",
    ]  # fmt: skip
    assert {v.duration_min for v in therapy} == {90}


def test_oslo_timing(oslo: Protocol) -> None:
    v9, v13, fu7 = oslo.visit("V9"), oslo.visit("V13"), oslo.visit("FU7")
    assert (v9.anchor, v9.target_day) == ("V5", 28)  # about 4 weeks after V5
    assert (v13.anchor, v13.target_day) == ("V9", 56)  # 8 weeks after the second dosing
    assert (fu7.anchor, fu7.target_day) == ("V4", 210)  # 7 months after baseline
    days = oslo.nominal_days()
    assert days["V4"] == 0
    assert days["V13"] == 91  # 13 weeks after baseline, as published
    assert days["FU7"] == 210


def test_oslo_doses(oslo: Protocol) -> None:
    first, second = oslo.dosing
    assert (first.visit, first.initial_mg, first.supplemental_mg) == ("V5", 80, 40)
    assert (second.visit, second.initial_mg, second.supplemental_mg) == ("V9", 120, 60)
    for d in oslo.dosing:
        assert d.substance == "MDMA"
        assert d.supplemental_mg == d.initial_mg / 2
        assert d.supplemental_may_be_withheld
        assert d.supplemental_offer_min == (90, 150)
        assert d.max_total_mg == 180
        assert d.duration_h == 8
        assert d.vas_timepoints == ("initial_dose", "before_supplemental", "end_of_session")
        assert d.vitals.recorded_signs() == (
            "systolic_bp", "diastolic_bp", "heart_rate", "temperature",
        )  # fmt: skip
        assert set(oslo.vital_thresholds(d.visit)) == set(d.vitals.recorded_signs())
        assert d.vitals.timepoints_min() == tuple(range(30, 481, 30))
    assert oslo.dosing_session("V5") is first
    assert oslo.dosing_session("V6") is None


def test_oslo_madrs_by_independent_rater_at_v3_v13_fu7(oslo: Protocol) -> None:
    at = {v.code: v.scales() for v in oslo.visits}
    assert [c for c, scales in at.items() if "madrs" in scales] == ["V3", "V13", "FU7"]
    assert [c for c, scales in at.items() if "sds" in scales] == ["V3", "V13", "FU7"]
    for code in ("V3", "V13", "FU7"):
        madrs = [a for a in oslo.assessments_at(code) if a.scale == "madrs"]
        assert [a.rater for a in madrs] == ["independent_rater"]
        assert {"gad7", "isi", "psqi", "pcl5", "bdi2"} <= set(at[code])
    assert [c for c, scales in at.items() if "se_vas" in scales] == ["V5", "V9"]


def test_oslo_cssrs_versions(oslo: Protocol) -> None:
    versions = {v.code: a.version for v in oslo.visits for a in v.assessments if a.scale == "cssrs"}
    assert versions["SCR"] == "baseline"
    assert {c for c, ver in versions.items() if ver == "since_last_visit"} >= {
        "V5", "V6", "V9", "V13", "FU7",
    }  # fmt: skip
    assert all(ver == "since_last_visit" for c, ver in versions.items() if c != "SCR")


def test_oslo_endpoints_and_plan(oslo: Protocol) -> None:
    primary = [e for e in oslo.endpoints if e.role == "primary"]
    assert len(primary) == 1
    assert (primary[0].scale, primary[0].from_visit, primary[0].to_visit) == ("madrs", "V3", "V13")
    assert oslo.endpoint("madrs_response").min_reduction_pct == 50
    assert oslo.endpoint("madrs_remission").max_total == 10
    relapse = oslo.endpoint("madrs_relapse")
    assert (relapse.from_visit, relapse.to_visit) == ("V13", "FU7")
    assert "no longer in remission at FU7" in relapse.definition
    kinds = [a.kind for a in oslo.analysis.analyses]
    assert kinds == [
        "descriptive", "wilcoxon", "mmrm", "effect_size", "proportion", "mcnemar", "rtm", "rbmi",
        "safety", "time_to_event", "lmm",
    ]  # fmt: skip
    (estimand,) = oslo.estimands
    assert (estimand.endpoint, estimand.summary, estimand.analysis) == (
        "madrs_change_v13",
        "mean",
        "mmrm",
    )
    assert estimand.sensitivity == ("tipping_v13", "lmm_random_slope")
    assert [e.strategy for e in estimand.intercurrent_events] == ["hypothetical"]
    mmrm = next(a for a in oslo.analysis.analyses if a.kind == "mmrm")
    assert mmrm.visits == ("V3", "V13", "FU7")
    assert mmrm.scales == ("madrs", "sds")
    rtm = next(a for a in oslo.analysis.analyses if a.kind == "rtm")
    assert rtm.reliability == (0.65, 0.93)


def test_oslo_safety_table(oslo: Protocol) -> None:
    rules = {r.id: r for r in oslo.safety.rules}
    assert rules["madrs_item10"].item == 10
    assert (rules["madrs_item10"].op, rules["madrs_item10"].value) == (">=", 4)
    assert rules["madrs_item10"].level == "same_day"
    assert rules["cssrs_ideation_4_5"].level == "urgent"
    assert rules["cssrs_behaviour"].level == "urgent"
    assert rules["cssrs_ideation_2_3"].level == "same_day"
    assert rules["cssrs_intensity_up"].compare_to == "baseline"
    assert oslo.safety.sae is not None
    assert oslo.safety.sae.report_within_h == 24
    madrs = load_scale("madrs")
    assert madrs.item(str(rules["madrs_item10"].item)).code == "suicidal_thoughts"


def test_unpublished_values_carry_assumption_notes(oslo: Protocol) -> None:
    data = tomllib.loads(oslo.text)
    for d in data["dosing"]:
        assert "90-150 min" in d["assumption"]
        assert "180 mg" in d["assumption"]
    for sign, limits in data["safety"]["vitals"]["limits"].items():
        assert "not published" in limits["assumption"], sign
    criteria = {c["id"]: c for c in data["eligibility"]["criteria"]}
    assert "not published" in criteria["madrs_entry"]["assumption"]
    assert "assumption" not in criteria["age"]  # published
    # every visit whose timing is not published says so
    for v in data["visits"]:
        assert "assumption" in v, v["code"]


def test_rct_is_general(rct: Protocol) -> None:
    assert [(a.code, a.ratio) for a in rct.arms] == [("MDMA", 1), ("PLACEBO", 1)]
    assert rct.randomisation is not None
    assert rct.randomisation.block_sizes == (4, 6)
    assert [d.visit for d in rct.dosing] == ["V5", "V9", "V13"]
    third = rct.dosing[2]
    assert third.dose_for("MDMA").initial_mg == 120
    placebo = third.dose_for("PLACEBO")
    assert (placebo.substance, placebo.initial_mg, placebo.supplemental_mg) == ("placebo", 0, 0)
    assert rct.study.target_enrolment > 12
    mmrm = next(a for a in rct.analysis.analyses if a.kind == "mmrm")
    assert "arm * visit" in mmrm.formula
    assert mmrm.contrasts == ("arm_by_visit",)
    assert len(rct.therapy_sessions()) == 12
