"""Eligibility rules evaluated on screening data."""

from __future__ import annotations

from typing import Any

import pytest

from remit.errors import InputError
from remit.protocol import evaluate_eligibility, load_protocol, protocol_from_text

OSLO = load_protocol("oslo-mdma-mdd")

GOOD: dict[str, Any] = {
    "age_years": 34,
    "mdd_dsm5": True,
    "episode_weeks": 30,
    "madrs_total": 31,
    "psychosis": False,
    "bipolar_i": False,
    "personality_disorder": False,
    "substance_use_disorder": False,
    "cardiovascular_disease": False,
    "lives_within_1h": True,
    "systolic_bp": 128,
    "cssrs_ideation_type": 1,
}


def test_eligible_candidate() -> None:
    result = evaluate_eligibility(OSLO, GOOD)
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
    result = evaluate_eligibility(OSLO, {**GOOD, flag: True})
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
        ("madrs_total", 20, True),
        ("madrs_total", 19, False),
        ("systolic_bp", 140, True),
        ("systolic_bp", 141, False),
        ("lives_within_1h", False, False),
        ("cssrs_ideation_type", 4, False),
    ],
)
def test_boundaries(field: str, value: object, eligible: bool) -> None:
    assert evaluate_eligibility(OSLO, {**GOOD, field: value}).eligible is eligible


def test_missing_fields_are_reported_not_guessed() -> None:
    data = {k: v for k, v in GOOD.items() if k not in ("madrs_total", "psychosis")}
    data["bipolar_i"] = None
    result = evaluate_eligibility(OSLO, data)
    assert not result.eligible
    assert not result.complete
    assert [c.field for c in result.missing] == ["madrs_total", "psychosis", "bipolar_i"]
    assert result.summary() == "not eligible: missing madrs_total, psychosis, bipolar_i"


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
    result = evaluate_eligibility(OSLO, {**GOOD, "age_years": 16})
    frame = result.to_frame()
    assert list(frame.columns) == ["id", "kind", "text", "field", "value", "status", "reason"]
    assert frame.loc[frame["id"] == "age", "status"].item() == "unmet"
    assert result.to_dict()["eligible"] is False
