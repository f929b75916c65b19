"""The score of a stored baseline form is computed once per process for the same answers,
protocol and scale definition; a follow-up form's safety rules compare with it as before."""

from __future__ import annotations

from typing import Any

import pytest
from tests.services.test_safety_alerts import IDEATION_4
from tests.support.trial import OsloTrial, enrolled

from remit import services as sv
from remit.protocol import protocol_from_text
from remit.services import assessments


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    real = assessments.score_form

    def counted(protocol: Any, scale: str, answers: Any, version: Any) -> Any:
        calls.append((scale, version))
        return real(protocol, scale, answers, version)

    monkeypatch.setattr(assessments, "score_form", counted)
    return calls


def test_a_baseline_is_scored_once_and_the_intensity_rule_still_compares_with_it(
    oslo: OsloTrial, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = enrolled(oslo, "V4", forms=True), enrolled(oslo, "V4", forms=True)
    assessments._BASELINE_SCORES.clear()
    calls = _counting(monkeypatch)
    levels = []
    for pid in (first, second):
        form = sv.record_assessment(
            oslo.engine, oslo.investigator, pid, "V4", "cssrs", IDEATION_4,
            version="since_last_visit",
        )  # fmt: skip
        levels.append({a.rule_id: a.level for a in form.alerts})
    # the first form: its baseline's score, then its own; the second participant's baseline
    # (the same screening answers) is the one already scored
    first_form = [("cssrs", "baseline"), ("cssrs", "since_last_visit")]
    assert calls == [*first_form, ("cssrs", "since_last_visit")]
    expected = {"cssrs_ideation_4_5": "urgent", "cssrs_intensity_up": "review"}
    assert levels == [expected, expected]


def test_another_protocol_object_or_other_answers_are_scored_anew(oslo: OsloTrial) -> None:
    protocol = oslo.protocol
    answers = {str(i): 2 for i in range(1, 11)}
    once = assessments.baseline_score(protocol, "madrs", answers, None)
    assert assessments.baseline_score(protocol, "madrs", dict(answers), None) is once
    amended = protocol_from_text(protocol.text, "amended")
    again = assessments.baseline_score(amended, "madrs", answers, None)
    assert again is not once
    assert again.total == once.total == 20
    other = assessments.baseline_score(protocol, "madrs", {**answers, "1": 6}, None)
    assert other.total == 24
    # an answer that cannot be part of a key is scored each time, not refused
    with pytest.raises(Exception, match="madrs"):
        assessments.baseline_score(protocol, "madrs", {**answers, "1": [1]}, None)
