"""Fixtures of the report tests: the analysis layer's hand-made trial, its result, the report.

The trial is the one ``tests/analysis/conftest.py`` builds (twelve enrolled, two screen
failures, P11 without V13, P10 without FU7); it is loaded from that file so that both layers
test against the same data. ``browser`` (Debian's Chromium via Playwright) is the shared
fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.conftest import CHROMIUM as CHROMIUM  # re-exported for test_report_browser

from remit.analysis import AnalysisResult, TrialData, run_analysis_plan
from remit.protocol import Protocol, load_protocol
from remit.reports import ReportResult, render_report

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
RUN_AT = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
RENDERED_AT = datetime(2026, 1, 2, 12, 30, tzinfo=UTC)


def _analysis_fixtures() -> ModuleType:
    path = ROOT / "tests" / "analysis" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_remit_analysis_trial", path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is in the repo
        raise RuntimeError(f"cannot load the analysis test trial from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TRIAL = _analysis_fixtures()


@pytest.fixture(scope="session")
def oslo() -> Protocol:
    return load_protocol("oslo-mdma-mdd")


@pytest.fixture(scope="session")
def make_trial() -> Callable[..., TrialData]:
    """``make_trial(simulated=False)`` — the analysis layer's hand-made trial."""
    maker: Callable[..., TrialData] = _TRIAL.make_trial
    return maker


@pytest.fixture(scope="session")
def trial(make_trial: Callable[..., TrialData]) -> TrialData:
    return make_trial(simulated=True)


@pytest.fixture(scope="session")
def result(trial: TrialData, oslo: Protocol) -> AnalysisResult:
    return run_analysis_plan(trial, oslo, now=RUN_AT)


@pytest.fixture(scope="session")
def report(
    result: AnalysisResult,
    trial: TrialData,
    oslo: Protocol,
    tmp_path_factory: pytest.TempPathFactory,
) -> ReportResult:
    out = tmp_path_factory.mktemp("report")
    return render_report(result, trial, oslo, out, pdf=False, now=RENDERED_AT)


@pytest.fixture(scope="session")
def html(report: ReportResult) -> str:
    return report.html_path.read_text("utf-8")


@pytest.fixture(scope="session")
def result_dict(result: AnalysisResult) -> dict[str, Any]:
    return result.to_dict()
