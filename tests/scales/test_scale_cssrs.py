"""C-SSRS: ideation type, intensity, behaviour, screening skip logic, both versions."""

from __future__ import annotations

import pytest

from remit.errors import AnswerError
from remit.scales import load_scale, score

NO_BEHAVIOUR = {
    "actual_attempt": False,
    "nssib": False,
    "interrupted_attempt": False,
    "aborted_attempt": False,
    "preparatory_behaviour": False,
}
SLV = "since_last_visit"


def _slv(**answers: object) -> dict[str, object]:
    return {**NO_BEHAVIOUR, "suicide": False, **answers}


def test_no_ideation_skips_questions_3_to_5_and_intensity() -> None:
    r = score("cssrs", _slv(wish_to_be_dead=False, non_specific_active_thoughts=False), version=SLV)
    assert r.derived["ideation_type"] == 0
    assert r.derived["ideation_intensity"] == 0
    assert r.derived["any_behaviour"] is False
    assert r.derived["suicide"] is False
    assert r.n_missing == 0  # skipped questions are not missing
    assert r.total is None
    assert r.band is None


def test_answering_no_to_skipped_questions_is_accepted() -> None:
    r = score(
        "cssrs",
        _slv(
            wish_to_be_dead=False,
            non_specific_active_thoughts=False,
            active_ideation_methods=False,
            active_ideation_intent=False,
            active_ideation_plan_intent=False,
        ),
        version=SLV,
    )
    assert r.derived["ideation_type"] == 0


@pytest.mark.parametrize("wish", [False, True])
@pytest.mark.parametrize(
    ("item", "number"),
    [
        ("active_ideation_methods", 3),
        ("active_ideation_intent", 4),
        ("active_ideation_plan_intent", 5),
    ],
)
def test_yes_to_3_to_5_after_a_no_to_question_2_is_refused(
    item: str, number: int, wish: bool
) -> None:
    """Questions 3-5 are asked only after a yes to question 2, whatever question 1 says."""
    answers = _slv(wish_to_be_dead=wish, non_specific_active_thoughts=False, **{item: True})
    with pytest.raises(AnswerError) as info:
        score("cssrs", answers, version=SLV)
    assert info.value.item == item
    message = str(info.value)
    assert f"cssrs item {number} ({item})" in message
    assert "skips it" in message
    assert "question 2" in message


def test_intensity_on_a_form_without_ideation_is_refused() -> None:
    answers = _slv(wish_to_be_dead=False, non_specific_active_thoughts=False, intensity_frequency=2)
    with pytest.raises(AnswerError) as info:
        score("cssrs", answers, version=SLV)
    assert info.value.item == "intensity_frequency"


INTENSITY = {
    "intensity_frequency": 3,
    "intensity_duration": 2,
    "intensity_controllability": 1,
    "intensity_deterrents": 0,
    "intensity_reasons": 4,
}


def test_highest_type_and_intensity() -> None:
    answers = _slv(
        wish_to_be_dead=True,
        non_specific_active_thoughts=True,
        active_ideation_methods=True,
        active_ideation_intent=False,
        active_ideation_plan_intent=False,
        **INTENSITY,
    )
    r = score("cssrs", answers, version=SLV)
    assert r.derived["ideation_type"] == 3
    assert r.derived["ideation_intensity"] == 10
    assert r.n_missing == 0


def test_type_5_without_lower_types_still_counts_as_5() -> None:
    answers = _slv(
        wish_to_be_dead=False,
        non_specific_active_thoughts=True,
        active_ideation_methods=False,
        active_ideation_intent=False,
        active_ideation_plan_intent=True,
        **INTENSITY,
    )
    assert score("cssrs", answers, version=SLV).derived["ideation_type"] == 5


def test_intensity_is_required_when_ideation_is_present() -> None:
    answers = _slv(
        wish_to_be_dead=True,
        non_specific_active_thoughts=False,
        active_ideation_methods=False,
        active_ideation_intent=False,
        active_ideation_plan_intent=False,
        intensity_frequency=1,
        intensity_duration=1,
    )
    r = score("cssrs", answers, version=SLV)
    assert r.derived["ideation_type"] == 1
    assert r.derived["ideation_intensity"] is None  # three intensity items missing
    assert r.n_missing == 3


def test_minimum_intensity_with_ideation_is_2() -> None:
    answers = _slv(
        wish_to_be_dead=True,
        non_specific_active_thoughts=False,
        active_ideation_methods=False,
        active_ideation_intent=False,
        active_ideation_plan_intent=False,
        intensity_frequency=1,
        intensity_duration=1,
        intensity_controllability=0,
        intensity_deterrents=0,
        intensity_reasons=0,
    )
    assert score("cssrs", answers, version=SLV).derived["ideation_intensity"] == 2


def test_intensity_frequency_0_is_out_of_range() -> None:
    answers = _slv(wish_to_be_dead=True, non_specific_active_thoughts=False, intensity_frequency=0)
    with pytest.raises(AnswerError, match="1 to 5") as info:
        score("cssrs", answers, version=SLV)
    assert info.value.item == "intensity_frequency"


def test_unknown_ideation_when_screening_questions_are_blank() -> None:
    r = score("cssrs", _slv(), version=SLV)
    assert r.derived["ideation_type"] is None
    assert r.derived["ideation_intensity"] is None
    # questions 1 and 2; 3-5 and the intensity wait on them, so they are not listed
    assert r.n_missing == 2
    assert r.missing_required == ("1", "2")


def test_behaviour_flags() -> None:
    answers = _slv(
        wish_to_be_dead=False,
        non_specific_active_thoughts=False,
        actual_attempt=True,
        actual_attempt_count=1,
        actual_lethality=2,
        nssib=True,
    )
    r = score("cssrs", answers, version=SLV)
    assert r.derived["any_behaviour"] is True
    assert r.derived["actual_attempt"] is True
    assert r.derived["actual_lethality"] == 2
    assert r.derived["interrupted_attempt"] is False
    assert r.derived["nssib"] is True


def test_nssib_alone_is_not_suicidal_behaviour() -> None:
    answers = _slv(wish_to_be_dead=False, non_specific_active_thoughts=False, nssib=True)
    assert score("cssrs", answers, version=SLV).derived["any_behaviour"] is False


def test_suicide_counts_as_behaviour_since_last_visit() -> None:
    answers = _slv(wish_to_be_dead=False, non_specific_active_thoughts=False, suicide=True)
    assert score("cssrs", answers, version=SLV).derived["any_behaviour"] is True


def test_attempt_count_without_an_attempt_is_refused() -> None:
    answers = _slv(
        wish_to_be_dead=False, non_specific_active_thoughts=False, actual_attempt_count=2
    )
    with pytest.raises(AnswerError) as info:
        score("cssrs", answers, version=SLV)
    assert info.value.item == "actual_attempt_count"


def test_yes_no_answers_accept_common_codings() -> None:
    answers = _slv(wish_to_be_dead="no", non_specific_active_thoughts=0)
    answers["nssib"] = "yes"
    r = score("cssrs", answers, version=SLV)
    assert r.answers["nssib"] is True
    assert r.derived["ideation_type"] == 0
    with pytest.raises(AnswerError, match="not a yes/no answer"):
        score("cssrs", _slv(wish_to_be_dead=2), version=SLV)


def test_baseline_version_has_lifetime_and_recent_windows() -> None:
    answers = {
        # lifetime: type 4 with intensity; an interrupted attempt
        "wish_to_be_dead_lifetime": True,
        "non_specific_active_thoughts_lifetime": True,
        "active_ideation_methods_lifetime": True,
        "active_ideation_intent_lifetime": True,
        "active_ideation_plan_intent_lifetime": False,
        "intensity_frequency_lifetime": 4,
        "intensity_duration_lifetime": 3,
        "intensity_controllability_lifetime": 2,
        "intensity_deterrents_lifetime": 2,
        "intensity_reasons_lifetime": 3,
        "actual_attempt_lifetime": False,
        "nssib_lifetime": False,
        "interrupted_attempt_lifetime": True,
        "aborted_attempt_lifetime": False,
        "preparatory_behaviour_lifetime": False,
        # recent: wish to be dead only
        "wish_to_be_dead": True,
        "non_specific_active_thoughts": False,
        "active_ideation_methods": False,
        "active_ideation_intent": False,
        "active_ideation_plan_intent": False,
        **INTENSITY,
        **NO_BEHAVIOUR,
    }
    r = score("cssrs", answers)  # baseline is the default version
    assert r.version == "baseline"
    assert r.derived["ideation_type"] == 1
    assert r.derived["ideation_intensity"] == 10
    assert r.derived["any_behaviour"] is False
    assert r.derived["ideation_type_lifetime"] == 4
    assert r.derived["ideation_intensity_lifetime"] == 14
    assert r.derived["any_behaviour_lifetime"] is True
    assert "suicide" not in r.derived
    assert r.n_missing == 0


def test_suicide_item_is_not_part_of_the_baseline_version() -> None:
    with pytest.raises(AnswerError, match="no item 'suicide'"):
        score("cssrs", {"suicide": False}, version="baseline")


def test_item_numbers_follow_the_version() -> None:
    r = score("cssrs", {"1": False, "2": False}, version=SLV)
    assert r.answers["wish_to_be_dead"] is False
    r = score("cssrs", {"1": True}, version="baseline")
    assert r.answers["wish_to_be_dead_lifetime"] is True


def test_blank_higher_types_give_the_highest_yes_as_a_lower_bound() -> None:
    answers = _slv(
        wish_to_be_dead=True,
        non_specific_active_thoughts=True,
        active_ideation_methods=True,
        **INTENSITY,
    )  # questions 4 and 5 left blank
    r = score("cssrs", answers, version=SLV)
    assert r.derived["ideation_type"] == 3
    assert r.n_missing == 2


def test_recent_yes_with_lifetime_no_is_flagged_on_the_baseline_form() -> None:
    r = score("cssrs", {"wish_to_be_dead_lifetime": False, "wish_to_be_dead": True})
    assert r.derived["ideation_type"] == 1
    n = next(
        it.number
        for it in load_scale("cssrs").items_for("baseline")
        if it.code == "wish_to_be_dead"
    )
    assert r.notes[0] == (
        f"check: item {n} (wish_to_be_dead) is yes but item 1 (wish_to_be_dead_lifetime) is no, "
        "which contradicts it; query the rater"
    )
    r = score("cssrs", {"actual_attempt_lifetime": False, "actual_attempt": True})
    assert any("actual_attempt_lifetime" in n for n in r.notes)
    # a blank lifetime answer is no contradiction; the since-last-visit form has no lifetime
    r = score("cssrs", {"wish_to_be_dead": True}, version="baseline")
    assert not any(n.startswith("check:") for n in r.notes)
    r = score("cssrs", {"wish_to_be_dead": True}, version=SLV)
    assert not any(n.startswith("check:") for n in r.notes)
