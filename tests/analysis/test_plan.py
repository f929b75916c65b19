"""The plan runner: every number equals what remit.stats returns on the same data."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from remit.analysis import (
    AnalysisResult,
    NothingToAnalyseError,
    TrialData,
    methods_text,
    run_analysis_plan,
)
from remit.analysis.sections import reliability_grid
from remit.errors import DataWarning, InputError
from remit.protocol import Protocol, protocol_from_text
from remit.stats.effect_size import paired_effect_sizes
from remit.stats.mcnemar import mcnemar_exact
from remit.stats.mmrm import fit_mmrm
from remit.stats.paired import hodges_lehmann, wilcoxon_signed_rank
from remit.stats.proportion import proportion_ci
from remit.stats.rtm import regression_to_mean

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def result(trial: TrialData, oslo: Protocol) -> AnalysisResult:
    return run_analysis_plan(trial, oslo, now=NOW)


def _column(trial: TrialData, scale: str, visit: str) -> np.ndarray:
    s = trial.scores
    sub = s[(s["scale"] == scale) & (s["visit_code"] == visit)].set_index("participant_id")
    return np.array([sub["total"].get(p, np.nan) for p in trial.enrolled_ids], dtype=float)


def test_sections_follow_the_plan(result: AnalysisResult, oslo: Protocol) -> None:
    assert [s.id for s in result.sections] == [a.id for a in oslo.analysis.analyses]
    assert result.section("mmrm").kind == "mmrm"
    assert result["rtm"].kind == "rtm"
    assert len(result.population) == 12


def test_descriptive_matches_numpy(result: AnalysisResult, trial: TrialData) -> None:
    table = result.section("descriptive").table.set_index(["scale", "visit"])
    v13 = _column(trial, "madrs", "V13")
    obs = v13[~np.isnan(v13)]
    row = table.loc[("madrs", "V13")]
    assert row["n"] == 11
    assert row["n_missing"] == 1
    assert row["mean"] == pytest.approx(obs.mean(), rel=1e-12)
    assert row["sd"] == pytest.approx(obs.std(ddof=1), rel=1e-12)
    assert row["median"] == np.median(obs)
    assert table.loc[("gad7", "V3"), "n"] == 0  # nothing recorded: shown, not dropped


def test_wilcoxon_equals_stats(result: AnalysisResult, trial: TrialData) -> None:
    section = result.section("wilcoxon")
    before = _column(trial, "madrs", "V3")
    after = _column(trial, "madrs", "V13")
    with pytest.warns(DataWarning, match="dropped 1 of 12"):
        direct = wilcoxon_signed_rank(before, after)
    with pytest.warns(DataWarning, match="dropped 1 of 12"):
        hl = hodges_lehmann(before, after)
    row = section.table.set_index(["scale", "visit"]).loc[("madrs", "V13")]
    assert row["statistic"] == direct.statistic
    # the plan asks for auto without continuity correction; the data have ties
    assert direct.has_ties
    assert row["p_value_method"] == "normal"
    assert row["p_value"] == direct.p_normal
    assert row["hl_estimate"] == hl.estimate
    assert (row["hl_ci_low"], row["hl_ci_high"]) == (hl.ci_low, hl.ci_high)
    assert section.stats["madrs/V13"] == direct
    assert "without continuity correction" in section.conventions["p_value"]
    assert any("dropped 1 of 12" in n for n in section.notes)


def test_mmrm_equals_stats(result: AnalysisResult, trial: TrialData) -> None:
    section = result.section("mmrm")
    s = trial.scores
    sub = s[(s["scale"] == "madrs") & s["visit_code"].isin(["V3", "V13", "FU7"])]
    frame = pd.DataFrame(
        {
            "participant_id": sub["participant_id"].to_numpy(),
            "visit": sub["visit_code"].to_numpy(),
            "value": sub["total"].to_numpy(dtype=float),
        }
    )
    fit = fit_mmrm(
        frame,
        "value ~ visit",
        subject="participant_id",
        visit="visit",
        covariance="us",
        df="satterthwaite",
        visit_levels=["V3", "V13", "FU7"],
    )
    coef = fit.coefficients.set_index("term")
    table = section.tables["change_vs_baseline"].set_index(["scale", "visit"])
    for visit in ("V13", "FU7"):
        row = table.loc[("madrs", visit)]
        ref = coef.loc[f"visit{visit}"]
        # with `value ~ visit` the LS-mean difference to V3 is the visit coefficient
        assert row["estimate"] == pytest.approx(ref["estimate"], rel=1e-9)
        assert row["se"] == pytest.approx(ref["se"], rel=1e-9)
        assert row["df"] == pytest.approx(ref["df"], rel=1e-6)
        assert row["p"] == pytest.approx(ref["p"], rel=1e-6)
        assert row["ci_low"] == pytest.approx(ref["ci_low"], rel=1e-9)
    assert table.loc[("madrs", "V13"), "n_obs"] == 11
    fits = section.tables["fits"].set_index("scale")
    assert fits.loc["madrs", "n_subjects"] == 12  # P11 has no V13 but stays in the model
    assert fits.loc["madrs", "neg2_loglik"] == pytest.approx(fit.neg2_loglik, rel=1e-9)
    assert section.stats["madrs"].converged


def test_effect_sizes_equal_stats(result: AnalysisResult, trial: TrialData) -> None:
    section = result.section("effect_size")
    with pytest.warns(DataWarning, match="dropped 1 of 12"):
        direct = paired_effect_sizes(_column(trial, "sds", "V3"), _column(trial, "sds", "FU7"))
    t = section.table.set_index(["scale", "visit", "effect_size"])
    assert t.loc[("sds", "FU7", "d_z"), "estimate"] == direct.d_z
    assert t.loc[("sds", "FU7", "d_z"), "ci_low"] == direct.d_z_ci_low
    assert t.loc[("sds", "FU7", "d_av"), "ci_high"] == direct.d_av_ci_high
    assert set(t.index.get_level_values("effect_size")) == {"d_z", "d_av"}


def test_proportions_equal_stats(result: AnalysisResult) -> None:
    t = result.section("responders").table.set_index(["endpoint_id", "visit"])
    row = t.loc[("madrs_response", "V13")]
    assert (row["k"], row["n"], row["n_undecided"]) == (8, 11, 1)
    direct = proportion_ci(8, 11)
    assert (row["clopper_pearson_low"], row["clopper_pearson_high"]) == direct.ci("clopper-pearson")
    assert (row["wilson_low"], row["wilson_high"]) == direct.ci("wilson")
    relapse = t.loc[("madrs_relapse", "FU7")]
    assert (relapse["k"], relapse["n"], relapse["n_at_risk"]) == (2, 6, 7)
    assert "only remitters" in relapse["definition"]


def test_transitions_equal_stats(result: AnalysisResult, trial: TrialData) -> None:
    section = result.section("transitions")
    t = section.table.set_index("endpoint_id")
    # remission V13 → FU7 (P10 and P11 missing one visit)
    first = {"P02": 1, "P03": 1, "P05": 1, "P07": 1, "P08": 1, "P12": 1}
    second = {"P03": 1, "P05": 1, "P07": 1, "P12": 1}
    ids = [p for p in trial.enrolled_ids if p not in ("P10", "P11")]
    direct = mcnemar_exact([first.get(p, 0) for p in ids], [second.get(p, 0) for p in ids])
    row = t.loc["madrs_remission"]
    assert row["p_value"] == direct.p_value
    assert (row["n_yes_no"], row["n_no_yes"], row["n_yes_yes"]) == (2, 0, 4)
    assert row["n_dropped"] == 2
    cells = section.tables["transitions"]
    lost = cells[
        (cells["endpoint_id"] == "madrs_remission")
        & (cells["from_status"] == "yes")
        & (cells["to_status"] == "no")
    ]
    assert lost["participant_ids"].iloc[0] == ["P02", "P08"]
    relapses = section.tables["relapses"].set_index("endpoint_id")
    assert relapses.loc["madrs_relapse", "n_relapsed"] == 2
    assert relapses.loc["madrs_relapse", "participant_ids"] == ["P02", "P08"]


def test_rtm_equals_stats(result: AnalysisResult, trial: TrialData) -> None:
    section = result.section("rtm")
    base = _column(trial, "madrs", "V3")
    change = _column(trial, "madrs", "V13") - base
    direct = regression_to_mean(
        float(base.mean()),
        [15.0, 20.0],
        reliability_grid(0.65, 0.93),
        observed_change=float(np.nanmean(change)),
    )
    row = section.tables["range"].iloc[0]
    assert row["rtm_min"] == direct.rtm_min
    assert row["rtm_max"] == direct.rtm_max
    assert row["observed_change_endpoint"] == "madrs_change_v13"
    pd.testing.assert_frame_equal(section.tables["grid"], direct.grid)


def test_reliability_grid() -> None:
    assert reliability_grid(0.65, 0.93) == (0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93)
    assert reliability_grid(0.7, 0.8) == (0.7, 0.75, 0.8)
    assert reliability_grid(0.8, 0.8) == (0.8,)


def test_safety_tables(result: AnalysisResult) -> None:
    t = result.section("safety").tables
    sev = t["ae_by_severity"].set_index("severity")
    assert sev.loc["mild", "n_events"] == 3
    assert sev.loc["mild", "n_participants"] == 2
    assert list(t["ae_by_severity"]["severity"]) == ["mild", "moderate", "severe"]
    rel = t["ae_by_relatedness"].set_index("relatedness")
    assert rel.loc["possibly related", "n_events"] == 2
    assert t["ae_by_term"].iloc[0]["term"] == "headache"
    assert t["sae_list"]["participant_id"].tolist() == ["P09"]
    shift = t["cssrs_by_participant"].set_index("participant_id")
    assert shift.loc["P04", "shift"] == "worse"
    assert shift.loc["P04", "behaviour_after"]
    assert shift.loc["P02", "shift"] == "better"  # 2 at SCR, 1 afterwards
    vitals = t["vitals_summary"].set_index(["session_number", "sign"])
    # a breach is a reading beyond the least pressing tier (where alerting begins: > 150)
    later = ["P07", "P08", "P09", "P10", "P11", "P12"]
    assert vitals.loc[(2, "systolic_bp"), "participant_ids_breached"] == ["P05", *later]
    assert vitals.loc[(1, "systolic_bp"), "n_participants_breached"] == 6
    assert vitals.loc[(1, "diastolic_bp"), "n_participants_breached"] == 0
    assert vitals.loc[(1, "heart_rate"), "threshold_high"] == 100
    assert vitals.loc[(1, "systolic_bp"), "max_peak"] == 145 + 11  # P12 at 120 min
    item10 = t["madrs_item10"].set_index("visit")
    assert item10.loc["FU7", "participant_ids"] == ["P09"]
    doses = t["doses_by_session"].set_index(["session_number", "kind"])
    assert doses.loc[(1, "supplemental"), "n_withheld"] == 1
    assert doses.loc[(2, "initial"), "total_mg_given"] == 12 * 120
    assert t["doses_withheld"]["participant_id"].tolist() == ["P03", "P07"]


def test_missing_data_is_stated(result: AnalysisResult) -> None:
    m = result.missing.set_index(["scale", "visit_code"])
    assert m.loc[("madrs", "V13"), "missing_ids"] == ["P11"]
    assert m.loc[("madrs", "FU7"), "missing_ids"] == ["P10"]
    assert m.loc[("madrs", "V3"), "n_missing"] == 0
    assert "missing madrs at V13: 1 (P11)" in result.summary()


def test_provenance(result: AnalysisResult, trial: TrialData, oslo: Protocol) -> None:
    p = result.provenance
    assert p.protocol_sha256 == oslo.sha256
    assert p.data_sha256 == trial.snapshot_sha256()
    assert p.created_at == "2025-06-01T12:00:00+00:00"
    assert set(p.software) == {"python", "remit", "numpy", "scipy", "pandas", "statsmodels"}
    assert not result.simulated
    assert "SIMULATED" not in result.summary()


def test_provenance_hash_changes_with_the_data(
    trial: TrialData, oslo: Protocol, result: AnalysisResult
) -> None:
    scores = trial.scores.copy()
    scores.loc[0, "total"] = scores.loc[0, "total"] + 1
    changed = TrialData(**{**trial.frames(), "scores": scores})
    other = run_analysis_plan(changed, oslo, now=NOW)
    assert other.provenance.data_sha256 != result.provenance.data_sha256


def test_simulated_marker(trial_factory: object, oslo: Protocol) -> None:
    data = trial_factory(simulated=True)  # type: ignore[operator]
    r = run_analysis_plan(data, oslo, now=NOW)
    assert r.simulated
    assert r.provenance.marker == "SIMULATED"
    assert r.summary().startswith("ANALYSIS RESULT — SIMULATED DATA")
    assert methods_text(r)[0].startswith("SIMULATED DATA")
    assert r.to_dict()["provenance"]["marker"] == "SIMULATED"


def test_to_dict_is_json_ready_and_unrounded(result: AnalysisResult) -> None:
    d = result.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    mmrm = next(s for s in back["sections"] if s["id"] == "mmrm")
    est = mmrm["tables"]["change_vs_baseline"][0]["estimate"]
    table = result.section("mmrm").tables["change_vs_baseline"]
    assert est == table["estimate"].iloc[0]
    assert mmrm["stats"]["madrs"]["coefficients"]
    wil = next(s for s in back["sections"] if s["id"] == "wilcoxon")
    assert (
        wil["stats"]["madrs/V13"]["p_normal"]
        == result.section("wilcoxon").stats["madrs/V13"].p_normal
    )


def test_headline_frame(result: AnalysisResult) -> None:
    h = result.to_frame()
    mmrm = h[(h["kind"] == "mmrm") & (h["scale"] == "madrs") & (h["visit"] == "V13")]
    assert len(mmrm) == 1
    table = result.section("mmrm").tables["change_vs_baseline"]
    assert mmrm["estimate"].iloc[0] == table["estimate"].iloc[0]


def test_methods_text_names_each_test_and_convention(result: AnalysisResult) -> None:
    text = " ".join(methods_text(result))
    for phrase in (
        "Wilcoxon signed-rank",
        "without continuity correction",
        "Hodges-Lehmann",
        "mixed model for repeated measures",
        "unstructured",
        "REML",
        "Satterthwaite",
        "noncentral t",
        "Clopper-Pearson",
        "Wilson",
        "exact McNemar",
        "madrs total ≤ 10",
        "reduced by at least 50%",
        "(1 − ρ)",
        "0.65–0.93",
        "SHA-256",
        "Missing values: MADRS at V13: 1 of 12 (P11)",
    ):
        assert phrase in text, phrase


def test_empty_trial_says_nothing_to_analyse(oslo: Protocol, trial: TrialData) -> None:
    with pytest.raises(NothingToAnalyseError, match="no participant is enrolled"):
        run_analysis_plan(TrialData(), oslo)
    only_screened = TrialData(participants=trial.participants.iloc[12:])
    with pytest.raises(NothingToAnalyseError, match=r"2 in the participants table"):
        run_analysis_plan(only_screened, oslo)
    no_scores = TrialData(participants=trial.participants)
    with pytest.raises(NothingToAnalyseError, match="no scale total is recorded for the 12"):
        run_analysis_plan(no_scores, oslo)


def test_only_baseline_still_runs(oslo: Protocol, trial: TrialData) -> None:
    s = trial.scores
    data = TrialData(participants=trial.participants, scores=s[s["visit_code"] == "V3"])
    r = run_analysis_plan(data, oslo, now=NOW)
    assert r.section("mmrm").tables["change_vs_baseline"].empty
    assert any("not estimable" in n for n in r.section("mmrm").notes)
    assert r.section("wilcoxon").table.empty
    props = r.section("responders").table
    assert (props["n"] == 0).all()
    assert math.isnan(props["estimate"].iloc[0])


def _plan_variant(oslo: Protocol, old: str, new: str) -> Protocol:
    assert old in oslo.text
    return protocol_from_text(oslo.text.replace(old, new, 1), source="variant")


def test_plan_settings_are_followed(oslo: Protocol, trial: TrialData) -> None:
    cc = _plan_variant(
        oslo,
        'zero_method = "wilcox"\ncorrection = false',
        'zero_method = "wilcox"\ncorrection = true',
    )
    r = run_analysis_plan(trial, cc, now=NOW)
    row = r.section("wilcoxon").table.iloc[0]
    assert row["p_value_method"] == "normal-continuity"
    assert row["p_value"] == r.section("wilcoxon").stats["madrs/V13"].p_normal_continuity
    cut = _plan_variant(oslo, "max_total = 10\nassumption", "max_total = 12\nassumption")
    r12 = run_analysis_plan(trial, cut, now=NOW)
    t = r12.section("responders").table.set_index(["endpoint_id", "visit"])
    assert t.loc[("madrs_remission", "V13"), "k"] == 7  # P01 has 15: still no
    assert t.loc[("madrs_remission", "FU7"), "k"] == 8  # P02, P06 and P11 at 12 now count
    assert "≤ 12" in t.loc[("madrs_remission", "V13"), "definition"]


def test_unsupported_plan_method_is_refused(oslo: Protocol, trial: TrialData) -> None:
    pratt = _plan_variant(oslo, 'zero_method = "wilcox"', 'zero_method = "pratt"')
    with pytest.raises(InputError, match="zero_method 'pratt'"):
        run_analysis_plan(trial, pratt, now=NOW)


def test_summary_and_section_dicts(result: AnalysisResult) -> None:
    text = result.summary()
    assert "MMRM over baseline, V13 and FU7 [mmrm]" in text
    for s in result.sections:
        d = s.to_dict()
        assert d["id"] == s.id
        assert d["spec"]["kind"] == s.kind
        json.dumps(d, allow_nan=False)


def test_two_visit_mmrm_is_the_paired_t_test(oslo: Protocol, trial: TrialData) -> None:
    """statistics.md: with two visits, an unstructured MMRM of y ~ visit gives the paired t."""
    from remit.stats.paired import paired_t

    two = _plan_variant(
        oslo,
        'visits = ["V3", "V13", "FU7"]\noutcome = "value"',
        'visits = ["V3", "V13"]\noutcome = "value"',
    )
    s = trial.scores
    complete = TrialData(participants=trial.participants, scores=s[s["participant_id"] != "P11"])
    r = run_analysis_plan(complete, two, now=NOW)
    row = r.section("mmrm").tables["change_vs_baseline"].set_index("scale").loc["madrs"]
    people = [p for p in trial.enrolled_ids if p != "P11"]
    v3 = _column(trial, "madrs", "V3")[[trial.enrolled_ids.index(p) for p in people]]
    v13 = _column(trial, "madrs", "V13")[[trial.enrolled_ids.index(p) for p in people]]
    t = paired_t(v3, v13)
    assert row["estimate"] == pytest.approx(t.mean_difference, rel=1e-8)
    assert row["se"] == pytest.approx(t.se, rel=1e-6)
    assert row["df"] == pytest.approx(t.df, rel=1e-6)
    assert row["p"] == pytest.approx(t.p_value, rel=1e-5)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_trials_run_and_say_what_was_not_estimable(
    oslo: Protocol, trial: TrialData, n: int
) -> None:
    keep = set(trial.enrolled_ids[:n])
    frames = {
        name: frame[frame["participant_id"].isin(keep)].reset_index(drop=True)
        for name, frame in trial.frames().items()
    }
    r = run_analysis_plan(TrialData(**frames), oslo, now=NOW)
    assert len(r.population) == n
    json.dumps(r.to_dict(), allow_nan=False)
    assert methods_text(r)
    if n < 3:
        assert any("not estimable" in note for note in r.section("effect_size").notes)


def test_two_arm_protocol_runs_by_arm(trial: TrialData) -> None:
    from remit.protocol import load_protocol

    rct = load_protocol("mdma-mdd-rct-example")
    arm = {p: ("MDMA" if i < 6 else "PLACEBO") for i, p in enumerate(trial.enrolled_ids)}
    people = trial.participants.assign(arm=trial.participants["participant_id"].map(arm))
    scores = trial.scores.assign(visit_code=trial.scores["visit_code"].replace({"V13": "V17"}))
    data = TrialData(**{**trial.frames(), "participants": people, "scores": scores})
    r = run_analysis_plan(data, rct, now=NOW)
    desc = r.section("descriptive").table
    assert set(desc["arm"]) == {"MDMA", "PLACEBO"}
    row = desc.set_index(["arm", "scale", "visit"]).loc[("PLACEBO", "madrs", "V3")]
    placebo_v3 = [30.0, 29.0, 33.0, 31.0, 27.0, 25.0]  # P07-P12
    assert row["n"] == 6
    assert row["mean"] == pytest.approx(np.mean(placebo_v3))
    mmrm = r.section("mmrm")
    diff = mmrm.tables["arm_differences"].set_index(["scale", "visit"])
    assert diff.loc[("madrs", "V17"), "contrast"] == "PLACEBO - MDMA"
    assert mmrm.stats["madrs"].df_method == "kenward-roger-linear"
    assert set(mmrm.tables["lsmeans"]["arm"]) == {"MDMA", "PLACEBO"}
    props = r.section("responders").table.set_index(["arm", "endpoint_id", "visit"])
    mdma = props.loc[("MDMA", "madrs_response", "V17")]
    assert (mdma["k"], mdma["n"]) == (4, 6)  # P01, P02, P03 and P05 of P01-P06
    assert "MDMA/madrs_response/V17" in r.section("responders").stats
    ae = r.section("safety").tables["ae_by_severity"]
    assert set(ae["arm"]) == {"MDMA", "PLACEBO"}
    headline = r.to_frame()
    assert set(headline["arm"].dropna()) == {"MDMA", "PLACEBO"}
