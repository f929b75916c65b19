"""The trial factory of :mod:`tests.support.trial` makes what it says: the staff of each role,
participants at each stage with their status, forms and doses, all through the services."""

from __future__ import annotations

from typing import get_args

import pytest
from sqlalchemy import Engine
from tests.support.trial import ROLE_USER, Stage, build_trial, stage, trial_of

from remit import services as sv


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_each_stage_has_its_status_forms_and_doses(engine: Engine) -> None:
    stages = get_args(Stage)
    plans = [stage(name) for name in stages] + [stage("dosed", withdrawn="moved away")]
    trial = build_trial(engine, participants=plans)
    assert trial.participants == tuple(f"OSL-{n:03d}" for n in range(1, len(plans) + 1))
    assert {role: actor.username for role, actor in trial.actors.items()} == ROLE_USER
    assert trial.investigator.site_id is not None  # site-bound at OST
    assert trial.monitor.site_id is None  # study-wide
    assert trial_of(engine) == trial.__class__(
        engine=engine, protocol=trial.protocol, actors=trial.actors, staff=trial.staff
    )

    statuses = {p.participant_id: p.status for p in sv.list_participants(engine, trial.admin)}
    by_stage = dict(zip([*stages, "withdrawn"], trial.participants, strict=True))
    assert {name: statuses[pid] for name, pid in by_stage.items()} == {
        "screened": "screening",
        "ineligible": "ineligible",
        "enrolled": "enrolled",
        "dosed": "on_study",
        "completed": "completed",
        "withdrawn": "withdrawn",
    }
    data = sv.build_trial_data(engine, actor=trial.statistician)
    doses = data.doses.groupby("participant_id").size().to_dict()
    assert doses == {by_stage["dosed"]: 2, by_stage["completed"]: 4, by_stage["withdrawn"]: 2}
    forms = data.scores.groupby("participant_id")["visit_code"].agg(set).to_dict()
    # everyone screened at SCR has the screening C-SSRS the eligibility criteria read
    assert set(forms) == {by_stage[s] for s in by_stage if s != "screened"}
    assert forms[by_stage["ineligible"]] == forms[by_stage["enrolled"]] == {"SCR"}
    assert "FU7" in forms[by_stage["completed"]]
    assert "V6" not in forms[by_stage["dosed"]]  # the visits stop at the first dosing day
