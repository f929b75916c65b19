"""The report's safety section (issue 11): C-SSRS behaviour events listed among the safety
events with their free text escaped, ideation and behaviour by visit, alerts by rule and level
with the hours to acknowledgement, the SAE reporting clock, dose-stop events and overrides,
and the deviations — numbered like every other table."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.support.analysis_data import RENDERED_AT, RUN_AT, make_trial

from remit.analysis import TrialData, run_analysis_plan
from remit.protocol import Protocol
from remit.reports import render_report

TEXT = '<script>alert("x")</script> cut & bruised'


def _with_safety_events(base: TrialData) -> TrialData:
    fu7 = base.scores[(base.scores["scale"] == "cssrs") & (base.scores["visit_code"] == "FU7")]
    form = fu7[fu7["participant_id"] == "P04"].iloc[0].to_dict()
    form["items"] = {
        **form["items"],
        "actual_attempt": True,
        "actual_lethality": 1,
        "attempt_description": TEXT,
    }
    form["derived"] = {**form["derived"], "any_behaviour": True}
    scores = pd.concat(
        [base.scores[base.scores.index != form_index(base.scores, form)], pd.DataFrame([form])],
        ignore_index=True,
    )
    alerts = base.alerts.copy()
    alerts["acknowledged_at"] = alerts["raised_at"] + pd.Timedelta(minutes=90)
    alerts.loc[alerts["status"] == "open", "acknowledged_at"] = pd.NaT
    ae = base.adverse_events.copy()
    serious = ae["serious"]
    ae.loc[serious, "awareness_at"] = pd.Timestamp("2024-03-01T08:00Z")
    ae.loc[serious, "report_due_at"] = pd.Timestamp("2024-03-02T08:00Z")
    ae.loc[serious, "reported_at"] = pd.Timestamp("2024-03-02T10:00Z")
    deviations = pd.DataFrame(
        [
            {
                "participant_id": "P02",
                "visit_code": "V5",
                "category": "dose_stop_override",
                "major": True,
                "description": "supplement after 200/125 <investigator override>",
                "occurred_date": "2024-02-10",
            },
            {
                "participant_id": "P03",
                "visit_code": "V9",
                "category": "visit_out_of_window",
                "major": False,
                "description": "visit V9 3 days late",
                "occurred_date": "2024-03-01",
            },
            {
                "participant_id": None,
                "visit_code": None,
                "category": "monitoring",
                "major": False,
                "description": "monitoring visit postponed",
                "occurred_date": "2024-04-01",
            },
        ]
    )
    frames: dict[str, Any] = {
        **base.frames(),
        "scores": scores,
        "alerts": alerts,
        "adverse_events": ae,
        "deviations": deviations,
    }
    return TrialData(**frames, simulated=True)


def form_index(scores: pd.DataFrame, form: dict[str, Any]) -> Any:
    same = scores[
        (scores["participant_id"] == form["participant_id"])
        & (scores["visit_code"] == form["visit_code"])
        & (scores["scale"] == form["scale"])
    ]
    return same.index[0]


@pytest.fixture(scope="module")
def page(oslo: Protocol, tmp_path_factory: pytest.TempPathFactory) -> str:
    data = _with_safety_events(make_trial(simulated=True))
    result = run_analysis_plan(data, oslo, now=RUN_AT)
    out: Path = tmp_path_factory.mktemp("safety-report")
    report = render_report(result, data, oslo, out, pdf=False, now=RENDERED_AT)
    return report.html_path.read_text("utf-8")


def _section(html: str, section: str) -> str:
    return html[html.index(f'<section id="{section}"') :].split("</section>")[0]


def _table(html: str, table_id: str) -> str:
    return html[html.index(f'id="{table_id}"') :].split("</table>")[0]


def _rows(table: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", " ", r)) for r in table.split("<tr")[1:]]


def test_behaviour_events_are_listed_in_the_safety_section_with_text_escaped(page: str) -> None:
    safety = _section(page, "safety")
    listing = _table(safety, "tbl-cssrs-behaviour")
    # the text answer is shown, escaped: never markup, never dropped
    assert "&lt;script&gt;" in listing
    assert "<script>" not in listing
    events = [r for r in _rows(listing) if "P04" in r]
    assert len(events) == 1
    assert "Actual suicide attempt" in events[0]
    assert "FU7" in events[0]
    assert TEXT in events[0]
    assert re.search(r"Actual lethality[^|]*: 1", events[0])


def test_ideation_and_behaviour_by_visit_in_the_suicidality_section(page: str) -> None:
    table = _table(_section(page, "cssrs"), "tbl-cssrs-visits")
    fu7 = next(r for r in _rows(table) if re.match(r"\W*FU7\b", r))
    assert "1 (P04)" in fu7


def test_alerts_sae_clock_dose_stops_and_deviations(page: str) -> None:
    safety = _section(page, "safety")
    alerts = _rows(_table(safety, "tbl-alerts"))
    vitals = next(r for r in alerts if "vitals_systolic_bp" in r)
    assert "1.5" in vitals  # 90 minutes
    madrs = next(r for r in alerts if "madrs_item10" in r)
    assert "same day" in madrs
    sae = _rows(_table(safety, "tbl-sae"))
    assert any("late" in r and "2024-03-02 10:00" in r for r in sae)
    stops = _rows(_table(safety, "tbl-dose-stops"))
    assert any("investigator override" in r and "P02" in r for r in stops)
    by_category = _rows(_table(safety, "tbl-deviations"))
    assert any("dose stop override" in r for r in by_category)
    listing = _table(safety, "tbl-deviation-list")
    assert "&lt;investigator override&gt;" in listing
    # a study-wide deviation belongs to no participant: a note under the listing, not lost
    assert "Study-wide deviation (monitoring, 2024-04-01): monitoring visit postponed." in (
        unescape(safety[safety.index('id="tbl-deviation-list"') :])
    )


def test_the_new_tables_are_numbered_in_reading_order(page: str) -> None:
    captions = re.findall(r"<caption>Table (\d+)\. ([^<]+)", page)
    numbers = [int(n) for n, _ in captions]
    assert numbers == list(range(1, len(numbers) + 1))
    titles = [t.strip() for _, t in captions]
    for title in (
        "C-SSRS suicidal behaviour events",
        "Dose-stop events and overrides",
        "Safety alerts by rule and level",
        "Protocol deviations by category",
        "C-SSRS suicidal ideation and behaviour by visit",
    ):
        assert title in titles
    assert titles.index("Serious adverse events") < titles.index("C-SSRS suicidal behaviour events")


def test_a_listing_from_one_arm_of_two_says_which_arm(tmp_path: Path) -> None:
    from remit.protocol import load_protocol

    rct = load_protocol("mdma-mdd-rct-example")
    frames = _with_safety_events(make_trial(simulated=False)).frames()
    for name in ("scores", "visits"):
        frames[name] = frames[name].assign(
            visit_code=frames[name]["visit_code"].replace({"V13": "V17"})
        )
    people = frames["participants"].copy()
    enrolled = people.loc[people["arm"].notna(), "participant_id"]
    arm_of = dict(zip(enrolled, ["MDMA", "PLACEBO"] * 6, strict=True))
    people["arm"] = people["participant_id"].map(arm_of)
    frames["participants"] = people
    data = TrialData(**frames)
    result = run_analysis_plan(data, rct, now=RUN_AT)
    page = render_report(result, data, rct, tmp_path, pdf=False, now=RENDERED_AT)
    html = page.html_path.read_text("utf-8")
    labels = {a.code: a.label for a in rct.arms}
    # P04's attempt is the only behaviour event: the listing names P04's arm
    listing = unescape(re.sub(r"<[^>]+>", " ", _table(html, "tbl-cssrs-behaviour")))
    assert f"Arm: {labels[arm_of['P04']]}" in listing
    other = next(code for code in labels if code != arm_of["P04"])
    assert f"Arm: {labels[other]}" not in listing
