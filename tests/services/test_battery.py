"""The helper logic of the reliability battery (``benchmarks/bench_*.py`` and
``benchmarks/battery.py``): kill points, verdicts of rounds and runs, the schemathesis failure
names, the generated answers, and that the battery's audit verdict sees a raw-SQL change.
The battery itself is run by hand (docs/security.md, Figures); no test times anything."""

from __future__ import annotations

import doctest
import importlib
import random
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from remit.scales import score

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MODULES = ("battery", "bench_crash", "bench_concurrent_edits", "bench_disk_full", "bench_fuzz_api")


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    """The battery's modules, imported as the scripts import each other."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield {name: importlib.import_module(name) for name in MODULES}
    finally:
        sys.path.remove(str(BENCHMARKS))
        for name in MODULES:
            sys.modules.pop(name, None)


@pytest.mark.parametrize("name", MODULES)
def test_the_doctests_of_the_battery_pass(bench: dict[str, ModuleType], name: str) -> None:
    failed, tried = doctest.testmod(bench[name], optionflags=doctest.ELLIPSIS)
    assert failed == 0
    assert name == "bench_disk_full" or tried >= 1


def test_kill_points_are_distinct_and_inside_the_run(bench: dict[str, ModuleType]) -> None:
    crash = bench["bench_crash"]
    points = crash.kill_points(1080, 16, random.Random(3))
    assert len(points) == len(set(points)) == 16
    assert points == sorted(points)
    assert points[0] >= 1
    assert points[-1] <= 1079
    with pytest.raises(ValueError, match="16 kills"):
        crash.kill_points(16, 16, random.Random(3))


def test_a_crash_run_with_one_lost_or_duplicate_form_is_not_ok(
    bench: dict[str, ModuleType],
) -> None:
    crash = bench["bench_crash"]
    good = {"acknowledged": 10, "stored": 10, "audit_ok": True, "integrity_check": "ok"}
    assert crash.CrashFigures("sqlite", 10, 2, **good).ok
    assert not crash.CrashFigures("sqlite", 10, 2, **good, acknowledged_lost=1).ok
    assert not crash.CrashFigures("sqlite", 10, 2, **(good | {"stored": 11}), duplicates=1).ok
    assert not crash.CrashFigures("sqlite", 10, 2, **(good | {"audit_ok": False})).ok


def test_a_round_has_one_winner_only_when_exactly_one_save_won(
    bench: dict[str, ModuleType],
) -> None:
    edits = bench["bench_concurrent_edits"]
    assert edits.tally([200, 412, 412, 412]) == ("one", 1, 3)
    assert edits.tally([412, 412])[0] == "none"
    assert edits.tally([200, 500, 200])[0] == "several"
    figures = edits.EditFigures(
        "sqlite", 2, 2, rounds_one_winner=2, saves_conflict_412=2, forms_at_version_2=2,
        forms_holding_winner_answers=2, forms_audited_to_winner_only=2, audit_ok=True,
    )  # fmt: skip
    assert figures.ok
    figures.other_answers["HTTP 500: boom"] = 1
    assert not figures.ok


def test_a_disk_full_run_answering_500_is_not_ok(bench: dict[str, ModuleType]) -> None:
    disk = bench["bench_disk_full"]
    fine = {
        "statuses_while_full": {201: 3, 507: 20}, "sent_after_freeing": 2,
        "statuses_after_freeing": {201: 2}, "acknowledged": 5, "stored": 5, "stored_complete": 5,
        "integrity_check": "ok", "audit_ok": True,
    }  # fmt: skip
    assert disk.DiskFigures("tmpfs", **fine).ok
    assert not disk.DiskFigures("tmpfs", **(fine | {"statuses_while_full": {201: 3, 500: 1}})).ok
    assert not disk.DiskFigures("tmpfs", **(fine | {"stored": 6})).ok  # a refused form left a row
    assert not disk.DiskFigures("tmpfs", **(fine | {"statuses_while_full": {201: 3}})).ok


def test_fuzz_failures_are_named_and_server_errors_counted_apart(
    bench: dict[str, ModuleType],
) -> None:
    fuzz = bench["bench_fuzz_api"]
    group = BaseExceptionGroup("2", [ValueError("Server error\n\n500"), ValueError("Undocumented")])
    tally = fuzz.FuzzTally("investigator")
    for name in fuzz.failed_checks(group):
        tally.fail("POST /api/v1/assessments (negative)", name)
    tally.fail("GET /api/v1/me (positive)", "server error 502")
    assert (tally.server_errors, tally.other_failures) == (2, 1)
    assert tally.failures["Undocumented"] == 1


@pytest.mark.parametrize("scale", ["madrs", "sds", "gad7", "isi", "pcl5", "bdi2"])
def test_generated_answers_make_a_complete_form(bench: dict[str, ModuleType], scale: str) -> None:
    answers = bench["battery"].answers(scale, random.Random(5))
    result = score(scale, answers)
    assert result.total is not None, result.summary()
    if scale == "madrs":
        assert answers["suicidal_thoughts"] == 0


def test_form_slots_are_every_form_once(bench: dict[str, ModuleType]) -> None:
    slots = bench["battery"].form_slots(["OST-001", "OST-002"], random.Random(1))
    assert len(slots) == len(set(slots)) == 2 * 3 * 6


@pytest.mark.slow
def test_the_battery_audit_verdict_fails_on_a_raw_sql_change(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    battery = bench["battery"]
    with battery.ThrowAwayDatabase("sqlite", tmp_path) as db:
        ids = battery.seed(db, 1, 1)
        assert battery.rows_without_audit(db) == 0
        assert battery.sqlite_integrity(db.url) == "ok"
        before = battery.audit_verify(db)
        assert before.ok, before.summary
        with sqlite3.connect(db.url) as connection:
            changed = connection.execute(
                "UPDATE participant SET sex = 'male' WHERE study_id = ?", (ids[0],)
            ).rowcount
        assert changed == 1
        after = battery.audit_verify(db)
        assert not after.ok
        assert after.exit_code == 1
        assert after.line().startswith("FAILED")
