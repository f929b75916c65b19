"""The option words of :mod:`remit.stats.choices` are the ones the models accept."""

from __future__ import annotations

import pytest

import remit.stats
from remit.errors import StatsError
from remit.stats import choices
from remit.stats.mmrm.covariance import CORRELATIONS, make_structure


def test_the_structure_names_are_the_correlations_the_models_build() -> None:
    assert tuple(CORRELATIONS) == choices.CORRELATION_NAMES
    assert ("us", *CORRELATIONS, "sp_exp") == choices.STRUCTURES


@pytest.mark.parametrize("name", [s for s in choices.STRUCTURES if s != "sp_exp"])
def test_every_listed_structure_is_built(name: str) -> None:
    assert make_structure(name, 3) is not None


def test_an_unlisted_structure_is_refused() -> None:
    with pytest.raises(StatsError, match="unknown covariance structure"):
        make_structure("banded", 3)


def test_an_unknown_name_of_the_package_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="fit_mmrn"):
        _ = remit.stats.fit_mmrn
    assert "fit_mmrm" in dir(remit.stats)
