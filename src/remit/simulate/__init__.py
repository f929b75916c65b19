"""Synthetic participants and cohorts driven through ``services``: the demo trial and test data.

:func:`simulate_trial` plans a synthetic trial that resembles published aggregates
(:data:`OSLO_TARGETS` by default) and enters it through the services as staff would; every
participant is stored as simulated. :func:`create_demo_database` makes the demo's SQLite file
with one demo user per role. See ``docs/demo.md``.
"""

from remit.simulate.demo import (
    DEMO_USERS,
    UNBLINDED_DEMO_USER,
    DemoDatabase,
    close_demo_database,
    create_demo_database,
    is_demo_database,
)
from remit.simulate.outcomes import OutcomeCourse, Thresholds, draw_outcomes
from remit.simulate.plan import CohortPlan, PersonPlan, Step, plan_cohort
from remit.simulate.targets import OSLO_TARGETS, Targets, rct_targets
from remit.simulate.trial import (
    SimulatedParticipant,
    SimulationResult,
    find_staff,
    simulate_trial,
)

__all__ = [
    "DEMO_USERS",
    "OSLO_TARGETS",
    "UNBLINDED_DEMO_USER",
    "CohortPlan",
    "DemoDatabase",
    "OutcomeCourse",
    "PersonPlan",
    "SimulatedParticipant",
    "SimulationResult",
    "Step",
    "Targets",
    "Thresholds",
    "close_demo_database",
    "create_demo_database",
    "draw_outcomes",
    "find_staff",
    "is_demo_database",
    "plan_cohort",
    "rct_targets",
    "simulate_trial",
]
