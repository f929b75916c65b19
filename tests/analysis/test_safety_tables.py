"""The safety tables of issue 11 on small hand-built trials: C-SSRS ideation and behaviour by
visit with the behaviour listing, alerts by rule and level with the time to acknowledgement,
the SAE reporting clock, dose-stop events and overrides, deviations, and every tier of the
MADRS item 10 rules. Every expected number is counted by hand from the rows below."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from remit.analysis import SafetySectionResult, TrialData
from remit.analysis.context import build_context
from remit.analysis.safety_section import run_safety
from remit.analysis.safety_tables import (
    alert_table,
    cssrs_behaviour_tables,
    deviation_tables,
    dose_stop_table,
    madrs_item10_table,
    sae_list,
    vitals_tables,
)
from remit.protocol import VITAL_SIGN_CODES, Protocol, SafetyAnalysis, SafetyRule

IDS = ("P1", "P2", "P3")


def _people(ids: tuple[str, ...] = IDS) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "participant_id": pid,
                "site": "OST",
                "arm": "MDMA",
                "sex": "female",
                "age_years": 40,
                "status": "completed",
                "screened_date": "2024-01-02",
                "enrolled_date": "2024-01-10",
                "ineligible_reasons": [],
                "withdrawn_reason": None,
                "simulated": False,
            }
            for pid in ids
        ]
    )


def _form(
    pid: str,
    visit: str,
    scale: str,
    day: str,
    items: dict[str, Any],
    derived: dict[str, Any] | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    return {
        "participant_id": pid,
        "visit_code": visit,
        "study_day": None,
        "scale": scale,
        "version": version,
        "total": None,
        "band": None,
        "n_missing": 0,
        "prorated": False,
        "assessed_at": f"{day}T10:00:00Z",
        "items": items,
        "subscales": {},
        "derived": derived or {},
    }


def _cssrs(pid: str, visit: str, day: str, ideation: int, *behaviour: str, **more: Any) -> Any:
    items: dict[str, Any] = dict.fromkeys(behaviour, True) | more
    version = "baseline" if visit == "SCR" else "since_last_visit"
    derived = {"ideation_type": ideation, "any_behaviour": bool(behaviour)}
    return _form(pid, visit, "cssrs", day, items, derived, version)


def _cssrs_trial() -> TrialData:
    forms = [
        # SCR: P1 type 2, P2 type 0, P3 type 1 with a lifetime attempt (history, not an event)
        _cssrs("P1", "SCR", "2024-01-03", 2),
        _cssrs("P2", "SCR", "2024-01-03", 0),
        _cssrs("P3", "SCR", "2024-01-04", 1, actual_attempt_lifetime=True),
        # V13: P1 type 1, P2 type 3 with preparatory acts, P3 not assessed
        _cssrs("P1", "V13", "2024-04-01", 1),
        _cssrs("P2", "V13", "2024-04-02", 3, "preparatory_behaviour"),
        # FU7: P1 type 4 with an actual attempt (lethality 2, a text answer), P2 0, P3 type 1
        _cssrs(
            "P1",
            "FU7",
            "2024-08-01",
            4,
            "actual_attempt",
            "aborted_attempt",
            actual_lethality=2,
            note="<b>took tablets</b> & called a friend",
        ),
        _cssrs("P2", "FU7", "2024-08-02", 0),
        # ideation answered yes is not behaviour, even where ideation items are safety items
        _cssrs("P3", "FU7", "2024-08-03", 1, wish_to_be_dead=True),
    ]
    return TrialData(participants=_people(), scores=pd.DataFrame(forms))


def test_cssrs_by_visit_counts_participants_by_worst_type_and_behaviour(oslo: Protocol) -> None:
    t = cssrs_behaviour_tables(_cssrs_trial(), oslo, IDS)["cssrs_by_visit"]
    by = t.set_index("visit")
    assert list(t["visit"]) == ["SCR", "V13", "FU7"]
    # SCR: three assessed, P1 (2) and P3 (1) with ideation; the lifetime attempt is no event
    assert by.loc[
        "SCR", ["n", "n_any_ideation", "n_type_1", "n_type_2", "n_any_behaviour"]
    ].tolist() == [3, 2, 1, 1, 0]
    # V13: two assessed, both with ideation (1 and 3), P2 with behaviour
    assert by.loc[
        "V13", ["n", "n_any_ideation", "n_type_1", "n_type_3", "n_any_behaviour"]
    ].tolist() == [2, 2, 1, 1, 1]
    assert by.loc["V13", "participant_ids_behaviour"] == ["P2"]
    # FU7: three assessed, P1 (4) and P3 (1) with ideation, P1 with behaviour
    assert by.loc["FU7", ["n", "n_any_ideation", "n_type_1", "n_type_4", "n_type_5"]].tolist() == [
        3,
        2,
        1,
        1,
        0,
    ]
    assert by.loc["FU7", "participant_ids_behaviour"] == ["P1"]


def test_cssrs_behaviour_listing_has_every_event_with_lethality_and_text(oslo: Protocol) -> None:
    t = cssrs_behaviour_tables(_cssrs_trial(), oslo, IDS)["cssrs_behaviour_list"]
    assert t[["participant_id", "visit_code", "behaviour_item"]].values.tolist() == [
        ["P2", "V13", "preparatory_behaviour"],
        ["P1", "FU7", "actual_attempt"],
        ["P1", "FU7", "aborted_attempt"],
    ]
    first = t.iloc[0]
    assert first["behaviour"] == "Preparatory acts or behaviour"
    assert str(first["assessed_date"]) == "2024-04-02"
    attempt = t.iloc[1]
    assert attempt["lethality"].endswith(": 2")
    assert "Actual lethality" in attempt["lethality"]
    # a free-text answer is carried as given (the report escapes it), never dropped
    assert "<b>took tablets</b> & called a friend" in attempt["text_answers"]
    # a population without P1 has no FU7 event
    assert cssrs_behaviour_tables(_cssrs_trial(), oslo, ("P2", "P3"))["cssrs_behaviour_list"][
        "participant_id"
    ].tolist() == ["P2"]


def test_safety_table_cssrs_behaviour(oslo: Protocol) -> None:
    s = _run(_cssrs_trial(), oslo, "cssrs_behaviour")
    assert s.cssrs_by_visit is not None
    assert s.cssrs_behaviour_list is not None
    assert len(s.cssrs_behaviour_list) == 3
    assert next(iter(s.cssrs_by_visit.columns)) == "arm"
    assert "cssrs_behaviour" in s.conventions
    assert s.alerts is None
    assert s.deviation_list is None


def _run(data: TrialData, protocol: Protocol, *tables: str) -> SafetySectionResult:
    a = SafetyAnalysis(id="s", kind="safety", label="Safety", tables=tables)  # type: ignore[arg-type]
    return run_safety(a, build_context(data, protocol))


# --------------------------------------------------------------------------- alerts


def _alert(
    pid: str, rule: str, level: str, raised: str, ack: str | None, closed: str | None
) -> Any:
    status = "closed" if closed else "acknowledged" if ack else "open"
    return {
        "participant_id": pid,
        "rule_id": rule,
        "level": level,
        "raised_at": raised,
        "status": status,
        "acknowledged_at": ack,
        "closed_at": closed,
    }


def _alert_trial() -> TrialData:
    alerts = [
        # madrs_item10 same_day: acknowledged after 1 h, 5 h and never
        _alert(
            "P1",
            "madrs_item10",
            "same_day",
            "2024-02-01T10:00Z",
            "2024-02-01T11:00Z",
            "2024-02-02T09:00Z",
        ),
        _alert("P2", "madrs_item10", "same_day", "2024-02-03T08:00Z", "2024-02-03T13:00Z", None),
        _alert("P2", "madrs_item10", "same_day", "2024-03-03T08:00Z", None, None),
        # cssrs_behaviour urgent: acknowledged after 30 min
        _alert(
            "P3",
            "cssrs_behaviour",
            "urgent",
            "2024-08-03T10:00Z",
            "2024-08-03T10:30Z",
            "2024-08-03T12:00Z",
        ),
        # vitals immediate: acknowledged after 6 min and 12 min
        _alert(
            "P1",
            "vitals_systolic_bp",
            "immediate",
            "2024-02-10T12:00Z",
            "2024-02-10T12:06Z",
            "2024-02-10T13:00Z",
        ),
        _alert(
            "P1", "vitals_systolic_bp", "immediate", "2024-03-10T12:00Z", "2024-03-10T12:12Z", None
        ),
        # someone outside the population
        _alert("X9", "madrs_item10", "same_day", "2024-02-01T10:00Z", None, None),
    ]
    return TrialData(participants=_people(), alerts=pd.DataFrame(alerts))


def test_alerts_by_rule_and_level_with_time_to_acknowledgement() -> None:
    t = alert_table(_alert_trial(), IDS)
    # most urgent level first
    assert t[["rule_id", "level"]].values.tolist() == [
        ["vitals_systolic_bp", "immediate"],
        ["cssrs_behaviour", "urgent"],
        ["madrs_item10", "same_day"],
    ]
    rows = {r["rule_id"]: r for r in t.to_dict(orient="records")}
    madrs = rows["madrs_item10"]
    assert (madrs["n"], madrs["n_participants"], madrs["n_acknowledged"]) == (3, 2, 2)
    assert madrs["median_hours_to_ack"] == pytest.approx(3.0)  # median of 1 h and 5 h
    assert madrs["max_hours_to_ack"] == pytest.approx(5.0)
    assert (madrs["n_open"], madrs["n_unclosed"]) == (1, 2)
    vitals = rows["vitals_systolic_bp"]
    assert vitals["median_hours_to_ack"] == pytest.approx(0.15)  # 6 and 12 minutes
    assert vitals["max_hours_to_ack"] == pytest.approx(0.2)
    assert (vitals["n_open"], vitals["n_unclosed"]) == (0, 1)
    assert rows["cssrs_behaviour"]["median_hours_to_ack"] == pytest.approx(0.5)


def test_alerts_without_acknowledgement_times_count_but_have_no_time() -> None:
    old = pd.DataFrame(
        [
            {
                "participant_id": "P1",
                "rule_id": "madrs_item10",
                "level": "same_day",
                "raised_at": "2024-02-01T10:00Z",
                "status": "acknowledged",
            }
        ]
    )
    t = alert_table(TrialData(alerts=old), IDS)  # acknowledged_at left out: optional
    row = t.to_dict(orient="records")[0]
    assert row["n_acknowledged"] == 1
    assert row["n_open"] == 0
    assert math.isnan(row["median_hours_to_ack"])


def test_safety_table_alerts_on_its_own(oslo: Protocol) -> None:
    s = _run(_alert_trial(), oslo, "alerts")
    assert s.alerts is not None
    assert int(s.alerts["n"].sum()) == 6
    assert "alerts" in s.conventions


# --------------------------------------------------------------------------- SAEs


def test_sae_list_carries_the_reporting_clock() -> None:
    ae = pd.DataFrame(
        [
            {
                "participant_id": pid,
                "term": term,
                "onset_date": onset,
                "severity": "severe",
                "serious": serious,
                "relatedness": "not related",
                "outcome": "recovered",
                "awareness_at": aware,
                "report_due_at": due,
                "reported_at": reported,
            }
            for pid, term, onset, serious, aware, due, reported in [
                (
                    "P1",
                    "hospitalisation",
                    "2024-02-01",
                    True,
                    "2024-02-01T10:00Z",
                    "2024-02-02T10:00Z",
                    "2024-02-02T09:00Z",
                ),
                (
                    "P2",
                    "suicide attempt",
                    "2024-03-01",
                    True,
                    "2024-03-01T10:00Z",
                    "2024-03-02T10:00Z",
                    "2024-03-03T10:00Z",
                ),
                (
                    "P3",
                    "syncope",
                    "2024-04-01",
                    True,
                    "2024-04-01T10:00Z",
                    "2024-04-02T10:00Z",
                    None,
                ),
                ("P3", "headache", "2024-01-15", False, "2024-01-15T10:00Z", None, None),
            ]
        ]
    )
    t = sae_list(TrialData(adverse_events=ae), IDS)
    assert t[["participant_id", "reporting"]].values.tolist() == [
        ["P1", "on time"],
        ["P2", "late"],
        ["P3", "not reported"],
    ]
    assert str(t.loc[0, "report_due_at"]) == "2024-02-02 10:00:00+00:00"


# --------------------------------------------------------------------------- deviations, stops


def _deviation(
    pid: str | None, visit: str | None, category: str, major: bool, text: str, day: str
) -> Any:
    return {
        "participant_id": pid,
        "visit_code": visit,
        "category": category,
        "major": major,
        "description": text,
        "occurred_date": day,
    }


def _deviation_trial() -> TrialData:
    deviations = [
        _deviation(
            "P1",
            "V5",
            "dose_stop_override",
            True,
            "supplement after BP 200/125: <override>",
            "2024-02-10",
        ),
        _deviation("P1", "V9", "visit_out_of_window", False, "visit V9 3 days late", "2024-03-01"),
        _deviation("P2", "V9", "visit_out_of_window", False, "visit V9 2 days early", "2024-02-25"),
        _deviation("P3", "V5", "dose_above_cap", True, "200 mg in total, cap 180 mg", "2024-02-11"),
        _deviation(
            "P2", "V5", "dose_stop_override", True, "supplement with an open alert", "2024-02-10"
        ),
        _deviation(None, None, "monitoring", False, "monitor visit skipped", "2024-05-01"),
    ]
    doses = [
        {
            "participant_id": pid,
            "visit_code": visit,
            "session_number": session,
            "kind": "supplemental",
            "dose_mg": 40.0,
            "status": status,
            "given_at": "2024-02-10T12:00Z" if status == "given" else None,
            "withheld_reason": reason,
        }
        for pid, visit, session, status, reason in [
            ("P1", "V5", 1, "given", None),
            ("P3", "V5", 1, "withheld", "systolic BP 175 at 90 min"),
            ("P3", "V9", 2, "withheld", "open immediate alert"),
            ("P2", "V9", 2, "withheld", "participant declined"),
        ]
    ]
    return TrialData(
        participants=_people(), deviations=pd.DataFrame(deviations), doses=pd.DataFrame(doses)
    )


def test_deviations_by_category_and_listed() -> None:
    t = deviation_tables(_deviation_trial(), IDS)
    counts = t["deviations_by_category"]
    assert counts[["category", "n", "n_major", "n_participants"]].values.tolist() == [
        ["dose_stop_override", 2, 2, 2],
        ["visit_out_of_window", 2, 0, 2],
        ["dose_above_cap", 1, 1, 1],
    ]
    listing = t["deviation_list"]
    # by date; the study-wide one has no participant and is not in a population's list
    assert listing["occurred_date"].dt.strftime("%m-%d").tolist() == [
        "02-10",
        "02-10",
        "02-11",
        "02-25",
        "03-01",
    ]
    assert "monitoring" not in set(listing["category"])


def test_dose_stops_count_withheld_doses_and_the_two_override_categories() -> None:
    t = dose_stop_table(_deviation_trial(), IDS)
    assert t[["event", "visit_code", "n", "n_participants"]].values.tolist() == [
        ["withheld", "V5", 1, 1],
        ["withheld", "V9", 2, 2],
        ["dose_stop_override", "V5", 2, 2],
        ["dose_above_cap", "V5", 1, 1],
    ]
    assert t.loc[1, "details"] == "open immediate alert; participant declined"
    assert t.loc[2, "participant_ids"] == ["P1", "P2"]


def test_dose_stops_without_overrides_have_no_override_rows() -> None:
    data = _deviation_trial()
    plain = TrialData(
        participants=data.participants,
        doses=data.doses,
        deviations=data.deviations[data.deviations["category"] == "visit_out_of_window"],
    )
    assert set(dose_stop_table(plain, IDS)["event"]) == {"withheld"}


def test_safety_table_dose_stops(oslo: Protocol) -> None:
    s = _run(_deviation_trial(), oslo, "dose_stops")
    assert s.dose_stops is not None
    assert int(s.dose_stops["n"].sum()) == 6


def test_safety_table_deviations(oslo: Protocol) -> None:
    s = _run(_deviation_trial(), oslo, "deviations")
    assert s.deviation_list is not None
    assert s.deviations_by_category is not None
    assert len(s.deviation_list) == 5
    # the study-wide deviation is not lost: it is a note of the section
    assert any("monitor visit skipped" in n for n in s.notes)


# --------------------------------------------------------------------------- MADRS item 10 tiers


def _tiered(oslo: Protocol) -> Protocol:
    base = next(r for r in oslo.safety.rules if r.scale == "madrs" and r.item is not None)
    tiers = (
        base.model_copy(update={"id": "m10_review", "op": ">=", "value": 2, "level": "review"}),
        base.model_copy(update={"id": "m10_same_day", "op": ">=", "value": 4, "level": "same_day"}),
        SafetyRule(
            id="m10_urgent",
            scale="madrs",
            item="suicidal_thoughts",
            op=">=",
            value=6,
            level="urgent",
            text="MADRS item 10 of 6: urgent",
        ),
    )
    others = tuple(r for r in oslo.safety.rules if not (r.scale == "madrs" and r.item))
    return oslo.model_copy(
        update={"safety": oslo.safety.model_copy(update={"rules": (tiers[2], *tiers[:2], *others)})}
    )


def test_madrs_item10_uses_every_tier_of_the_rules(oslo: Protocol) -> None:
    item10 = [3, 4, 6, 0]  # P1 review, P2 same-day, P3 urgent, P4 nothing
    forms = [
        _form(pid, "V13", "madrs", "2024-04-01", {"suicidal_thoughts": v})
        for pid, v in zip(("P1", "P2", "P3", "P4"), item10, strict=True)
    ]
    data = TrialData(scores=pd.DataFrame(forms))
    t = madrs_item10_table(data, _tiered(oslo), ("P1", "P2", "P3", "P4"))["madrs_item10"]
    row = t.iloc[0]
    assert (row["n"], row["max"], row["n_meeting_rule"]) == (4, 6.0, 3)
    # mildest tier first; a higher value meets every lower tier too
    assert list(row["by_rule"]) == ["m10_review", "m10_same_day", "m10_urgent"]
    assert row["by_rule"] == {
        "m10_review": ["P1", "P2", "P3"],
        "m10_same_day": ["P2", "P3"],
        "m10_urgent": ["P3"],
    }


# --------------------------------------------------------------------------- vital signs


def _reading(pid: str, visit: str, session: int | None, minutes: float | None, sbp: float) -> Any:
    row: dict[str, Any] = dict.fromkeys(VITAL_SIGN_CODES)
    row.update(
        participant_id=pid,
        visit_code=visit,
        session_number=session,
        minutes_after_dose=minutes,
        measured_at="2024-02-10T10:00Z",
        systolic_bp=sbp,
    )
    return row


def test_vital_signs_outside_a_session_are_shown_and_never_passed_as_within_limits(
    oslo: Protocol,
) -> None:
    high = oslo.vital_thresholds("V5")["systolic_bp"].high
    assert high is not None
    readings = [
        _reading("P1", "V5", 1, 60, high + 10),
        _reading("P1", "V5", 1, 120, high - 10),
        _reading("P2", "V5", 1, 60, high - 20),
        # a screening reading (no dosing session) and a visit the protocol does not know
        _reading("P1", "SCR", None, None, high + 30),
        _reading("P2", "XX9", None, None, high + 30),
    ]
    t = vitals_tables(TrialData(vitals=pd.DataFrame(readings)), oslo, ("P1", "P2"))
    peaks = t["vitals_peaks"]
    assert len(peaks) == 4  # nothing dropped
    scr = peaks[peaks["visit_code"] == "SCR"].iloc[0]
    assert scr["peak"] == high + 30
    # judged against the limits the protocol sets at SCR, if any; never silently "within"
    at_scr = oslo.vital_thresholds("SCR").get("systolic_bp")
    judged = at_scr is not None and at_scr.high is not None
    assert bool(scr["judged"]) == judged
    assert bool(scr["breached"]) == (judged and high + 30 > at_scr.high)  # type: ignore[union-attr]
    unknown = peaks[peaks["visit_code"] == "XX9"].iloc[0]
    assert not unknown["judged"]
    assert not unknown["breached"]
    dosing = peaks[peaks["visit_code"] == "V5"].set_index("participant_id")
    assert dosing["judged"].all()
    assert dosing.loc["P1", "peak"] == high + 10
    assert dosing.loc["P1", "peak_minutes"] == 60
    summary = t["vitals_summary"].set_index("visit_code")
    assert summary.loc["V5", "participant_ids_breached"] == ["P1"]
    assert not summary.loc["XX9", "judged"]


def test_the_report_says_not_judged_for_readings_without_limits(oslo: Protocol) -> None:
    from remit.reports.tables import vitals_table

    readings = [_reading("P1", "XX9", None, None, 190), _reading("P1", "V5", 1, 60, 150)]
    s = _run(
        TrialData(participants=_people(("P1",)), vitals=pd.DataFrame(readings)), oslo, "vitals"
    )
    table = vitals_table(s)
    assert table is not None
    body = table.to_frame()
    unknown = body[body["Session"].str.contains("XX9")].iloc[0]
    assert unknown["Session"] == "no session (XX9)"
    assert unknown["Participants beyond"] == "not judged: no limit at this visit"


def test_the_new_frames_and_columns_survive_a_trial_data_folder(tmp_path: Any) -> None:
    data = _deviation_trial()
    alerts = _alert_trial().alerts
    both = TrialData(**{**data.frames(), "alerts": alerts})
    back = TrialData.from_directory(both.to_directory(tmp_path / "bundle"))
    assert back.snapshot_sha256() == both.snapshot_sha256()
    assert back.deviations["major"].tolist() == both.deviations["major"].tolist()
    # a folder written before the deviations frame and the optional columns existed still loads
    (tmp_path / "bundle" / "deviations.csv").unlink()
    old_alerts = alerts.drop(columns=["acknowledged_at", "closed_at", "observed_at"])
    old_alerts.to_csv(tmp_path / "bundle" / "alerts.csv", index=False)
    old = TrialData.from_directory(tmp_path / "bundle")
    assert old.deviations.empty
    assert old.alerts["acknowledged_at"].isna().all()
    assert len(old.alerts) == len(alerts)
