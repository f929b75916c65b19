"""Concurrent writers killed with SIGKILL mid-submission lose no acknowledged data and break no
chain.

``REMIT_CRASH_ROUNDS`` raises the number of kill rounds (default 2 per engine) for a longer run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.waiting import wait_until

from remit.store import replay_audit, snapshot_tables, verify_audit_chain
from remit.store.tables import Assessment, Participant

WRITER = textwrap.dedent(
    """
    import sys
    from remit.store import Actor, make_engine, unit_of_work
    from remit.store.tables import Assessment, Participant

    url, prefix, user_id, site_id = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    engine = make_engine(url)
    actor = Actor(user_id, "kari", "investigator", site_id)
    print("READY", flush=True)
    n = 0
    while True:
        study_id = f"{prefix}-{n:05d}"
        with unit_of_work(engine, actor) as uow:
            participant = Participant(study_id=study_id, site_id=site_id, birth_year=1980)
            uow.add(participant)
            uow.flush()
            uow.add(Assessment(participant_id=participant.id, scale="madrs", scale_version="1",
                               answers={"item_1": n % 7}, total=float(n % 7), status="complete"))
        print("ACK", study_id, flush=True)
        n += 1
    """
)


class _Writer:
    """A writer process and the lines it has printed so far (read by a thread, so that the
    test can wait for progress with a ceiling instead of blocking on a pipe)."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def acknowledged(self) -> list[str]:
        return [line.split()[1] for line in list(self.lines) if line.startswith("ACK ")]

    def stopped(self) -> str | None:
        code = self.process.poll()
        return None if code is None else f"the writer exited with {code}: {self.lines[-5:]}"


def _round(script: Path, url: str, prefix: str, trial: Any, kill_after: list[int]) -> list[str]:
    """Start one writer per entry of ``kill_after``, all at once; SIGKILL each once it has
    acknowledged that many submissions (progress, not time: a busy machine kills at the same
    points), while the others go on writing."""
    command = [sys.executable, str(script), url]
    ids = [str(trial.investigator.user_id), str(trial.site_id)]
    writers = [_Writer([*command, f"{prefix}W{n}", *ids]) for n in range(len(kill_after))]
    for n, writer in enumerate(writers):
        started = writer.lines
        wait_until(lambda s=started: "READY" in s, f"writer {n} to start", alive=writer.stopped)
    order = sorted(range(len(writers)), key=lambda n: kill_after[n])
    for n in order:
        writer, count = writers[n], kill_after[n]
        wait_until(
            lambda w=writer, c=count: len(w.acknowledged()) >= c,
            f"writer {n} to acknowledge {count} submissions",
            alive=writer.stopped,
        )
        os.kill(writer.process.pid, signal.SIGKILL)
    acknowledged: list[str] = []
    for writer in writers:
        writer.process.wait()
        writer.reader.join()
        assert writer.process.returncode == -signal.SIGKILL
        acknowledged += writer.acknowledged()
    return acknowledged


def test_killed_writers_lose_no_acknowledged_submission(
    trial: Any, db_url: str, db_backend: str, tmp_path: Path
) -> None:
    rounds = int(os.environ.get("REMIT_CRASH_ROUNDS", "2"))
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = random.Random(20260302)
    acknowledged: list[str] = []
    for round_ in range(rounds):
        counts = [rng.randint(2, 12), rng.randint(2, 12)]  # two concurrent writers
        acknowledged += _round(script, db_url, f"K{round_}", trial, counts)
    assert acknowledged, "the writer acknowledged nothing before being killed"
    with Session(trial.engine) as session:
        stored = set(session.scalars(select(Participant.study_id)))
        assessments = session.query(Assessment).count()
    assert set(acknowledged) <= stored  # zero acknowledged submissions lost
    assert assessments == len(stored)  # no half-written submission
    assert verify_audit_chain(trial.engine).ok
    assert replay_audit(trial.engine) == snapshot_tables(trial.engine)  # every row audited
    if db_backend == "sqlite":
        with trial.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
