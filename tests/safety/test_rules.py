"""Safety rules against a written truth table (issue 3: C-SSRS × behaviour × window, SAE clock
at 23 h 59 min and 24 h 01 min; issue 11: tiers, one alert per reading). Every tier's
boundaries are in ``truth_tables.py`` (``test_truth_tables.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.safety.truth_tables import IDEATION, INTENSITY

from remit.errors import InputError, NotFoundError
from remit.protocol import load_protocol
from remit.safety import evaluate_score, evaluate_vitals, level_rank, sae_alert, sae_clock
from remit.scales import ScoreResult, score

OSLO = load_protocol("oslo-mdma-mdd")

BEHAVIOURS = (
    None,
    "actual_attempt",
    "interrupted_attempt",
    "aborted_attempt",
    "preparatory_behaviour",
)


def _section(ideation_type: int, behaviour: str | None, suffix: str = "", intensity: int = 2):
    """Answers of one window (suffix "" = recent / since last visit, "_lifetime")."""
    answers: dict[str, object] = {}
    for position, code in enumerate(IDEATION, start=1):
        # Type k means: the screening question(s) answered yes and the k-th question yes.
        yes = position == ideation_type or (ideation_type >= 2 and position in (1, 2))
        if ideation_type < 2 and position >= 3:
            continue  # skipped when questions 1 and 2 are both no
        answers[code + suffix] = yes
    if ideation_type > 0:
        for code in INTENSITY:
            answers[code + suffix] = intensity
    for code in BEHAVIOURS[1:]:
        answers[code + suffix] = code == behaviour
        if code == behaviour and code != "preparatory_behaviour":
            answers[code + "_count" + suffix] = 1
    answers["nssib" + suffix] = False
    return answers


def _cssrs(version: str, ideation_type: int, behaviour: str | None, *, lifetime_only=False):
    if version == "since_last_visit":
        answers = _section(ideation_type, behaviour)
        answers["suicide"] = False
        return score("cssrs", answers, version=version)
    if lifetime_only:
        answers = _section(ideation_type, behaviour, "_lifetime") | _section(0, None)
    else:
        answers = _section(0, None, "_lifetime") | _section(ideation_type, behaviour)
    return score("cssrs", answers, version=version)


# The written truth table: (ideation type, behaviour present) -> expected most pressing level
# in the recent window. Type 1 (passive wish to be dead) is below every rule of the table.
TRUTH = {
    (0, False): None,
    (1, False): None,
    (2, False): "same_day",
    (3, False): "same_day",
    (4, False): "urgent",
    (5, False): "urgent",
    **{(t, True): "urgent" for t in range(6)},
}


@pytest.mark.parametrize("version", ["since_last_visit", "baseline"])
@pytest.mark.parametrize("ideation_type", range(6))
@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_cssrs_truth_table_recent_window(version, ideation_type, behaviour):
    result = evaluate_score(OSLO, _cssrs(version, ideation_type, behaviour))
    assert result.most_pressing == TRUTH[(ideation_type, behaviour is not None)]
    ids = {a.rule_id for a in result.alerts}
    assert ("cssrs_behaviour" in ids) == (behaviour is not None)
    if ideation_type >= 4:
        assert "cssrs_ideation_4_5" in ids
        assert "cssrs_ideation_2_3" not in ids  # only the most pressing alert per value
    elif ideation_type >= 2:
        assert "cssrs_ideation_2_3" in ids


@pytest.mark.parametrize("ideation_type", range(6))
@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_cssrs_lifetime_window_alone_raises_nothing(ideation_type, behaviour):
    form = _cssrs("baseline", ideation_type, behaviour, lifetime_only=True)
    assert form.derived["ideation_type_lifetime"] == ideation_type
    assert evaluate_score(OSLO, form).alerts == ()


def test_intensity_above_baseline_is_reviewed_and_needs_a_baseline():
    baseline = _cssrs("baseline", 2, None)
    same = _cssrs("since_last_visit", 2, None)
    higher = score(
        "cssrs",
        _section(2, None, intensity=3) | {"suicide": False},
        version="since_last_visit",
    )
    assert "cssrs_intensity_up" not in {
        a.rule_id for a in evaluate_score(OSLO, same, baseline=baseline).alerts
    }
    fired = {a.rule_id: a for a in evaluate_score(OSLO, higher, baseline=baseline).alerts}
    assert fired["cssrs_intensity_up"].level == "review"
    assert fired["cssrs_intensity_up"].value == 5  # 5 items each one point higher
    no_base = evaluate_score(OSLO, higher)
    assert ("cssrs_intensity_up", "no baseline to compare with") in no_base.not_evaluated


def test_alert_words_come_from_the_scale_file_and_baseline_from_the_protocol():
    # the words of ideation type 4 are the C-SSRS file's [safety.categories.ideation_type]
    urgent = evaluate_score(OSLO, _cssrs("since_last_visit", 4, None)).alerts[0]
    assert "ideation_type = 4 (active ideation with some intent, no plan)" in urgent.message
    baseline = _cssrs("baseline", 2, None)
    higher = score(
        "cssrs", _section(2, None, intensity=3) | {"suicide": False}, version="since_last_visit"
    )
    fired = {a.rule_id: a for a in evaluate_score(OSLO, higher, baseline=baseline).alerts}
    assert "from baseline (SCR)" in fired["cssrs_intensity_up"].message


@pytest.mark.parametrize(
    ("item10", "level"),
    [(1, None), (2, "review"), (3, "review"), (4, "same_day"), (5, "same_day"), (6, "urgent")],
)
def test_madrs_item_10_tiers(item10, level):
    form = score("madrs", {str(i): 1 for i in range(1, 10)} | {"10": item10})
    result = evaluate_score(OSLO, form)
    assert result.most_pressing == level
    assert len(result.alerts) == (level is not None)  # only the most pressing tier is kept


def test_madrs_item_10_missing_is_reported_not_passed():
    form = score("madrs", {str(i): 1 for i in range(1, 10)})
    result = evaluate_score(OSLO, form)
    assert result.alerts == ()
    assert result.not_evaluated
    assert result.not_evaluated[0][0] == "madrs_item10"


def test_one_alert_per_reading_at_the_worst_level_naming_the_worst_sign_first():
    # the readings: 161/101 and 200/125 with 39.6 °C no longer give the same alert
    mild = evaluate_vitals(OSLO, "V5", {"systolic_bp": 161, "diastolic_bp": 101})
    severe = evaluate_vitals(
        OSLO, "V5", {"systolic_bp": 200, "diastolic_bp": 125, "temperature": 39.6}
    )
    ((a,),) = (mild.alerts,)
    ((b,),) = (severe.alerts,)
    assert (a.level, b.level) == ("urgent", "immediate")
    # level first, then how far beyond the limit (share of the way to the plausible bound):
    # diastolic 1/100 of 100..200 beats systolic 1/140 of 160..300
    assert a.subject == "diastolic_bp"
    assert "diastolic_bp 101 mmHg above the urgent limit 100; also systolic_bp 161" in a.message
    assert b.rule_id == "vitals:systolic_bp:high:immediate"
    assert b.message.index("systolic_bp 200") < b.message.index("diastolic_bp 125")
    assert "temperature 39.6 °C above the immediate limit 39" in b.message
    # a less pressing sign never outranks a more pressing one, however far beyond its limit
    mixed = evaluate_vitals(OSLO, "V5", {"systolic_bp": 181, "temperature": 38.9}).alerts
    assert [(x.subject, x.level) for x in mixed] == [("systolic_bp", "immediate")]


@pytest.mark.parametrize("visit", ["SCR", "V3", "V13", "FU7"])
def test_vital_signs_are_checked_at_any_visit(visit):
    (alert,) = evaluate_vitals(OSLO, visit, {"systolic_bp": 85}).alerts  # hypotension
    assert (alert.rule_id, alert.level) == ("vitals:systolic_bp:low:urgent", "urgent")
    assert "below the urgent limit 90" in alert.message


def test_unknown_sign_unread_sign_and_sign_without_limits_are_reported():
    result = evaluate_vitals(OSLO, "V5", {"respiratory_rate": 30, "pulse_ox": 90})
    assert result.not_evaluated == (
        ("vitals:respiratory_rate", "the protocol sets no limits for this sign"),
        ("vitals:pulse_ox", "not a vital sign Remit knows"),
        ("vitals:systolic_bp", "not measured in this reading"),
        ("vitals:diastolic_bp", "not measured in this reading"),
        ("vitals:heart_rate", "not measured in this reading"),
        ("vitals:temperature", "not measured in this reading"),
    )
    with pytest.raises(NotFoundError):
        evaluate_vitals(OSLO, "V99", {"systolic_bp": 120})


def test_no_sign_is_skipped_silently():
    """Every sign is either checked or listed with the reason it was not."""
    no_rule = OSLO.model_copy(update={"safety": OSLO.safety.model_copy(update={"vitals": None})})
    result = evaluate_vitals(no_rule, "V5", {"systolic_bp": 250, "heart_rate": 80})
    assert result.alerts == ()
    reasons = dict(result.not_evaluated)
    assert reasons["vitals:systolic_bp"] == "the protocol has no [safety.vitals] limits"
    assert reasons["vitals:heart_rate"] == "the protocol has no [safety.vitals] limits"
    full = {"systolic_bp": 120, "diastolic_bp": 80, "heart_rate": 70, "temperature": 36.8}
    assert evaluate_vitals(OSLO, "V5", full).not_evaluated == ()


T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("elapsed", "overdue"),
    [(timedelta(hours=23, minutes=59), False), (timedelta(hours=24, minutes=1), True)],
)
def test_sae_clock(elapsed, overdue):
    clock = sae_clock(OSLO, T0, now=T0 + elapsed)
    assert clock.overdue is overdue
    assert clock.due_at == T0 + timedelta(hours=24)


def test_sae_alert_and_naive_times_refused():
    alert = sae_alert(OSLO, T0, term="syncope")
    assert alert.level == "immediate"
    assert alert.due_at == T0 + timedelta(hours=24)
    with pytest.raises(InputError, match="no time zone"):
        sae_clock(OSLO, datetime(2024, 3, 1, 9, 0), now=T0)


def test_rule_on_a_value_the_scale_does_not_produce_is_a_clear_error():
    bad = OSLO.model_copy(
        update={
            "safety": OSLO.safety.model_copy(
                update={"rules": (OSLO.safety.rules[0].model_copy(update={"field": "nope"}),)}
            )
        }
    )
    with pytest.raises(InputError, match="'nope'"):
        evaluate_score(bad, _cssrs("since_last_visit", 1, None))


def test_levels_are_ordered():
    assert (
        level_rank("immediate")
        < level_rank("urgent")
        < level_rank("same_day")
        < level_rank("review")
    )
    assert isinstance(_cssrs("since_last_visit", 0, None), ScoreResult)


def test_a_reading_that_is_not_a_number_is_never_a_silent_pass() -> None:
    result = evaluate_vitals(OSLO, "V5", {"systolic_bp": float("nan"), "heart_rate": 72})
    assert result.alerts == ()
    assert ("vitals:systolic_bp", "nan is not a number that can be judged") in result.not_evaluated
