"""Writers killed with SIGKILL mid-submission lose nothing acknowledged and duplicate nothing
(a short run of ``benchmarks/crash_test.py``; run the script itself for bigger figures)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "crash_test.py"


@pytest.mark.slow
def test_sigkilled_writers_lose_no_acknowledged_submission(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("remit_crash_test", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    crash = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = crash
    spec.loader.exec_module(crash)
    figures = crash.run(tmp_path, participants=1, workers=2, kills=4, seed=7)
    print(figures.summary())
    # kills follow observed progress (1-3 new submissions each), not time
    assert figures.kills >= 3  # a writer that finishes its share early is not killed again
    assert figures.kills_mid_submission >= 1
    assert figures.acknowledged == figures.submissions == figures.found
    assert figures.acknowledged_lost == 0
    assert figures.duplicates == 0
    assert figures.integrity_check == "ok"
    assert figures.rows_without_audit == 0
    assert figures.audit_chain_ok
