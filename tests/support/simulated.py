"""A small simulated Oslo trial (four enrolled, two screen failures) for tests that need
realistic data entered through the services but not the size of the published trial."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from tests.support.db import cheap_password_hashing

from remit.analysis import TrialData
from remit.simulate import SimulationResult, Targets

#: The smallest trial the simulator plans: four enrolled, two screen failures.
SMALL = Targets(
    n_enrolled=4, n_women=2, n_screen_failures=2, n_remitters=2, n_relapses=1, n_vital_crossings=2
)
START = date(2023, 2, 6)


def simulate_small(
    path: Path,
    seed: int,
    missed: dict[int, list[str]] | None = None,
    *,
    targets: Targets = SMALL,
    start: date = START,
) -> tuple[SimulationResult, TrialData]:
    """Simulate a small trial (:data:`SMALL` unless told) into a new demo database at
    ``path`` (closed on return, its WAL checkpointed); return what was entered and the
    trial's data."""
    from remit import services as sv
    from remit.protocol import load_protocol
    from remit.simulate import close_demo_database, create_demo_database, simulate_trial

    protocol = load_protocol("oslo-mdma-mdd")
    with cheap_password_hashing():
        demo = create_demo_database(path, protocol)
        try:
            result = simulate_trial(
                demo.engine, protocol, rng=seed, start_date=start, targets=targets, missed=missed
            )
            data = sv.build_trial_data(demo.engine, actor=demo.staff["statistician"])
        finally:
            close_demo_database(demo)
    return result, data


def simulate_missing_v13(path: Path) -> None:
    """The small simulated trial shared by the suite (``simulated_missing_v13``): four
    enrolled, four screen failures (one fails after a C-SSRS entered with no assessment time),
    one vital-sign crossing, participant 2 misses V13."""
    targets = replace(SMALL, n_screen_failures=4, n_vital_crossings=1)
    simulate_small(path, 11, {2: ["V13"]}, targets=targets, start=date(2023, 1, 2))
