"""What ``build_trial_data`` carries for the report's safety section: when each alert was
acknowledged and closed, the SAE reporting clock and the protocol deviations (SQLite and
PostgreSQL through the shared ``oslo`` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from tests.support.forms import at, madrs
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv


def test_trial_data_carry_alert_times_the_sae_clock_and_deviations(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V3")
    inv = oslo.investigator
    form = sv.record_assessment(oslo.engine, oslo.rater, pid, "V3", "madrs", madrs(3, 5))
    alert = form.alerts[0]
    acked = sv.acknowledge_alert(oslo.engine, inv, alert.id, note="called today")
    day = visit_date(oslo, pid, "V3")
    aware = at(day, 20)
    sae = sv.record_adverse_event(
        oslo.engine,
        oslo.therapist,
        pid,
        term="syncope",
        onset_date=day,
        severity="severe",
        relatedness="possible",
        serious=True,
        seriousness_criteria=["hospitalisation"],
        awareness_at=aware,
    )
    sv.mark_sae_reported(oslo.engine, inv, sae.id, reported_at=aware + timedelta(hours=30))
    sv.record_deviation(
        oslo.engine,
        inv,
        pid,
        category="treatment",
        description="supplement given after a reading of 200/125 <override>",
        severity="major",
        occurred_date=day,
        visit_code="V3",
    )
    sv.record_deviation(
        oslo.engine,
        oslo.data_manager,  # study-wide: a site-bound user cannot log a study-wide deviation
        None,
        category="other",
        description="monitor visit postponed",
        occurred_date=day,
    )

    data = sv.build_trial_data(oslo.engine, actor=oslo.statistician)

    madrs_alert = data.alerts[data.alerts["rule_id"] == alert.rule_id].iloc[0]
    assert madrs_alert["status"] == "acknowledged"
    assert madrs_alert["acknowledged_at"] == pd.Timestamp(acked.acknowledged_at)
    assert madrs_alert["acknowledged_at"] >= madrs_alert["raised_at"]
    assert pd.isna(madrs_alert["closed_at"])
    sae_row = data.adverse_events[data.adverse_events["serious"]].iloc[0]
    assert sae_row["awareness_at"] == pd.Timestamp(aware)
    assert sae_row["report_due_at"] == pd.Timestamp(aware + timedelta(hours=24))
    assert sae_row["reported_at"] == pd.Timestamp(aware + timedelta(hours=30))
    devs = data.deviations
    mine = devs[devs["participant_id"] == pid].iloc[0]
    assert (mine["category"], bool(mine["major"]), mine["visit_code"]) == (
        "treatment",
        True,
        "V3",
    )
    assert mine["description"].endswith("<override>")
    assert mine["occurred_date"] == pd.Timestamp(day)
    study_wide = devs[devs["participant_id"].isna()]
    assert study_wide["category"].tolist() == ["other"]
