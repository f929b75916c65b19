"""The dose-stop limits, discharge criteria and follow-up call of a dosing session: read from the
protocol file, checked against each sign's unit and plausible range, judged at the boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from remit.protocol import load_protocol, parse_protocol
from remit.protocol.dosing import Discharge, DoseStop, DosingSession, VitalThreshold

OSLO = load_protocol("oslo-mdma-mdd")
SESSION = OSLO.dosing_session("V5")


def test_the_oslo_protocol_declares_dose_stops_discharge_and_the_call() -> None:
    for planned in OSLO.dosing:
        assert planned.dose_stop is not None
        assert planned.discharge is not None
        assert planned.follow_up_call is not None
        assert planned.dose_stop.limits["systolic_bp"].high == 180
        assert planned.dose_stop.reading_within_min == 30
        assert planned.discharge.limits["systolic_bp"].high == 160
        assert planned.discharge.investigator_sign_off
        assert planned.follow_up_call.day_offset == 1
        assert "not published" in (planned.dose_stop.assumption or "")


@pytest.mark.parametrize(
    ("values", "beyond"),
    [
        ({"systolic_bp": 179}, []),
        ({"systolic_bp": 180}, []),
        ({"systolic_bp": 181}, ["systolic_bp"]),
        ({"heart_rate": 41}, []),
        ({"heart_rate": 40}, []),
        ({"heart_rate": 39}, ["heart_rate"]),
        ({"temperature": 38.6, "diastolic_bp": 111}, ["diastolic_bp", "temperature"]),
    ],
)
def test_dose_stop_limits_are_strict(values: dict[str, float], beyond: list[str]) -> None:
    assert SESSION is not None
    assert SESSION.dose_stop is not None
    checks = SESSION.dose_stop.judge(values)
    assert sorted(c.sign for c in checks if c.beyond) == beyond
    # a limited sign without a value is not beyond, but not fine either
    missing = {c.sign for c in checks if c.value is None}
    assert missing == set(SESSION.dose_stop.limits) - set(values)
    assert all(not c.ok for c in checks if c.sign in missing)


@pytest.mark.parametrize(
    ("limits", "says"),
    [
        (
            {"temperature": {"high": 100.4}},
            "temperature high limit 100.4 °C is above the plausible range",
        ),
        (
            {"systolic_bp": {"high": 180, "unit": "kPa"}},
            "given in kPa, but systolic_bp is recorded in mmHg",
        ),
        ({"heart_rate": {"low": 120, "high": 100}}, "low limit 120 is not below its high limit"),
        (
            {"heart_rate": {"low": 10}},
            "heart_rate low limit 10 /min is below the plausible range 20–250",
        ),
        ({}, "give at least one sign's limits"),
    ],
)
def test_bad_dose_stop_limits_are_refused(limits: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        DoseStop(limits=limits, reading_within_min=30)


def test_discharge_limits_are_checked_too_and_may_be_left_out() -> None:
    with pytest.raises(
        ValidationError, match="temperature high limit 101 °C is above the plausible"
    ):
        Discharge(limits={"temperature": {"high": 101}})
    plain = Discharge()
    assert (plain.limits, plain.no_ongoing_severe_ae, plain.investigator_sign_off) == (
        {},
        True,
        True,
    )


def test_a_limited_sign_must_be_read() -> None:
    assert SESSION is not None
    data = SESSION.model_dump()
    data["vitals"]["signs"] = ["heart_rate"]
    with pytest.raises(ValidationError, match="systolic_bp, diastolic_bp, temperature have a"):
        DosingSession.model_validate(data)


def test_the_protocol_file_reports_a_bad_limit(tmp_path: Path) -> None:
    text = (
        Path(__file__).parents[2] / "src/remit/protocol/protocols/oslo-mdma-mdd.toml"
    ).read_text(encoding="utf-8")
    bad = text.replace(
        'temperature = { high = 38.5, unit = "°C" }', "temperature = { high = 101.3 }", 1
    )
    assert bad != text
    protocol, problems = parse_protocol(bad, "bad.toml")
    assert protocol is None
    assert any("101.3" in str(p) for p in problems)


def test_describe_names_the_value_and_the_limit() -> None:
    assert SESSION is not None
    assert SESSION.dose_stop is not None
    [check] = [c for c in SESSION.dose_stop.judge({"diastolic_bp": 125}) if c.beyond]
    assert check.describe() == "diastolic BP 125 mmHg above the limit of 110"
    assert VitalThreshold(low=40).breached(39.9)
