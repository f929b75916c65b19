"""The ``rbmi`` analysis kind (RbmiAnalysis → RbmiSectionResult): the plan's reference-based
imputation and tipping point run on the hand-made trial, checked against the statistics
called directly on the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from tests.support.analysis_data import MADRS

from remit.analysis import RbmiSectionResult, TrialData, run_analysis_plan
from remit.analysis.context import build_context
from remit.analysis.rbmi_section import run_rbmi
from remit.protocol import Protocol, RbmiAnalysis, load_protocol
from remit.reports.renderers import rbmi_table
from remit.stats import rbmi_bayes, rbmi_condmean, tipping_point

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def _by_hand(arm: dict[str, str] | None = None) -> pd.DataFrame:
    """MADRS change from V3 at V13 and FU7 of the twelve, straight from the fixture's numbers."""
    rows = [
        {
            "participant_id": p,
            "visit": v,
            "arm": None if arm is None else arm[p],
            "baseline": vals[0],
            "change": vals[k] - vals[0],
        }
        for p, vals in MADRS.items()
        for k, v in ((1, "V13"), (2, "FU7"))
    ]
    return pd.DataFrame(rows)


def _analysis(oslo: Protocol, ident: str) -> RbmiAnalysis:
    found = next(a for a in oslo.analysis.analyses if a.id == ident)
    assert isinstance(found, RbmiAnalysis)
    return found


def test_oslo_tipping_point_matches_the_statistics(trial: TrialData, oslo: Protocol) -> None:
    a = _analysis(oslo, "tipping_v13")
    s = run_rbmi(a, build_context(trial, oslo))
    assert isinstance(s, RbmiSectionResult)
    frame = _by_hand()
    kw = {"y": "change", "subject": "participant_id", "visit": "visit", "group": None}
    kw |= {"covariates": ["baseline"], "visit_levels": ["V13", "FU7"]}
    direct = rbmi_condmean(frame, **kw).to_frame()
    got = s.differences
    assert list(got["contrast"]) == ["mean", "mean"]
    np.testing.assert_allclose(got["estimate"], direct["estimate"], rtol=1e-10)
    np.testing.assert_allclose(got["se"], direct["se"], rtol=1e-10)
    assert got["n_imputed"].iloc[0] == 2  # P10 at FU7, P11 at V13
    tp = tipping_point(frame, deltas=list(a.tipping_deltas), at_visit="V13", stop=False, **kw)
    grid = s.tipping
    assert grid is not None
    np.testing.assert_allclose(grid["estimate"], tp.table["estimate"], rtol=1e-10)
    assert s.tipping_points is not None
    assert s.tipping_points["tipping_delta"].iloc[0] == tp.tipping_delta
    # P11's missing V13 is an intermittent gap (FU7 observed): imputed under MAR and never
    # shifted, so at V13 delta changes nothing and the tipping point is not reached
    np.testing.assert_allclose(grid["estimate"], grid["estimate"].iloc[0], rtol=1e-12)
    assert s.tipping_points["tipping_delta"].iloc[0] is None
    assert any("kept over the whole delta grid" in n for n in s.notes)
    # P10's FU7 comes after the last observed visit: there the mean moves by delta / 12
    fu7 = tipping_point(frame, deltas=[0.0, 6.0], at_visit="FU7", stop=False, **kw).table
    assert fu7["estimate"].iloc[1] - fu7["estimate"].iloc[0] == pytest.approx(0.5, rel=1e-9)


def _two_arm(trial: TrialData) -> tuple[TrialData, dict[str, str]]:
    arm = {p: ("MDMA" if i < 6 else "PLACEBO") for i, p in enumerate(trial.enrolled_ids)}
    people = trial.participants.assign(arm=trial.participants["participant_id"].map(arm))
    scores = trial.scores.assign(visit_code=trial.scores["visit_code"].replace({"V13": "V17"}))
    return TrialData(**{**trial.frames(), "participants": people, "scores": scores}), arm


def test_rct_plan_runs_reference_based_mi_and_reports_it(trial: TrialData) -> None:
    rct = load_protocol("mdma-mdd-rct-example")
    data, arm = _two_arm(trial)
    result = run_analysis_plan(data, rct, now=NOW)
    s = result.section("rbmi_j2r")
    assert isinstance(s, RbmiSectionResult)
    a = _analysis(rct, "rbmi_j2r")
    frame = _by_hand(arm).replace({"visit": {"V13": "V17"}})
    direct = rbmi_bayes(
        frame,
        y="change",
        subject="participant_id",
        visit="visit",
        group="arm",
        reference="PLACEBO",
        covariates=["baseline"],
        strategy="J2R",
        n_samples=a.samples,
        seed=a.seed,
        visit_levels=["V17", "FU7"],
    ).to_frame()
    got = s.differences
    assert list(got["contrast"]) == ["MDMA - PLACEBO"] * 2
    np.testing.assert_allclose(got["estimate"], direct["estimate"], rtol=1e-10)
    np.testing.assert_allclose(got["df"], direct["df"], rtol=1e-10)
    assert s.conventions["seed"] == str(a.seed)
    again = run_analysis_plan(data, rct, now=NOW).section("rbmi_j2r")
    pd.testing.assert_frame_equal(got, again.differences)
    tip = result.section("tipping_v17")
    assert isinstance(tip, RbmiSectionResult)
    # the jackknife of twelve people either runs or says why not: never silently empty
    assert not tip.differences.empty or any("not estimable" in n for n in tip.notes)


def test_report_table(trial: TrialData, oslo: Protocol) -> None:
    from remit.reports.renderers import View
    from remit.reports.tables import arm_labels

    result = run_analysis_plan(trial, oslo, now=NOW)
    s = result.section("tipping_v13")
    assert isinstance(s, RbmiSectionResult)
    view = View(result, oslo, trial, arm_labels(oslo), simulated=False)
    table = rbmi_table(s, view)
    assert table is not None
    assert table.id == "tbl-tipping_v13"
    assert table.header[-1] == "Tipping delta"
    assert [r[1] for r in table.rows] == ["V13", "FU7"]
    assert "Tipping point at V13" in " ".join(
        p for p in __import__("remit.analysis", fromlist=["methods_text"]).methods_text(result)
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "bayes"}, "give seed"),
        ({"strategy": "j2r"}, "needs reference"),
        ({"tipping_visit": "V99"}, "tipping_visit"),
        ({"visits": ("V3", "V13")}, "after baseline_visit"),
    ],
)
def test_plan_entry_refused(change: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "id": "x",
        "kind": "rbmi",
        "label": "x",
        "scales": ("madrs",),
        "baseline_visit": "V3",
        "visits": ("V13", "FU7"),
    }
    with pytest.raises(ValueError, match=message):
        RbmiAnalysis.model_validate({**base, **change})


def test_methods_name_the_estimands(trial: TrialData, oslo: Protocol) -> None:
    from remit.analysis import methods_text

    result = run_analysis_plan(trial, oslo, now=NOW)
    assert result.estimands == tuple(e.describe() for e in oslo.estimands)
    (paragraph,) = [p for p in methods_text(result) if p.startswith("Estimands")]
    assert "primary (" in paragraph
    assert "Stopping the dosing sessions early — hypothetical" in paragraph
    assert "main analysis mmrm; sensitivity tipping_v13, lmm_random_slope." in paragraph
