"""Disk-full battery: saves through ``remit serve`` to a SQLite file on a filesystem that fills.

Usage (as root, for ``mount -t tmpfs``)::

    python benchmarks/bench_disk_full.py [--size-mb 16] [--headroom-kb 512] [--forms 400]
                                         [--stop-after 20] [--seed 1]

It mounts a ``--size-mb`` tmpfs, creates the Oslo trial's SQLite database on it (the audit key
ring and the server's log stay on the ordinary disk), fills the filesystem with a filler file
until ``--headroom-kb`` are left, starts ``remit serve`` and submits forms through the API
until ``--stop-after`` saves in a row were refused (or ``--forms`` were sent). Then it removes
the filler and submits ten more (saves must work again without a restart).

It counts the HTTP statuses (507 is the answer to a full disk; 500 would be a defect) and
checks, with the server stopped: every acknowledged form is stored complete (all the answers
sent, scored) under its id; no refused form left anything (stored forms = acknowledged forms);
every audited row has its audit row; ``PRAGMA integrity_check`` is ``ok``; ``remit audit
verify`` passes. It prints the figures with the machine and its load; exit 1 if a check failed,
2 if the tmpfs cannot be mounted (run as root, or give ``--dir`` of a small filesystem you
mounted yourself).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import battery
import httpx


@dataclass
class DiskFigures:
    """What one run measured."""

    filesystem: str
    sent_while_full: int = 0
    statuses_while_full: dict[int, int] = field(default_factory=dict)
    sent_after_freeing: int = 0
    statuses_after_freeing: dict[int, int] = field(default_factory=dict)
    refusal_message: str = ""
    acknowledged: int = 0
    stored: int = 0
    stored_complete: int = 0
    rows_without_audit: int = 0
    integrity_check: str = ""
    audit_verify: str = ""
    audit_ok: bool = False

    @property
    def ok(self) -> bool:
        return (
            self.statuses_while_full.get(507, 0) > 0
            and set(self.statuses_while_full) <= {201, 507}
            and self.statuses_after_freeing == {201: self.sent_after_freeing}
            and self.acknowledged == self.stored == self.stored_complete
            and self.rows_without_audit == 0
            and self.integrity_check == "ok"
            and self.audit_ok
        )

    def summary(self) -> str:
        return "\n".join(f"{k:>24}: {v}" for k, v in {**asdict(self), "ok": self.ok}.items())


def mount_tmpfs(where: Path, size_mb: int) -> str | None:
    """Mount a tmpfs of ``size_mb`` MiB at ``where``; ``None`` if done, else why not."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


def fill(where: Path, headroom: int) -> int:
    """Write a filler file in ``where`` leaving about ``headroom`` bytes free; its size."""
    free = shutil.disk_usage(where).free
    size = max(0, free - headroom)
    filler = where / "filler.bin"
    with filler.open("wb") as out:
        chunk = b"\0" * (1 << 20)
        left = size
        while left > 0:
            out.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
        out.flush()
        os.fsync(out.fileno())
    return size


def run(args: argparse.Namespace, small: Path, work: Path) -> DiskFigures:
    figures = DiskFigures(filesystem="")
    rng = random.Random(args.seed)
    sent: dict[int, dict[str, object]] = {}
    with battery.ThrowAwayDatabase("sqlite", work, sqlite_path=small / "trial.db") as db:
        ids = battery.seed(db, 1, -(-(args.forms + 10) // 18))
        slots = battery.form_slots(ids, rng)
        filler = fill(small, args.headroom_kb * 1024)
        usage = shutil.disk_usage(small)
        figures.filesystem = (
            f"{small}: {usage.total // 1024} KiB, database {os.path.getsize(db.url) // 1024} "
            f"KiB, filler {filler // 1024} KiB, free {usage.free // 1024} KiB at the start"
        )
        print(figures.filesystem, flush=True)
        with battery.RemitServer(db, work / "server.log") as server:
            token = battery.api_token(server.base, battery.rater_name(0))
            with httpx.Client(base_url=server.base, timeout=120) as http:
                http.headers["Authorization"] = f"Bearer {token}"

                def submit(statuses: Counter[int]) -> int:
                    pid, visit, scale = slots.pop()
                    body = battery.answers(scale, rng)
                    response = http.post(
                        "/api/v1/assessments",
                        json=battery.form_body(pid, visit, scale, body),
                    )  # fmt: skip
                    statuses[response.status_code] += 1
                    if response.status_code == 201:
                        sent[int(response.json()["id"])] = body
                    elif not figures.refusal_message:
                        figures.refusal_message = response.text[:300]
                    return response.status_code

                full: Counter[int] = Counter()
                refused_in_a_row = 0
                while figures.sent_while_full < args.forms and refused_in_a_row < args.stop_after:
                    status = submit(full)
                    figures.sent_while_full += 1
                    refused_in_a_row = 0 if status == 201 else refused_in_a_row + 1
                (small / "filler.bin").unlink()
                time.sleep(0.5)
                freed: Counter[int] = Counter()
                for _ in range(10):
                    submit(freed)
                    figures.sent_after_freeing += 1
        figures.statuses_while_full = dict(sorted(full.items()))
        figures.statuses_after_freeing = dict(sorted(freed.items()))
        figures.acknowledged = len(sent)
        check_stored(db, sent, figures)
        figures.rows_without_audit = battery.rows_without_audit(db)
        figures.integrity_check = battery.sqlite_integrity(db.url)
        verdict = battery.audit_verify(db)
        figures.audit_verify, figures.audit_ok = verdict.line(), verdict.ok
    return figures


def check_stored(
    db: battery.ThrowAwayDatabase, sent: dict[int, dict[str, object]], figures: DiskFigures
) -> None:
    from sqlalchemy import select

    from remit.store.tables import Assessment, Visit

    engine = db.engine()
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Assessment.id, Assessment.answers, Assessment.score)
                .join(Visit, Visit.id == Assessment.visit_id)
                .where(Visit.visit_code.in_(battery.VISITS))  # not the seeded screening forms
            ).all()
    finally:
        engine.dispose()
    figures.stored = len(rows)
    figures.stored_complete = sum(
        1
        for row in rows
        if row.id in sent
        and row.score is not None
        and all(row.answers.get(code) == value for code, value in sent[row.id].items())
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=16, help="size of the tmpfs")
    parser.add_argument("--headroom-kb", type=int, default=512, help="free space left at start")
    parser.add_argument("--forms", type=int, default=400, help="most forms sent while full")
    parser.add_argument("--stop-after", type=int, default=20, help="refusals in a row to stop")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir", type=Path, default=None, help="a small filesystem mounted already (no tmpfs)"
    )
    args = parser.parse_args()
    battery.print_environment()
    print(
        f"sizes: tmpfs {args.size_mb} MiB, headroom {args.headroom_kb} KiB, at most "
        f"{args.forms} forms, stop after {args.stop_after} refusals in a row",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="remit-diskfull-"))
    small = args.dir or work / "small"
    mounted = False
    if args.dir is None:
        why = mount_tmpfs(small, args.size_mb)
        if why is not None:
            print(f"cannot mount a tmpfs at {small}: {why}; run as root or pass --dir of a "
                  "small filesystem", file=sys.stderr)  # fmt: skip
            return 2
        mounted = True
    try:
        figures = run(args, small, work)
    finally:
        if mounted:
            subprocess.run(["umount", str(small)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    print(figures.summary())
    print("load average after the run (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(
        *os.getloadavg()))  # fmt: skip
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
