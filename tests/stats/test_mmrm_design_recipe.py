"""The cached model-matrix recipe gives exactly formulaic's matrix, or is not used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from formulaic import model_matrix

from remit.stats.mmrm import design as design_module
from remit.stats.mmrm.design import build_design


def _data(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 30
    frame = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), 3),
            "visit": np.tile(["w1", "w2", "w4"], n),
            "arm": np.repeat(rng.choice(["A", "B", "C"], n), 3),
            "base": np.repeat(rng.normal(20, 4, n), 3),
            "age": np.repeat(rng.normal(40, 9, n), 3),
        }
    )
    frame["y"] = rng.normal(size=len(frame)) + 0.1 * frame["base"]
    return frame


def _formulaic(design: design_module.Design, rhs: str) -> np.ndarray:
    mm = model_matrix(rhs, design.data, na_action="raise")
    return np.asarray(mm, dtype=float)[:, design.keep]


@pytest.mark.parametrize(
    ("rhs", "cached"),
    [
        ("base*visit + arm*visit", True),
        ("arm:visit + base", True),
        ("0 + arm + visit", True),
        ("I(base ** 2) + arm*visit", False),  # a transform, not a column
        ("base:age + arm", False),  # a product of two numbers
    ],
)
def test_recipe_matches_formulaic_on_new_data(rhs: str, cached: bool) -> None:
    design_module._RECIPES.clear()
    first = build_design(_data(1), f"y ~ {rhs}", subject="id", visit="visit")
    assert [r is not None for r in design_module._RECIPES.values()] == [cached]
    second = build_design(_data(2), f"y ~ {rhs}", subject="id", visit="visit")
    np.testing.assert_array_equal(second.X, _formulaic(second, rhs))
    assert second.terms == first.terms
    assert second.model_spec is not None
