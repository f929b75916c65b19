"""Linear mixed models with a random intercept, or a random intercept and slope, per subject.

Model: y_i = X_i β + Z_i b_i + ε_i with b_i ~ N(0, G), ε_i ~ N(0, σ² I); Z_i = [1] or
[1, t_ij]. G is a free 1 × 1 or 2 × 2 covariance. Fitted by REML (default) or ML, maximising
the likelihood profiled over β and σ² with G = σ²ΛΛ' (Λ lower triangular, as lme4 does), so a
singular G on the boundary is allowed. Everything is computed per subject in q × q blocks
(q ≤ 2), never with an n × n matrix.

Inference on fixed effects uses Satterthwaite's degrees of freedom as lmerTest does: for a
contrast c, df = 2 (c'Cc)² / (g' A g), where C = (X'V⁻¹X)⁻¹, g is the gradient of c'Cc with
respect to the variance parameters φ = (G, σ²) and A = 2 H⁻¹ the asymptotic covariance of φ,
H being the Hessian of the fitted criterion (−2 REML or −2 ML log-likelihood) at the optimum.
Both derivatives are central differences with Richardson extrapolation. The df are invariant
to how φ is parameterised, so they agree with lmerTest's (θ, σ) parameterisation.

AIC and BIC count every parameter (fixed effects, G and σ²), with BIC's n the number of
observations, as lme4 does for both REML and ML fits.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import formulaic
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from remit.errors import ConvergenceWarning, DataWarning, StatsError
from remit.stats._numdiff import newton_polish
from remit.stats._tidy import TidyResult, check_conf_level

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LMMResult(TidyResult):
    """A fitted random-effects linear mixed model.

    Attributes
    ----------
    coefficients
        One row per fixed effect: ``term``, ``estimate``, ``se``, ``df`` (Satterthwaite),
        ``t``, ``p``, ``ci_low``, ``ci_high``.
    random_effects
        One row per variance parameter: ``name`` (``var_intercept``, ``var_slope``,
        ``cov_intercept_slope``, ``var_residual``) and ``estimate``.
    g, sigma2
        Random-effects covariance matrix and residual variance.
    vcov
        Covariance matrix of the fixed-effect estimates (model based).
    neg2_loglik, aic, bic
        −2 × the maximised criterion (REML or ML), AIC, BIC.
    method, df_method, random, n_obs, n_subjects, n_dropped, converged, message
        What was fitted and how it went.
    """

    coefficients: pd.DataFrame
    random_effects: pd.DataFrame
    g: Array
    sigma2: float
    vcov: Array
    neg2_loglik: float
    aic: float
    bic: float
    method: str
    df_method: str
    random: str
    conf_level: float
    n_obs: int
    n_subjects: int
    n_dropped: int
    converged: bool
    message: str
    vcov_derivatives: Array | None = field(default=None, repr=False, compare=False)
    varpar_cov: Array | None = field(default=None, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The fixed-effects table (a copy)."""
        return self.coefficients.copy()

    def to_dict(self) -> dict[str, Any]:
        """Fit summary, coefficients and variance components (no derivative arrays)."""
        out = super().to_dict()
        out.pop("vcov_derivatives", None)
        out.pop("varpar_cov", None)
        return out

    def satterthwaite_df(self, lvec: npt.ArrayLike) -> float:
        """Satterthwaite df of the contrast ``lvec @ beta`` (NaN when unavailable)."""
        contrast = np.asarray(lvec, dtype=np.float64)
        return _satterthwaite(contrast, self.vcov, self.vcov_derivatives, self.varpar_cov)

    def contrast(self, weights: dict[str, float]) -> pd.DataFrame:
        """t test of a linear combination of the fixed effects, with Satterthwaite df.

        Parameters
        ----------
        weights
            Term → weight, e.g. ``{"Days": 1, "Days:group[T.B]": 1}`` for the slope in B.

        Returns
        -------
        pandas.DataFrame
            One row: estimate, se, df, t, p, ci_low, ci_high.

        Examples
        --------
        >>> rng = np.random.default_rng(2)
        >>> subj = np.repeat(np.arange(20), 4)
        >>> frame = pd.DataFrame({"id": subj, "t": np.tile(np.arange(4.0), 20),
        ...                       "y": rng.normal(0, 1, 20)[subj] + rng.normal(0, 1, 80)})
        >>> fit = fit_lmm(frame, "y ~ t", subject="id")
        >>> row = fit.contrast({"Intercept": 1.0, "t": 3.0})
        >>> list(row.columns)
        ['estimate', 'se', 'df', 't', 'p', 'ci_low', 'ci_high']
        """
        terms = list(self.coefficients["term"])
        unknown = [k for k in weights if k not in terms]
        if unknown:
            raise StatsError(
                f"contrast names unknown term(s) {unknown}",
                expected="terms among " + ", ".join(terms),
            )
        lvec = np.array([float(weights.get(t, 0.0)) for t in terms])
        beta = self.coefficients["estimate"].to_numpy(dtype=np.float64)
        estimate = float(lvec @ beta)
        se = math.sqrt(float(lvec @ self.vcov @ lvec))
        df = self.satterthwaite_df(lvec)
        t = estimate / se
        q = float(sps.t.ppf(1 - (1 - self.conf_level) / 2, df))
        return pd.DataFrame(
            [
                {
                    "estimate": estimate,
                    "se": se,
                    "df": df,
                    "t": t,
                    "p": 2.0 * float(sps.t.sf(abs(t), df)),
                    "ci_low": estimate - q * se,
                    "ci_high": estimate + q * se,
                }
            ]
        )

    def summary(self) -> str:
        """Fixed effects, variance components and fit criteria."""
        with pd.option_context("display.max_columns", None, "display.width", 200):
            return (
                f"LMMResult ({self.method.upper()}, random {self.random}, "
                f"{self.n_subjects} subjects, {self.n_obs} observations, df "
                f"{self.df_method})\n{self.coefficients.to_string(index=False)}\n"
                f"{self.random_effects.to_string(index=False)}\n"
                f"-2 log-likelihood {self.neg2_loglik}  AIC {self.aic}  BIC {self.bic}"
            )


def _satterthwaite(lvec: Array, C: Array, derivatives: Array | None, acov: Array | None) -> float:
    """df = 2 (l'Cl)² / (g'Ag) with g_a = l' ∂C/∂φ_a l."""
    if derivatives is None or acov is None:
        return math.nan
    variance = float(lvec @ C @ lvec)
    grad = np.einsum("i,aij,j->a", lvec, derivatives, lvec)
    denom = float(grad @ acov @ grad)
    return 2.0 * variance * variance / denom if denom > 0 else math.inf


class _Blocks:
    """Per-subject cross-products of X, Z and y, stacked over subjects."""

    def __init__(self, X: Array, Z: Array, y: Array, codes: npt.NDArray[np.int64], m: int):
        self.n, self.p = X.shape
        self.q = Z.shape[1]
        self.m = m
        # Sums over the rows of each subject, by scattering outer products.
        zz = np.einsum("ni,nj->nij", Z, Z)
        zx = np.einsum("ni,nj->nij", Z, X)
        zy = Z * y[:, None]
        self.ZtZ = np.zeros((m, self.q, self.q))
        self.ZtX = np.zeros((m, self.q, self.p))
        self.Zty = np.zeros((m, self.q))
        np.add.at(self.ZtZ, codes, zz)
        np.add.at(self.ZtX, codes, zx)
        np.add.at(self.Zty, codes, zy)
        self.XtX = X.T @ X
        self.Xty = X.T @ y
        self.yty = float(y @ y)
        self.n_i = np.bincount(codes, minlength=m).astype(np.float64)


def _lower(theta: Array, q: int) -> Array:
    lam = np.zeros((q, q))
    lam[np.tril_indices(q)] = theta
    return lam


def _profiled(theta: Array, b: _Blocks, reml: bool) -> tuple[float, Array, float, Array]:
    """Profiled −2 log-likelihood at relative factor Λ(θ); also β̂, σ̂² and (X'V⁻¹X)⁻¹·σ²."""
    lam = _lower(theta, b.q)
    # M_i = Λ'Z_i'Z_iΛ + I;  σ²V_i⁻¹ = I − Z_iΛ M_i⁻¹ Λ'Z_i'
    lzz = np.einsum("ji,mjk,kl->mil", lam, b.ZtZ, lam)
    M = lzz + np.eye(b.q)
    _, logdet = np.linalg.slogdet(M)
    lzx = np.einsum("ji,mjk->mik", lam, b.ZtX)
    lzy = np.einsum("ji,mj->mi", lam, b.Zty)
    solve_x = np.linalg.solve(M, lzx)
    solve_y = np.linalg.solve(M, lzy[..., None])[..., 0]
    A = b.XtX - np.einsum("mip,miq->pq", lzx, solve_x)
    r = b.Xty - np.einsum("mip,mi->p", lzx, solve_y)
    s = b.yty - float(np.einsum("mi,mi->", lzy, solve_y))
    try:
        chol = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise StatsError(
            "the fixed-effects design is rank deficient",
            expected="estimable fixed effects (no column a combination of others)",
            hint="drop redundant terms from the formula",
        ) from None
    beta = np.linalg.solve(A, r)
    rss = s - float(r @ beta)
    n, p = b.n, b.p
    denom = n - p if reml else n
    if rss <= 0 or denom <= 0:
        return math.inf, beta, math.nan, A
    sigma2 = rss / denom
    dev = float(logdet.sum()) + denom * (1.0 + math.log(2 * math.pi * sigma2))
    if reml:
        dev += 2.0 * float(np.log(np.diag(chol)).sum())
    return dev, beta, sigma2, A


def _gls_parts(G: Array, sigma2: float, b: _Blocks) -> tuple[Array | None, Array, float, float]:
    """(X'V⁻¹X)⁻¹, X'V⁻¹y, y'V⁻¹y and Σ log|V_i| for given G and σ² (G may be singular)."""
    q = b.q
    # V_i⁻¹ = (I − Z_i K_i Z_i')/σ² with K_i = (σ²I + G Z_i'Z_i)⁻¹ G
    gzz = np.einsum("ij,mjk->mik", G, b.ZtZ)
    inner = sigma2 * np.eye(q) + gzz
    K = np.linalg.solve(inner, np.broadcast_to(G, inner.shape))
    sign, logdet_inner = np.linalg.slogdet(inner)
    if (sign <= 0).any():
        return None, np.zeros(b.p), math.nan, math.nan
    # log|V_i| = n_i log σ² + log|I + G Z'Z/σ²| = (n_i − q) log σ² + log|σ²I + G Z'Z|
    logdet_v = float(((b.n_i - q) * math.log(sigma2)).sum() + logdet_inner.sum())
    xvx = (b.XtX - np.einsum("mip,mij,mjr->pr", b.ZtX, K, b.ZtX)) / sigma2
    xvy = (b.Xty - np.einsum("mip,mij,mj->p", b.ZtX, K, b.Zty)) / sigma2
    yvy = (b.yty - float(np.einsum("mi,mij,mj->", b.Zty, K, b.Zty))) / sigma2
    try:
        C = np.linalg.inv(xvx)
    except np.linalg.LinAlgError:
        return None, xvy, yvy, logdet_v
    return C, xvy, yvy, logdet_v


def _variance_derivatives(
    G: Array,
    sigma2: float,
    X: Array,
    Z: Array,
    y: Array,
    groups: list[npt.NDArray[np.int64]],
    beta: Array,
    C: Array,
    reml: bool,
) -> tuple[Array, list[Array]]:
    """Observed Hessian of −2 log L in φ = (vech G, σ²), and Q_a = X'V⁻¹ ∂V/∂φ_a V⁻¹X.

    V is linear in φ, so with W = V⁻¹, P = W − WXCX'W and e = Py:
    ∂²(−2ℓ_R)/∂φ_a∂φ_b = −tr(P V_a P V_b) + 2 e'V_a P V_b e. For ML the criterion is profiled
    over β (as lme4's deviance function is), which gives the same form with W in the trace.
    Everything is summed over subjects, one n_i × n_i block at a time.
    """
    q = G.shape[0]
    pairs = [(int(i), int(j)) for i, j in zip(*np.tril_indices(q), strict=True)]
    n_phi = len(pairs) + 1
    p = X.shape[1]
    Q = [np.zeros((p, p)) for _ in range(n_phi)]
    R = [[np.zeros((p, p)) for _ in range(n_phi)] for _ in range(n_phi)]
    T = np.zeros((n_phi, n_phi))
    S = np.zeros((n_phi, n_phi))
    U = np.zeros((n_phi, p))
    for idx in groups:
        Xi, Zi = X[idx], Z[idx]
        ni = idx.size
        Wi = np.linalg.inv(Zi @ G @ Zi.T + sigma2 * np.eye(ni))
        ei = Wi @ (y[idx] - Xi @ beta)
        WX = Wi @ Xi
        dV = []
        for r, c in pairs:
            outer = np.outer(Zi[:, r], Zi[:, c])
            dV.append(outer if r == c else outer + outer.T)
        dV.append(np.eye(ni))
        WdV = [Wi @ d for d in dV]
        for a in range(n_phi):
            Q[a] += WX.T @ dV[a] @ WX
            U[a] += WX.T @ dV[a] @ ei
            for b in range(a, n_phi):
                T[a, b] += float(np.sum(WdV[a] * WdV[b].T))
                S[a, b] += float(ei @ dV[a] @ Wi @ dV[b] @ ei)
                if reml:
                    R[a][b] += WX.T @ dV[a] @ WdV[b] @ WX
    H = np.zeros((n_phi, n_phi))
    for a in range(n_phi):
        for b in range(a, n_phi):
            quad = S[a, b] - float(U[a] @ C @ U[b])
            if reml:
                trace = (
                    T[a, b]
                    - float(np.trace(C @ R[a][b]))
                    - float(np.trace(C @ R[a][b].T))
                    + float(np.trace(C @ Q[a] @ C @ Q[b]))
                )
            else:
                trace = T[a, b]
            H[a, b] = H[b, a] = -trace + 2.0 * quad
    return H, Q


def fit_lmm(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    slope: str | None = None,
    method: str = "reml",
    conf_level: float = 0.95,
) -> LMMResult:
    """Fit a linear mixed model with a random intercept (and slope) per subject.

    Parameters
    ----------
    data
        Long-format data, one row per observation.
    formula
        Fixed effects, e.g. ``"y ~ time * group"`` (formulaic syntax).
    subject
        Column identifying the subject (the grouping factor of the random effects).
    slope
        Numeric column with a random slope (correlated with the intercept); ``None`` for a
        random intercept only.
    method
        ``"reml"`` (default) or ``"ml"``.
    conf_level
        Coverage of the coefficients' t intervals.

    Returns
    -------
    LMMResult
        Rows with a missing value in a used column are dropped, with a
        :class:`~remit.errors.DataWarning`, and counted in ``n_dropped``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> subj = np.repeat(np.arange(30), 5)
    >>> time = np.tile(np.arange(5.0), 30)
    >>> y = 10 + 2 * time + rng.normal(0, 2, 30)[subj] + rng.normal(0, 1, 150)
    >>> fit = fit_lmm(pd.DataFrame({"y": y, "t": time, "id": subj}), "y ~ t", subject="id")
    >>> fit.coefficients["term"].tolist()
    ['Intercept', 't']
    >>> bool(fit.converged), round(float(fit.coefficients["df"][1]), 1)
    (True, 119.0)
    """
    if method not in ("reml", "ml"):
        raise StatsError(f"method={method!r}", expected="'reml' or 'ml'")
    check_conf_level(conf_level)
    for col in [subject] + ([slope] if slope else []):
        if col not in data.columns:
            raise StatsError(
                f"column {col!r} is not in the data",
                expected=f"one of {', '.join(map(str, data.columns))}",
            )
    try:
        mm = formulaic.model_matrix(formula, data, na_action="drop")
    except Exception as error:  # formulaic raises many types for a bad formula
        raise StatsError(
            f"formula {formula!r} could not be applied to the data ({error})",
            expected="a formula like 'y ~ time * group' naming columns of the data",
        ) from None
    if not hasattr(mm, "lhs"):
        raise StatsError(f"formula {formula!r} has no response", expected="'y ~ terms'")
    X_frame = mm.rhs
    rows = X_frame.index
    keep = data.loc[rows, [subject] + ([slope] if slope else [])].notna().all(axis=1)
    rows = rows[keep.to_numpy()]
    n_dropped = len(data) - len(rows)
    if n_dropped:
        warnings.warn(
            f"dropped {n_dropped} of {len(data)} rows with a missing value",
            DataWarning,
            stacklevel=2,
        )
    X = np.asarray(X_frame.loc[rows], dtype=np.float64)
    y = np.asarray(mm.lhs.loc[rows], dtype=np.float64).ravel()
    codes_raw, levels = pd.factorize(data.loc[rows, subject])
    codes = np.asarray(codes_raw, dtype=np.int64)
    m = len(levels)
    if slope:
        t = pd.to_numeric(data.loc[rows, slope], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(t).any():
            raise StatsError(
                f"slope column {slope!r} holds values that are not numbers",
                expected="a numeric time (e.g. days or weeks since baseline)",
            )
        Z = np.column_stack([np.ones(len(rows)), t])
    else:
        Z = np.ones((len(rows), 1))
    n, p = X.shape
    q = Z.shape[1]
    if m < 2 or n <= p + 1:
        raise StatsError(
            f"{n} observations from {m} subjects for {p} fixed effects",
            expected="at least 2 subjects and more observations than parameters",
        )
    blocks = _Blocks(X, Z, y, codes, m)
    reml = method == "reml"

    def objective(theta: Array) -> float:
        return _profiled(theta, blocks, reml)[0]

    n_theta = q * (q + 1) // 2
    diag_index = [k for k, (i, j) in enumerate(zip(*np.tril_indices(q), strict=True)) if i == j]
    bounds = [(0.0, None) if k in diag_index else (None, None) for k in range(n_theta)]
    start = np.zeros(n_theta)
    start[diag_index] = 1.0
    opt = optimize.minimize(
        objective,
        start,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 1000},
    )
    theta, grad_norm = newton_polish(objective, np.asarray(opt.x, dtype=np.float64), diag_index)
    dev, beta, sigma2, _ = _profiled(theta, blocks, reml)
    converged = bool(math.isfinite(dev) and grad_norm < 1e-3)
    message = (
        f"converged (max |gradient| {grad_norm:.2g})"
        if converged
        else f"stopped with max |gradient| {grad_norm:.2g} ({opt.message})"
    )
    if not converged:
        warnings.warn(f"LMM fit did not converge: {message}", ConvergenceWarning, stacklevel=2)
    lam = _lower(theta, q)
    G = sigma2 * lam @ lam.T
    phi = np.append(G[np.tril_indices(q)], sigma2)
    C, _, _, _ = _gls_parts(G, sigma2, blocks)
    if C is None:
        raise StatsError("the fitted model is degenerate", expected="a positive definite V")

    groups = [np.flatnonzero(codes == i) for i in range(m)]
    hess, Q = _variance_derivatives(G, sigma2, X, Z, y, groups, beta, C, reml)
    # A random effect whose variance is estimated as 0 sits on the boundary of the parameter
    # space: its variance (and covariances) are held fixed at 0 for the df, as if the model
    # had been fitted without it. Any other singular G (|correlation| = 1) gives NaN df.
    zero_dims = {j for j in range(q) if G[j, j] <= 1e-10 * max(sigma2, 1e-300)}
    pairs = [(int(i), int(j)) for i, j in zip(*np.tril_indices(q), strict=True)]
    kept = [a for a, (i, j) in enumerate(pairs) if i not in zero_dims and j not in zero_dims]
    kept.append(len(pairs))
    G_kept = np.delete(np.delete(G, list(zero_dims), 0), list(zero_dims), 1)
    acov: Array | None = None
    if G_kept.size == 0 or np.linalg.eigvalsh(G_kept).min() > 1e-10 * float(np.trace(G_kept)):
        try:
            acov = np.asarray(2.0 * np.linalg.inv(hess[np.ix_(kept, kept)]), dtype=np.float64)
        except np.linalg.LinAlgError:
            acov = None
    if zero_dims:
        names_zero = ", ".join("intercept" if j == 0 else "slope" for j in sorted(zero_dims))
        message += f"; boundary (singular) fit: random {names_zero} variance estimated as 0"
        warnings.warn(
            f"boundary (singular) fit: the random {names_zero} variance is estimated as 0",
            ConvergenceWarning,
            stacklevel=2,
        )
    if acov is None:
        warnings.warn(
            "the random-effects covariance is singular or its Hessian is; "
            "Satterthwaite df are reported as NaN",
            ConvergenceWarning,
            stacklevel=2,
        )
        message += "; Satterthwaite df not available"
    se = np.sqrt(np.diag(C))
    # ∂C/∂φ_a = C Q_a C: the gradient of Var(l'β̂) is l'C Q_a C l.
    derivatives = np.stack([C @ Q[a] @ C for a in kept]) if acov is not None else None
    dfs = np.array([_satterthwaite(row, C, derivatives, acov) for row in np.eye(p)])
    tvals = beta / se
    pvals = 2.0 * sps.t.sf(np.abs(tvals), dfs)
    qt = sps.t.ppf(1 - (1 - conf_level) / 2, dfs)
    coefficients = pd.DataFrame(
        {
            "term": list(X_frame.columns),
            "estimate": beta,
            "se": se,
            "df": dfs,
            "t": tvals,
            "p": pvals,
            "ci_low": beta - qt * se,
            "ci_high": beta + qt * se,
        }
    )
    names = ["var_intercept"] if q == 1 else ["var_intercept", "cov_intercept_slope", "var_slope"]
    random_effects = pd.DataFrame({"name": [*names, "var_residual"], "estimate": list(phi)})
    n_par = p + len(phi)
    result = LMMResult(
        coefficients=coefficients,
        random_effects=random_effects,
        g=G,
        sigma2=float(sigma2),
        vcov=C,
        neg2_loglik=float(dev),
        aic=float(dev + 2 * n_par),
        bic=float(dev + math.log(n) * n_par),
        method=method,
        df_method="satterthwaite",
        random="intercept+slope" if slope else "intercept",
        conf_level=conf_level,
        n_obs=n,
        n_subjects=m,
        n_dropped=n_dropped,
        converged=converged,
        message=message,
        vcov_derivatives=derivatives,
        varpar_cov=acov,
    )
    return result
