"""Fixtures of the report tests: the analysis layer's hand-made trial, its result, the report.

The trial is the one of :mod:`tests.support.analysis_data` (twelve enrolled, two screen
failures, P11 without V13, P10 without FU7), the same data the analysis tests use.
``browser`` (Debian's Chromium via Playwright) is the shared fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.support.analysis_data import RENDERED_AT, RUN_AT, make_trial

from remit.analysis import AnalysisResult, TrialData, run_analysis_plan
from remit.protocol import Protocol, load_protocol
from remit.reports import ReportResult, render_report


@pytest.fixture(scope="session")
def oslo() -> Protocol:
    return load_protocol("oslo-mdma-mdd")


@pytest.fixture(scope="session", name="make_trial")
def make_trial_fixture() -> Callable[..., TrialData]:
    """``make_trial(simulated=False)`` — the analysis layer's hand-made trial."""
    return make_trial


@pytest.fixture(scope="session")
def trial() -> TrialData:
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
