"""Crash test: writers killed with SIGKILL again and again while submitting forms.

Usage::

    python benchmarks/crash_test.py [--participants 6] [--workers 3] [--kills 40] [--seed 1]

It creates a SQLite trial (Oslo protocol), screens participants and plans every form the
protocol schedules for them (one submission each, with an idempotency key). Writer processes
submit their share through :func:`remit.services.record_assessment`; after each acknowledged
submission (the service returned) the writer appends the key to its acknowledgement log and
fsyncs it. The driver SIGKILLs each running writer once it has been seen to start a random
number (1 to 3) of new submissions since it was started (progress, not time, so a slow or busy
machine kills at the same points), restarts it, and the restarted writers retry every
submission they have no acknowledgement for. At the end it
checks: every acknowledged submission is stored with the id it was acknowledged with; no
submission is stored twice; ``PRAGMA integrity_check`` is ``ok``; every row of every audited
table has its audit rows; the audit hash chain verifies. It prints the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the benchmarks' shared pieces
from load_web import ELIGIBLE  # checklist answers passing every Oslo criterion

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class CrashFigures:
    """What the crash test measured."""

    submissions: int
    workers: int
    kills: int
    kills_mid_submission: int
    restarts: int
    acknowledged: int
    found: int
    acknowledged_lost: int
    duplicates: int
    integrity_check: str
    rows_without_audit: int
    audit_chain_ok: bool
    audit_rows: int
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return (
            self.acknowledged_lost == 0
            and self.duplicates == 0
            and self.found == self.submissions
            and self.integrity_check == "ok"
            and self.rows_without_audit == 0
            and self.audit_chain_ok
        )

    def summary(self) -> str:
        """The figures as lines for people."""
        return "\n".join(f"{k:>22}: {v}" for k, v in {**asdict(self), "ok": self.ok}.items())


def _answers(scale: str, version: str | None, key: str) -> dict[str, object]:
    """Valid answers derived from the key (numbers low, no suicidality, so no alerts)."""
    from remit.scales import load_scale

    level = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 3
    answers: dict[str, object] = {}
    for item in load_scale(scale).items_for(version):
        if (item.skip_when is not None and scale != "sds") or item.kind == "text":
            continue
        if item.kind in ("integer", "number"):
            low = item.min if item.min is not None else 0
            high = item.max if item.max is not None else low + level
            value = min(max(low, level), high)
            answers[item.code] = int(value) if item.kind == "integer" else float(value)
        elif item.kind == "boolean":
            answers[item.code] = False
        elif item.kind == "choice":
            answers[item.code] = next(iter(item.options))
        elif item.kind == "time":
            answers[item.code] = "23:00" if "bed" in item.code else "07:00"
    if scale == "psqi":
        answers.update(latency_minutes=20.0, hours_asleep=7.0)
    if scale == "madrs":
        answers["suicidal_thoughts"] = 0
    return answers


def plan(participants: list[str]) -> list[dict[str, Any]]:
    """Every form the Oslo protocol schedules for these participants (dosing-day ratings aside)."""
    from remit.protocol import load_protocol

    protocol = load_protocol("oslo-mdma-mdd")
    found = []
    for pid in participants:
        for visit in protocol.visits:
            for form in visit.assessments:
                if form.timing == "during_session":
                    continue
                key = f"crash:{pid}:{visit.code}:{form.scale}"
                found.append(
                    {
                        "key": key,
                        "participant": pid,
                        "visit": visit.code,
                        "scale": form.scale,
                        "version": form.version,
                        "rater": form.rater,
                    }
                )
    return found


def _assessed_at(day: str) -> datetime:
    """When a form of a visit on ``day`` (ISO date) was rated: 10:00 UTC that day."""
    return datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)


def setup(db: Path, participants: int) -> dict[str, dict[str, str]]:
    """A fresh trial with users kari (investigator) and rita (independent rater), and the
    participants walked through every visit: returns each one's visit dates (ISO) by code.

    The screening C-SSRS is entered here (the eligibility check reads it) with the key and
    answers the plan gives it, so the writers' submission of it is an idempotent replay."""
    from remit import services as sv
    from remit.protocol import load_protocol
    from remit.store import Actor, make_engine, upgrade

    engine = make_engine(db)
    try:
        upgrade(engine)
        protocol = load_protocol("oslo-mdma-mdd")
        trial = sv.create_trial(engine, protocol, admin_username="ada", admin_password=PASSWORD)
        admin = Actor(trial.admin.id, "ada", "admin")
        kari = sv.add_user(engine, admin, "kari", PASSWORD, [("investigator", "OST")])
        sv.add_user(engine, admin, "rita", PASSWORD, [("independent_rater", "OST")])
        investigator = Actor(kari.id, "kari", "investigator", 1)
        ids = [
            sv.screen_participant(engine, investigator, sex="female").participant_id
            for _ in range(participants)
        ]
        # every visit on its target date, long enough ago that the last one is past, so that
        # each planned form is for a visit reached (forms are gated by the schedule)
        referral = datetime.now(UTC).date() - timedelta(days=400)
        consented = datetime.combine(referral, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
        days: dict[str, dict[str, str]] = {pid: {} for pid in ids}
        for pid in ids:
            sv.record_consent(
                engine,
                investigator,
                pid,
                version="1.0",
                components=["main"],
                consented_at=consented,
            )
            sv.set_anchor_date(engine, investigator, pid, "referral", referral)
            for visit in protocol.visits:
                planned = {v.visit_code: v for v in sv.list_visits(engine, investigator, pid)}
                target = planned[visit.code].target_date
                if target is None:
                    raise RuntimeError(f"{pid} {visit.code} has no target date")
                sv.record_visit(engine, investigator, pid, visit.code, target)
                days[pid][visit.code] = target.isoformat()
                if visit.kind == "screening" and visit.code == "SCR":
                    (cssrs,) = [
                        s for s in plan([pid]) if (s["visit"], s["scale"]) == ("SCR", "cssrs")
                    ]
                    sv.record_assessment(
                        engine,
                        investigator,
                        pid,
                        "SCR",
                        "cssrs",
                        _answers("cssrs", cssrs["version"], cssrs["key"]),
                        version=cssrs["version"],
                        idempotency_key=cssrs["key"],
                        assessed_at=_assessed_at(target.isoformat()),
                    )
                    sv.check_eligibility(engine, investigator, pid, ELIGIBLE)
                if visit.kind == "enrolment":
                    sv.enrol(
                        engine, investigator, pid, enrolled_at=_assessed_at(target.isoformat())
                    )
        return days
    finally:
        engine.dispose()


def worker(db: Path, workdir: Path, index: int, count: int) -> None:
    """Submit this worker's share, skipping what it has an acknowledgement for."""
    from sqlalchemy.orm import Session

    from remit.services import record_assessment
    from remit.store import actor_for, make_engine

    people = json.loads((workdir / "participants.json").read_text())
    mine = plan(list(people))[index::count]
    engine = make_engine(db, must_exist=True)
    with Session(engine) as session:
        actors = {
            "independent_rater": actor_for(session, "rita"),
            "other": actor_for(session, "kari"),
        }
    ack_path = workdir / f"ack-{index}.log"
    acked = set()
    if ack_path.exists():
        acked = {line.split()[0] for line in ack_path.read_text().splitlines() if line.strip()}
    attempts = (workdir / f"attempt-{index}.log").open("a")
    with ack_path.open("a") as ack:
        for sub in mine:
            if sub["key"] in acked:
                continue
            attempts.write(sub["key"] + "\n")
            attempts.flush()
            actor = actors.get(sub["rater"], actors["other"])
            record = record_assessment(
                engine,
                actor,
                sub["participant"],
                sub["visit"],
                sub["scale"],
                _answers(sub["scale"], sub["version"], sub["key"]),
                version=sub["version"],
                idempotency_key=sub["key"],
                assessed_at=_assessed_at(people[sub["participant"]][sub["visit"]]),
            )
            ack.write(f"{sub['key']} {record.id}\n")
            ack.flush()
            os.fsync(ack.fileno())
    engine.dispose()


def _start(db: Path, workdir: Path, index: int, count: int) -> subprocess.Popen[bytes]:
    with (workdir / f"stderr-{index}.log").open("ab") as errors:
        return subprocess.Popen(
            [sys.executable, __file__, "worker", str(db), str(workdir), str(index), str(count)],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )


def _last_attempt_unacknowledged(workdir: Path, index: int) -> bool:
    attempts = (workdir / f"attempt-{index}.log").read_text().split()
    ack_path = workdir / f"ack-{index}.log"
    acked = (
        {line.split()[0] for line in ack_path.read_text().splitlines()}
        if ack_path.exists()
        else set()
    )
    return bool(attempts) and attempts[-1] not in acked


def _attempts(workdir: Path, index: int) -> int:
    path = workdir / f"attempt-{index}.log"
    return len(path.read_text().split()) if path.exists() else 0


def run(
    workdir: Path,
    *,
    participants: int = 6,
    workers: int = 3,
    kills: int = 40,
    seed: int = 1,
    max_attempts_between_kills: int = 3,
    stall_s: float = 120.0,
) -> CrashFigures:
    """Run the crash test in ``workdir`` and return the figures.

    A writer is killed after it has started ``1..max_attempts_between_kills`` (drawn from the
    seeded generator) new submissions since it was started. The run fails with a message if
    no writer starts a submission or finishes for ``stall_s`` seconds (a hang, not slowness).
    """
    from sqlalchemy import func, select, text

    from remit.store import make_engine, verify_audit_chain
    from remit.store.tables import AuditEvent, audited_tables

    rng = random.Random(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "crash.db"
    people = setup(db, participants)
    (workdir / "participants.json").write_text(json.dumps(people))
    submissions = plan(list(people))
    started = time.monotonic()
    procs = {i: _start(db, workdir, i, workers) for i in range(workers)}
    kill_at = {i: rng.randint(1, max_attempts_between_kills) for i in procs}
    done: set[int] = set()
    killed = mid = restarts = 0
    progress, last_progress = -1, time.monotonic()
    while len(done) < workers:
        counts = {i: _attempts(workdir, i) for i in procs}
        if sum(counts.values()) + len(done) != progress:
            progress, last_progress = sum(counts.values()) + len(done), time.monotonic()
        elif time.monotonic() - last_progress > stall_s:
            for p in procs.values():
                p.kill()
            raise RuntimeError(
                f"crash test: no writer started a submission or finished for {stall_s:.0f} s "
                f"({progress} attempts so far, {killed} kills); see {workdir}/stderr-*.log"
            )
        for i, proc in procs.items():
            if i in done:
                continue
            code = proc.poll()
            if code is not None:
                if code != 0:
                    error = (workdir / f"stderr-{i}.log").read_text()[-2000:]
                    raise RuntimeError(f"writer {i} failed with exit code {code}:\n{error}")
                done.add(i)
                continue
            if killed >= kills or counts[i] < kill_at[i]:
                continue
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
            mid += _last_attempt_unacknowledged(workdir, i)
            kill_at[i] = _attempts(workdir, i) + rng.randint(1, max_attempts_between_kills)
            procs[i] = _start(db, workdir, i, workers)
            restarts += 1
        time.sleep(0.01)
    seconds = time.monotonic() - started

    acknowledged: dict[str, int] = {}
    for i in range(workers):
        path = workdir / f"ack-{i}.log"
        if path.exists():
            for line in path.read_text().splitlines():
                key, record_id = line.split()
                acknowledged[key] = int(record_id)
    engine = make_engine(db, must_exist=True)
    try:
        with engine.connect() as connection:
            stored = dict(
                connection.execute(text("SELECT idempotency_key, id FROM assessment")).all()
            )
            forms = connection.execute(text("SELECT count(*) FROM assessment")).scalar_one()
            distinct = connection.execute(
                text(
                    "SELECT count(*) FROM (SELECT DISTINCT participant_id, visit_id, scale "
                    "FROM assessment) AS d"
                )
            ).scalar_one()
            integrity = connection.execute(text("PRAGMA integrity_check")).scalar_one()
            without_audit = 0
            for name, cls in audited_tables().items():
                ids = set(connection.execute(select(cls.__table__.c.id)).scalars())
                audited = set(
                    connection.execute(
                        select(AuditEvent.record_id).where(
                            AuditEvent.table_name == name, AuditEvent.action == "insert"
                        )
                    ).scalars()
                )
                without_audit += len(ids - audited)
            audit_rows = connection.execute(
                select(func.count()).select_from(AuditEvent)
            ).scalar_one()
        chain = verify_audit_chain(engine)
    finally:
        engine.dispose()
    lost = sum(1 for key, rid in acknowledged.items() if stored.get(key) != rid)
    return CrashFigures(
        submissions=len(submissions),
        workers=workers,
        kills=killed,
        kills_mid_submission=mid,
        restarts=restarts,
        acknowledged=len(acknowledged),
        found=len(stored),
        acknowledged_lost=lost,
        duplicates=int(forms) - int(distinct) + (int(forms) - len(stored)),
        integrity_check=str(integrity),
        rows_without_audit=without_audit,
        audit_chain_ok=chain.ok,
        audit_rows=int(audit_rows),
        seconds=round(seconds, 1),
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: the driver (default) or one writer (``worker DB DIR INDEX COUNT``)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "worker":
        worker(Path(args[1]), Path(args[2]), int(args[3]), int(args[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--participants", type=int, default=6, help="participants to plan forms for"
    )
    parser.add_argument("--workers", type=int, default=3, help="writer processes")
    parser.add_argument("--kills", type=int, default=40, help="SIGKILLs to send in total")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the kill times")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    options = parser.parse_args(args)
    import tempfile

    workdir = options.dir or Path(tempfile.mkdtemp(prefix="remit-crash-"))
    figures = run(
        workdir,
        participants=options.participants,
        workers=options.workers,
        kills=options.kills,
        seed=options.seed,
    )
    print(figures.summary())
    print(f"{'work directory':>22}: {workdir}")
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
