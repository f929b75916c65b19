"""Analytic MMRM power (Lu, Luo & Chen 2008 as in longpower::power.mmrm)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from remit.errors import StatsError
from remit.stats.power import (
    ar1,
    compound_symmetry,
    dropout_inflation,
    power_mmrm,
    sample_size_mmrm,
)

DESIGN = {"correlation": compound_symmetry(4, 0.25), "retention": [1, 0.9, 0.8, 0.7]}


def test_worked_example_gives_174() -> None:
    r = sample_size_mmrm(**DESIGN, delta=0.5, sigma=1.0, power=0.8, alpha=0.05)
    assert r.n_total == 174
    assert r.n_a == r.n_b == 87
    # longpower::power.mmrm prints n1 = n2 = 86.99175 for this design
    assert r.n_a_exact == pytest.approx(86.99175, abs=5e-6)
    assert r.method == "lu-luo-chen-2008"


def test_power_inverts_sample_size() -> None:
    r = sample_size_mmrm(**DESIGN, delta=0.5, power=0.9, ratio=2.0)
    p = power_mmrm(r.n_a_exact + r.n_b_exact, **DESIGN, delta=0.5, ratio=2.0)
    assert p.power == pytest.approx(0.9, abs=1e-10)
    assert r.n_a_exact == pytest.approx(2 * r.n_b_exact)


def test_no_dropout_is_the_two_sample_z_formula() -> None:
    corr = ar1(5, 0.6)
    assert dropout_inflation(corr, [1] * 5) == pytest.approx(1.0)
    r = sample_size_mmrm(correlation=corr, retention=[1] * 5, delta=0.4, sigma=2.0)
    z = sps.norm.isf(0.025) + sps.norm.ppf(0.8)
    assert r.n_a_exact == pytest.approx(2 * z**2 * 4.0 / 0.16)


def test_dropout_at_last_visit_closed_form() -> None:
    # Two visits, correlation rho, a proportion r seen at visit 2: the information is the
    # mixture of the visit-1-only pattern and the complete pattern.
    rho, r = 0.5, 0.8
    corr = compound_symmetry(2, rho)
    info = (1 - r) * np.array([[1.0, 0.0], [0.0, 0.0]]) + r * np.linalg.inv(corr)
    assert dropout_inflation(corr, [1, r]) == pytest.approx(np.linalg.inv(info)[1, 1])
    # between no dropout (1) and using only the completers (1 / r)
    assert 1.0 < dropout_inflation(corr, [1, r]) < 1 / r


def test_one_sided_and_sigma_b() -> None:
    two = sample_size_mmrm(**DESIGN, delta=0.5)
    one = sample_size_mmrm(**DESIGN, delta=0.5, alternative="one-sided")
    assert one.n_a_exact < two.n_a_exact
    het = sample_size_mmrm(**DESIGN, delta=0.5, sigma=1.0, sigma_b=2.0)
    assert het.sigma == 1.5


def test_bad_designs_refused() -> None:
    with pytest.raises(StatsError, match="non-increasing"):
        sample_size_mmrm(correlation=compound_symmetry(3, 0.2), retention=[1, 0.8, 0.9], delta=1)
    with pytest.raises(StatsError, match="3 retention values for a 4-visit"):
        sample_size_mmrm(correlation=compound_symmetry(4, 0.2), retention=[1, 0.8, 0.7], delta=1)
    with pytest.raises(StatsError, match="positive definite"):
        sample_size_mmrm(correlation=compound_symmetry(3, -0.9), retention=[1, 1, 1], delta=1)
    with pytest.raises(StatsError, match="delta"):
        sample_size_mmrm(**DESIGN, delta=0)
    with pytest.raises(StatsError, match="power"):
        sample_size_mmrm(**DESIGN, delta=0.5, power=1.2)
    with pytest.raises(StatsError, match="n_total"):
        power_mmrm(0, **DESIGN, delta=0.5)
