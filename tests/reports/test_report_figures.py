"""The figures' inputs (flow counts, outcome categories, lanes) and their SVG."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from matplotlib.figure import Figure

from remit.analysis import AnalysisResult, TrialData
from remit.protocol import Protocol
from remit.reports.figures.consort import consort_figure, disposition
from remit.reports.figures.outcomes import transition_figure, waterfall_figure
from remit.reports.figures.swimmer import lanes
from remit.reports.status import categories_at, outcome_definitions, percent_change_at
from remit.reports.style import figure_svg, report_style


def test_disposition_counts_and_reasons(result: AnalysisResult, oslo: Protocol) -> None:
    flow = disposition(result.adsl, oslo)
    assert (flow.screened, flow.excluded, flow.enrolled, flow.dosed) == (14, 2, 12, 12)
    assert flow.in_screening == 0
    assert flow.not_dosed == ()
    assert (flow.completed_primary, flow.missing_primary) == (11, ("P11",))
    assert (flow.completed_follow_up, flow.missing_follow_up) == (11, ("P10",))
    assert flow.analysed == 12
    assert flow.withdrawn == (("P10", "lost to follow-up"),)
    reasons = dict(flow.exclusion_reasons)
    assert reasons == {
        "current or past psychotic disorder": 1,
        "not met: at least moderate severity: MADRS total 20 or more at the baseline rating, "
        "before enrolment is confirmed": 1,
        "not met: lives within about one hour of the site": 1,
    }


@pytest.mark.parametrize("status", ["screening", "eligible"])
def test_disposition_of_people_still_in_screening(
    result: AnalysisResult, oslo: Protocol, status: str
) -> None:
    adsl = result.adsl.copy()
    row = adsl.index[adsl["participant_id"] == "S13"][0]
    adsl.loc[row, "status"] = status
    flow = disposition(adsl, oslo)
    assert (flow.excluded, flow.in_screening) == (1, 1)
    svg = consort_figure(flow, primary_visit="V13", follow_up_visit="FU7").svg
    assert "Still in screening" in svg


def test_outcome_categories_follow_the_endpoint_statuses(
    result: AnalysisResult, oslo: Protocol
) -> None:
    defs = outcome_definitions(oslo)
    assert defs.scale == "madrs"
    assert defs.visits == ("V13", "FU7")
    v13 = categories_at(result.endpoints, defs, "V13")
    assert v13["P01"] == "response"  # 30 → 15: a 50 % reduction, not ≤ 10
    assert v13["P02"] == "remission"  # 20 → 10
    assert v13["P04"] == "no_response"
    assert v13["P11"] == "missing"
    assert set(v13) == set(result.population)
    fu7 = categories_at(result.endpoints, defs, "FU7")
    assert fu7["P06"] == "response"
    assert fu7["P10"] == "missing"
    pct = percent_change_at(result.endpoints, defs, "V13")
    assert pct["P01"] == pytest.approx(-50.0)
    assert pd.isna(pct["P11"])


def test_swimmer_lanes(trial: TrialData, result: AnalysisResult, oslo: Protocol) -> None:
    defs = outcome_definitions(oslo)
    cats = {v: categories_at(result.endpoints, defs, v) for v in defs.visits}
    by_id = {lane.participant_id: lane for lane in lanes(trial, oslo, cats)}
    assert set(by_id) == set(result.population)
    p03 = by_id["P03"]
    assert [withheld for _day, withheld in p03.doses] == [True, False]
    assert [day for day, _w in p03.doses] == [14.0, 42.0]  # V5 and V9, days from V4
    assert by_id["P09"].adverse_events == ((14.0, "severe", True),)
    assert len(by_id["P05"].alerts) == 1
    assert by_id["P10"].status == "lost_to_follow_up"
    assert [c for _d, c in by_id["P11"].outcomes] == ["response"]  # FU7 only
    assert by_id["P01"].start < 0 < by_id["P01"].end


def test_svg_ids_are_scoped_and_the_output_deterministic() -> None:
    def draw() -> str:
        with report_style("fig-test"):
            fig = Figure(figsize=(2, 2))
            ax = fig.add_subplot()
            ax.plot([0, 1], [0, 1])
            return figure_svg(fig, "fig-test")

    svg = draw()
    assert svg.startswith("<svg ")
    assert 'data-figure="fig-test"' in svg
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids
    assert all(i.startswith("fig-test-") for i in ids)
    for ref in re.findall(r"url\(#([^)]+)\)", svg):
        assert ref in ids
    assert draw() == svg


def test_transition_and_waterfall_handle_everyone_missing() -> None:
    before = {"A": "missing", "B": "missing"}
    fig = transition_figure(before, before, before_label="V13", after_label="FU7")
    assert "Not assessed" in fig.svg
    pct = pd.Series([float("nan"), float("nan")], index=["A", "B"])
    water = waterfall_figure(pct, before, threshold_pct=-50.0)
    assert "Not assessed at V13: A, B" in water.svg


def test_alerts_far_outside_the_time_on_study_are_counted_not_drawn(
    trial: TrialData, result: AnalysisResult, oslo: Protocol
) -> None:
    alerts = trial.alerts.copy()
    alerts.loc[len(alerts)] = {
        "participant_id": "P05",
        "rule_id": "cssrs_ideation_2_3",
        "level": "same_day",
        "raised_at": pd.Timestamp("2031-01-01", tz="UTC"),
        "status": "closed",
    }
    late = TrialData(**{**trial.frames(), "alerts": alerts}, simulated=True)
    by_id = {lane.participant_id: lane for lane in lanes(late, oslo, {})}
    assert len(by_id["P05"].alerts) == 1
    assert by_id["P05"].alerts_outside == 1
    assert by_id["P05"].end < 400
    assert by_id["P09"].alerts_outside == 0


def test_alerts_are_placed_at_the_time_of_their_observation_when_known(
    trial: TrialData, oslo: Protocol
) -> None:
    alerts = trial.alerts.copy()
    p05 = alerts["participant_id"] == "P05"
    drawn = {lane.participant_id: lane for lane in lanes(trial, oslo, {})}["P05"].alerts
    # entered years later (raised_at), observed on the day already drawn (observed_at)
    alerts["observed_at"] = alerts["raised_at"]
    alerts.loc[p05, "raised_at"] = pd.Timestamp("2031-01-01", tz="UTC")
    moved = TrialData(**{**trial.frames(), "alerts": alerts}, simulated=True)
    lane = {lane.participant_id: lane for lane in lanes(moved, oslo, {})}["P05"]
    assert lane.alerts == drawn
    assert lane.alerts_outside == 0
