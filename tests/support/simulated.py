"""A small simulated Oslo trial (four enrolled, two screen failures) for tests that need
realistic data entered through the services but not the size of the published trial."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from tests.support.db import cheap_password_hashing

from remit.simulate import Targets

#: The smallest trial the simulator plans: four enrolled, two screen failures.
SMALL = Targets(
    n_enrolled=4, n_women=2, n_screen_failures=2, n_remitters=2, n_relapses=1, n_vital_crossings=2
)
START = date(2023, 2, 6)


def simulate_missing_v13(path: Path) -> None:
    """The small simulated trial shared by the suite (``simulated_missing_v13``), simulated
    into a new demo database at ``path`` (closed on return, its WAL checkpointed): four
    enrolled, four screen failures (one fails after a C-SSRS entered with no assessment time),
    one vital-sign crossing, participant 2 misses V13."""
    from remit.protocol import load_protocol
    from remit.simulate import close_demo_database, create_demo_database, simulate_trial

    protocol = load_protocol("oslo-mdma-mdd")
    targets = replace(SMALL, n_screen_failures=4, n_vital_crossings=1)
    with cheap_password_hashing():
        demo = create_demo_database(path, protocol)
        try:
            simulate_trial(
                demo.engine,
                protocol,
                rng=11,
                start_date=date(2023, 1, 2),
                targets=targets,
                missed={2: ["V13"]},
            )
        finally:
            close_demo_database(demo)
