"""PostgreSQL: writes about one participant run one after the other (the write preamble holds
the participant's lock from before it reads them to its commit), while writes about other
participants go through: a form entered while another write about the same participant is
open waits for its commit and then sees what it stored (the one-form-per-visit rule holds
under concurrency); a form of another participant does not wait."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tests.support.forms import madrs
from tests.support.pg_locks import WAIT_S, in_thread, wait_for_a_blocked_backend
from tests.support.trial import OsloTrial, enrolled

from remit import services as sv
from remit.errors import ConflictError
from remit.services.unit import writing

pytestmark = pytest.mark.parametrize(
    "db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)


def test_writes_about_one_participant_wait_for_each_other_and_others_do_not(
    oslo: OsloTrial,
) -> None:
    engine, rater = oslo.engine, oslo.rater
    first, second = enrolled(oslo, "V3"), enrolled(oslo, "V3")
    results: dict[str, Any] = {}
    release = threading.Event()
    holding = threading.Event()

    def hold_first() -> str:
        # an open write about ``first`` (by database id: the same lock as by study ID) that
        # enters its V3 MADRS and then waits before committing
        participant_id = sv.get_participant(engine, oslo.investigator, first).id
        with writing(engine, rater, "record_assessment", participant=participant_id) as w:
            assert w.participant is not None
            holding.set()
            assert release.wait(WAIT_S)
        return "held"

    holder = in_thread(hold_first, results, "holder")
    assert holding.wait(WAIT_S)
    same = in_thread(
        lambda: sv.record_assessment(engine, rater, first, "V3", "madrs", madrs(3, 1)),
        results,
        "same",
    )
    wait_for_a_blocked_backend(engine, "advisory")
    assert "same" not in results  # waits for the open write about the same participant
    other = sv.record_assessment(engine, rater, second, "V3", "madrs", madrs(3, 1))
    assert other.participant_id == second  # another participant's form did not wait
    assert "same" not in results
    release.set()
    holder.join(WAIT_S)
    same.join(WAIT_S)
    assert results["holder"] == "held"
    stored = results["same"]
    assert not isinstance(stored, BaseException), stored
    assert stored.participant_id == first
    # the form stored once the lock was free counts: another at the same visit is refused
    with pytest.raises(ConflictError, match="already has a madrs form at V3"):
        sv.record_assessment(engine, rater, first, "V3", "madrs", madrs(3, 1))


def test_a_form_holds_its_idempotency_key_s_lock_taken_with_the_participant_s(
    oslo: OsloTrial,
) -> None:
    # the participant's lock and the key's are taken by one statement: a request of the same
    # user with the same key, about another participant, waits for the first one's commit
    # and is then refused (the key was used for a different request); with another key, about
    # a third participant, a request goes through at once
    engine, rater = oslo.engine, oslo.rater
    first, second, third = (enrolled(oslo, "V3") for _ in range(3))
    results: dict[str, Any] = {}
    release = threading.Event()
    holding = threading.Event()

    def hold_first() -> int:
        with writing(
            engine,
            rater,
            "record_assessment",
            participant=first,
            idempotency_key="shared-key",
            record_table="assessment",
            request={"form": 1},
        ) as w:
            assert w.participant is not None
            assert w.replayed_id is None
            w.remember(w.participant.id)
            holding.set()
            assert release.wait(WAIT_S)
            return w.participant.id

    holder = in_thread(hold_first, results, "holder")
    assert holding.wait(WAIT_S)
    same_key = in_thread(
        lambda: sv.record_assessment(
            engine, rater, second, "V3", "madrs", madrs(3, 1), idempotency_key="shared-key"
        ),
        results,
        "same key",
    )
    wait_for_a_blocked_backend(engine, "advisory")
    assert "same key" not in results
    other_key = sv.record_assessment(
        engine, rater, third, "V3", "madrs", madrs(3, 1), idempotency_key="another-key"
    )
    assert other_key.participant_id == third
    assert "same key" not in results
    release.set()
    holder.join(WAIT_S)
    same_key.join(WAIT_S)
    assert not isinstance(results["holder"], BaseException), results["holder"]
    assert isinstance(results["same key"], ConflictError), results["same key"]
    assert "already used for a different request" in str(results["same key"])
