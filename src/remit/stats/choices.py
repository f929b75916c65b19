"""The words the statistics accept as options, without importing the statistics.

The command line lists them in its help (``remit stats mmrm --help``, ``remit stats rbmi
--help``); importing :mod:`remit.stats.mmrm` for that would load NumPy, SciPy and pandas, so
they live here and the modules that use them import them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Denominator degrees-of-freedom methods of :func:`~remit.stats.mmrm.fit_mmrm` (the one
#: spelling: the CLI's ``--df`` and the protocol's ``df_method`` use these words).
DfMethod = Literal[
    "satterthwaite", "kenward-roger", "kenward-roger-linear", "residual", "between-within"
]
DF_METHODS: tuple[DfMethod, ...] = get_args(DfMethod)

#: The correlation structures of :data:`remit.stats.mmrm.covariance.CORRELATIONS`, by name.
CORRELATION_NAMES = ("cs", "csh", "ar1", "ar1h", "toep", "toeph", "ad", "adh")
#: Every covariance structure :func:`~remit.stats.mmrm.covariance.make_structure` builds:
#: unstructured, the correlation structures, and the spatial exponential over visit
#: coordinates.
STRUCTURES = ("us", *CORRELATION_NAMES, "sp_exp")

#: The reference-based imputation strategies of :mod:`remit.stats.rbmi`.
Strategy = Literal["MAR", "J2R", "CR", "CIR"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
