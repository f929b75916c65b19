"""A form missing a required item is kept as ``incomplete``, never ``complete``; the protocol's
``[scoring.<scale>]`` settings reach the scoring; a refused C-SSRS stores nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from tests.support.forms import fill, madrs
from tests.support.trial import PASSWORD, OsloTrial, build_trial, enrolled

from remit import services as sv
from remit.errors import AnswerError, InputError
from remit.protocol import load_protocol
from remit.protocol.loader import parse_protocol
from remit.simulate.answers import Ideation, cssrs_answers

NO_ITEM_10 = {str(i): 3 for i in range(1, 10)}


def test_madrs_without_item_10_is_stored_incomplete_and_says_so(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V3")
    form = sv.record_assessment(oslo.engine, oslo.rater, pid, "V3", "madrs", NO_ITEM_10)
    assert form.status == "incomplete"
    assert form.complete is False
    assert form.missing_required == ("10",)
    assert form.total is None
    assert form.to_dict()["missing_required"] == ["10"]
    # the item-10 rule could not be evaluated, and the response says so
    assert any("suicidal_thoughts" in why for _, why in form.not_evaluated)
    again = sv.get_assessment(oslo.engine, oslo.rater, form.id)
    assert (again.status, again.complete, again.missing_required) == ("incomplete", False, ("10",))


def test_filling_the_missing_item_makes_the_form_complete_without_a_reason(
    oslo: OsloTrial,
) -> None:
    pid = enrolled(oslo, "V3")
    form = sv.record_assessment(oslo.engine, oslo.rater, pid, "V3", "madrs", NO_ITEM_10)
    done = sv.update_assessment(
        oslo.engine, oslo.rater, form.id, madrs(3, 5), expected_version=form.version
    )
    assert (done.status, done.complete, done.missing_required, done.total) == (
        "complete",
        True,
        (),
        32,
    )
    assert [a.rule_id for a in done.alerts] == ["madrs_item10"]
    # a complete form edited to blank the safety item becomes incomplete (with a reason)
    blanked = sv.update_assessment(
        oslo.engine,
        oslo.rater,
        done.id,
        NO_ITEM_10,
        expected_version=done.version,
        reason="item 10 was entered for the wrong participant",
    )
    assert (blanked.status, blanked.missing_required) == ("incomplete", ("10",))


def test_an_incomplete_form_cannot_be_signed(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V3")
    form = sv.record_assessment(oslo.engine, oslo.rater, pid, "V3", "madrs", NO_ITEM_10)
    with pytest.raises(InputError, match="incomplete"):
        sv.sign(
            oslo.engine,
            oslo.investigator,
            "assessment",
            form.id,
            password=PASSWORD,
            meaning="approved",
        )


def test_a_draft_stays_a_draft(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V3")
    form = sv.record_assessment(
        oslo.engine, oslo.rater, pid, "V3", "madrs", NO_ITEM_10, status="draft"
    )
    assert (form.status, form.complete, form.missing_required) == ("draft", False, ("10",))


def test_cssrs_without_behaviour_still_raises_its_ideation_alert(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V4")
    reported = cssrs_answers("since_last_visit", Ideation(type=4, intensity=(3, 2, 2, 1, 2)))
    behaviour = {"actual_attempt", "interrupted_attempt", "aborted_attempt", "nssib", "suicide"}
    answers = {k: v for k, v in reported.items() if k not in behaviour | {"preparatory_behaviour"}}
    form = sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "V4", "cssrs", answers, version="since_last_visit"
    )
    assert form.status == "incomplete"
    assert "cssrs_ideation_4_5" in {a.rule_id for a in form.alerts}
    assert "11" in form.missing_required  # actual attempt: a safety item
    assert "cssrs_behaviour" in {rule for rule, _ in form.not_evaluated}


def test_a_refused_cssrs_stores_nothing(
    oslo: OsloTrial, rows: Callable[[], dict[str, int]]
) -> None:
    pid = enrolled(oslo, "V4")
    before = rows()
    answers = fill("cssrs", "since_last_visit") | {
        "wish_to_be_dead": True,
        "non_specific_active_thoughts": False,
        "active_ideation_methods": True,
    }
    with pytest.raises(AnswerError, match=r"item 3 \(active_ideation_methods\)"):
        sv.record_assessment(
            oslo.engine, oslo.investigator, pid, "V4", "cssrs", answers, version="since_last_visit"
        )
    assert rows() == before


def _with_scoring(extra: str) -> object:
    text = load_protocol("oslo-mdma-mdd").text + "\n" + extra
    protocol, problems = parse_protocol(text)
    assert problems == [], problems
    return protocol


def test_the_protocols_prorating_rule_is_used_but_never_over_item_10(
    engine: Engine, fast_password_hashing: None
) -> None:
    protocol = _with_scoring(
        '[scoring.madrs]\nmissing = { kind = "prorate", max_missing = 1 }\n'
        'assumption = "one missing MADRS item may be prorated"\n'
    )
    trial = build_trial(engine, protocol=protocol)  # type: ignore[arg-type]
    pid = enrolled(trial, "V3")
    no_item_1 = {str(i): 3 for i in range(2, 11)}
    form = sv.record_assessment(engine, trial.rater, pid, "V3", "madrs", no_item_1)
    assert form.total == 30
    assert form.score["prorated"] is True
    assert (form.status, form.missing_required) == ("incomplete", ("1",))
    other = enrolled(trial, "V3")
    form = sv.record_assessment(engine, trial.rater, other, "V3", "madrs", NO_ITEM_10)
    assert form.total is None
    assert form.missing_required == ("10",)
    assert any("never prorated over a safety item" in n for n in form.score["notes"])


def test_a_protocol_may_mark_more_safety_items(engine: Engine, fast_password_hashing: None) -> None:
    protocol = _with_scoring('[scoring.madrs]\nsafety_items = ["9"]\n')
    trial = build_trial(engine, protocol=protocol)  # type: ignore[arg-type]
    pid = enrolled(trial, "V3")
    answers = madrs(3, 1) | {"9": None}
    form = sv.record_assessment(engine, trial.rater, pid, "V3", "madrs", answers)
    assert form.missing_required == ("9",)
    assert form.score["safety_missing"] == ["pessimistic_thoughts"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('[scoring.madrss]\nmissing = { kind = "prorate", max_missing = 1 }\n', "madrss"),
        ('[scoring.madrs]\nsafety_items = ["11"]\n', "'11'"),
        ('[scoring.madrs]\nmissing = { kind = "none", max_missing = 1 }\n', "max_missing"),
        ('[scoring.madrs]\nmissing = { kind = "sometimes" }\n', "sometimes"),
    ],
)
def test_bad_scoring_settings_are_refused_when_the_protocol_is_read(extra: str, named: str) -> None:
    text = load_protocol("oslo-mdma-mdd").text + "\n" + extra
    protocol, problems = parse_protocol(text)
    assert protocol is None
    assert any(named in str(p) for p in problems), [str(p) for p in problems]
