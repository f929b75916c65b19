"""Multinomial logistic regression of a categorical status over repeated visits.

The same people are seen at several visits, so their rows are not independent: the model is
fitted by maximum likelihood as if they were (statsmodels ``MNLogit``), and the standard
errors are cluster-robust by subject (sandwich estimator with the usual small-sample factor
G/(G − 1)·(N − 1)/(N − K), statsmodels' default for ``cov_type="cluster"``). Coefficients are
log odds of each status relative to the reference status.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import formulaic
import numpy as np
import pandas as pd
from scipy import stats as sps

from remit.errors import ConvergenceWarning, DataWarning, StatsError
from remit.stats._tidy import TidyResult, check_conf_level


@dataclass(frozen=True)
class MultinomialResult(TidyResult):
    """A fitted multinomial logit with cluster-robust standard errors.

    Attributes
    ----------
    coefficients
        One row per (``outcome``, ``term``): ``estimate`` (log odds vs the reference status),
        ``se``, ``z``, ``p``, ``ci_low``, ``ci_high``, ``odds_ratio``, ``or_ci_low``,
        ``or_ci_high``.
    reference, outcomes
        The reference status and the modelled ones.
    n_obs, n_clusters, n_dropped, log_likelihood, converged, cov_type
        Fit details (``cov_type`` is ``"cluster-robust (by subject)"``).
    """

    coefficients: pd.DataFrame
    reference: str
    outcomes: tuple[str, ...]
    n_obs: int
    n_clusters: int
    n_dropped: int
    log_likelihood: float
    converged: bool
    conf_level: float
    cov_type: str = "cluster-robust (by subject)"

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (a copy)."""
        return self.coefficients.copy()


def fit_multinomial(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    reference: str | None = None,
    conf_level: float = 0.95,
) -> MultinomialResult:
    """Multinomial logit of a categorical status with SEs clustered by subject.

    Parameters
    ----------
    data
        Long format, one row per subject and visit.
    formula
        ``"status ~ terms"`` (formulaic syntax); the response is treated as categorical.
    subject
        Column identifying the subject (the cluster).
    reference
        Status used as the reference category (default: the first in sorted order).
    conf_level
        Coverage of the Wald intervals.

    Returns
    -------
    MultinomialResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 60
    >>> frame = pd.DataFrame({"id": np.repeat(np.arange(n), 3),
    ...                       "visit": np.tile([0.0, 1.0, 2.0], n)})
    >>> frame["status"] = rng.choice(["none", "partial", "full"], size=3 * n)
    >>> fit = fit_multinomial(frame, "status ~ visit", subject="id", reference="none")
    >>> fit.outcomes, fit.n_clusters
    (('full', 'partial'), 60)
    """
    from statsmodels.discrete.discrete_model import MNLogit

    check_conf_level(conf_level)
    if "~" not in formula:
        raise StatsError(f"formula {formula!r} has no response", expected="'status ~ terms'")
    response = formula.split("~", 1)[0].strip()
    for col in (response, subject):
        if col not in data.columns:
            raise StatsError(
                f"column {col!r} is not in the data",
                expected="one of " + ", ".join(map(str, data.columns)),
            )
    rhs = formula.split("~", 1)[1]
    try:
        X_frame = formulaic.model_matrix(rhs, data, na_action="drop")
    except Exception as error:  # formulaic raises many types for a bad formula
        raise StatsError(
            f"formula {formula!r} could not be applied to the data ({error})",
            expected="a formula naming columns of the data",
        ) from None
    rows = X_frame.index
    ok = data.loc[rows, [response, subject]].notna().all(axis=1).to_numpy()
    rows = rows[ok]
    n_dropped = len(data) - len(rows)
    if n_dropped:
        warnings.warn(
            f"dropped {n_dropped} of {len(data)} rows with a missing value",
            DataWarning,
            stacklevel=2,
        )
    status = data.loc[rows, response].astype(str)
    levels = sorted(status.unique())
    if len(levels) < 2:
        raise StatsError(
            f"{response!r} takes {len(levels)} value(s)", expected="at least two statuses"
        )
    ref = levels[0] if reference is None else str(reference)
    if ref not in levels:
        raise StatsError(
            f"reference status {ref!r} does not occur", expected="one of " + ", ".join(levels)
        )
    order = [ref] + [lv for lv in levels if lv != ref]
    codes = status.map({lv: i for i, lv in enumerate(order)}).to_numpy()
    X = np.asarray(X_frame.loc[rows], dtype=np.float64)
    groups = pd.factorize(data.loc[rows, subject])[0]
    n_clusters = int(groups.max()) + 1
    if n_clusters < 2:
        raise StatsError("only one subject", expected="several subjects to cluster on")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise StatsError(
            "the design is rank deficient", expected="terms that are not combinations of others"
        )
    model = MNLogit(codes, X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = model.fit(
            method="newton",
            maxiter=200,
            disp=False,
            cov_type="cluster",
            cov_kwds={"groups": groups},
        )
    converged = bool(fit.mle_retvals.get("converged", False))
    if not converged or any("converge" in str(w.message).lower() for w in caught):
        converged = False
        warnings.warn(
            "multinomial fit did not converge (separation or too few events?)",
            ConvergenceWarning,
            stacklevel=2,
        )
    params = np.asarray(fit.params)  # terms × (outcomes − 1)
    bse = np.asarray(fit.bse)
    z_crit = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    terms = list(X_frame.columns)
    out_rows = []
    for k, outcome in enumerate(order[1:]):
        for j, term in enumerate(terms):
            est, se = float(params[j, k]), float(bse[j, k])
            z = est / se
            out_rows.append(
                {
                    "outcome": outcome,
                    "term": term,
                    "estimate": est,
                    "se": se,
                    "z": z,
                    "p": 2 * float(sps.norm.sf(abs(z))),
                    "ci_low": est - z_crit * se,
                    "ci_high": est + z_crit * se,
                    "odds_ratio": float(np.exp(est)),
                    "or_ci_low": float(np.exp(est - z_crit * se)),
                    "or_ci_high": float(np.exp(est + z_crit * se)),
                }
            )
    return MultinomialResult(
        coefficients=pd.DataFrame(out_rows),
        reference=ref,
        outcomes=tuple(order[1:]),
        n_obs=len(rows),
        n_clusters=n_clusters,
        n_dropped=n_dropped,
        log_likelihood=float(fit.llf),
        converged=converged,
        conf_level=conf_level,
    )
