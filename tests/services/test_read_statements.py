"""The reads the casebook and the worklist pages make cost the same number of SQL statements
however many participants, visits and forms there are (no query per row: issue 16)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.db import statements_sent
from tests.support.trial import OsloTrial, Participant, add_participant

from remit import services as sv


def _casebook_reads(trial: OsloTrial, pid: str) -> dict[str, int]:
    """What the casebook page reads (:func:`remit.web.pages.casebook`), statement by read."""
    engine, who = trial.engine, trial.investigator
    reads: dict[str, Callable[[], Any]] = {
        "get_participant": lambda: sv.get_participant(engine, who, pid),
        "list_visits": lambda: sv.list_visits(engine, who, pid),
        "list_assessments": lambda: sv.list_assessments(engine, who, pid),
        "list_adverse_events": lambda: sv.list_adverse_events(engine, who, pid),
        "list_dosing_sessions": lambda: sv.list_dosing_sessions(engine, who, pid),
    }
    return {name: statements_sent(engine, read) for name, read in reads.items()}


def test_the_casebook_reads_do_not_grow_with_visits_forms_and_alerts(oslo: OsloTrial) -> None:
    few = add_participant(oslo, Participant(through="V1"))
    many = add_participant(
        oslo, Participant(through="V13", forms="all", level=4, adverse_events=("V5", "V13"))
    )
    for form in sv.list_assessments(oslo.engine, oslo.investigator, many):
        if form.scale == "madrs" and form.visit_code != "V3":  # suicidal thoughts
            sv.update_assessment(
                oslo.engine,
                oslo.rater,
                form.id,
                {**form.answers, "suicidal_thoughts": 4},
                expected_version=form.version,
                reason="item 10 misread",
            )
    forms = sv.list_assessments(oslo.engine, oslo.investigator, many)
    assert len(forms) > 20
    assert any(f.alerts for f in forms)
    assert _casebook_reads(oslo, many) == _casebook_reads(oslo, few)


def test_the_worklist_does_not_grow_with_participants(oslo: OsloTrial) -> None:
    add_participant(oslo, Participant(through="V4", forms="all"))
    engine = oslo.engine
    roles = (oslo.investigator, oslo.rater, oslo.data_manager)
    one = {a.username: statements_sent(engine, lambda a=a: sv.worklist(engine, a)) for a in roles}
    for _ in range(2):
        add_participant(oslo, Participant(through="V13", forms="all", level=4))
    three = {a.username: statements_sent(engine, lambda a=a: sv.worklist(engine, a)) for a in roles}
    assert three == one
