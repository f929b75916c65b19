"""Eligibility rules evaluated on checklist answers and on recorded forms (a form that is not
complete leaves its criteria missing, never met)."""

from __future__ import annotations

from typing import Any

import pytest

from remit.errors import InputError
from remit.protocol import RecordedForm, evaluate_eligibility, load_protocol, protocol_from_text
from remit.scales import score

OSLO = load_protocol("oslo-mdma-mdd")

GOOD: dict[str, Any] = {
    "age_years": 34,
    "mdd_dsm5": True,
    "episode_weeks": 30,
    "psychosis": False,
    "bipolar_i": False,
    "personality_disorder": False,
    "substance_use_disorder": False,
    "cardiovascular_disease": False,
    "lives_within_1h": True,
    "systolic_bp": 128,
}


def form(
    visit: str, scale: str, version: str | None, status: str = "complete", **answers: Any
) -> dict[tuple[str, str], RecordedForm]:
    """One recorded form, scored by the engine."""
    result = score(scale, answers, version=version).to_dict()
    return {(visit, scale): RecordedForm(visit, scale, status, result)}


CSSRS_ITEMS = ("wish_to_be_dead", "non_specific_active_thoughts", "active_ideation_methods",
               "active_ideation_intent", "active_ideation_plan_intent")  # fmt: skip
BEHAVIOUR = ("actual_attempt", "interrupted_attempt", "aborted_attempt", "preparatory_behaviour")


def cssrs(
    ideation_type: int, *behaviour: str, status: str = "complete"
) -> dict[tuple[str, str], RecordedForm]:
    """A screening C-SSRS with recent ideation of ``ideation_type`` and the behaviour named."""
    answers: dict[str, Any] = {}
    for i, item in enumerate(CSSRS_ITEMS, start=1):
        answers[item] = answers[item + "_lifetime"] = i <= ideation_type
    for item in BEHAVIOUR:
        answers[item] = answers[item + "_lifetime"] = item in behaviour
    if ideation_type:
        for item in ("frequency", "duration", "controllability", "deterrents", "reasons"):
            answers[f"intensity_{item}"] = answers[f"intensity_{item}_lifetime"] = 2
    return form("SCR", "cssrs", "baseline", status, **answers)


def madrs_form(total: int) -> dict[tuple[str, str], RecordedForm]:
    """A V3 MADRS with ``total`` spread over the ten items."""
    items = {str(i): min(6, max(0, total - 6 * (i - 1))) for i in range(1, 11)}
    return form("V3", "madrs", None, **items)


FORMS = cssrs(1) | madrs_form(31)


def test_eligible_candidate() -> None:
    result = evaluate_eligibility(OSLO, GOOD, FORMS)
    assert result.eligible
    assert result.complete
    assert {c.status for c in result.criteria} == {"met"}
    assert result.summary() == f"eligible: all {len(OSLO.eligibility.criteria)} criteria met"


@pytest.mark.parametrize(
    "flag",
    ["psychosis", "bipolar_i", "personality_disorder", "substance_use_disorder",
     "cardiovascular_disease"],
)  # fmt: skip
def test_each_published_exclusion_excludes(flag: str) -> None:
    result = evaluate_eligibility(OSLO, {**GOOD, flag: True}, FORMS)
    assert not result.eligible
    assert [c.id for c in result.unmet] == [flag]
    assert result.unmet[0].reason == f"{flag} is true; excluded when == true"


@pytest.mark.parametrize(
    ("field", "value", "eligible"),
    [
        ("age_years", 18, True),
        ("age_years", 17, False),
        ("episode_weeks", 12, True),
        ("episode_weeks", 11, False),
        ("episode_weeks", 104, True),
        ("episode_weeks", 105, False),
        ("systolic_bp", 140, True),
        ("systolic_bp", 141, False),
        ("lives_within_1h", False, False),
    ],
)
def test_boundaries(field: str, value: object, eligible: bool) -> None:
    assert evaluate_eligibility(OSLO, {**GOOD, field: value}, FORMS).eligible is eligible


@pytest.mark.parametrize(("total", "eligible"), [(20, True), (19, False)])
def test_the_madrs_is_read_from_the_baseline_rating(total: int, eligible: bool) -> None:
    forms = cssrs(0) | madrs_form(total)
    assert forms[("V3", "madrs")].value("total") == total
    assert evaluate_eligibility(OSLO, GOOD, forms).eligible is eligible
    # before enrolment the MADRS criterion is not asked
    assert evaluate_eligibility(OSLO, GOOD, cssrs(0), stage="enrolment").eligible


@pytest.mark.parametrize(("ideation", "eligible"), [(3, True), (4, False), (5, False)])
def test_screening_cssrs_ideation_type_from_the_form(ideation: int, eligible: bool) -> None:
    result = evaluate_eligibility(OSLO, GOOD, cssrs(ideation), stage="enrolment")
    assert result.eligible is eligible
    if not eligible:
        assert [c.id for c in result.unmet] == ["suicide_risk"]
        assert result.unmet[0].source == "SCR cssrs ideation_type"
        assert result.unmet[0].reason == f"cssrs_ideation_type is {ideation}; excluded when >= 4"


@pytest.mark.parametrize("behaviour", BEHAVIOUR)
def test_any_suicidal_behaviour_at_screening_excludes(behaviour: str) -> None:
    result = evaluate_eligibility(OSLO, GOOD, cssrs(0, behaviour), stage="enrolment")
    assert [c.id for c in result.unmet] == ["suicidal_behaviour"]


@pytest.mark.parametrize("status", ["draft", "incomplete"])
def test_a_form_not_complete_is_missing_never_met(status: str) -> None:
    result = evaluate_eligibility(OSLO, GOOD, cssrs(0, status=status), stage="enrolment")
    assert not result.eligible
    assert not result.complete
    assert {c.id: c.reason for c in result.missing} == {
        "suicide_risk": f"the cssrs form at SCR is {status}, not complete",
        "suicidal_behaviour": f"the cssrs form at SCR is {status}, not complete",
    }
    # a type-5 draft is not "met" either: it is missing, and the candidate is not eligible
    assert not evaluate_eligibility(OSLO, GOOD, cssrs(5, status=status)).eligible


def test_a_sourced_criterion_never_reads_the_checklist() -> None:
    typed = {**GOOD, "cssrs_ideation_type": 0, "madrs_total": 30}
    result = evaluate_eligibility(OSLO, typed)
    assert [c.id for c in result.missing] == ["madrs_entry", "suicide_risk", "suicidal_behaviour"]


def test_missing_fields_are_reported_not_guessed() -> None:
    data = {k: v for k, v in GOOD.items() if k not in ("age_years", "psychosis")}
    data["bipolar_i"] = None
    result = evaluate_eligibility(OSLO, data, FORMS)
    assert not result.eligible
    assert not result.complete
    assert [c.field for c in result.missing] == ["age_years", "psychosis", "bipolar_i"]
    assert result.summary() == "not eligible: missing age_years, psychosis, bipolar_i"


def test_wrong_types_are_refused_with_the_field_named() -> None:
    with pytest.raises(InputError, match="'age_years' is 'adult', not a number"):
        evaluate_eligibility(OSLO, {**GOOD, "age_years": "adult"})
    with pytest.raises(InputError, match="'psychosis' is 'no', not true/false"):
        evaluate_eligibility(OSLO, {**GOOD, "psychosis": "no"})


def test_in_and_not_in(mini: str) -> None:
    text = mini.replace(
        'op = ">="\nvalue = 18\ntext = "aged 18 or older"',
        'op = ">="\nvalue = 18\ntext = "aged 18 or older"\n\n[[eligibility.criteria]]\n'
        'id = "sex"\nkind = "inclusion"\nfield = "sex"\nop = "in"\nvalue = ["F", "M"]\n'
        'text = "sex recorded"\n\n[[eligibility.criteria]]\nid = "site"\nkind = "exclusion"\n'
        'field = "site"\nop = "not_in"\nvalue = ["OST"]\ntext = "other site"',
    )
    proto = protocol_from_text(text)
    assert evaluate_eligibility(proto, {"age_years": 30, "sex": "F", "site": "OST"}).eligible
    result = evaluate_eligibility(proto, {"age_years": 30, "sex": "X", "site": "OUS"})
    assert [c.id for c in result.unmet] == ["sex", "site"]


def test_outputs() -> None:
    result = evaluate_eligibility(OSLO, {**GOOD, "age_years": 16}, FORMS)
    frame = result.to_frame()
    assert list(frame.columns) == [
        "id", "kind", "text", "field", "value", "status", "reason", "source", "stage"
    ]  # fmt: skip
    assert frame.loc[frame["id"] == "age", "source"].item() == "checklist"
    assert frame.loc[frame["id"] == "age", "status"].item() == "unmet"
    assert result.to_dict()["eligible"] is False
