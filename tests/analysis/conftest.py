"""Fixtures of the analysis tests: the Oslo protocol and the hand-made trial of
:mod:`tests.support.analysis_data` (twelve enrolled, two screen failures, known numbers)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.support.analysis_data import MADRS, make_trial

from remit.analysis import TrialData
from remit.protocol import Protocol, load_protocol


@pytest.fixture(scope="session")
def oslo() -> Protocol:
    return load_protocol("oslo-mdma-mdd")


@pytest.fixture(scope="session")
def trial() -> TrialData:
    return make_trial()


@pytest.fixture(scope="session")
def trial_factory() -> Callable[..., TrialData]:
    return make_trial


@pytest.fixture(scope="session")
def madrs_totals() -> dict[str, tuple[float, float, float]]:
    """MADRS totals at V3, V13, FU7 per participant (NaN: not assessed)."""
    return MADRS
