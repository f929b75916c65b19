"""Endpoint derivation: boundaries, relapse, sustained response, time to relapse."""

from __future__ import annotations

import math

from remit.analysis import TrialData
from remit.analysis.endpoints import derive_endpoints
from remit.protocol import Protocol


def test_definitions_travel_with_every_row(trial: TrialData, oslo: Protocol) -> None:
    r = derive_endpoints(trial, oslo)
    assert set(r.definitions) == {e.id for e in oslo.endpoints}
    long = r.to_frame()
    assert long["definition"].notna().all()
    assert "50%" in r.definitions["madrs_response"]
    counts = r.counts()
    assert counts["definition"].notna().all()


def test_change_scores(trial: TrialData, oslo: Protocol) -> None:
    r = derive_endpoints(trial, oslo)
    c = r.change[r.change["endpoint_id"] == "madrs_change_v13"].set_index("participant_id")
    assert len(c) == 12
    assert c.loc["P01", "change"] == -15
    assert c.loc["P01", "pct_change"] == -50
    assert math.isnan(c.loc["P11", "change"])  # no V13


def test_response_and_remission_boundaries(trial: TrialData, oslo: Protocol) -> None:
    r = derive_endpoints(trial, oslo)
    responders = r.ids_with("madrs_response", "V13")
    assert "P01" in responders  # exactly 50 %
    assert "P06" not in responders  # 46 %
    assert sorted(responders) == ["P01", "P02", "P03", "P05", "P07", "P08", "P10", "P12"]
    assert r.ids_with("madrs_response", "V13", None) == ["P11"]
    remitters = r.ids_with("madrs_remission", "V13")
    assert "P02" in remitters  # exactly 10
    assert "P01" not in remitters
    assert sorted(remitters) == ["P02", "P03", "P05", "P07", "P08", "P10", "P12"]
    assert sorted(r.ids_with("madrs_remission", "FU7")) == ["P03", "P05", "P07", "P12"]


def test_relapse_only_counts_remitters(trial: TrialData, oslo: Protocol) -> None:
    r = derive_endpoints(trial, oslo)
    assert sorted(r.ids_with("madrs_relapse", "FU7")) == ["P02", "P08"]
    assert sorted(r.ids_with("madrs_relapse", "FU7", False)) == ["P03", "P05", "P07", "P12"]
    rel = r.status[r.status["endpoint_id"] == "madrs_relapse"].set_index("participant_id")
    assert rel.loc["P01", "at_risk"] is False
    assert rel.loc["P01", "status"] is None
    assert rel.loc["P10", "at_risk"] is True
    assert rel.loc["P10", "status"] is None
    counts = r.counts().set_index("endpoint_id").loc["madrs_relapse"]
    assert (counts["n_at_risk"], counts["n"], counts["n_yes"]) == (7, 6, 2)


def test_sustained_response(trial: TrialData, oslo: Protocol) -> None:
    r = derive_endpoints(trial, oslo)
    sustained = sorted(r.ids_with("madrs_sustained_response", "FU7"))
    # P08 relapsed (remission lost) but kept the response; P06 responded only at FU7
    assert sustained == ["P01", "P03", "P05", "P07", "P08", "P12"]
    assert "P06" in r.ids_with("madrs_sustained_response", "FU7", False)
    # P10 (no FU7) and P11 (no V13) cannot be decided
    assert sorted(r.ids_with("madrs_sustained_response", "FU7", None)) == ["P10", "P11"]


def test_time_to_relapse(trial: TrialData, oslo: Protocol) -> None:
    r = derive_endpoints(trial, oslo)
    t = r.time_to_relapse.set_index("participant_id")
    assert sorted(t.index) == ["P02", "P03", "P05", "P07", "P08", "P10", "P12"]
    assert t.loc["P02", "event"] is True
    assert t.loc["P02", "time_days"] == 210 - 98
    assert t.loc["P03", "event"] is False
    assert t.loc["P10", "time_days"] == 0  # censored at V13: no later assessment


def test_only_enrolled_are_analysed(trial: TrialData, oslo: Protocol) -> None:
    r = derive_endpoints(trial, oslo)
    assert "S13" not in set(r.status["participant_id"])
    assert len(r.population) == 12


def test_to_dict_and_summary(trial: TrialData, oslo: Protocol) -> None:
    r = derive_endpoints(trial, oslo)
    d = r.to_dict()
    assert d["definitions"]["madrs_relapse"] == r.definitions["madrs_relapse"]
    assert len(d["status"]) == len(r.status)
    assert "madrs_relapse at FU7: 2 of 6" in r.summary()
