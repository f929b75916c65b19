"""Migration 0012 adds the screening and two-step enrolment columns to ``participant``;
downgrade drops them and keeps the participants; upgrading again gives empty columns (an
enrolled participant shows as not confirmed). SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import inspect
from tests.support.trial import Participant, add_participant, build_trial

from remit import services as sv
from remit.store import downgrade, make_engine, upgrade

NEW = {
    "referral_source", "phone_screen_outcome", "phone_screened_at", "phone_screened_by",
    "screen_failure_code", "enrolled_by", "enrolment_confirmed_at", "enrolment_confirmed_by",
}  # fmt: skip


def _columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("participant")}


def test_the_columns_go_and_come_back_empty_without_losing_participants(
    empty_db_url: str, fast_password_hashing: None
) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine)
        assert _columns(engine) >= NEW
        trial = build_trial(engine)
        pid = add_participant(trial, Participant(through="V0"))
        assert sv.get_participant(engine, trial.investigator, pid).enrolled_by == "kari"

        downgrade(engine, "0011")
        assert not NEW & _columns(engine)
        with engine.connect() as connection:
            found = connection.execute(sa.text("SELECT study_id, status FROM participant"))
            assert found.all() == [(pid, "enrolled")]

        upgrade(engine)
        person = sv.get_participant(engine, trial.investigator, pid)
        assert (person.enrolled_by, person.enrolment_confirmed_at) == (None, None)
    finally:
        engine.dispose()
