"""An engine that echoes (``make_engine(..., echo=True)``) logs the statements Remit sends to
the driver past SQLAlchemy's execution too (the write path's reads and INSERTs, ``BEGIN``, the
audit chain's lock and head): an echo shows every statement of a form, and an engine that does
not echo logs none of them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from tests.support.forms import madrs
from tests.support.trial import build_trial, enrolled

from remit import services as sv
from remit.store import make_engine
from remit.store.web_sessions import SessionTimeouts, live_session


@pytest.mark.parametrize("echo", [True, False])
def test_an_echo_shows_every_statement_of_a_form(
    db_url: str, db_backend: str, echo: bool, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(db_url, echo=echo)
    try:
        trial = build_trial(engine)
        pid = enrolled(trial, "V3")
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            sv.record_assessment(
                engine, trial.rater, pid, "V3", "madrs", madrs(3, 1), idempotency_key="echo-1"
            )
        logged = [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy")]
    finally:
        engine.dispose()
    if not echo:
        assert not [m for m in logged if "INSERT INTO" in m]
        return
    text = "\n".join(logged)
    for statement in ("INSERT INTO assessment", "INSERT INTO idempotency_key",
                      "INSERT INTO audit_event", "FROM participant"):  # fmt: skip
        assert statement in text, text
    assert "[remit: sent by the driver]" in text
    if db_backend == "sqlite":
        assert "BEGIN IMMEDIATE" in text
    else:
        assert "pg_advisory_xact_lock" in text
        assert "SELECT id, row_hash FROM audit_event ORDER BY id DESC LIMIT 1" in text


def test_an_echo_shows_the_session_lookup(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(db_url, echo=True)
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            found = live_session(
                engine, "no-such-token", now=datetime.now(UTC), timeouts=SessionTimeouts(900, 43200)
            )
    finally:
        engine.dispose()
    assert found is None
    assert any("FROM web_session" in r.getMessage() for r in caplog.records)
