"""Degrees of freedom and small-sample covariance of β: Satterthwaite, Kenward-Roger, residual,
between-within.

All functions take the pieces of a converged fit:

* ``phi_cov`` — Φ = (X'V⁻¹X)⁻¹, the model-based covariance of β̂;
* ``M`` — M_h = X'V⁻¹ V_h V⁻¹X for each working covariance parameter (so ∂Φ/∂φ_h = Φ M_h Φ);
* ``W`` — the covariance of the working parameters: the inverse of the observed Hessian of
  −ℓ (REML or ML) at the optimum.

Satterthwaite df for a contrast l (as R's mmrm and SAS): ν = 2 (l'Φl)² / (g'Wg) with
g_h = l'Φ M_h Φ l.  It does not depend on how the covariance is parameterised.  Kenward-Roger
uses the adjusted Φ_A for the standard error and, for one-row contrasts, the same ν (computed
with the unadjusted Φ, as R's mmrm and SAS do); for several rows the KR moment-matching gives
the df and the scale λ of the F statistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from remit.errors import StatsError
from remit.stats.choices import DF_METHODS as DF_METHODS
from remit.stats.choices import DfMethod as DfMethod

Array = NDArray[np.float64]


@dataclass(frozen=True)
class FTest:
    """Numerator and denominator df, F statistic (scaled by λ under KR) and p-value."""

    num_df: int
    den_df: float
    f: float
    p: float
    scale: float


def satterthwaite_df(lvec: Array, phi_cov: Array, M: Array, W: Array) -> float:
    """Satterthwaite degrees of freedom of the scalar contrast ``lvec``.

    Parameters
    ----------
    lvec
        Contrast vector over the coefficients.
    phi_cov, M, W
        See the module docstring.

    Returns
    -------
    float
        Degrees of freedom (``inf`` when the variance does not depend on the covariance
        parameters).

    Examples
    --------
    >>> import numpy as np
    >>> phi = np.array([[2.0]]); M = np.array([[[0.5]]]); W = np.array([[0.1]])
    >>> round(satterthwaite_df(np.array([1.0]), phi, M, W), 6)
    20.0
    """
    v = phi_cov @ lvec
    var = float(lvec @ v)
    g = np.einsum("kpq,p,q->k", M, v, v)
    denom = float(g @ W @ g)
    if denom <= 0 or not math.isfinite(denom):
        return math.inf
    return 2.0 * var * var / denom


def satterthwaite_f(L: Array, beta: Array, phi_cov: Array, M: Array, W: Array) -> FTest:
    """F test of L β = 0 with Satterthwaite df (eigen-decomposition as lmerTest / mmrm).

    Examples
    --------
    >>> import numpy as np
    >>> phi = np.eye(2); M = np.zeros((1, 2, 2)); M[0] = 0.1 * np.eye(2); W = np.eye(1)
    >>> res = satterthwaite_f(np.eye(2), np.array([1.0, 1.0]), phi, M, W)
    >>> res.num_df, round(res.f, 6)
    (2, 1.0)
    """
    from scipy import stats

    L = np.atleast_2d(L)
    q = L.shape[0]
    cov = L @ phi_cov @ L.T
    est = L @ beta
    values, vectors = np.linalg.eigh(cov)
    if np.any(values <= values.max() * 1e-10):
        raise StatsError(
            "contrast matrix is not of full row rank",
            expected="linearly independent contrast rows",
        )
    f = float(est @ np.linalg.solve(cov, est)) / q
    if q == 1:
        df = satterthwaite_df(L[0], phi_cov, M, W)
        return FTest(1, df, f, float(stats.f.sf(f, 1, df)), 1.0)
    rows = vectors.T @ L
    nus = np.array([satterthwaite_df(r, phi_cov, M, W) for r in rows])
    big = nus > 2
    e = float(np.sum(nus[big] / (nus[big] - 2.0)))
    df = 2.0 * e / (e - q) if e > q else 2.0
    return FTest(q, df, f, float(stats.f.sf(f, q, df)), 1.0)


def kenward_roger_f(
    L: Array, beta: Array, phi_cov: Array, phi_adj: Array, M: Array, W: Array
) -> FTest:
    """Kenward-Roger F test of L β = 0 (scaled statistic λF, moment-matched df).

    Examples
    --------
    >>> import numpy as np
    >>> phi = np.eye(2); M = np.zeros((1, 2, 2)); M[0] = 0.1 * np.eye(2); W = np.eye(1)
    >>> res = kenward_roger_f(np.eye(2), np.array([1.0, 1.0]), phi, phi, M, W)
    >>> res.num_df
    2
    """
    from scipy import stats

    L = np.atleast_2d(L)
    q = L.shape[0]
    est = L @ beta
    cov_adj = L @ phi_adj @ L.T
    f = float(est @ np.linalg.solve(cov_adj, est)) / q
    if q == 1:
        df = satterthwaite_df(L[0], phi_cov, M, W)
        return FTest(1, df, f, float(stats.f.sf(f, 1, df)), 1.0)
    theta = L.T @ np.linalg.solve(L @ phi_cov @ L.T, L)
    # F_h = Θ Φ P_h Φ with P_h = −M_h (sign irrelevant in products of two)
    mats = np.einsum("pq,qr,krs,st->kpt", theta, phi_cov, M, phi_cov)
    traces = np.einsum("kpp->k", mats)
    a1 = float(traces @ W @ traces)
    a2 = float(np.einsum("hj,hpq,jqp->", W, mats, mats))
    b = (a1 + 6.0 * a2) / (2.0 * q)
    g = ((q + 1.0) * a1 - (q + 4.0) * a2) / ((q + 2.0) * a2)
    denom = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2.0 - g) / denom
    e_star = 1.0 / (1.0 - a2 / q)
    v_star = (2.0 / q) * (1.0 + c1 * b) / ((1.0 - c2 * b) ** 2 * (1.0 - c3 * b))
    rho = v_star / (2.0 * e_star**2)
    df = 4.0 + (q + 2.0) / (q * rho - 1.0)
    lam = df / (e_star * (df - 2.0))
    fs = lam * f
    return FTest(q, df, fs, float(stats.f.sf(fs, q, df)), lam)


def kr_adjusted(phi_cov: Array, M: Array, W: Array, q_minus_r: Array) -> Array:
    """Φ_A = Φ + 2Φ(Σ W_hj (Q_hj − P_hΦP_j − ¼R_hj))Φ given Σ W(Q − ¼R) = ``q_minus_r``.

    Examples
    --------
    >>> import numpy as np
    >>> kr_adjusted(np.eye(1), np.zeros((1, 1, 1)), np.eye(1), np.zeros((1, 1)))
    array([[1.]])
    """
    pm = np.einsum("kpq,qr->kpr", M, phi_cov)  # M_h Φ
    ppp = np.einsum("hj,hpq,jqr->pr", W, pm, M)  # Σ W_hj M_h Φ M_j
    inner = q_minus_r - ppp
    adj = phi_cov + 2.0 * phi_cov @ inner @ phi_cov
    return np.asarray((adj + adj.T) / 2.0, dtype=float)


def between_within_df(X: Array, subject_codes: NDArray[np.intp], terms: tuple[str, ...]) -> Array:
    """Between-within df per coefficient (SAS DDFM=BW, as R's mmrm).

    A column constant within every subject is *between*; it gets n_subjects − (1 +
    number of between columns); every other column, and the intercept, gets n_obs −
    (n_subjects + number of within columns).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]], dtype=float)
    >>> between_within_df(X, np.array([0, 0, 1, 1]), ("(Intercept)", "t", "g")).tolist()
    [1.0, 1.0, 0.0]
    """
    n_obs = X.shape[0]
    n_subj = int(np.unique(subject_codes).size)
    order = np.argsort(subject_codes, kind="stable")
    codes = subject_codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    kind = []
    for j, name in enumerate(terms):
        col = X[order, j]
        if name == "(Intercept)":
            kind.append("intercept")
            continue
        first = np.repeat(col[starts], np.diff(np.r_[starts, col.size]))
        kind.append("between" if np.allclose(col, first) else "within")
    n_between = kind.count("between")
    n_within = kind.count("within")
    df_between = n_subj - (int("intercept" in kind) + n_between)
    df_within = n_obs - (n_subj + n_within)
    return np.array(
        [float(df_between) if k == "between" else float(df_within) for k in kind], dtype=float
    )
