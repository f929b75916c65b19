"""Migration 0005 lets ``assessment.status`` be ``incomplete``; downgrade refuses while a form
is incomplete, and otherwise restores the old CHECK constraint."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect
from tests.support.trial import build_trial, enrolled

from remit import services as sv
from remit.errors import StoreError
from remit.store import downgrade, make_engine, upgrade
from remit.store.tables import Assessment


def _status_words(engine: sa.Engine) -> set[str]:
    for c in inspect(engine).get_check_constraints("assessment"):
        words = set(re.findall(r"'([^']*)'", str(c["sqltext"])))
        if "draft" in words:
            return words
    raise AssertionError("no status CHECK constraint on assessment")


def _forms(engine: sa.Engine) -> set[tuple[int, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Assessment.id, Assessment.scale, Assessment.status))
        return {(int(i), str(scale), str(status)) for i, scale, status in rows}


def test_upgrade_allows_incomplete_and_downgrade_refuses_until_none_is_left(
    empty_db_url: str, fast_password_hashing: None
) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine)
        assert "incomplete" in _status_words(engine)
        trial = build_trial(engine)
        pid = enrolled(trial, "V3")
        form = sv.record_assessment(
            engine, trial.rater, pid, "V3", "madrs", {str(i): 3 for i in range(1, 10)}
        )
        assert form.status == "incomplete"

        with pytest.raises(StoreError, match=r"1 form\(s\) are incomplete"):
            downgrade(engine, "0004")
        assert "incomplete" in _status_words(engine)  # nothing changed

        with engine.begin() as connection:  # the form is completed (its status only, here)
            connection.execute(
                sa.update(Assessment).where(Assessment.id == form.id).values(status="complete")
            )
        kept = _forms(engine)
        # the screening C-SSRS that enrolment needs (complete), and the completed MADRS
        assert {(scale, status) for _, scale, status in kept} == {
            ("cssrs", "complete"),
            ("madrs", "complete"),
        }
        downgrade(engine, "0004")
        assert _status_words(engine) == {"draft", "complete", "signed", "locked"}
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.execute(
                sa.update(Assessment).where(Assessment.id == form.id).values(status="incomplete")
            )
        # the rows, indexes and other constraints survive the rebuild
        assert _forms(engine) == kept
        assert "ix_assessment_participant_scale" in {
            i["name"] for i in inspect(engine).get_indexes("assessment")
        }

        upgrade(engine)
        assert "incomplete" in _status_words(engine)
        sv.update_assessment(
            engine,
            trial.rater,
            form.id,
            {str(i): 3 for i in range(1, 10)},
            expected_version=form.version,
            reason="item 10 entered by mistake",
        )
    finally:
        engine.dispose()
