"""The tiered vital-sign limits of ``[safety.vitals]`` are refused when they cannot work, and
missed dosing-day readings are found from what was taken."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from remit.errors import InputError, NotFoundError
from remit.protocol import load_protocol, protocol_from_text
from remit.protocol.safety_table import VitalsRule
from remit.safety import evaluate_vitals, missed_slots

OSLO = load_protocol("oslo-mdma-mdd")


@pytest.mark.parametrize(
    ("limits", "says"),
    [
        (
            {"heart_rate": {"high": {"urgent": 100}, "unit": "bpm"}},
            "heart_rate limit 100 is given in bpm, but heart_rate is recorded in /min",
        ),
        (
            {"temperature": {"high": {"urgent": 100.4}}},
            "temperature high limit 100.4 °C is above the plausible range 25–45",
        ),
        (
            {"systolic_bp": {"low": {"review": 50}}},
            "systolic_bp low limit 50 mmHg is at the edge of the plausible range",
        ),
        (
            {"systolic_bp": {"high": {"review": 160, "urgent": 150}}},
            "urgent 150 is not above review 160",
        ),
        (
            {"systolic_bp": {"high": {"urgent": 160, "immediate": 160}}},
            "immediate 160 is not above urgent 160",
        ),
        (
            {"heart_rate": {"low": {"review": 50, "immediate": 55}}},
            "immediate 55 is not below review 50",
        ),
        ({"heart_rate": {"high": {"review": 100}, "low": {"review": 110}}}, "low limit 110"),
        ({"oxygen_saturation": {"unit": "%"}}, "give high limits, low limits or both"),
        ({"pulse_ox": {"low": {"urgent": 90}}}, "pulse_ox"),
        ({"heart_rate": {"high": {"soon": 100}}}, "soon"),
    ],
)
def test_limits_that_cannot_work_are_refused_with_the_reason(limits, says):
    with pytest.raises(ValidationError, match=says):
        VitalsRule.model_validate({"text": "t", "limits": limits})


def test_a_protocol_file_with_bad_limits_is_refused_naming_the_place():
    from remit.protocol.check import check_text

    text = OSLO.text.replace("high = { review = 37.5,", "high = { review = 99.5,", 1)
    (problem,) = check_text(text)
    assert problem.where.startswith("safety.vitals")
    assert "review tier: temperature high limit 99.5 °C is above the plausible" in problem.what


def test_rule_ids_and_taking_one_out():
    safety = OSLO.safety
    ids = safety.rule_ids()
    assert len(ids) == len(set(ids))
    assert "vitals:temperature:low:urgent" in ids
    assert "vitals:temperature:low:immediate" not in ids  # the protocol sets none
    fewer = safety.without("vitals:temperature:low:urgent")
    assert fewer.vitals is not None
    assert fewer.vitals.limits["temperature"].low == {"review": 35.5}
    with pytest.raises(NotFoundError, match="no rule 'vitals:pulse:high:urgent'"):
        safety.without("vitals:pulse:high:urgent")


T0 = datetime(2024, 3, 1, 8, 15, tzinfo=UTC)
EVERY = [-10, *range(30, 481, 30)]


def _missed(now_min, vitals=EVERY, vas=("initial_dose", "before_supplemental"), **kw):
    found = missed_slots(
        OSLO, "V5", initial_at=T0, vitals_taken=vitals, vas_taken=vas,
        now=T0 + timedelta(minutes=now_min), **kw,
    )  # fmt: skip
    return [a.rule_id for a in found.alerts]


def test_missed_readings_after_their_grace():
    assert _missed(120, [30, 60, 90, 120]) == ["missed:vitals:pre-dose"]
    # 4 of 17 planned readings not taken, as in the issue: each flagged once its time passed
    taken = [m for m in EVERY if m not in (-10, 150, 300, 420)]
    assert _missed(600, taken) == [
        "missed:vitals:pre-dose",
        "missed:vitals:150",
        "missed:vitals:300",
        "missed:vitals:420",
        "missed:vas:end_of_session",
    ]
    # a reading counts for the nearest planned minute (within half an interval)
    assert _missed(100, [-5, 30, 74]) == []
    assert _missed(100, [-5, 30, 44]) == ["missed:vitals:60"]


def test_vas_timepoints_and_the_session_end():
    # before_supplemental is due when the offer window closes (150 min) unless a dose says when
    assert _missed(166, vas=("initial_dose",)) == ["missed:vas:before_supplemental"]
    assert _missed(166, vas=("initial_dose",), supplemental_at=T0 + timedelta(minutes=160)) == []
    # nothing is planned after the session ended; its end-of-session rating is due at the end
    ended = T0 + timedelta(minutes=200)
    assert _missed(600, EVERY[:8], ended_at=ended) == ["missed:vas:end_of_session"]


def test_missed_readings_need_the_rule_a_dosing_visit_and_aware_times():
    no_rule = OSLO.model_copy(update={"safety": OSLO.safety.without("missed")})
    result = missed_slots(no_rule, "V5", initial_at=T0, vitals_taken=[], vas_taken=[], now=T0)
    assert result.alerts == ()
    assert result.not_evaluated == (("missed", "the protocol has no [safety.missed]"),)
    with pytest.raises(InputError, match="V3 holds no dosing session"):
        missed_slots(OSLO, "V3", initial_at=T0, vitals_taken=[], vas_taken=[], now=T0)
    with pytest.raises(InputError, match="no time zone"):
        missed_slots(OSLO, "V5", initial_at=T0.replace(tzinfo=None), vitals_taken=[],
                     vas_taken=[], now=T0)  # fmt: skip


def test_a_protocol_written_before_tiers_still_loads_alerting_where_it_did():
    """A trial database keeps the text it started with: the old shape loads, each old limit a
    tier at the old level, and the sessions read the signs they had thresholds for."""
    text = OSLO.text
    start, end = text.index("[safety.vitals]\n"), text.index("[safety.missed]\n")
    old_rule = '[safety.vitals]\nlevel = "immediate"\ntext = "beyond the session\'s threshold"\n\n'
    signs = 'signs = ["systolic_bp", "diastolic_bp", "heart_rate", "temperature"]\n'
    thresholds = (
        "\n[dosing.vitals.thresholds]\n"
        'systolic_bp = { high = 160, unit = "mmHg" }\n'
        "heart_rate = { high = 100, low = 45 }\n"
    )
    old = (text[:start] + old_rule + text[end:]).replace(signs, thresholds)
    # nor had it the dose stops, discharge criteria and next-day calls of the same issue
    old = re.sub(r"\[dosing\.(dose_stop|discharge|follow_up_call)[.a-z_]*\]\n(.+\n)*\n", "", old)
    assert "[dosing.dose_stop" not in old
    assert "[dosing.vitals.thresholds]" in old
    assert "limits" not in old[old.index("[safety.vitals]") : old.index("[safety.missed]")]
    loaded = protocol_from_text(old, "old.toml")
    assert loaded.sha256 != OSLO.sha256  # its own text, kept as it was
    assert loaded.dosing[0].vitals.recorded_signs() == ("systolic_bp", "heart_rate")
    assert loaded.vital_thresholds("V3")["heart_rate"].low == 45
    (alert,) = evaluate_vitals(loaded, "V9", {"systolic_bp": 161, "heart_rate": 80}).alerts
    assert (alert.rule_id, alert.level) == ("vitals:systolic_bp:high:immediate", "immediate")
    assert evaluate_vitals(loaded, "V9", {"systolic_bp": 160}).alerts == ()
