"""The (restricted) log-likelihood of an MMRM, its gradient and Hessian, and the optimiser.

Subjects are grouped by covariance group and missing-visit pattern
(:mod:`remit.stats.mmrm.patterns`).  For each pattern the fit keeps sufficient statistics —
Σ_i X_i⊗X_i, Σ_i X_i⊗y_i, Σ_i y_i y_i' over its subjects — so one evaluation of the likelihood
costs O(patterns × m² p²), independent of the number of subjects and never builds an
n_obs × n_obs matrix.  Patterns are padded to all visits and batched (one Cholesky call for all
of them).

Notation: V is the block-diagonal covariance of all observations, P = V⁻¹ − V⁻¹XΦX'V⁻¹ with
Φ = (X'V⁻¹X)⁻¹, V_h = ∂V/∂φ_h.  With ``f = −2ℓ``:

* f = Σ log|Σ_i| + log|X'V⁻¹X| (REML only) + y'Py + const,
* ∂f/∂φ_h = tr(P V_h) − y'P V_h P y  (with V⁻¹ in place of P in the trace for ML),
* ∂²f/∂φ_h∂φ_j = tr(P V_hj) − y'P V_hj P y − tr(P V_h P V_j) + 2 y'P V_h P V_j P y.

Weights (SAS ``WEIGHT``: Σ_i = W_i^{-1/2} Σ W_i^{-1/2}) are applied by scaling rows of y and X
by √w, which leaves every formula above unchanged apart from the constant −Σ log w.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import linalg, optimize

from remit.errors import ConvergenceWarning, StatsError
from remit.stats.mmrm.covariance import (
    Derivatives,
    Structure,
    sp_exp_batch,
    sp_exp_natural_second_batch,
)
from remit.stats.mmrm.design import Design
from remit.stats.mmrm.patterns import PatternBlock, build_blocks

Array = NDArray[np.float64]

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class Evaluation:
    """The objective and what was computed on the way, at one ``phi``."""

    phi: Array
    f: float
    beta: Array = field(default_factory=lambda: np.zeros(0))
    phi_cov: Array = field(default_factory=lambda: np.zeros((0, 0)))  # Φ = (X'V⁻¹X)⁻¹
    grad: Array | None = None
    hess: Array | None = None
    M: Array | None = None  # (k, p, p): X'V⁻¹V_hV⁻¹X
    derivs: list[Derivatives] = field(default_factory=list)
    chol_ok: bool = True


class Likelihood:
    """−2 × (restricted) log-likelihood of an MMRM as a function of the working parameters.

    Examples
    --------
    >>> from remit.stats.mmrm.covariance import make_structure
    >>> from remit.stats.mmrm.design import build_design
    >>> from remit.stats.mmrm.examples import small_example
    >>> df = small_example()
    >>> lik = Likelihood(build_design(df, "y ~ t", subject="id", visit="t"),
    ...                  [make_structure("us", 2)])
    >>> lik.k, lik.p
    (3, 2)
    >>> ev = lik.evaluate(lik.start(), order=2)
    >>> ev.grad.shape, ev.hess.shape
    ((3,), (3, 3))
    """

    def __init__(self, design: Design, structures: list[Structure], reml: bool = True):
        self.design = design
        self.structures = structures
        self.reml = reml
        self.n_groups = len(structures)
        self.k_group = structures[0].n_params
        self.k = self.k_group * self.n_groups
        self.n_visits = len(design.visits)
        self.p = design.X.shape[1]
        self.blocks = build_blocks(design)
        n = design.n_obs
        self.const = (n - self.p if reml else n) * LOG_2PI
        if design.weights is not None:
            self.const -= float(np.sum(np.log(design.weights)))
        self.n_patterns = sum(b.n.size for b in self.blocks)
        # every pattern laid out over all visits in order (what build_blocks makes): Σ of a
        # pattern is then indexed directly rather than by fancy indexing / np.add.at
        self.plain_idx = all(
            bool((b.idx == np.arange(b.m)[None, :]).all()) and b.m == self.n_visits
            for b in self.blocks
        )
        self.block_groups = {id(b): np.unique(b.group).tolist() for b in self.blocks}
        self.batched = any(b.dist is not None for b in self.blocks)

    # ------------------------------------------------------------------ pieces
    def pattern_derivatives(
        self, block: PatternBlock, phi: Array, order: int
    ) -> Derivatives | None:
        """Σ per pattern and its derivatives when subjects have their own visit times."""
        if block.dist is None:
            return None
        phi_pat = phi.reshape(self.n_groups, self.k_group)[block.group]
        return sp_exp_batch(phi_pat, block.dist, order)

    def sigmas(self, phi: Array, order: int) -> list[Derivatives]:
        kg = self.k_group
        return [
            s.derivatives(phi[g * kg : (g + 1) * kg], order) for g, s in enumerate(self.structures)
        ]

    def evaluate(self, phi: Array, order: int = 1) -> Evaluation:
        """Objective ``f = −2ℓ`` and, for ``order`` ≥ 1 / 2, gradient / Hessian and M."""
        p, k, kg, M = self.p, self.k, self.k_group, self.n_visits
        # with subject-specific times Σ comes per pattern; the visit-level Σ is not used
        derivs = self.sigmas(phi, 0 if self.batched else order)
        sig_all = np.stack([d.sigma for d in derivs])  # (ng, M, M)
        xtax = np.zeros(p * p)
        xtay = np.zeros(p)
        yay = 0.0
        logdet = 0.0
        inverses: list[Array] = []
        batch: list[Derivatives | None] = []  # per-pattern Σ (subject-specific times)
        for b in self.blocks:
            bd = self.pattern_derivatives(b, phi, order)
            batch.append(bd)
            sig = b.sigma(sig_all) if bd is None else np.where(b.mask > 0, bd.sigma, np.eye(b.m))
            try:
                low = np.linalg.cholesky(sig)
            except np.linalg.LinAlgError:
                return Evaluation(phi=phi, f=math.inf, chol_ok=False)
            diag = np.diagonal(low, axis1=1, axis2=2)
            if np.any(diag <= 0) or not np.all(np.isfinite(diag)):
                return Evaluation(phi=phi, f=math.inf, chol_ok=False)
            logdet += float(np.sum(b.n * 2.0 * np.sum(np.log(diag), axis=1)))
            eye = np.broadcast_to(np.eye(b.m), sig.shape)
            linv = np.linalg.solve(low, eye)
            a = np.transpose(linv, (0, 2, 1)) @ linv  # Σ_g⁻¹
            inverses.append(a)
            af = b.gather(a)
            xtax += af @ b.C
            xtay += af @ b.D
            yay += float(af @ b.E)
        xtax_m = xtax.reshape(p, p)
        try:
            cf = linalg.cho_factor(xtax_m, lower=True)
        except linalg.LinAlgError:
            return Evaluation(phi=phi, f=math.inf, chol_ok=False)
        beta = linalg.cho_solve(cf, xtay)
        phi_cov = linalg.cho_solve(cf, np.eye(p))
        quad = yay - float(beta @ xtay)
        f = logdet + quad + self.const
        if self.reml:
            f += 2.0 * float(np.sum(np.log(np.diag(cf[0]))))
        ev = Evaluation(phi=phi, f=f, beta=beta, phi_cov=phi_cov, derivs=derivs)
        if order < 1:
            return ev

        # Γ per group: gradient_h = tr(Γ V_h)
        gamma = np.zeros((self.n_groups, M, M))
        vec_phi = phi_cov.ravel()
        vec_bb = np.outer(beta, beta).ravel()
        resid: list[Array] = []
        fitted: list[Array] = []
        vals: list[Array] = []
        grad_direct = np.zeros((self.n_groups, kg))
        for b, a, bd in zip(self.blocks, inverses, batch, strict=True):
            db = b.D @ beta  # Σ μ_a y_b
            rr_m = b.scatter(b.E - db - db[b.obs_t] + b.C @ vec_bb)  # Σ r r'
            resid.append(rr_m)
            inner = rr_m
            if self.reml:
                gg = b.scatter(b.C @ vec_phi)  # Σ X Φ X'
                fitted.append(gg)
                inner = rr_m + gg
            val = (b.n[:, None, None] * a - a @ inner @ a) * b.mask
            vals.append(val)
            if bd is None and self.plain_idx:
                # patterns span all visits (the padded layout): sum per covariance group
                for g in self.block_groups[id(b)]:
                    sel = b.group == g
                    gamma[g] += val[sel].sum(axis=0) if not sel.all() else val.sum(axis=0)
            elif bd is None:
                idx3 = (b.group[:, None, None], b.idx[:, :, None], b.idx[:, None, :])
                np.add.at(gamma, idx3, val)
            else:
                np.add.at(grad_direct, b.group, np.einsum("gab,gkab->gk", val, bd.d1))
        grad = grad_direct.reshape(-1).copy()
        if not self.batched:
            for g, d in enumerate(derivs):
                grad[g * kg : (g + 1) * kg] += np.einsum("kab,ab->k", d.d1, gamma[g])
        ev.grad = grad
        if order < 2:
            return ev

        hess = np.zeros((k, k))
        m_mat = np.zeros((k, p * p))
        n_vec = np.zeros((k, p))
        for g, d in enumerate(derivs):
            sl = slice(g * kg, (g + 1) * kg)
            if d.d2 is not None:
                hess[sl, sl] += np.einsum("hjab,ab->hj", d.d2, gamma[g])
        d1_all = np.stack([d.d1 for d in derivs])  # (ng, kg, M, M)
        kr = np.arange(kg)
        for bi, (b, a) in enumerate(zip(self.blocks, inverses, strict=True)):
            m = b.m
            bd = batch[bi]
            if bd is None and self.plain_idx:
                ds = d1_all[b.group]
            elif bd is None:
                ds = d1_all[
                    b.group[:, None, None, None],
                    kr[None, :, None, None],
                    b.idx[:, None, :, None],
                    b.idx[:, None, None, :],
                ]
            else:
                ds = bd.d1
                if bd.d2 is not None:
                    per = np.einsum("gab,ghjab->ghj", vals[bi], bd.d2)
                    for g in np.unique(b.group):
                        sl = slice(g * kg, (g + 1) * kg)
                        hess[sl, sl] += per[b.group == g].sum(axis=0)
            ds = ds * b.mask[:, None]  # (G, kg, m, m)
            bmat = a[:, None] @ ds  # A V_h
            z = b.n[:, None, None] * np.eye(m) - 2.0 * a @ resid[bi]
            if self.reml:
                z = z - 2.0 * a @ fitted[bi]
            bz = bmat @ z[:, None]
            t2 = np.einsum("ghab,gjba->ghj", bmat, bz)  # (G, kg, kg)
            # A V_h A on the observed pairs, one row per parameter: (kg, nnz)
            ava = np.transpose(bmat @ a[:, None], (1, 0, 2, 3)).reshape(kg, -1)[:, b.obs]
            fmat = b.D - (b.C.reshape(-1, p, p) @ beta)  # Σ X_a r_b
            for g in np.unique(b.group):
                sel = b.group == g
                rows = b.row_group == g
                sl = slice(g * kg, (g + 1) * kg)
                hess[sl, sl] -= t2[sel].sum(axis=0)
                av = ava[:, rows]
                m_mat[sl] += av @ b.C[rows]
                n_vec[sl] += av @ fmat[rows]
        m3 = m_mat.reshape(k, p, p)
        hess -= 2.0 * n_vec @ phi_cov @ n_vec.T
        if self.reml:
            pm = np.einsum("pq,kqr->kpr", phi_cov, m3)
            hess -= np.einsum("hpq,jqp->hj", pm, pm)
        ev.hess = (hess + hess.T) / 2.0
        ev.M = m3
        return ev

    # ------------------------------------------------------------------ start
    def start(self) -> Array:
        """Working parameters from the empirical covariance of OLS residuals."""
        d = self.design
        beta, *_ = np.linalg.lstsq(d.X, d.y, rcond=None)
        r = d.y - d.X @ beta
        if d.weights is not None:
            r = r * np.sqrt(d.weights)
        phis = []
        M = self.n_visits
        for g, s in enumerate(self.structures):
            sel = d.group_codes == g
            wide = np.full((d.n_subjects, M), np.nan)
            wide[d.subject_codes[sel], d.visit_codes[sel]] = r[sel]
            wide = wide[~np.all(np.isnan(wide), axis=1)]
            cov = _pairwise_cov(wide)
            start = s.start(cov)
            dist = self.blocks[0].dist
            if dist is not None:
                # subject-specific times: ρ per unit of the typical within-subject distance
                off = (self.blocks[0].mask > 0) & (dist > 0)
                typical = float(np.mean(dist[off])) if off.any() else 1.0
                sd = np.sqrt(np.diag(cov))
                corr = cov / np.outer(sd, sd)
                mean_corr = float(np.clip(np.mean(corr[~np.eye(M, dtype=bool)]), 0.05, 0.95))
                rho = mean_corr ** (1.0 / typical)
                start[-1] = math.log(rho / (1.0 - rho))
            phis.append(start)
        return np.concatenate(phis)


def _pairwise_cov(wide: Array) -> Array:
    m = wide.shape[1]
    cov = np.zeros((m, m))
    centred = wide - np.nanmean(wide, axis=0)
    total_var = float(np.nanvar(wide)) if np.isfinite(np.nanvar(wide)) else 1.0
    for a in range(m):
        for b in range(a, m):
            ok = ~np.isnan(centred[:, a]) & ~np.isnan(centred[:, b])
            if ok.sum() >= 2:
                v = float(np.sum(centred[ok, a] * centred[ok, b]) / (ok.sum() - 1))
            else:
                v = total_var if a == b else 0.0
            cov[a, b] = cov[b, a] = v
    for a in range(m):
        if not np.isfinite(cov[a, a]) or cov[a, a] <= 0:
            cov[a, a] = max(total_var, 1e-6)
    sd = np.sqrt(np.diag(cov))
    corr = np.clip(cov / np.outer(sd, sd), -0.95, 0.95)
    np.fill_diagonal(corr, 1.0)
    return np.asarray(corr * np.outer(sd, sd), dtype=float)


@dataclass(frozen=True)
class Optimum:
    """Outcome of the optimiser."""

    evaluation: Evaluation
    converged: bool
    iterations: int
    message: str


def optimise(
    lik: Likelihood,
    start: Array | None = None,
    *,
    tol: float = 1e-8,
    max_iter: int = 200,
) -> Optimum:
    """Minimise ``f = −2ℓ`` by trust-region Newton steps with the analytic Hessian.

    Falls back to BFGS from the last point if the trust-region method fails; the result
    says whether the Newton decrement g'H⁻¹g fell below ``tol``.

    Examples
    --------
    >>> from remit.stats.mmrm.examples import small_likelihood
    >>> lik = small_likelihood("cs")
    >>> optimise(lik).converged
    True
    """
    phi0 = lik.start() if start is None else np.asarray(start, dtype=float)
    if phi0.size != lik.k:
        raise StatsError(
            f"start has {phi0.size} values, the covariance model has {lik.k} parameters",
            expected=f"{lik.k} working parameters",
        )
    cache: dict[bytes, Evaluation] = {}

    def get(phi: Array, order: int) -> Evaluation:
        key = phi.tobytes()
        ev = cache.get(key)
        if (
            ev is None
            or (order >= 1 and ev.grad is None and ev.chol_ok)
            or (order >= 2 and ev.hess is None and ev.chol_ok)
        ):
            ev = lik.evaluate(phi.copy(), order)
            if len(cache) > 8:
                cache.clear()
            cache[key] = ev
        return ev

    def fun(phi: Array) -> float:
        return get(phi, 0).f

    def jac(phi: Array) -> Array:
        ev = get(phi, 1)
        return ev.grad if ev.grad is not None else np.full(phi.size, np.nan)

    def hess(phi: Array) -> Array:
        ev = get(phi, 2)
        return ev.hess if ev.hess is not None else np.full((phi.size, phi.size), np.nan)

    first = get(phi0, 0)
    if not math.isfinite(first.f):
        raise StatsError(
            "the starting covariance is not positive definite",
            expected="starting values giving a positive-definite Σ",
            hint="pass other start values or a simpler covariance structure",
        )
    message = ""
    # Plain Newton steps while the Hessian is positive definite and the full step lowers f
    # (the usual case: a few quadratically converging steps, without the trust-region
    # machinery's per-iteration cost); anything else goes to the trust region from there.
    x, iterations, newton_done = _newton_steps(get, phi0, max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if newton_done:
            message = "Newton steps: gradient below 1e-07"
        else:
            try:
                res = optimize.minimize(
                    fun,
                    x,
                    jac=jac,
                    hess=hess,
                    method="trust-exact",
                    options={"gtol": 1e-7, "maxiter": max_iter},
                )
                x, message = res.x, str(res.message)
                iterations += int(res.nit)
            except (np.linalg.LinAlgError, ValueError) as exc:  # pragma: no cover - defensive
                message = f"trust-region failed: {exc}"
        ev = get(x, 2)
        if not _small(ev, tol):
            res2 = optimize.minimize(
                fun, x, jac=jac, method="BFGS", options={"gtol": 1e-7, "maxiter": max_iter}
            )
            iterations += int(res2.nit)
            if res2.fun <= ev.f:
                x = res2.x
            message = f"{message}; then BFGS: {res2.message}"
            ev = get(x, 2)
            # finish with Newton steps if close
            for _ in range(5):
                if _small(ev, tol) or ev.hess is None or ev.grad is None:
                    break
                try:
                    step = np.linalg.solve(ev.hess, ev.grad)
                except np.linalg.LinAlgError:
                    break
                trial = get(x - step, 2)
                if not trial.f <= ev.f + 1e-9:
                    break
                x, ev = x - step, trial
                iterations += 1
    converged = _small(ev, tol) and ev.hess is not None and _positive_definite(ev.hess)
    if not converged:
        detail = (
            "gradient not small"
            if not _small(ev, tol)
            else "Hessian of -2 log-likelihood not positive definite"
        )
        message = f"did not converge ({detail}): {message}"
        warnings.warn(
            f"MMRM fit did not converge: {detail}; results are unreliable "
            "(try another covariance structure or starting values)",
            ConvergenceWarning,
            stacklevel=3,
        )
    else:
        message = f"converged: Newton decrement {_decrement(ev):.1e} < {tol:g}"
    return Optimum(evaluation=ev, converged=converged, iterations=iterations, message=message)


def _newton_steps(
    get: Callable[[Array, int], Evaluation], phi0: Array, max_iter: int
) -> tuple[Array, int, bool]:
    """Full Newton steps until the gradient norm is below 1e-7 (scipy's trust-exact ``gtol``).

    Returns the last point, the steps taken and whether the gradient criterion was met; it
    stops early (False) at a Hessian that is not positive definite or a step that does not
    lower f, leaving that point to the trust-region method.
    """
    x = phi0
    for it in range(max_iter):
        ev = get(x, 2)
        if ev.grad is None or ev.hess is None or not math.isfinite(ev.f):
            return x, it, False
        if float(np.linalg.norm(ev.grad)) < 1e-7:
            return x, it, True
        try:
            low = np.linalg.cholesky(ev.hess)
        except np.linalg.LinAlgError:
            return x, it, False
        step = linalg.cho_solve((low, True), ev.grad)
        trial = x - step
        # order 2 at once: the step is nearly always taken and then needs it
        if not get(trial, 2).f <= ev.f:
            return x, it, False
        x = trial
    return x, max_iter, False


def _decrement(ev: Evaluation) -> float:
    if ev.grad is None or ev.hess is None:
        return math.inf
    try:
        return float(ev.grad @ np.linalg.solve(ev.hess, ev.grad))
    except np.linalg.LinAlgError:
        return math.inf


def _small(ev: Evaluation, tol: float) -> bool:
    """Newton decrement g'H⁻¹g (twice the predicted further decrease of f) below ``tol``."""
    if ev.grad is None or not math.isfinite(ev.f):
        return False
    if ev.hess is not None:
        try:
            dec = float(ev.grad @ np.linalg.solve(ev.hess, ev.grad))
        except np.linalg.LinAlgError:
            dec = math.inf
        if math.isfinite(dec) and dec >= 0:
            return dec < tol
    return bool(np.max(np.abs(ev.grad)) < tol)


def _positive_definite(h: Array) -> bool:
    try:
        np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        return False
    return True


def kr_sums(
    lik: Likelihood,
    ev: Evaluation,
    weights: Array,
    second_order: bool,
    *,
    parameterisation: str = "natural",
) -> Array:
    """Σ_hj W_hj Q_hj − ¼ Σ_hj W_hj R_hj (p × p) of Kenward & Roger (1997).

    ``weights`` is W, the covariance of the working parameters (k × k).  The R term uses the
    natural parameters of each structure (zero for structures linear in them), as SAS does; it
    is left out when ``second_order`` is false ("kenward-roger-linear").  With
    ``parameterisation="working"`` R is taken on the optimiser's scale instead (log-Cholesky
    for ``us``, as R's mmrm does) — only to show how KR depends on that choice.

    Examples
    --------
    >>> from remit.stats.mmrm.examples import small_likelihood
    >>> lik = small_likelihood("us")
    >>> ev = optimise(lik).evaluation
    >>> kr_sums(lik, ev, 2.0 * np.linalg.inv(ev.hess), second_order=False).shape
    (2, 2)
    """
    p, kg = lik.p, lik.k_group
    kr = np.arange(kg)
    phi = ev.phi
    derivs = lik.sigmas(phi, 0 if lik.batched else (2 if second_order else 1))
    d1_all = np.stack([d.d1 for d in derivs])
    r_mats = np.zeros((lik.n_groups, lik.n_visits, lik.n_visits))
    if second_order and not lik.batched:
        for g, s in enumerate(lik.structures):
            sl = slice(g * kg, (g + 1) * kg)
            if parameterisation == "working":
                d2 = derivs[g].d2
                if d2 is not None:
                    r_mats[g] = np.einsum("kl,klab->ab", weights[sl, sl], d2)
            else:
                r_mats[g] = s.natural_second(phi[sl], weights[sl, sl], derivs[g])
    sig_all = np.stack([d.sigma for d in derivs])
    total = np.zeros(p * p)
    for b in lik.blocks:
        wblocks = np.stack([weights[g * kg : (g + 1) * kg, g * kg : (g + 1) * kg] for g in b.group])
        bd = lik.pattern_derivatives(b, phi, 2 if second_order else 1)
        if bd is None:
            a = np.linalg.inv(b.sigma(sig_all))
            ds = d1_all[
                b.group[:, None, None, None],
                kr[None, :, None, None],
                b.idx[:, None, :, None],
                b.idx[:, None, None, :],
            ]
            rs = r_mats[b.group[:, None, None], b.idx[:, :, None], b.idx[:, None, :]]
        else:
            a = np.linalg.inv(np.where(b.mask > 0, bd.sigma, np.eye(b.m)))
            ds = bd.d1
            rs = np.zeros_like(a)
            if second_order and parameterisation == "working" and bd.d2 is not None:
                rs = np.einsum("gkl,gklab->gab", wblocks, bd.d2)
            elif second_order:
                phi_pat = phi.reshape(lik.n_groups, kg)[b.group]
                rs = sp_exp_natural_second_batch(phi_pat, wblocks, bd)
        ds = ds * b.mask[:, None]
        bmat = a[:, None] @ ds  # (G, kg, m, m)
        bw = np.einsum("ghj,gjbc->ghbc", wblocks, bmat)
        tq = np.einsum("ghab,ghbc->gac", bmat, bw) @ a
        if second_order:
            tq = tq - 0.25 * (a @ (rs * b.mask) @ a)
        total += b.gather(tq) @ b.C
    out = total.reshape(p, p)
    return (out + out.T) / 2.0
