"""C-SSRS truth tables: every yes/no pattern of ideation questions 1-5 under the official skip
logic, intensity asked or not, lethality items required exactly when there is an actual attempt.

The official form: ask questions 1 and 2; if question 2 is yes ask 3, 4 and 5 (otherwise they
are not asked); if any ideation is reported rate the intensity of the most severe; always ask
the behaviour section; for an actual attempt rate the actual lethality, and the potential
lethality (0-2) when the actual lethality is 0. The table below is written out by hand, one row
per pattern of answers to questions 1-5 ("Y" yes, "N" no): the ideation type it gives, or the
first item the form refuses because the form does not ask it.
"""

from __future__ import annotations

import pytest

from remit.errors import AnswerError
from remit.scales import load_scale, score

TABLE = [
    ("NNNNN", "0"), ("NNNNY", "refuse 5"), ("NNNYN", "refuse 4"), ("NNNYY", "refuse 4"),
    ("NNYNN", "refuse 3"), ("NNYNY", "refuse 3"), ("NNYYN", "refuse 3"), ("NNYYY", "refuse 3"),
    ("NYNNN", "2"), ("NYNNY", "5"), ("NYNYN", "4"), ("NYNYY", "5"),
    ("NYYNN", "3"), ("NYYNY", "5"), ("NYYYN", "4"), ("NYYYY", "5"),
    ("YNNNN", "1"), ("YNNNY", "refuse 5"), ("YNNYN", "refuse 4"), ("YNNYY", "refuse 4"),
    ("YNYNN", "refuse 3"), ("YNYNY", "refuse 3"), ("YNYYN", "refuse 3"), ("YNYYY", "refuse 3"),
    ("YYNNN", "2"), ("YYNNY", "5"), ("YYNYN", "4"), ("YYNYY", "5"),
    ("YYYNN", "3"), ("YYYNY", "5"), ("YYYYN", "4"), ("YYYYY", "5"),
]  # fmt: skip

IDEATION = [
    "wish_to_be_dead",
    "non_specific_active_thoughts",
    "active_ideation_methods",
    "active_ideation_intent",
    "active_ideation_plan_intent",
]
INTENSITY = {
    "intensity_frequency": 2,
    "intensity_duration": 2,
    "intensity_controllability": 1,
    "intensity_deterrents": 1,
    "intensity_reasons": 1,
}
BEHAVIOUR = {
    "actual_attempt": False,
    "nssib": False,
    "interrupted_attempt": False,
    "aborted_attempt": False,
    "preparatory_behaviour": False,
}
#: (version, suffix of the section's item codes, derived value of the ideation type)
SECTIONS = [
    ("since_last_visit", "", "ideation_type"),
    ("baseline", "", "ideation_type"),
    ("baseline", "_lifetime", "ideation_type_lifetime"),
]


def _other_sections(version: str, suffix: str) -> dict[str, object]:
    """Complete, no-ideation answers to the other sections of the version."""
    out: dict[str, object] = {}
    if version == "since_last_visit":
        out["suicide"] = False
    if version == "baseline":
        other = "" if suffix else "_lifetime"
        out |= {f"{code}{other}": False for code in IDEATION[:2]}
        out |= {f"{code}{other}": False for code in BEHAVIOUR}
    return out


def _form(pattern: str, version: str, suffix: str, *, intensity: bool) -> dict[str, object]:
    answers = {f"{c}{suffix}": p == "Y" for c, p in zip(IDEATION, pattern, strict=True)}
    answers |= {f"{c}{suffix}": v for c, v in BEHAVIOUR.items()}
    if intensity:
        answers |= {f"{c}{suffix}": v for c, v in INTENSITY.items()}
    return answers | _other_sections(version, suffix)


def _ref(version: str, code: str) -> str:
    return next(it.ref for it in load_scale("cssrs").items_for(version) if it.code == code)


@pytest.mark.parametrize(("version", "suffix", "field"), SECTIONS)
@pytest.mark.parametrize(("pattern", "expected"), TABLE)
def test_every_ideation_pattern(
    pattern: str, expected: str, version: str, suffix: str, field: str
) -> None:
    any_ideation = "Y" in pattern
    answers = _form(pattern, version, suffix, intensity=any_ideation)
    if expected.startswith("refuse"):
        question = int(expected.split()[1])
        code = f"{IDEATION[question - 1]}{suffix}"
        with pytest.raises(AnswerError) as info:
            score("cssrs", answers, version=version)
        assert info.value.item == code
        assert f"cssrs item {_ref(version, code)} ({code})" in str(info.value)
        assert "question 2" in str(info.value)
        return
    r = score("cssrs", answers, version=version)
    assert r.derived[field] == int(expected)
    assert r.derived[f"any_behaviour{suffix}"] is False  # ideation is not behaviour
    assert r.complete, r.missing_required
    assert r.missing_required == ()
    # questions 3-5 left blank instead of "no" when question 2 is no: still complete
    if pattern[1] == "N":
        blank = {**answers, **{f"{c}{suffix}": None for c in IDEATION[2:]}}
        again = score("cssrs", blank, version=version)
        assert again.complete
        assert again.derived[field] == int(expected)


@pytest.mark.parametrize(("version", "suffix", "field"), SECTIONS)
@pytest.mark.parametrize(("pattern", "expected"), [r for r in TABLE if "refuse" not in r[1]])
def test_intensity_is_asked_exactly_when_there_is_ideation(
    pattern: str, expected: str, version: str, suffix: str, field: str
) -> None:
    intensity_codes = [f"{c}{suffix}" for c in INTENSITY]
    if expected == "0":
        # not asked: blank is complete, an answer is refused
        r = score("cssrs", _form(pattern, version, suffix, intensity=False), version=version)
        assert r.complete
        with pytest.raises(AnswerError) as info:
            score("cssrs", _form(pattern, version, suffix, intensity=True), version=version)
        assert info.value.item == intensity_codes[0]
    else:
        # asked: without it the form is incomplete, naming the five intensity items
        r = score("cssrs", _form(pattern, version, suffix, intensity=False), version=version)
        assert not r.complete
        assert r.missing_required == tuple(_ref(version, c) for c in intensity_codes)
        assert r.derived[field] == int(expected)


def test_q1_yes_q2_no_is_type_1_and_3_to_5_are_not_missing() -> None:
    """The issue's example: question 1 yes, question 2 no, questions 3-5 not asked."""
    r = score("cssrs", {"1": True, "2": False}, version="since_last_visit")
    assert r.derived["ideation_type"] == 1
    assert not {"3", "4", "5"} & set(r.missing_required)
    # what is still asked: the intensity of the ideation (6-10) and the behaviour section
    assert r.missing_required[:5] == ("6", "7", "8", "9", "10")
    assert "11" in r.missing_required  # actual attempt, a safety item
    with pytest.raises(AnswerError, match=r"cssrs item 3 \(active_ideation_methods\)"):
        score("cssrs", {"1": True, "2": False, "3": True}, version="since_last_visit")


LETHALITY = [
    # (actual attempt, actual lethality, potential lethality) -> outcome
    (False, None, None, "complete"),
    (False, 2, None, "refuse actual_lethality"),
    (False, None, 1, "refuse potential_lethality"),
    (True, None, None, "missing actual_lethality"),
    (True, 0, None, "missing potential_lethality"),
    (True, 0, 2, "complete"),
    (True, 3, None, "complete"),
    (True, 3, 1, "refuse potential_lethality"),
    (True, 3, 0, "refuse potential_lethality"),
]


@pytest.mark.parametrize(("version", "suffix", "field"), SECTIONS)
@pytest.mark.parametrize(("attempt", "actual", "potential", "outcome"), LETHALITY)
def test_lethality_is_required_exactly_for_an_actual_attempt(
    attempt: bool,
    actual: int | None,
    potential: int | None,
    outcome: str,
    version: str,
    suffix: str,
    field: str,
) -> None:
    answers = _form("NNNNN", version, suffix, intensity=False)
    answers |= {
        f"actual_attempt{suffix}": attempt,
        f"actual_lethality{suffix}": actual,
        f"potential_lethality{suffix}": potential,
    }
    kind, _, code = outcome.partition(" ")
    if kind == "refuse":
        with pytest.raises(AnswerError) as info:
            score("cssrs", answers, version=version)
        assert info.value.item == f"{code}{suffix}"
        return
    r = score("cssrs", answers, version=version)
    if kind == "complete":
        assert r.complete, r.missing_required
    else:
        assert r.missing_required == (_ref(version, f"{code}{suffix}"),)
    if not suffix:
        assert r.derived["potential_lethality"] == potential


def test_blank_behaviour_leaves_the_form_incomplete_with_safety_items_named() -> None:
    answers = {"wish_to_be_dead": False, "non_specific_active_thoughts": False, "suicide": False}
    r = score("cssrs", answers, version="since_last_visit")
    assert not r.complete
    assert set(r.safety_missing) == {
        "actual_attempt",
        "interrupted_attempt",
        "aborted_attempt",
        "preparatory_behaviour",
    }
    assert r.derived["any_behaviour"] is None
