"""Make ``OSL-001`` of the seeded web trial due for its V3 ratings today: its visits up to V2
are recorded a week apart, V2 a week ago (through the services, on the app's database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from remit import services as sv

#: The visits recorded, and how many days before today each took place.
WALKED = (("PHONE", 35), ("SCR", 28), ("V0", 21), ("V1", 14), ("V2", 7))


def v3_due_today(trial_db: Path) -> None:
    """Record OSL-001's visits up to V2, so that its V3 (MADRS …) falls due today."""
    today = datetime.now(UTC).date()
    engine = sv.open_database(str(trial_db))
    try:
        kari = sv.actor_for(engine, "kari")
        for code, days in WALKED:
            sv.record_visit(engine, kari, "OSL-001", code, today - timedelta(days=days))
    finally:
        sv.close_database(engine)
