"""ADSL and ADQS built from the hand-made trial."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from remit.analysis import TrialData
from remit.analysis.datasets import (
    baseline_visits,
    build_adqs,
    build_adsl,
    responds,
    scale_values,
)
from remit.protocol import Protocol


def test_adsl_population_flags(trial: TrialData, oslo: Protocol) -> None:
    adsl = build_adsl(trial, oslo).set_index("participant_id")
    assert len(adsl) == 14
    assert (adsl["SCRNFL"] == "Y").all()
    assert adsl["ENRLFL"].value_counts().to_dict() == {"Y": 12, "N": 2}
    assert adsl.loc["S13", "ENRLFL"] == "N"
    assert adsl.loc["S14", "ineligible_reasons"] == ["psychosis", "distance"]
    assert adsl["SAFFL"].value_counts().to_dict() == {"Y": 12, "N": 2}
    # P11 missed V13 (primary visit), P10 missed FU7
    assert adsl.loc["P11", "COMPPFL"] == "N"
    assert adsl.loc["P10", "COMPPFL"] == "Y"
    assert adsl.loc["P10", "COMPFUFL"] == "N"
    assert adsl.loc["P11", "COMPFUFL"] == "Y"
    # P03 had a withheld supplemental dose: 3 given
    assert adsl.loc["P03", "n_doses_given"] == 3
    assert adsl.loc["P01", "n_doses_given"] == 4


def test_adsl_demography_and_baseline(trial: TrialData, oslo: Protocol) -> None:
    adsl = build_adsl(trial, oslo).set_index("participant_id")
    assert adsl.loc["P01", "AGE"] == 24
    assert adsl.loc["P01", "AGEGR1"] == "18-34"
    assert adsl.loc["P05", "AGEGR1"] == "35-49"
    assert adsl.loc["P12", "AGEGR1"] == "50-64"
    assert adsl.loc["P01", "SEX"] == "female"
    assert adsl.loc["P04", "madrs_total_baseline"] == 28
    assert adsl.loc["P04", "sds_total_baseline"] == 22
    assert math.isnan(adsl.loc["S13", "madrs_total_baseline"])
    assert adsl.loc["P01", "USUBJID"] == "oslo-mdma-mdd-P01"


def test_baseline_visits_follow_the_protocol(oslo: Protocol) -> None:
    b = baseline_visits(oslo)
    assert b["madrs"] == "V3"
    assert b["gad7"] == "V3"  # the protocol's [baseline] default
    assert b["cssrs"] == "SCR"  # [baseline] cssrs: the baseline/lifetime form at screening
    assert "se_vas" not in b  # rated at the dosing sessions only: no baseline


def test_adqs_base_chg_pchg(
    trial: TrialData, oslo: Protocol, madrs_totals: dict[str, tuple[float, float, float]]
) -> None:
    adqs = build_adqs(trial, oslo)
    madrs = adqs[adqs["PARAMCD"] == "MADRSTOT"].set_index(["participant_id", "visit_code"])
    for pid, (v3, v13, fu7) in madrs_totals.items():
        assert madrs.loc[(pid, "V3"), "ABLFL"] == "Y"
        assert madrs.loc[(pid, "V3"), "BASE"] == v3
        assert math.isnan(madrs.loc[(pid, "V3"), "CHG"])
        for visit, value in (("V13", v13), ("FU7", fu7)):
            if math.isnan(value):
                assert (pid, visit) not in madrs.index
                continue
            row = madrs.loc[(pid, visit)]
            assert row["ABLFL"] is None
            assert row["BASE"] == v3
            assert row["CHG"] == value - v3
            assert row["PCHG"] == pytest.approx(100 * (value - v3) / v3)
    assert madrs.loc[("P01", "V13"), "PCHG"] == -50.0


def test_adqs_criteria_flags_at_the_boundaries(trial: TrialData, oslo: Protocol) -> None:
    adqs = build_adqs(trial, oslo)
    assert adqs["CRIT1"].dropna().str.contains("50%").all()
    assert adqs["CRIT2"].dropna().str.contains("≤ 10").all()
    madrs = adqs[adqs["PARAMCD"] == "MADRSTOT"].set_index(["participant_id", "visit_code"])
    assert madrs.loc[("P01", "V13"), "CRIT1FL"] == "Y"  # exactly 50 %
    assert madrs.loc[("P01", "V13"), "CRIT2FL"] == "N"  # 15 > 10
    assert madrs.loc[("P02", "V13"), "CRIT2FL"] == "Y"  # exactly 10
    assert madrs.loc[("P06", "V13"), "CRIT1FL"] == "N"  # 46 %
    assert madrs.loc[("P01", "V3"), "CRIT1FL"] is None  # baseline: does not apply
    sds = adqs[adqs["PARAMCD"] == "SDSTOT"]
    assert sds["CRIT1FL"].isna().all()


def test_adqs_items_subscales_derived(trial: TrialData, oslo: Protocol) -> None:
    adqs = build_adqs(trial, oslo)
    codes = set(adqs["PARAMCD"])
    assert {"MADRS_SUICIDAL_THOUGHTS", "SDS_WORK_SCHOOL", "CSSRS_IDEATION_TYPE"} <= codes
    cats = adqs.groupby("PARAMCD")["PARCAT1"].first()
    assert cats["MADRS_SUICIDAL_THOUGHTS"] == "ITEM"
    assert cats["SDS_WORK_SCHOOL"] == "SUBSCALE"
    assert cats["CSSRS_ANY_BEHAVIOUR"] == "DERIVED"
    behaviour = adqs[(adqs["PARAMCD"] == "CSSRS_ANY_BEHAVIOUR") & (adqs["AVAL"] == 1)]
    assert behaviour["participant_id"].tolist() == ["P04"]
    ideation = adqs[adqs["PARAMCD"] == "CSSRS_IDEATION_TYPE"].set_index(
        ["participant_id", "visit_code"]
    )
    # C-SSRS baseline is V4 (the last assessment up to study day 0)
    assert ideation.loc[("P04", "FU7"), "BASE"] == 1
    assert ideation.loc[("P04", "FU7"), "CHG"] == 2
    totals_only = scale_values(trial, oslo, parts=("total",))
    assert set(totals_only["PARCAT1"]) == {"TOTAL"}


def test_duplicate_forms_keep_the_latest_as_analysis_record(
    trial: TrialData, oslo: Protocol
) -> None:
    scores = trial.scores.copy()
    extra = scores[(scores["participant_id"] == "P01") & (scores["scale"] == "madrs")].iloc[[1]]
    extra = extra.assign(total=14.0, assessed_at=extra["assessed_at"] + pd.Timedelta(hours=1))
    data = TrialData(participants=trial.participants, scores=pd.concat([scores, extra]))
    adqs = build_adqs(data, oslo)
    rows = adqs[
        (adqs["participant_id"] == "P01")
        & (adqs["PARAMCD"] == "MADRSTOT")
        & (adqs["visit_code"] == "V13")
    ]
    assert rows["AVAL"].tolist() == [15.0, 14.0]
    assert rows["ANL01FL"].tolist() == [None, "Y"]


def test_responds_boundary() -> None:
    assert responds(30, 15, 50) is True
    assert responds(33, 16.5, 50) is True
    assert responds(29, 14.5, 50) is True
    assert responds(29, 14.6, 50) is False
    assert responds(float("nan"), 10, 50) is None


def test_empty_trial_gives_empty_datasets(oslo: Protocol) -> None:
    assert build_adsl(TrialData(), oslo).empty
    assert build_adqs(TrialData(), oslo).empty


def test_timepoints_and_forms_without_a_visit(trial: TrialData, oslo: Protocol) -> None:
    base = trial.scores.iloc[[0]]
    vas = [
        base.assign(
            visit_code="V5",
            scale="se_vas",
            total=float("nan"),
            items=[{"euphoria": value}],
            timepoint=tp,
            assessed_at=base["assessed_at"] + pd.Timedelta(hours=h),
        )
        for value, tp, h in ((10, "initial_dose", 1), (60, "before_supplemental", 3))
    ]
    loose = base.assign(visit_code=None, total=12.0)
    scores = pd.concat([trial.scores.assign(timepoint=None), *vas, loose], ignore_index=True)
    adqs = build_adqs(TrialData(participants=trial.participants, scores=scores), oslo)
    euphoria = adqs[adqs["param"] == "se_vas_euphoria"]
    assert euphoria["ATPT"].tolist() == ["initial_dose", "before_supplemental"]
    assert euphoria["ANL01FL"].tolist() == ["Y", "Y"]  # one analysis record per time point
    no_visit = adqs[adqs["visit_code"].isna() & (adqs["PARAMCD"] == "MADRSTOT")]
    assert no_visit["AVAL"].tolist() == [12.0]
    assert no_visit["ANL01FL"].tolist() == [None]
    madrs = adqs[(adqs["PARAMCD"] == "MADRSTOT") & (adqs["participant_id"] == "P01")]
    assert madrs.loc[madrs["visit_code"] == "V3", "AVAL"].tolist() == [30.0]


def test_a_scale_remit_does_not_ship_is_kept_by_code(trial: TrialData, oslo: Protocol) -> None:
    extra = trial.scores.iloc[[0]].assign(scale="hamd17", total=18.0, items=[{"1": 2}])
    data = TrialData(participants=trial.participants, scores=pd.concat([trial.scores, extra]))
    adqs = build_adqs(data, oslo)
    rows = adqs[adqs["scale"] == "hamd17"]
    assert set(rows["PARAMCD"]) == {"HAMD17TOT", "HAMD17_1"}
    assert rows.loc[rows["PARAMCD"] == "HAMD17_1", "PARAM"].iloc[0] == "HAMD17 1"


def test_a_derived_value_named_like_an_item_is_its_own_parameter(
    trial: TrialData, oslo: Protocol
) -> None:
    # MADRS and C-SSRS derive values named like items (suicidal_thoughts, actual_attempt):
    # the derived parameter gets its own analysis record, baseline flag and BASE, never the
    # item's (the standards review found BASE on derived parameters with no baseline record)
    scores = trial.scores.copy()
    madrs = scores["scale"] == "madrs"
    day = {"V3": 7.0, "V13": 9.0, "FU7": 2.0}
    scores.loc[madrs, "derived"] = pd.Series(
        [{"suicidal_thoughts": day.get(str(v), 0.0)} for v in scores.loc[madrs, "visit_code"]],
        index=scores.index[madrs],
        dtype=object,
    )
    adqs = build_adqs(TrialData(participants=trial.participants, scores=scores), oslo)
    p01 = adqs[(adqs["participant_id"] == "P01") & (adqs["param"] == "madrs_suicidal_thoughts")]
    derived = p01[p01["PARCAT1"] == "DERIVED"].set_index("visit_code")
    item = p01[p01["PARCAT1"] == "ITEM"].set_index("visit_code")
    assert derived["ANL01FL"].tolist() == ["Y", "Y", "Y"]
    assert derived.loc["V3", "ABLFL"] == "Y"
    assert derived.loc["V13", "BASE"] == 7.0
    assert derived.loc["V13", "CHG"] == 2.0
    assert item.loc["V3", "ABLFL"] == "Y"
    assert item.loc["V13", "BASE"] == 1.0
