"""Make ``OSL-001`` of the seeded web trial due for its V3 ratings on the day of the run: it is
screened and enrolled as a site does (phone screen, screening visit with its C-SSRS,
eligibility, enrolment at V0) and its visits up to V2 are recorded a week apart, V2 a week
before that day (through the services, on the app's database).

The day is the one the session's template was built for (``trial_day`` in
``tests/web/conftest.py``), not the date when a test runs: a run that crosses midnight UTC
would otherwise record the visits again a day later (refused: already recorded) or ask the
worklist about another day. :func:`pin_worklist_day` keeps the worklist service's clock on
that day.
"""

from __future__ import annotations

import importlib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from tests.support.forms import at
from tests.support.trial import ELIGIBLE, screening_form, trial_of, walk_screening

from remit import services as sv

#: The visits recorded, and how many days before today each took place.
WALKED = (("PHONE", 35), ("SCR", 28), ("V0", 21), ("V1", 14), ("V2", 7))


def enrol_at_v0(trial_db: Path, today: date) -> None:
    """Screen and enrol OSL-001 (registered, consented, referred 42 days before ``today``) on
    the days of :data:`WALKED`: the phone screen, SCR with its C-SSRS, the eligibility check,
    the enrolment at V0."""
    days = {code: today - timedelta(days=back) for code, back in WALKED}
    engine = sv.open_database(str(trial_db))
    try:
        trial = trial_of(engine)
        kari = trial.investigator
        walk_screening(trial, "OSL-001", phone_day=days["PHONE"], screening_day=days["SCR"])
        screening_form(trial, "OSL-001")
        assert sv.check_eligibility(engine, kari, "OSL-001", ELIGIBLE).eligible
        sv.enrol(engine, kari, "OSL-001", enrolled_at=at(days["V0"], 11))
    finally:
        sv.close_database(engine)


def v3_due_today(trial_db: Path, today: date) -> None:
    """Record OSL-001's visits up to V2, so that its V3 (MADRS …) falls due ``today``."""
    engine = sv.open_database(str(trial_db))
    try:
        kari = sv.actor_for(engine, "kari")
        for code, days in WALKED:
            sv.record_visit(engine, kari, "OSL-001", code, today - timedelta(days=days))
    finally:
        sv.close_database(engine)


def pin_worklist_day(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    """Keep the clock of the worklist service (its ``now_utc``, which its default ``today``
    reads) on ``day`` for the rest of the test: the time of day runs on, the date stays."""
    module = importlib.import_module("remit.services.worklist")  # the function shadows it
    clock = module.now_utc

    def pinned() -> datetime:
        now = clock()
        return now - timedelta(days=(now.date() - day).days)

    monkeypatch.setattr(module, "now_utc", pinned)
