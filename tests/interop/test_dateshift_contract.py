"""Date shifting reads the date and time columns from the TrialData contract: the safety
columns (SAE clock, alert acknowledgement, deviations) move with the participant's offset."""

from __future__ import annotations

import pandas as pd

from remit.analysis import TrialData
from remit.interop.dateshift import DATE_COLUMNS, DateShift, shift_trial_data


def test_every_date_column_of_the_contract_is_shifted() -> None:
    assert "acknowledged_at" in DATE_COLUMNS["alerts"]
    assert DATE_COLUMNS["deviations"] == ("occurred_date",)
    alerts = pd.DataFrame(
        [
            {
                "participant_id": "P1",
                "rule_id": "madrs_item10",
                "level": "same_day",
                "raised_at": "2024-02-01T10:00Z",
                "status": "acknowledged",
                "acknowledged_at": "2024-02-01T11:00Z",
            }
        ]
    )
    deviations = pd.DataFrame(
        [
            {
                "participant_id": pid,
                "visit_code": None,
                "category": "dose_stop_override",
                "major": True,
                "description": "override",
                "occurred_date": "2024-02-10",
            }
            for pid in ("P1", None)
        ]
    )
    data = TrialData(alerts=alerts, deviations=deviations)
    shifted = shift_trial_data(data, DateShift(days={"P1": 30}))
    row = shifted.alerts.iloc[0]
    assert row["acknowledged_at"] == pd.Timestamp("2024-03-02T11:00Z")
    assert row["acknowledged_at"] - row["raised_at"] == pd.Timedelta(hours=1)
    days = shifted.deviations["occurred_date"].dt.strftime("%Y-%m-%d").tolist()
    # the study-wide deviation has no participant: its date is not personal and stays
    assert days == ["2024-03-11", "2024-02-10"]
