"""Mixed model for repeated measures (MMRM) that agrees with SAS PROC MIXED and R's mmrm.

The one entry point is :func:`fit_mmrm`; it returns an immutable :class:`MMRMResult`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from remit.errors import StatsError
from remit.stats.mmrm.covariance import STRUCTURES, make_structure
from remit.stats.mmrm.design import build_design, formula_variables, formula_without
from remit.stats.mmrm.fit import Likelihood, kr_sums, optimise
from remit.stats.mmrm.inference import (
    DF_METHODS,
    DfMethod,
    between_within_df,
    kr_adjusted,
    satterthwaite_df,
)
from remit.stats.mmrm.result import FTestResult, MMRMResult, _t_row

__all__ = [
    "DF_METHODS",
    "STRUCTURES",
    "DfMethod",
    "FTestResult",
    "MMRMResult",
    "fit_mmrm",
    "formula_variables",
    "formula_without",
]


def fit_mmrm(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    visit: str,
    covariance: str = "us",
    group: str | None = None,
    covariance_by: str | None = None,
    weights: str | None = None,
    method: Literal["reml", "ml"] = "reml",
    df: DfMethod = "satterthwaite",
    visit_levels: Sequence[Hashable] | None = None,
    coordinates: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    start: ArrayLike | None = None,
    tol: float = 1e-8,
    max_iter: int = 200,
) -> MMRMResult:
    """Fit a mixed model for repeated measures by REML (default) or ML.

    The fixed effects come from an R-style ``formula`` (treatment contrasts, first level as
    reference, levels sorted like R's ``factor()``); the residual covariance Σ of each subject
    is indexed by ``visit`` so any pattern of missing visits is handled.

    Parameters
    ----------
    data
        Long format: one row per subject and visit.
    formula
        Fixed effects, e.g. ``"CHANGE ~ BASVAL*VISIT + THERAPY*VISIT"``.
    subject, visit
        Columns identifying subjects and visits.
    covariance
        ``us`` (unstructured), ``cs``, ``csh``, ``ar1``, ``ar1h``, ``toep``, ``toeph``, ``ad``,
        ``adh`` or ``sp_exp`` (spatial exponential over ``coordinates``).
    group
        The arm column, used by :meth:`MMRMResult.lsmeans` and
        :meth:`MMRMResult.differences`; it must appear in the formula and is treated as a
        factor even when coded as numbers.
    covariance_by
        Column whose levels get separate covariance matrices (e.g. the arm).
    weights
        Column of positive weights (SAS ``WEIGHT``: Σ_i = W^{-1/2} Σ W^{-1/2}).
    method
        ``"reml"`` or ``"ml"``.
    df
        Degrees of freedom: ``satterthwaite``, ``kenward-roger`` (adjusted covariance of β,
        second-order term on SAS's natural covariance parameters), ``kenward-roger-linear``
        (without the second-order term), ``residual`` (n_obs − rank X) or ``between-within``.
    visit_levels
        Order of the visit levels (default: sorted).
    coordinates
        Numeric column(s) with the position (time) of each observation; needed by ``sp_exp``,
        where Σ_ab = σ² exp(−d_ab / range) with d the (Euclidean) distance. Positions may vary
        between subjects at the same visit (each subject's Σ_i is then its own).
    alpha
        1 − confidence level of intervals.
    start
        Working covariance parameters to start from (e.g. the ``phi`` of an earlier fit).
    tol
        Convergence criterion on the Newton decrement g'H⁻¹g of −2 log-likelihood.
    max_iter
        Maximum optimiser iterations.

    Returns
    -------
    MMRMResult
        The fit; it warns (:class:`~remit.errors.ConvergenceWarning`) and says
        ``converged=False`` when the optimiser failed.

    Raises
    ------
    StatsError
        Unknown columns, a bad formula, a visit with fewer than two levels, more covariance
        parameters than the data can inform, and other unusable input.

    Examples
    --------
    >>> from remit.stats.mmrm.examples import small_example
    >>> df = small_example()
    >>> fit = fit_mmrm(df, "y ~ t", subject="id", visit="t")
    >>> fit.coefficients[["term", "df"]].round(6).values.tolist()
    [['(Intercept)', 3.0], ['tb', 3.0]]
    """
    method_key = str(method).lower()
    if method_key not in ("reml", "ml"):
        raise StatsError(f"method {method!r} is not known", expected="'reml' or 'ml'")
    df_key = str(df).lower()
    if df_key not in DF_METHODS:
        raise StatsError(
            f"df method {df!r} is not known", expected="one of " + ", ".join(DF_METHODS)
        )
    if df_key.startswith("kenward") and method_key == "ml":
        raise StatsError(
            "Kenward-Roger needs a REML fit", expected="method='reml' with df='kenward-roger'"
        )
    if not 0.0 < alpha < 1.0:
        raise StatsError(f"alpha {alpha} is outside (0, 1)", expected="e.g. 0.05")
    cov_key = str(covariance).lower()
    if cov_key not in STRUCTURES:
        raise StatsError(
            f"unknown covariance structure {covariance!r}",
            expected="one of " + ", ".join(STRUCTURES),
        )

    if coordinates is not None and cov_key != "sp_exp":
        raise StatsError(
            f"coordinates are used only by covariance='sp_exp', not {covariance!r}",
            expected="covariance='sp_exp' with coordinates, or no coordinates",
        )
    design = build_design(
        data,
        formula,
        subject=subject,
        visit=visit,
        covariance_by=covariance_by,
        weights=weights,
        visit_levels=visit_levels,
        coordinates=coordinates,
        force_factors=() if group is None else (group,),
    )
    if group is not None and group not in design.factors:
        raise StatsError(
            f"group column {group!r} is not a factor in the formula {formula!r}",
            expected="the arm column as a term of the formula",
            hint=f"add {group} to the formula, e.g. '... + {group}*{visit}'",
        )
    n_visits = len(design.visits)
    structures = [
        make_structure(cov_key, n_visits, design.visit_coordinates) for _ in design.groups
    ]
    lik = Likelihood(design, structures, reml=method_key == "reml")
    p = design.X.shape[1]
    if design.n_subjects < 2 or design.n_obs - p < lik.k:
        raise StatsError(
            f"{design.n_subjects} subjects and {design.n_obs} observations cannot inform "
            f"{p} fixed effects and {lik.k} covariance parameters",
            expected="more observations than fixed effects plus covariance parameters",
            hint="use a simpler covariance structure (e.g. 'cs' or 'ar1') or fewer terms",
        )
    start_arr = None if start is None else np.asarray(start, dtype=float)
    opt = optimise(lik, start_arr, tol=tol, max_iter=max_iter)
    ev = opt.evaluation
    if ev.hess is None or ev.M is None or ev.grad is None:
        raise StatsError(
            "the likelihood could not be evaluated at the final parameters",
            hint="try another covariance structure",
        )
    # W: covariance of the working parameters = inverse Hessian of −ℓ = 2 H(−2ℓ)⁻¹
    try:
        w = np.asarray(2.0 * np.linalg.inv(ev.hess), dtype=float)
    except np.linalg.LinAlgError:
        w = np.asarray(2.0 * np.linalg.pinv(ev.hess), dtype=float)
    phi_cov = ev.phi_cov
    used_cov = phi_cov
    if df_key.startswith("kenward"):
        sums = kr_sums(lik, ev, w, second_order=df_key == "kenward-roger")
        used_cov = kr_adjusted(phi_cov, ev.M, w, sums)

    terms = design.terms
    beta = ev.beta
    rows = []
    if df_key == "between-within":
        bw = between_within_df(design.X, design.subject_codes, terms)
    for j, term in enumerate(terms):
        unit = np.zeros(p)
        unit[j] = 1.0
        if df_key in ("satterthwaite", "kenward-roger", "kenward-roger-linear"):
            dfj = satterthwaite_df(unit, phi_cov, ev.M, w)
        elif df_key == "residual":
            dfj = float(design.n_obs - p)
        else:
            dfj = float(bw[j])
        se = math.sqrt(max(float(used_cov[j, j]), 0.0))
        row = _t_row(term, float(beta[j]), se, dfj, alpha)
        row["term"] = row.pop("contrast")
        rows.append(row)
    coefficients = pd.DataFrame(
        rows, columns=["term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
    )

    visits = design.visits
    kg = lik.k_group
    sig = [d.sigma for d in lik.sigmas(ev.phi, 0)]
    frames = [pd.DataFrame(s, index=list(visits), columns=list(visits)) for s in sig]
    covariance_out: pd.DataFrame | dict[Hashable, pd.DataFrame]
    if covariance_by is None:
        covariance_out = frames[0]
    else:
        covariance_out = dict(zip(design.groups, frames, strict=True))
    theta_vals: list[float] = []
    theta_names: list[str] = []
    for g, s in enumerate(structures):
        theta_vals.extend(s.natural(ev.phi[g * kg : (g + 1) * kg]).tolist())
        prefix = "" if covariance_by is None else f"{design.groups[g]}:"
        theta_names.extend(prefix + n for n in s.param_names())
    theta = pd.Series(theta_vals, index=theta_names, name="theta")

    n_par = lik.k + (p if method_key == "ml" else 0)
    neg2 = float(ev.f)
    return MMRMResult(
        coefficients=coefficients,
        beta_cov=pd.DataFrame(used_cov, index=list(terms), columns=list(terms)),
        beta_cov_model=pd.DataFrame(phi_cov, index=list(terms), columns=list(terms)),
        covariance=covariance_out,
        theta=theta,
        neg2_loglik=neg2,
        aic=neg2 + 2.0 * n_par,
        bic=neg2 + n_par * math.log(design.n_subjects),
        converged=opt.converged,
        iterations=opt.iterations,
        message=opt.message,
        n_subjects=design.n_subjects,
        n_obs=design.n_obs,
        dropped_rows=design.dropped_rows,
        aliased=design.aliased,
        method=method_key,
        df_method=df_key,
        covariance_structure=cov_key,
        alpha=alpha,
        visits=visits,
        group=group,
        phi=ev.phi.copy(),
        theta_cov_working=w,
        sensitivity=ev.M,
        design=design,
    )
