"""A tiny made-up data set (and its likelihood) for the examples in the MMRM docstrings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from remit.stats.mmrm.fit import Likelihood


def small_example() -> pd.DataFrame:
    """Four subjects (``id`` 1–4) seen at visits ``a`` and ``b`` (column ``t``), with a
    response ``y`` and an ``arm`` (``x`` for subjects 1 and 2, ``y`` for 3 and 4).

    Examples
    --------
    >>> small_example().groupby("t")["y"].mean().round(3).tolist()
    [1.025, 2.175]
    """
    return pd.DataFrame(
        {
            "id": [1, 1, 2, 2, 3, 3, 4, 4],
            "t": ["a", "b"] * 4,
            "arm": ["x"] * 4 + ["y"] * 4,
            "y": [1.0, 2.0, 1.5, 2.9, 0.5, 2.2, 1.1, 1.6],
        }
    )


def small_likelihood(covariance: str = "us") -> Likelihood:
    """The REML likelihood of ``y ~ t`` on :func:`small_example` with one ``covariance``
    structure over the two visits.

    Examples
    --------
    >>> lik = small_likelihood("cs")
    >>> lik.k, lik.p
    (2, 2)
    """
    from remit.stats.mmrm.covariance import make_structure
    from remit.stats.mmrm.design import build_design
    from remit.stats.mmrm.fit import Likelihood

    design = build_design(small_example(), "y ~ t", subject="id", visit="t")
    return Likelihood(design, [make_structure(covariance, 2)])
