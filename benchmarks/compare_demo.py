"""Compare what two runs of ``remit demo`` (same protocol, same seed) stored and wrote.

Run:  .venv/bin/python benchmarks/compare_demo.py BEFORE_DIR AFTER_DIR

For a change meant to make the demo faster without changing its content: run the demo before
and after the change into two directories (``remit demo --out DIR --seed 2023``), then this.
It prints

- per table of ``trial.db``: a different row count, and the columns whose values differ (as a
  multiset: row order and ids aside). Two runs of the same code differ in their creation
  times (``*_at`` set from the clock: ``entered_at``, ``recorded_at`` …), the audit trail's
  times, transaction ids, hashes and the old/new values holding those times; compare the
  list with that of two runs of the unchanged code;
- every output file (exports, report) whose bytes differ once today's creation times (ISO
  8601, ``YYYYMMDDThhmmss``, the XPT header's ``DDMONYY:hh:mm:ss``) and the data snapshot's
  SHA-256 (a digest of the stored rows, creation times included) are masked;
- whether the audit trails hold the same rows (who, what, which record and field, old and new
  value with times masked, reason) and whether in the same order.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import re
import sqlite3
from collections import Counter
from pathlib import Path

_AUDIT_CONTENT = (
    "user_id, username, role, site_id, action, table_name, record_id, participant_id, "
    "field, old_value, new_value, reason"
)


def _masks() -> list[bytes]:
    today = datetime.datetime.now(datetime.UTC).date()
    return [
        rb"%s[T ]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?" % today.isoformat().encode(),
        rb"%sT\d{6}" % today.strftime("%Y%m%d").encode(),
        rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d",
        rb"(?i)data snapshot SHA-256:? [0-9a-f]{64}",
        rb"data SHA-256 <code>[0-9a-f]{64}",
    ]


def masked(data: bytes, masks: list[bytes]) -> bytes:
    """``data`` with today's creation times and the snapshot digest replaced by ``<T>``."""
    for mask in masks:
        data = re.sub(mask, b"<T>", data)
    return data


def tables(db: Path) -> dict[str, tuple[int, dict[str, str]]]:
    """Table → (rows, column → digest of the column's values as a sorted multiset)."""
    con = sqlite3.connect(db)
    try:
        found = {}
        names = con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        for (table,) in names.fetchall():
            columns = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
            digests = {
                c: hashlib.sha256(repr(sorted(repr(r[i]) for r in rows)).encode()).hexdigest()
                for i, c in enumerate(columns)
            }
            found[table] = (len(rows), digests)
        return found
    finally:
        con.close()


def audit(db: Path, masks: list[bytes]) -> tuple[list[tuple[bytes, ...]], list[tuple[bytes, ...]]]:
    """The audit rows' content (times masked): sorted, and in the order written."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(f"SELECT {_AUDIT_CONTENT} FROM audit_event ORDER BY id").fetchall()
    finally:
        con.close()
    content = [tuple(masked(str(x).encode(), masks) for x in r) for r in rows]
    return sorted(content), content


def _outputs(run: Path) -> dict[Path, Path]:
    """The files a run wrote besides its database (and the database's WAL, key …)."""
    return {
        p.relative_to(run): p for p in run.rglob("*") if p.is_file() and "trial.db" not in p.name
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    a, b = args.before, args.after
    masks = _masks()
    ta, tb = tables(a / "trial.db"), tables(b / "trial.db")
    print("--- trial.db tables")
    for table in sorted(set(ta) | set(tb)):
        if table not in ta or table not in tb:
            print(f"only in one run: table {table}")
            continue
        (na, ca), (nb, cb) = ta[table], tb[table]
        if na != nb:
            print(f"ROWS {table}: {na} vs {nb}")
        differ = [c for c in ca if ca[c] != cb.get(c)]
        if differ:
            print(f"columns differ {table}: {', '.join(differ)}")
    print("--- output files (today's creation times masked)")
    files_a = {
        p.relative_to(a): p for p in a.rglob("*") if p.is_file() and "trial.db" not in p.name
    }
    files_b = {
        p.relative_to(b): p for p in b.rglob("*") if p.is_file() and "trial.db" not in p.name
    }
    for name in sorted(set(files_a) | set(files_b), key=str):
        if name not in files_a or name not in files_b:
            print(f"only in one run: {name}")
        elif masked(files_a[name].read_bytes(), masks) != masked(files_b[name].read_bytes(), masks):
            print(f"DIFFER: {name}")
    print(f"compared {len(set(files_a) | set(files_b))} files")
    print("--- audit trail (times masked; ids, hashes, transaction ids aside)")
    (sa, oa), (sb, ob) = audit(a / "trial.db", masks), audit(b / "trial.db", masks)
    print(f"audit rows {len(sa)} vs {len(sb)}; same rows: {sa == sb}; same order: {oa == ob}")
    if sa != sb:
        ca_, cb_ = Counter(sa), Counter(sb)
        print("only before:", list((ca_ - cb_).items())[:5])
        print("only after:", list((cb_ - ca_).items())[:5])


if __name__ == "__main__":
    main()
