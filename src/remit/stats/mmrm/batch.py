"""Many simulated trials fitted at once: REML MMRM with unstructured Σ, arrays over trials.

A power simulation fits the same model, ``y ~ arm * visit`` with an unstructured covariance,
to thousands of trials that share their design: each subject's fixed-effects rows depend only
on the arm and on which visits were observed. So every trial is summarised by the same short
list of *patterns* (arm × set of observed visits) and, per pattern, the subject count n, the
sum of outcomes s and the sum of cross-products S. The likelihood, its gradient and its
observed Hessian are then sums over patterns of M × M matrix products, computed for all
trials together.

The fixed effects are written as cell means (one per arm and visit): the same column space
as treatment-coded ``arm * visit``, so β̂, its covariance, every contrast and its
Satterthwaite df equal those of :func:`remit.stats.fit_mmrm`; X'V⁻¹X is block-diagonal by arm.
The covariance is moved in its natural parameters θ = vech Σ (Σ is linear in θ, so
∂²V/∂θ² = 0): Newton steps with the observed REML Hessian, Fisher scoring where that is not
positive definite, step halving to keep Σ positive definite and −2 log-likelihood falling.
Satterthwaite df do not depend on the parameterisation at the optimum, so they equal the
engine's (which uses log-Cholesky).

Trials whose fit does not converge here are flagged (``converged`` false); callers refit them
one at a time with the general engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from remit.errors import StatsError

Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class PatternStats:
    """Sufficient statistics of many trials that share arms, visits and patterns.

    Attributes
    ----------
    arm
        (P,) arm of each pattern.
    mask
        (P, M) visits observed in each pattern.
    n
        (T, P) subjects of each trial in each pattern.
    s
        (T, P, M) sum of the outcomes (zero at unobserved visits).
    S
        (T, P, M, M) sum of the outcome cross-products.
    cell_counts
        (T, K, M) observations per arm and visit.
    """

    arm: IntArray
    mask: BoolArray
    n: Array
    s: Array
    S: Array
    cell_counts: Array

    @property
    def n_trials(self) -> int:
        return int(self.n.shape[0])

    @property
    def n_arms(self) -> int:
        return int(self.cell_counts.shape[1])

    @property
    def n_visits(self) -> int:
        return int(self.mask.shape[1])


def pattern_stats(y: Array, observed: BoolArray, arm: IntArray, n_arms: int) -> PatternStats:
    """Summarise trials (T × subjects × visits) by missing-visit pattern.

    Parameters
    ----------
    y
        (T, N, M) outcomes; values at unobserved visits are ignored.
    observed
        (T, N, M) which outcomes are observed. Subjects with no observed visit are left out.
    arm
        (N,) arm of each subject (0 … K − 1), the same in every trial.
    n_arms
        K.

    Returns
    -------
    PatternStats

    Examples
    --------
    >>> y = np.array([[[1.0, 2.0], [3.0, 0.0], [2.0, 2.5]]])
    >>> seen = np.array([[[True, True], [True, False], [True, True]]])
    >>> st = pattern_stats(y, seen, np.array([0, 0, 1]), 2)
    >>> st.n.tolist(), st.mask.tolist()
    ([[1.0, 1.0, 1.0]], [[True, False], [True, True], [True, True]])
    """
    y = np.asarray(y, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool)
    if y.ndim != 3 or observed.shape != y.shape:
        raise StatsError(
            f"y has shape {y.shape} and observed {observed.shape}",
            expected="two arrays of the same shape (trials, subjects, visits)",
        )
    t_count, n_subj, m = y.shape
    arm = np.asarray(arm, dtype=np.intp)
    if arm.shape != (n_subj,) or arm.min() < 0 or arm.max() >= n_arms:
        raise StatsError(
            f"arm has shape {arm.shape} with values {sorted(set(arm.tolist()))[:5]}",
            expected=f"one arm code in 0..{n_arms - 1} per subject ({n_subj})",
        )
    if m > 30:
        raise StatsError(f"{m} visits", expected="at most 30 visits in a batched fit")
    bits = (observed.astype(np.int64) << np.arange(m, dtype=np.int64)).sum(axis=2)
    code = arm[None, :].astype(np.int64) * (1 << m) + bits
    present = bits > 0
    uniq, inverse = np.unique(code[present], return_inverse=True)
    n_pat = uniq.size
    pid = np.full(code.shape, -1, dtype=np.intp)
    pid[present] = inverse.ravel()
    # sums by (trial, pattern) with bincount: no trials × subjects × patterns array, which
    # would be large with intermittent missing visits (up to arms × 2^M patterns)
    tt, ii = np.nonzero(present)
    flat = tt * n_pat + pid[tt, ii]
    size = t_count * n_pat
    yz = np.where(observed, y, 0.0)[tt, ii]  # (rows, M)
    n = np.bincount(flat, minlength=size).astype(float).reshape(t_count, n_pat)
    s = np.asarray(
        np.stack([np.bincount(flat, weights=yz[:, a], minlength=size) for a in range(m)], axis=1),
        dtype=np.float64,
    ).reshape(t_count, n_pat, m)
    big_s = np.empty((t_count, n_pat, m, m))
    for a in range(m):
        for b in range(a + 1):
            col = np.bincount(flat, weights=yz[:, a] * yz[:, b], minlength=size)
            big_s[:, :, a, b] = big_s[:, :, b, a] = col.reshape(t_count, n_pat)
    pat_arm = (uniq >> m).astype(np.intp)
    pat_mask = ((uniq[:, None] >> np.arange(m)) & 1).astype(bool)
    arm_hot = np.zeros((n_pat, n_arms))
    arm_hot[np.arange(n_pat), pat_arm] = 1.0
    cells = np.einsum("tp,pk,pm->tkm", n, arm_hot, pat_mask.astype(float))
    return PatternStats(pat_arm, pat_mask, n, s, big_s, cells)


@dataclass(frozen=True)
class BatchFit:
    """REML fits of many trials (cell-means parameterisation, unstructured Σ).

    Attributes
    ----------
    sigma
        (T, M, M) estimated Σ.
    beta
        (T, K, M) estimated cell means (arm × visit).
    phi_cov
        (T, K, M, M) model-based covariance of each arm's cell means (Φ is block-diagonal).
    hess
        (T, k, k) observed Hessian of −2 log-likelihood in θ = vech Σ.
    m_full
        (T, K, M, M, M, M) M_ab = X'V⁻¹ (e_a e_b') V⁻¹X per arm (index ``[t, k, a, b, i, j]``).
    converged
        (T,) Newton decrement below the tolerance and Hessian positive definite.
    iterations
        (T,) iterations used.
    usable
        (T,) every arm × visit cell observed and enough data for the covariance.
    """

    sigma: Array
    beta: Array
    phi_cov: Array
    hess: Array
    m_full: Array
    converged: BoolArray
    iterations: IntArray
    usable: BoolArray


def _vech_map(m: int) -> Array:
    """L (k × M²): E_h = Σ_ab L[h, ab] e_a e_b' for θ_h = Σ_ab, a ≥ b (row-major lower)."""
    rows = [(i, j) for i in range(m) for j in range(i + 1)]
    out = np.zeros((len(rows), m * m))
    for h, (i, j) in enumerate(rows):
        out[h, i * m + j] = 1.0
        out[h, j * m + i] = 1.0
    return out


class _Evaluator:
    """−2 restricted log-likelihood (up to a constant) and its derivatives for a trial subset."""

    def __init__(self, st: PatternStats):
        self.st = st
        m = st.n_visits
        self.m = m
        self.L = _vech_map(m)
        self.rows, self.cols = np.tril_indices(m)
        mask2 = st.mask[:, :, None] & st.mask[:, None, :]
        self.mask2 = mask2.astype(float)  # (P, M, M)
        self.arm_hot = np.zeros((st.arm.size, st.n_arms))
        self.arm_hot[np.arange(st.arm.size), st.arm] = 1.0
        self.eye = np.eye(m)

    def sigma_of(self, theta: Array) -> Array:
        sig = np.zeros((theta.shape[0], self.m, self.m))
        sig[:, self.rows, self.cols] = theta
        sig[:, self.cols, self.rows] = theta
        return sig

    def theta_of(self, sigma: Array) -> Array:
        return np.asarray(sigma[:, self.rows, self.cols], dtype=float)

    def _by_arm(self, x: Array) -> Array:
        """Sum over patterns of each arm: (T, P, …) → (T, K, …)."""
        return np.moveaxis(np.tensordot(x, self.arm_hot, axes=([1], [0])), -1, 1)

    def evaluate(self, sel: IntArray, sigma: Array, order: int) -> dict[str, Array]:
        """Quantities at Σ for trials ``sel``; ``f`` is inf where Σ is not positive definite."""
        st = self.st
        n = st.n[sel]
        s = st.s[sel]
        big_s = st.S[sel]
        t_count = sel.size
        pd_ok = np.linalg.eigvalsh(sigma)[:, 0] > 0
        sig = np.where(pd_ok[:, None, None], sigma, self.eye)
        padded = np.where(self.mask2[None] > 0, sig[:, None], self.eye)  # (T, P, M, M)
        low = np.linalg.cholesky(padded)
        logdet = 2.0 * np.log(np.diagonal(low, axis1=2, axis2=3)).sum(axis=2)  # (T, P)
        a = np.linalg.inv(padded) * self.mask2[None]
        na = n[:, :, None, None] * a
        b = self._by_arm(na)  # (T, K, M, M) = X'V⁻¹X per arm
        b_low = np.linalg.cholesky(b)
        phi_raw = np.linalg.inv(b)
        phi: Array = np.asarray((phi_raw + np.swapaxes(phi_raw, 2, 3)) / 2.0, dtype=np.float64)
        c = self._by_arm(a @ s[..., None])[..., 0]  # (T, K, M)
        beta: Array = np.asarray((phi @ c[..., None])[..., 0], dtype=np.float64)
        quad = np.einsum("tpab,tpba->t", a, big_s) - np.einsum("tka,tka->t", beta, c)
        f = (n * logdet).sum(axis=1) + quad
        f += 2.0 * np.log(np.diagonal(b_low, axis1=2, axis2=3)).sum(axis=(1, 2))
        f = np.asarray(np.where(pd_ok, f, np.inf), dtype=np.float64)
        out: dict[str, Array] = {"f": f, "beta": beta, "phi": phi}
        if order < 1:
            return out
        arm = st.arm
        mu = beta[:, arm]  # (T, P, M)
        rs = s - n[:, :, None] * mu
        resid = (
            big_s
            - s[..., :, None] * mu[..., None, :]
            - mu[..., :, None] * s[..., None, :]
            + n[:, :, None, None] * mu[..., :, None] * mu[..., None, :]
        )
        phi_p = phi[:, arm]  # (T, P, M, M)
        inner = resid + n[:, :, None, None] * phi_p
        gamma = (na - a @ inner @ a).sum(axis=1)  # (T, M, M)
        out["grad"] = gamma.reshape(t_count, -1) @ self.L.T
        if order < 2:
            return out
        m = self.m
        m2 = m * m
        # K(Y)[ab, cd] = Σ_P A[b, c] Y[d, a]  (= tr(A e_a e_b' A e_c e_d' Z) with Y = Z A)
        y1 = na - 2.0 * na @ phi_p @ a
        y2 = a @ resid @ a
        a_flat = a.reshape(t_count, -1, m2)  # index (b, c)
        a_t = np.swapaxes(a_flat, 1, 2)

        def k_of(y: Array) -> Array:
            raw = (a_t @ y.reshape(t_count, -1, m2)).reshape(t_count, m, m, m, m)  # [b,c,d,a]
            return np.transpose(raw, (0, 4, 1, 2, 3)).reshape(t_count, m2, m2)

        k1 = k_of(y1)
        k2 = k_of(y2)
        # M_ab per arm [t, k, a, b, i, j] = Σ_P∈k n A[i, a] A[b, j]
        na_t = np.swapaxes(na, 2, 3).reshape(t_count, -1, m2)  # index (a, i)
        m_full = np.empty((t_count, st.n_arms, m, m, m, m))
        n_full = np.empty((t_count, st.n_arms, m, m, m))
        ars = (a @ rs[..., None])[..., 0]  # (T, P, M)
        for k in range(st.n_arms):
            pk = np.flatnonzero(arm == k)
            raw = np.swapaxes(na_t[:, pk], 1, 2) @ a_flat[:, pk]  # [(a,i), (b,j)]
            raw = raw.reshape(t_count, m, m, m, m)  # [a, i, b, j]
            m_full[:, k] = np.transpose(raw, (0, 1, 3, 2, 4))
            # N_ab [i] = Σ_P∈k A[i, a] (A rs)[b]
            n_full[:, k] = np.einsum("tpia,tpb->tabi", a[:, pk], ars[:, pk])
        fm = np.einsum("tkij,tkabjl->tkabil", phi, m_full).reshape(t_count, st.n_arms, m2, m, m)
        pmpm = np.einsum("tkhij,tkgji->thg", fm, fm)
        nphi = np.einsum("tkabi,tkij->tkabj", n_full, phi).reshape(t_count, st.n_arms, m2, m)
        npn = np.einsum("tkhj,tkgj->thg", nphi, n_full.reshape(t_count, st.n_arms, m2, m))
        lmat = self.L
        fisher = lmat @ (k1 + pmpm) @ lmat.T
        hobs = lmat @ (-(k1 + pmpm) + 2.0 * (k2 - npn)) @ lmat.T
        out["hess"] = (hobs + np.swapaxes(hobs, 1, 2)) / 2.0
        out["fisher"] = (fisher + np.swapaxes(fisher, 1, 2)) / 2.0
        out["m_full"] = m_full
        return out


def _start(st: PatternStats, sel: IntArray) -> Array:
    """Pairwise-complete covariance of the residuals from the observed cell means."""
    n, s, big_s = st.n[sel], st.s[sel], st.S[sel]
    cells = st.cell_counts[sel]  # (T, K, M)
    hot = np.zeros((st.arm.size, st.n_arms))
    hot[np.arange(st.arm.size), st.arm] = 1.0
    sums = np.einsum("tpm,pk->tkm", s, hot)
    means = sums / np.maximum(cells, 1.0)
    mu = means[:, st.arm]  # (T, P, M)
    mk = st.mask.astype(float)
    both = mk[:, :, None] * mk[:, None, :]
    resid = (
        big_s
        - s[..., :, None] * mu[..., None, :]
        - mu[..., :, None] * s[..., None, :]
        + n[:, :, None, None] * mu[..., :, None] * mu[..., None, :] * both[None]
    ).sum(axis=1)
    pairs = np.einsum("tp,pab->tab", n, both) - st.n_arms
    cov = resid / np.maximum(pairs, 1.0)
    sd = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 1e-8))
    corr = np.clip(cov / (sd[:, :, None] * sd[:, None, :]), -0.95, 0.95)
    idx = np.arange(st.n_visits)
    corr[:, idx, idx] = 1.0
    values, vectors = np.linalg.eigh(corr)
    values = np.maximum(values, 0.05)
    corr = (vectors * values[:, None, :]) @ np.swapaxes(vectors, 1, 2)
    return np.asarray(corr * sd[:, :, None] * sd[:, None, :], dtype=float)


def _newton(
    ev: _Evaluator, sel: IntArray, tol: float, max_iter: int
) -> tuple[Array, dict[str, Array], BoolArray, IntArray]:
    """Newton (observed Hessian) or Fisher-scoring steps with step halving, per trial."""
    theta = ev.theta_of(_start(ev.st, sel))
    cur = ev.evaluate(sel, ev.sigma_of(theta), 2)
    active = np.isfinite(cur["f"])
    converged = np.zeros(sel.size, dtype=bool)
    iterations = np.zeros(sel.size, dtype=np.intp)
    for it in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        grad, hess = cur["grad"][idx], cur["hess"][idx]
        newton = np.linalg.eigvalsh(hess)[:, 0] > 0
        h = np.where(newton[:, None, None], hess, cur["fisher"][idx])
        step = -np.linalg.solve(h, grad[..., None])[..., 0]
        dec = np.where(newton, -np.einsum("tk,tk->t", grad, step), np.inf)
        iterations[idx] = it
        done = dec < tol
        converged[idx[done]] = True
        active[idx[done]] = False
        move = np.flatnonzero(~done & np.isfinite(step).all(axis=1))
        active[idx[~done & ~np.isfinite(step).all(axis=1)]] = False
        if move.size == 0:
            continue
        rows = idx[move]
        base_f = cur["f"][rows]
        scale = np.ones(move.size)
        accepted = np.zeros(move.size, dtype=bool)
        for _ in range(40):
            todo = np.flatnonzero(~accepted)
            if todo.size == 0:
                break
            cand = theta[rows[todo]] + scale[todo, None] * step[move[todo]]
            f_new = ev.evaluate(sel[rows[todo]], ev.sigma_of(cand), 0)["f"]
            ok = f_new <= base_f[todo] + 1e-12 * np.abs(base_f[todo])
            theta[rows[todo[ok]]] = cand[ok]
            accepted[todo[ok]] = True
            scale[todo[~ok]] /= 2.0
        # no decrease along a tiny Newton step: rounding, the optimum is reached
        stuck = rows[~accepted]
        converged[stuck] = dec[move[~accepted]] < 1e-10
        active[stuck] = False
        keep = np.flatnonzero(active)
        if keep.size == 0:
            break
        new = ev.evaluate(sel[keep], ev.sigma_of(theta[keep]), 2)
        for key, val in new.items():
            cur[key][keep] = val
    return theta, cur, converged, iterations


def fit_us_batch(
    st: PatternStats, *, tol: float = 1e-18, max_iter: int = 60, chunk: int = 250
) -> BatchFit:
    """REML fits of ``y ~ arm * visit`` with unstructured Σ for every trial of ``st``.

    Parameters
    ----------
    st
        Pattern statistics of the trials (:func:`pattern_stats`).
    tol
        Convergence criterion on the Newton decrement g'H⁻¹g of −2 log-likelihood (the final
        point is the one after the last full Newton step, so it is far tighter than ``tol``
        suggests for β̂ and its covariance).
    max_iter
        Maximum Newton / scoring iterations per trial.
    chunk
        Trials evaluated together (memory: about 40 kB per trial for 4 visits).

    Returns
    -------
    BatchFit

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> y = rng.standard_normal((3, 20, 3))
    >>> seen = np.ones_like(y, dtype=bool)
    >>> fit = fit_us_batch(pattern_stats(y, seen, np.repeat([0, 1], 10), 2))
    >>> fit.converged.tolist()
    [True, True, True]
    """
    t_count, m, k_arms = st.n_trials, st.n_visits, st.n_arms
    k = m * (m + 1) // 2
    ev = _Evaluator(st)
    sigma_out = np.full((t_count, m, m), np.nan)
    beta_out = np.full((t_count, k_arms, m), np.nan)
    phi_out = np.full((t_count, k_arms, m, m), np.nan)
    hess_out = np.full((t_count, k, k), np.nan)
    mfull_out = np.full((t_count, k_arms, m, m, m, m), np.nan)
    converged = np.zeros(t_count, dtype=bool)
    iterations = np.zeros(t_count, dtype=np.intp)
    n_obs = (st.cell_counts).sum(axis=(1, 2))
    usable = (st.cell_counts > 0).all(axis=(1, 2)) & (n_obs - k_arms * m >= k)
    for start in range(0, t_count, chunk):
        sel = np.flatnonzero(usable[start : start + chunk]) + start
        if sel.size == 0:
            continue
        theta, cur, conv, its = _newton(ev, sel, tol, max_iter)
        converged[sel] = conv
        iterations[sel] = its
        sigma_out[sel] = ev.sigma_of(theta)
        beta_out[sel] = cur["beta"]
        phi_out[sel] = cur["phi"]
        hess_out[sel] = cur["hess"]
        mfull_out[sel] = cur["m_full"]
    pd_hess = np.zeros(t_count, dtype=bool)
    for t in np.flatnonzero(converged):
        try:
            np.linalg.cholesky(hess_out[t])
            pd_hess[t] = True
        except np.linalg.LinAlgError:
            pass
    return BatchFit(
        sigma=sigma_out,
        beta=beta_out,
        phi_cov=phi_out,
        hess=hess_out,
        m_full=mfull_out,
        converged=converged & pd_hess,
        iterations=iterations,
        usable=usable,
    )


@dataclass(frozen=True)
class BatchContrasts:
    """Arm k − arm 0 at one visit for every trial: arrays (T, K − 1)."""

    estimate: Array
    se: Array
    df: Array
    p: Array


def arm_differences(fit: BatchFit, visit: int) -> BatchContrasts:
    """LS-mean difference of each arm from the first at ``visit``, Satterthwaite df.

    The difference of cell means equals the treatment-coded ``arm`` main effect plus its
    interaction with the visit in ``y ~ arm * visit``; its variance is Φ_k[v, v] + Φ_0[v, v]
    and ν = 2 (l'Φl)² / (g'Wg) with g_h = l'Φ M_h Φ l and W = 2 H⁻¹ (θ scale).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> y = rng.standard_normal((2, 30, 3))
    >>> fit = fit_us_batch(pattern_stats(y, np.ones_like(y, dtype=bool),
    ...                                  np.repeat([0, 1], 15), 2))
    >>> arm_differences(fit, -1).df.shape
    (2, 1)
    """
    t_count, k_arms, m = fit.beta.shape
    v = visit % m
    lmat = _vech_map(m)
    est = fit.beta[:, 1:, v] - fit.beta[:, :1, v]
    var0 = fit.phi_cov[:, 0, v, v]
    var = fit.phi_cov[:, 1:, v, v] + var0[:, None]
    se = np.sqrt(np.maximum(var, 0.0))
    # g_ab per arm: (Φ M_ab Φ)[v, v] = Σ_ij Φ[v, i] M_ab[i, j] Φ[j, v]
    col = fit.phi_cov[:, :, :, v]  # (T, K, M) = Φ_k e_v
    g_arm = np.einsum("tki,tkabij,tkj->tkab", col, fit.m_full, col).reshape(t_count, k_arms, -1)
    g = (g_arm[:, 1:] + g_arm[:, :1]) @ lmat.T  # (T, K − 1, k)
    df = np.full(est.shape, np.nan)
    ok = np.isfinite(fit.hess).all(axis=(1, 2))
    if ok.any():
        w = 2.0 * np.linalg.inv(fit.hess[ok])
        denom = np.einsum("tch,thj,tcj->tc", g[ok], w, g[ok])
        with np.errstate(divide="ignore", invalid="ignore"):
            df[ok] = np.where(denom > 0, 2.0 * var[ok] ** 2 / denom, math.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = est / se
    p = 2.0 * stats.t.sf(np.abs(tstat), df)
    return BatchContrasts(estimate=est, se=se, df=df, p=p)
