"""One test per member of each family: every endpoint kind, analysis kind (its typed result)
and safety table kind, on the hand-made trial whose numbers are known.

``test_families.py`` checks that each member of each family has a test here (or elsewhere)
naming it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from tests.support.analysis_data import MADRS, VISIT_DAY

from remit.analysis import (
    AnalysisResult,
    DescriptiveSectionResult,
    EffectSizeSectionResult,
    LMMSectionResult,
    McNemarSectionResult,
    MMRMSectionResult,
    ProportionSectionResult,
    RTMSectionResult,
    SafetySectionResult,
    TimeToEventSectionResult,
    TrialData,
    WilcoxonSectionResult,
    derive_endpoints,
    run_analysis_plan,
)
from remit.analysis.context import build_context
from remit.analysis.safety_section import run_safety
from remit.analysis.tte_section import run_time_to_event
from remit.errors import InputError
from remit.protocol import (
    ChangeEndpoint,
    DescriptiveAnalysis,
    EffectSizeAnalysis,
    LMMAnalysis,
    McNemarAnalysis,
    MMRMAnalysis,
    ProportionAnalysis,
    Protocol,
    RelapseEndpoint,
    RemissionEndpoint,
    ResponseEndpoint,
    RTMAnalysis,
    SafetyAnalysis,
    SustainedResponseEndpoint,
    TimeToEventAnalysis,
    WilcoxonAnalysis,
)
from remit.stats.mixed import fit_lmm

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def result(trial: TrialData, oslo: Protocol) -> AnalysisResult:
    return run_analysis_plan(trial, oslo, now=NOW)


# --------------------------------------------------------------------------- endpoint kinds


def _one(oslo: Protocol, cls: type) -> object:
    return next(e for e in oslo.endpoints if isinstance(e, cls))


def test_change_endpoint(trial: TrialData, oslo: Protocol) -> None:
    e = _one(oslo, ChangeEndpoint)
    c = derive_endpoints(trial, oslo).change.set_index(["endpoint_id", "participant_id"])
    assert c.loc[(e.id, "P01"), "change"] == MADRS["P01"][1] - MADRS["P01"][0]  # type: ignore[attr-defined]
    assert np.isnan(c.loc[(e.id, "P11"), "change"])  # type: ignore[attr-defined]


def test_response_endpoint(trial: TrialData, oslo: Protocol) -> None:
    e = _one(oslo, ResponseEndpoint)
    r = derive_endpoints(trial, oslo)
    assert "P01" in r.ids_with(e.id, "V13")  # type: ignore[attr-defined]  # exactly 50 %
    assert "P06" in r.ids_with(e.id, "V13", False)  # type: ignore[attr-defined]  # 46 %


def test_remission_endpoint(trial: TrialData, oslo: Protocol) -> None:
    e = _one(oslo, RemissionEndpoint)
    r = derive_endpoints(trial, oslo)
    assert "P02" in r.ids_with(e.id, "V13")  # type: ignore[attr-defined]  # exactly 10
    assert "P01" in r.ids_with(e.id, "V13", False)  # type: ignore[attr-defined]


def test_relapse_endpoint(trial: TrialData, oslo: Protocol) -> None:
    e = _one(oslo, RelapseEndpoint)
    r = derive_endpoints(trial, oslo)
    assert sorted(r.ids_with(e.id, "FU7")) == ["P02", "P08"]  # type: ignore[attr-defined]
    t = r.time_to_relapse.set_index("participant_id")
    assert t.loc["P02", "time_days"] == VISIT_DAY["FU7"] - VISIT_DAY["V13"]
    assert t.loc["P10", "time_days"] == 0
    assert not t.loc["P10", "event"]


def test_sustained_response_endpoint(trial: TrialData, oslo: Protocol) -> None:
    e = _one(oslo, SustainedResponseEndpoint)
    r = derive_endpoints(trial, oslo)
    assert "P08" in r.ids_with(e.id, "FU7")  # type: ignore[attr-defined]
    assert "P06" in r.ids_with(e.id, "FU7", False)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- analysis kinds


@pytest.mark.parametrize(
    ("analysis", "result_class", "first_table"),
    [
        (DescriptiveAnalysis, DescriptiveSectionResult, "by_visit"),
        (WilcoxonAnalysis, WilcoxonSectionResult, "tests"),
        (MMRMAnalysis, MMRMSectionResult, "change_vs_baseline"),
        (EffectSizeAnalysis, EffectSizeSectionResult, "effect_sizes"),
        (ProportionAnalysis, ProportionSectionResult, "proportions"),
        (McNemarAnalysis, McNemarSectionResult, "tests"),
        (RTMAnalysis, RTMSectionResult, "range"),
        (SafetyAnalysis, SafetySectionResult, "ae_overview"),
        (TimeToEventAnalysis, TimeToEventSectionResult, "estimates"),
        (LMMAnalysis, LMMSectionResult, "change_vs_baseline"),
    ],
)
def test_each_analysis_kind_returns_its_typed_result(
    result: AnalysisResult, oslo: Protocol, analysis: type, result_class: type, first_table: str
) -> None:
    (spec,) = [a for a in oslo.analysis.analyses if isinstance(a, analysis)]
    (section,) = result.of_type(result_class)
    assert section.id == spec.id
    assert section.kind == spec.kind
    assert next(iter(section.tables)) == first_table
    assert section.table is getattr(section, first_table)
    assert not section.table.empty


def test_time_to_event_section_is_kaplan_meier_by_hand(result: AnalysisResult) -> None:
    section = result.first(TimeToEventSectionResult)
    assert section is not None
    row = section.estimates.iloc[0]
    # remitters at V13: P02 P03 P05 P07 P08 P10 P12; P10 has no FU7 (censored at day 0);
    # P02 and P08 out of remission at FU7, 112 days later; the others censored then
    assert (row["n_at_risk"], row["n_events"], row["n_censored"]) == (7, 2, 5)
    assert row["survival"] == pytest.approx(1 - 2 / 6)
    assert row["to_visit"] == "FU7"
    assert row["last_time_days"] == 112
    assert row["ci_low"] < row["survival"] < row["ci_high"]
    assert np.isnan(row["median_days"])  # never below one half
    headline = result.to_frame()
    km = headline[headline["kind"] == "time_to_event"].iloc[0]
    assert km["estimate"] == pytest.approx(2 / 3)
    assert km["n"] == 7


def test_time_to_event_refuses_an_endpoint_that_is_not_a_relapse(
    trial: TrialData, oslo: Protocol
) -> None:
    a = TimeToEventAnalysis(
        id="km", kind="time_to_event", label="KM", endpoints=("madrs_response",)
    )
    with pytest.raises(InputError, match="relapse endpoint"):
        run_time_to_event(a, build_context(trial, oslo))


def test_lmm_section_equals_fit_lmm(
    result: AnalysisResult, trial: TrialData, oslo: Protocol
) -> None:
    section = result.first(LMMSectionResult)
    assert section is not None
    s = trial.scores
    s = s[(s["scale"] == "madrs") & s["visit_code"].isin(["V3", "V13", "FU7"])]
    s = s[s["total"].notna()]
    frame = pd.DataFrame(
        {
            "id": s["participant_id"].to_numpy(),
            "visit": pd.Categorical(s["visit_code"], categories=["V3", "V13", "FU7"]),
            "y": s["total"].to_numpy(dtype=float),
            "number": [float(oslo.visit_codes.index(v) + 1) for v in s["visit_code"]],
        }
    )
    direct = fit_lmm(frame, "y ~ visit", subject="id", slope="number").coefficients
    got = section.change_vs_baseline.set_index(["scale", "visit"])
    for visit in ("V13", "FU7"):
        want = direct.set_index("term").loc[f"visit[T.{visit}]"]
        assert got.loc[("madrs", visit), "estimate"] == pytest.approx(want["estimate"], rel=1e-9)
        assert got.loc[("madrs", visit), "se"] == pytest.approx(want["se"], rel=1e-9)
    assert section.fits.set_index("scale").loc["madrs", "random"] == "intercept + slope"
    assert set(section.random_effects["name"]) >= {"var_intercept", "var_slope"}
    mmrm = result.first(MMRMSectionResult)
    assert mmrm is not None
    # a sensitivity analysis: the same visit means, estimated under another covariance
    primary = mmrm.change_vs_baseline.set_index(["scale", "visit"])
    assert (
        abs(got.loc[("madrs", "V13"), "estimate"] - primary.loc[("madrs", "V13"), "estimate"]) < 1
    )


# --------------------------------------------------------------------------- safety tables


def _safety(trial: TrialData, oslo: Protocol, table: str) -> SafetySectionResult:
    a = SafetyAnalysis(id="s", kind="safety", label="Safety", tables=(table,))  # type: ignore[arg-type]
    return run_safety(a, build_context(trial, oslo))


def test_safety_table_adverse_events(trial: TrialData, oslo: Protocol) -> None:
    s = _safety(trial, oslo, "adverse_events")
    assert s.ae_overview is not None
    assert s.ae_by_term is not None
    assert s.sae_list is None
    assert s.cssrs_shift is None
    assert int(s.ae_overview["n_events"].iloc[0]) == len(trial.adverse_events)


def test_safety_table_serious_adverse_events(trial: TrialData, oslo: Protocol) -> None:
    s = _safety(trial, oslo, "serious_adverse_events")
    assert s.sae_list is not None
    assert s.ae_overview is None
    assert len(s.sae_list) == int(trial.adverse_events["serious"].sum())


def test_safety_table_cssrs(trial: TrialData, oslo: Protocol) -> None:
    s = _safety(trial, oslo, "cssrs")
    assert s.cssrs_shift is not None
    assert "cssrs_shift" in s.conventions
    worse = s.cssrs_by_participant
    assert worse is not None
    assert {"P04", "P09"} <= set(worse["participant_id"])


def test_safety_table_vitals(trial: TrialData, oslo: Protocol) -> None:
    s = _safety(trial, oslo, "vitals")
    assert s.vitals_summary is not None
    assert not s.vitals_summary.empty
    assert "vitals" in s.conventions


def test_safety_table_madrs_item10(trial: TrialData, oslo: Protocol) -> None:
    s = _safety(trial, oslo, "madrs_item10")
    assert s.madrs_item10 is not None
    assert "madrs_item10" in s.conventions


def test_safety_table_alerts(trial: TrialData, oslo: Protocol) -> None:
    s = _safety(trial, oslo, "alerts")
    assert s.alerts is not None
    assert s.ae_overview is None
    assert int(s.alerts["n"].sum()) == len(trial.alerts) == 2
    assert set(s.alerts["rule_id"]) == {"madrs_item10", "vitals_systolic_bp"}
    # dosing exposure comes with every safety section
    assert not s.doses_by_session.empty
