"""PostgreSQL: the audit chain's lock is taken when a save's audit rows are written (just before
its commit), not before its first change; concurrent writers keep one linear chain, a deadlock
the server breaks is refused with nothing stored, and retries with an idempotency key still
return the stored record."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from tests.support.forms import madrs
from tests.support.pg_locks import WAIT_S, in_thread, wait_for_a_blocked_backend
from tests.support.store_trial import Trial
from tests.support.trial import build_trial, enrolled

import remit.store.audit as audit_module
from remit import services as sv
from remit.errors import ConflictError, StoreError, TransactionCollisionError
from remit.store import unit_of_work, verify_audit_chain
from remit.store.tables import AuditEvent, Participant

pytestmark = pytest.mark.parametrize(
    "db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)


def _audit_ids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def test_a_save_waits_for_the_chains_lock_only_when_it_writes_its_audit_rows(
    trial: Trial,
) -> None:
    """A save that has flushed its changes but not committed does not hold the chain's lock:
    another save goes through meanwhile (before, the lock was taken at the first change, and
    the second save waited for the first one's commit)."""
    other_done = threading.Event()
    results: dict[str, Any] = {}

    def other_save() -> int:
        made = trial.add_participant("OSL-902")
        other_done.set()
        return made

    with unit_of_work(trial.engine, trial.investigator) as uow:
        first = Participant(study_id="OSL-901", site_id=trial.site_id)
        uow.add(first)
        uow.flush()  # the INSERT is made and the row locked; the audit rows are queued
        thread = in_thread(other_save, results, "other")
        assert other_done.wait(WAIT_S), "the other save waited for this transaction's commit"
    thread.join(WAIT_S)
    assert isinstance(results["other"], int)
    result = verify_audit_chain(trial.engine)
    assert result.ok, result.summary()
    with Session(trial.engine) as session:
        order = list(
            session.scalars(
                select(AuditEvent.new_value)
                .where(AuditEvent.table_name == "participant", AuditEvent.field == "study_id")
                .order_by(AuditEvent.id)
            )
        )
    assert order[-2:] == ['"OSL-902"', '"OSL-901"']  # chained in the order of the commits


def test_concurrent_writers_keep_one_linear_chain_with_contiguous_ids(trial: Trial) -> None:
    """Threads saving at once (flushes, updates, a savepoint rolled back, a read of the trail
    mid-transaction): every save stored once with its audit rows, ids without a gap, the
    chain verifies."""
    threads, saves = 4, 8
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def write(worker: int) -> None:
        try:
            start.wait(WAIT_S)
            for n in range(saves):
                with unit_of_work(trial.engine, trial.investigator, reason="load") as uow:
                    participant = Participant(study_id=f"W{worker}-{n:02d}", site_id=trial.site_id)
                    uow.add(participant)
                    uow.flush()
                    participant.arm = "mdma"
                    if n % 3 == 1:  # a savepoint: the queue is written before it
                        savepoint = uow.session.begin_nested()
                        uow.add(Participant(study_id=f"X{worker}-{n:02d}", site_id=trial.site_id))
                        uow.flush()
                        savepoint.rollback()
                    if n % 3 == 2:  # a read of the trail writes the queue first
                        uow.session.scalars(select(AuditEvent.id).limit(1)).all()
                        participant.sex = "F"
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT_S * 4)
    assert failures == []
    with Session(trial.engine) as session:
        stored = set(session.scalars(select(Participant.study_id)))
    expected = {f"W{w}-{n:02d}" for w in range(threads) for n in range(saves)}
    assert expected <= stored
    assert not {s for s in stored if s.startswith("X")}  # rolled back with their savepoints
    ids = _audit_ids(trial.engine)
    assert ids == list(range(1, len(ids) + 1))
    result = verify_audit_chain(trial.engine)
    assert result.ok, result.summary()
    with Session(trial.engine) as session:
        audited = set(
            session.scalars(
                select(AuditEvent.new_value).where(
                    AuditEvent.table_name == "participant", AuditEvent.field == "study_id"
                )
            )
        )
    assert {f'"{s}"' for s in expected} <= audited
    assert not {a for a in audited if a.startswith('"X')}


def test_a_deadlock_with_the_chains_lock_is_refused_with_nothing_stored(trial: Trial) -> None:
    """Save A changes row 1 and waits for the chain's lock; save B holds the chain's lock (it
    read the trail mid-transaction) and wants row 1: PostgreSQL stops one of them. It is
    refused as a conflict to send again, nothing of it is stored, the other save commits."""
    one = trial.add_participant("OSL-911")
    two = trial.add_participant("OSL-912")
    before = _audit_ids(trial.engine)
    b_holds_the_chain = threading.Event()
    results: dict[str, Any] = {}

    def save_a() -> str:
        with unit_of_work(trial.engine, trial.investigator, reason="a") as uow:
            row = uow.session.get_one(Participant, one)
            row.arm = "from-a"
            uow.flush()  # row 1 locked by A
            results["b-thread"] = in_thread(save_b, results, "b")
            assert b_holds_the_chain.wait(WAIT_S), "B did not get the chain's lock"
            wait_for_a_blocked_backend(trial.engine)  # B waits for row 1
            # a read of the trail writes A's queued rows: A waits for the chain's lock
            uow.session.scalars(select(AuditEvent.id).limit(1)).all()
        return "a"

    def save_b() -> str:
        with unit_of_work(trial.engine, trial.investigator, reason="b") as uow:
            row = uow.session.get_one(Participant, two)
            row.arm = "from-b"
            uow.flush()
            uow.session.scalars(select(AuditEvent.id).limit(1)).all()  # B takes the lock
            b_holds_the_chain.set()
            first = uow.session.get_one(Participant, one)
            first.sex = "M"
            uow.flush()  # waits for A's row 1
        return "b"

    in_thread(save_a, results, "a").join(WAIT_S * 2)
    results["b-thread"].join(WAIT_S * 2)
    outcomes = {name: results[name] for name in ("a", "b")}
    refused = {n: o for n, o in outcomes.items() if isinstance(o, BaseException)}
    assert len(refused) == 1, outcomes
    (loser, error), *_ = refused.items()
    assert isinstance(error, TransactionCollisionError), repr(error)
    assert "collided with another one" in str(error)
    assert "nothing of it was stored" in str(error)
    assert "send it again" in str(error)
    winner = "a" if loser == "b" else "b"
    assert outcomes[winner] == winner
    with Session(trial.engine) as session:
        rows = {p.id: (p.arm, p.sex) for p in session.scalars(select(Participant))}
        reasons = set(session.scalars(select(AuditEvent.reason).where(AuditEvent.id > max(before))))
    expected = {
        "a": {one: (None, "M"), two: ("from-b", None)},  # A refused: only B's changes
        "b": {one: ("from-a", None), two: (None, None)},  # B refused: only A's
    }[loser]
    assert {one: rows[one], two: rows[two]} == expected
    assert reasons == {winner}  # the audit rows of the refused save are gone with it
    ids = _audit_ids(trial.engine)
    assert ids == list(range(1, len(ids) + 1))
    result = verify_audit_chain(trial.engine)
    assert result.ok, result.summary()


def test_retries_with_an_idempotency_key_return_the_stored_form_under_concurrency(
    engine: Engine,
) -> None:
    """Raters saving at once, each sending its form twice with the same key (and once more
    with another body): the retry returns the same record, the other body is refused, every
    form is stored once and the chain verifies."""
    oslo = build_trial(engine)
    participants = [enrolled(oslo, "V3") for _ in range(3)]
    results: dict[str, Any] = {}

    def rater_saves(pid: str) -> tuple[int, int]:
        first = sv.record_assessment(
            engine, oslo.rater, pid, "V3", "madrs", madrs(3, 1), idempotency_key=f"k-{pid}"
        )
        again = sv.record_assessment(
            engine, oslo.rater, pid, "V3", "madrs", madrs(3, 1), idempotency_key=f"k-{pid}"
        )
        with pytest.raises(ConflictError):
            sv.record_assessment(
                engine, oslo.rater, pid, "V3", "madrs", madrs(2, 2), idempotency_key=f"k-{pid}"
            )
        return first.id, again.id

    threads = [in_thread(lambda p=p: rater_saves(p), results, p) for p in participants]
    for thread in threads:
        thread.join(WAIT_S * 4)
    ids = []
    for pid in participants:
        outcome = results[pid]
        assert not isinstance(outcome, BaseException), repr(outcome)
        first, again = outcome
        assert first == again
        ids.append(first)
    assert len(set(ids)) == len(participants)
    with Session(engine) as session:
        stored = session.execute(
            text("SELECT count(*) FROM assessment WHERE scale = 'madrs' AND id = ANY(:ids)"),
            {"ids": ids},
        ).scalar()
    assert stored == len(participants)
    result = verify_audit_chain(engine)
    assert result.ok, result.summary()


def test_an_audit_insert_refused_in_the_commits_round_trip_stores_nothing(
    trial: Trial, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit rows' INSERT goes with the COMMIT (pipeline mode): when the database refuses
    it (here a head one row behind, so a duplicate id), the save is refused, nothing of it is
    stored, and the connection serves the next save."""
    trial.add_participant("OSL-920")
    before = _audit_ids(trial.engine)
    read_head = audit_module._chain_head

    def stale_head(connection: Any) -> tuple[int, str]:
        last_id, _hash = read_head(connection)
        return last_id - 1, "0" * 64

    monkeypatch.setattr(audit_module, "_chain_head", stale_head)
    with pytest.raises(StoreError, match="the database refused the change"):
        trial.add_participant("OSL-921")
    monkeypatch.undo()
    assert _audit_ids(trial.engine) == before
    trial.add_participant("OSL-922")
    with Session(trial.engine) as session:
        stored = set(session.scalars(select(Participant.study_id)))
    assert {"OSL-920", "OSL-922"} <= stored
    assert "OSL-921" not in stored
    result = verify_audit_chain(trial.engine)
    assert result.ok, result.summary()
