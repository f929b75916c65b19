"""Residual covariance structures of an MMRM, with analytic first and second derivatives.

Each structure maps an unconstrained *working* parameter vector ``phi`` (what the optimiser
moves) to the visit-by-visit covariance matrix Σ, and knows the *natural* parameters θ that SAS
PROC MIXED reports (variances, covariances, correlations).  Two facts matter downstream:

* the likelihood, its gradient and Hessian are computed from ``dΣ/dφ`` and ``d²Σ/dφ²``;
* the Kenward-Roger second-order term ``R`` is defined on the natural parameters.  Structures
  that are linear in θ (``us``, ``cs``, ``toep``) have ``R = 0`` — which is why SAS's KR and its
  "linear" variant agree for them.  For the others the structure converts the working-scale
  second derivatives to natural-scale ones (see :meth:`Structure.natural_second`).

Working parameterisations: log-Cholesky for ``us``; log standard deviations and
``tanh``-transformed correlations for the rest (a linear ``cs``/``toep`` is *estimated* on that
scale too, but reported and differentiated for KR in its linear natural parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from remit.errors import StatsError
from remit.stats.choices import STRUCTURES as STRUCTURES

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Derivatives:
    """Σ and its derivatives with respect to the working parameters ``phi``."""

    sigma: Array  # (m, m)
    d1: Array  # (k, m, m)
    d2: Array | None  # (k, k, m, m) or None when not asked for


class Structure:
    """Base class: one covariance structure over ``m`` visits.

    Subclasses implement :meth:`derivatives`, :meth:`natural`, :meth:`start` and, when the
    structure is not linear in its natural parameters, :meth:`natural_second`.
    """

    name: str = ""
    linear: bool = False

    def __init__(self, m: int):
        self.m = m

    @property
    def n_params(self) -> int:
        raise NotImplementedError

    def param_names(self) -> list[str]:
        raise NotImplementedError

    def derivatives(self, phi: Array, order: int = 1) -> Derivatives:
        raise NotImplementedError

    def natural(self, phi: Array) -> Array:
        """Natural (SAS) parameters θ at ``phi``."""
        raise NotImplementedError

    def start(self, s: Array) -> Array:
        """Working parameters close to the empirical covariance ``s`` (m × m)."""
        raise NotImplementedError

    def natural_second(self, phi: Array, weights: Array, deriv: Derivatives) -> Array:
        """Σ_hj W^θ_hj ∂²Σ/∂θ_h∂θ_j with W^θ = J W J', J = ∂θ/∂φ, given W = ``weights``.

        Zero for structures linear in θ.
        """
        return np.zeros((self.m, self.m))


# --------------------------------------------------------------------------------------------
# Unstructured: log-Cholesky working parameters, natural = the covariances themselves.
# --------------------------------------------------------------------------------------------


class Unstructured(Structure):
    """Unstructured Σ, working parameters: rows of the lower Cholesky factor, log diagonal."""

    name = "us"
    linear = True

    def __init__(self, m: int):
        super().__init__(m)
        self._rows, self._cols = _lower_indices(m)

    @property
    def n_params(self) -> int:
        return self.m * (self.m + 1) // 2

    def param_names(self) -> list[str]:
        return [f"UN({i + 1},{j + 1})" for i, j in zip(self._rows, self._cols, strict=True)]

    def _cholesky(self, phi: Array) -> Array:
        low = np.zeros((self.m, self.m))
        low[self._rows, self._cols] = phi
        diag = np.arange(self.m)
        low[diag, diag] = np.exp(low[diag, diag])
        return low

    def derivatives(self, phi: Array, order: int = 1) -> Derivatives:
        m, k = self.m, self.n_params
        low = self._cholesky(phi)
        sigma = low @ low.T
        dl = np.zeros((k, m, m))
        idx = np.arange(k)
        dl[idx, self._rows, self._cols] = 1.0
        is_diag = self._rows == self._cols
        dl[idx[is_diag], self._rows[is_diag], self._cols[is_diag]] = low[
            self._rows[is_diag], self._cols[is_diag]
        ]
        half = dl @ low.T  # (k, m, m)
        d1 = half + np.transpose(half, (0, 2, 1))
        d2 = None
        if order >= 2:
            cross = np.einsum("kab,lcb->klac", dl, dl)
            d2 = cross + np.transpose(cross, (1, 0, 2, 3))
            d2[idx[is_diag], idx[is_diag]] += d1[is_diag]
        return Derivatives(sigma, d1, d2)

    def natural(self, phi: Array) -> Array:
        low = self._cholesky(phi)
        sigma = low @ low.T
        return np.asarray(sigma[self._rows, self._cols], dtype=float)

    def start(self, s: Array) -> Array:
        low = np.linalg.cholesky(_make_pd(s))
        phi = low[self._rows, self._cols].copy()
        is_diag = self._rows == self._cols
        phi[is_diag] = np.log(phi[is_diag])
        return np.asarray(phi, dtype=float)


def _lower_indices(m: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    rows, cols = [], []
    for i in range(m):
        for j in range(i + 1):
            rows.append(i)
            cols.append(j)
    return np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)


def _make_pd(s: Array) -> Array:
    """Nearest positive-definite matrix with eigenvalues floored relative to the largest."""
    s = (s + s.T) / 2.0
    values, vectors = np.linalg.eigh(s)
    floor = max(float(values.max()), 1e-8) * 1e-3
    values = np.maximum(values, floor)
    return np.asarray((vectors * values) @ vectors.T, dtype=float)


# --------------------------------------------------------------------------------------------
# Σ = D C(ρ) D: log-sd working parameters η (one or one per visit) and tanh(z) correlations.
# --------------------------------------------------------------------------------------------


class _Correlation:
    """Correlation matrix C(ρ) with derivatives with respect to ρ (not the working z)."""

    def __init__(self, m: int):
        self.m = m

    n: int = 0

    def names(self) -> list[str]:
        raise NotImplementedError

    def value(self, rho: Array) -> tuple[Array, Array, Array]:
        """C, dC/dρ (n, m, m), d²C/dρ² (n, n, m, m)."""
        raise NotImplementedError

    def start(self, corr: Array) -> Array:
        raise NotImplementedError

    def link(self, z: Array) -> tuple[Array, Array, Array]:
        """ρ(z) with dρ/dz and d²ρ/dz² (tanh: correlations in (−1, 1))."""
        rho = np.tanh(z)
        d1 = 1.0 - rho**2
        return rho, d1, -2.0 * rho * d1

    def unlink(self, rho: Array) -> Array:
        return np.asarray(np.arctanh(rho), dtype=float)

    def natural(self, rho: Array) -> tuple[Array, Array, Array]:
        """Natural parameter θ(ρ) with dθ/dρ and d²θ/dρ² (identity here)."""
        return rho, np.ones_like(rho), np.zeros_like(rho)


def _lags(m: int) -> NDArray[np.intp]:
    a = np.arange(m, dtype=np.intp)
    return np.asarray(np.abs(a[:, None] - a[None, :]), dtype=np.intp)


class _CompoundSymmetry(_Correlation):
    def __init__(self, m: int):
        super().__init__(m)
        self.n = 1

    def names(self) -> list[str]:
        return ["rho"]

    def value(self, rho: Array) -> tuple[Array, Array, Array]:
        m = self.m
        off = 1.0 - np.eye(m)
        c = np.eye(m) + rho[0] * off
        return c, off[None], np.zeros((1, 1, m, m))

    def start(self, corr: Array) -> Array:
        m = self.m
        if m < 2:
            return np.zeros(1)
        return np.array([float(np.mean(corr[~np.eye(m, dtype=bool)]))])


class _AutoRegressive(_Correlation):
    def __init__(self, m: int):
        super().__init__(m)
        self.n = 1
        self._lag = _lags(m).astype(float)

    def names(self) -> list[str]:
        return ["rho"]

    def value(self, rho: Array) -> tuple[Array, Array, Array]:
        r, d = rho[0], self._lag
        c = r**d
        d1 = np.where(d >= 1, d * r ** np.maximum(d - 1, 0), 0.0)
        d2 = np.where(d >= 2, d * (d - 1) * r ** np.maximum(d - 2, 0), 0.0)
        return c, d1[None], d2[None, None]

    def start(self, corr: Array) -> Array:
        if self.m < 2:
            return np.zeros(1)
        return np.array([float(np.mean(np.diag(corr, 1)))])


class _Toeplitz(_Correlation):
    def __init__(self, m: int):
        super().__init__(m)
        self.n = m - 1
        self._lag = _lags(m)

    def names(self) -> list[str]:
        return [f"rho{d}" for d in range(1, self.m)]

    def value(self, rho: Array) -> tuple[Array, Array, Array]:
        m = self.m
        full = np.concatenate([[1.0], rho])
        c = full[self._lag]
        d1 = np.zeros((self.n, m, m))
        for d in range(1, m):
            d1[d - 1][self._lag == d] = 1.0
        return c, d1, np.zeros((self.n, self.n, m, m))

    def start(self, corr: Array) -> Array:
        return np.array([float(np.mean(np.diag(corr, d))) for d in range(1, self.m)])


class _Antedependence(_Correlation):
    def __init__(self, m: int):
        super().__init__(m)
        self.n = m - 1

    def names(self) -> list[str]:
        return [f"rho{j + 1}" for j in range(self.m - 1)]

    def value(self, rho: Array) -> tuple[Array, Array, Array]:
        m, n = self.m, self.n
        c = np.eye(m)
        d1 = np.zeros((n, m, m))
        d2 = np.zeros((n, n, m, m))
        for a in range(m):
            for b in range(a + 1, m):
                factors = rho[a:b]
                c[a, b] = c[b, a] = float(np.prod(factors))
                for j in range(a, b):
                    others = np.delete(factors, j - a)
                    d1[j, a, b] = d1[j, b, a] = float(np.prod(others))
                    for l_ in range(j + 1, b):
                        rest = np.delete(factors, [j - a, l_ - a])
                        v = float(np.prod(rest))
                        d2[j, l_, a, b] = d2[j, l_, b, a] = v
                        d2[l_, j, a, b] = d2[l_, j, b, a] = v
        return c, d1, d2

    def start(self, corr: Array) -> Array:
        return np.array([float(corr[j, j + 1]) for j in range(self.m - 1)])


class _SpatialExponential(_Correlation):
    """C_ab = ρ^d_ab with d the distance between visit coordinates; natural θ: SAS's range
    (ρ^d = exp(−d/θ))."""

    def __init__(self, m: int, coordinates: ArrayLike):
        super().__init__(m)
        self.n = 1
        c = np.asarray(coordinates, dtype=float).reshape(m, -1)
        self._dist = np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(axis=-1))

    def names(self) -> list[str]:
        return ["range"]

    def value(self, rho: Array) -> tuple[Array, Array, Array]:
        r, d = rho[0], self._dist
        c = r**d
        d1 = np.where(d > 0, d * r ** (d - 1.0), 0.0)
        d2 = np.where(d > 0, d * (d - 1.0) * r ** (d - 2.0), 0.0)
        return c, d1[None], d2[None, None]

    def start(self, corr: Array) -> Array:
        off = ~np.eye(self.m, dtype=bool)
        mean_corr = float(np.clip(np.mean(corr[off]), 0.05, 0.95))
        mean_dist = float(np.mean(self._dist[off])) or 1.0
        return np.array([mean_corr ** (1.0 / mean_dist)])

    def link(self, z: Array) -> tuple[Array, Array, Array]:
        rho = 1.0 / (1.0 + np.exp(-z))  # ρ in (0, 1)
        d1 = rho * (1.0 - rho)
        return rho, d1, d1 * (1.0 - 2.0 * rho)

    def unlink(self, rho: Array) -> Array:
        rho = np.clip(rho, 1e-6, 1 - 1e-6)
        return np.asarray(np.log(rho / (1.0 - rho)), dtype=float)

    def natural(self, rho: Array) -> tuple[Array, Array, Array]:
        lr = np.log(rho)
        theta = -1.0 / lr
        d1 = 1.0 / (rho * lr**2)
        d2 = -(2.0 + lr) / (rho**2 * lr**3)
        return theta, d1, d2


class Scaled(Structure):
    """Σ = D C(ρ) D with D = diag(exp(η)), η shared (homogeneous) or one per visit."""

    def __init__(self, m: int, name: str, corr: _Correlation, heterogeneous: bool, linear: bool):
        super().__init__(m)
        self.name = name
        self.corr = corr
        self.heterogeneous = heterogeneous
        self.linear = linear
        self.n_sd = m if heterogeneous else 1
        # map from visit to its log-sd parameter
        self._sd_of = np.arange(m) if heterogeneous else np.zeros(m, dtype=np.intp)

    @property
    def n_params(self) -> int:
        return self.n_sd + self.corr.n

    def param_names(self) -> list[str]:
        if self.name == "cs":
            return ["cs_covariance", "residual_variance"]
        if self.name == "toep":
            return ["variance"] + [f"covariance_lag{d}" for d in range(1, self.m)]
        var = [f"variance{a + 1}" for a in range(self.m)] if self.heterogeneous else ["variance"]
        return var + self.corr.names()

    def _split(self, phi: Array) -> tuple[Array, Array]:
        return phi[: self.n_sd], phi[self.n_sd :]

    def derivatives(self, phi: Array, order: int = 1) -> Derivatives:
        m, k, nsd = self.m, self.n_params, self.n_sd
        eta, z = self._split(phi)
        rho, dz, dz2 = self.corr.link(z)
        c, dc, d2c = self.corr.value(rho)
        s = np.exp(eta[self._sd_of])
        outer = np.outer(s, s)
        sigma = outer * c
        # indicator E[c, a, b] = δ_{map(a),c} + δ_{map(b),c}
        ind = np.zeros((nsd, m, m))
        for j in range(nsd):
            hit = (self._sd_of == j).astype(float)
            ind[j] = hit[:, None] + hit[None, :]
        d1 = np.empty((k, m, m))
        d1[:nsd] = ind * sigma
        dsig_rho = outer * dc  # ∂Σ/∂ρ
        d1[nsd:] = dsig_rho * dz[:, None, None]
        d2 = None
        if order >= 2:
            d2 = np.empty((k, k, m, m))
            d2[:nsd, :nsd] = ind[:, None] * ind[None, :] * sigma
            cross = ind[:, None] * d1[None, nsd:]  # (nsd, ncorr, m, m)
            d2[:nsd, nsd:] = cross
            d2[nsd:, :nsd] = np.transpose(cross, (1, 0, 2, 3))
            dd = outer * d2c * dz[:, None, None, None] * dz[None, :, None, None]
            n_c = self.corr.n
            idx = np.arange(n_c)
            dd[idx, idx] += dsig_rho * dz2[:, None, None]
            d2[nsd:, nsd:] = dd
        return Derivatives(sigma, d1, d2)

    def natural(self, phi: Array) -> Array:
        eta, z = self._split(phi)
        var = np.exp(2.0 * eta)
        rho = self.corr.link(z)[0]
        if self.name == "cs":
            return np.array([var[0] * rho[0], var[0] * (1.0 - rho[0])])
        if self.name == "toep":
            return np.concatenate([var, var[0] * rho])
        return np.concatenate([var, self.corr.natural(rho)[0]])

    def start(self, s: Array) -> Array:
        sd = np.sqrt(np.maximum(np.diag(s), 1e-8))
        corr = s / np.outer(sd, sd)
        if self.heterogeneous:
            eta = np.log(sd)
        else:
            eta = np.array([0.5 * np.log(float(np.mean(sd**2)))])
        rho = np.clip(self.corr.start(corr), -0.8, 0.9)
        if self.name in ("cs", "csh") and self.m > 1:
            rho = np.maximum(rho, -0.5 / (self.m - 1))
        if self.name in ("toep", "toeph"):
            rho = _toeplitz_pd(rho)
        return np.concatenate([eta, self.corr.unlink(rho)])

    def natural_second(self, phi: Array, weights: Array, deriv: Derivatives) -> Array:
        if self.linear:
            return np.zeros((self.m, self.m))
        if deriv.d2 is None:
            raise StatsError("internal: second derivatives are needed for the KR R term")
        # Natural θ = (exp(2η), θ(ρ(z))) elementwise: J diagonal, θ'' diagonal.
        eta, z = self._split(phi)
        var = np.exp(2.0 * eta)
        rho, r1, r2 = self.corr.link(z)
        _, n1, n2 = self.corr.natural(rho)
        jac = np.concatenate([2.0 * var, n1 * r1])
        second = np.concatenate([4.0 * var, n2 * r1**2 + n1 * r2])
        # Σ_kl W_kl [d²Σ/dφ_kφ_l − Σ_h dΣ/dθ_h ∂²θ_h/∂φ_k∂φ_l]
        total = np.einsum("kl,klab->ab", weights, deriv.d2)
        dsig_theta = deriv.d1 / jac[:, None, None]
        total -= np.einsum("k,kab->ab", np.diag(weights) * second, dsig_theta)
        return np.asarray(total, dtype=float)


def sp_exp_batch(phi: Array, dist: Array, order: int = 1) -> Derivatives:
    """Spatial exponential Σ for subject-specific distances, one matrix per pattern.

    ``phi`` (G, 2) holds the working parameters (log sd, logit ρ) of each pattern's group and
    ``dist`` (G, m, m) its distances; Σ = σ² ρ^d. Returns Σ (G, m, m), dΣ/dφ (G, 2, m, m) and,
    for ``order`` 2, d²Σ/dφ² (G, 2, 2, m, m).

    Examples
    --------
    >>> d = sp_exp_batch(np.array([[0.0, 0.0]]), np.array([[[0.0, 2.0], [2.0, 0.0]]]))
    >>> float(d.sigma[0, 0, 1])  # ρ = 0.5, distance 2
    0.25
    """
    eta, z = phi[:, 0], phi[:, 1]
    var = np.exp(2.0 * eta)[:, None, None]
    # log ρ and 1 − ρ from z directly (stable for ρ near 0 or 1)
    log_rho = -np.logaddexp(0.0, -z)[:, None, None]
    one_minus = (1.0 / (1.0 + np.exp(z)))[:, None, None]
    rho = 1.0 - one_minus
    c = np.exp(dist * log_rho)
    # d c / dz = c d (1 − ρ);  d² c / dz² = c d (1 − ρ) (d (1 − ρ) − ρ)
    dc_z = c * dist * one_minus
    sigma = var * c
    d1 = np.stack([2.0 * sigma, var * dc_z], axis=1)
    d2 = None
    if order >= 2:
        zz = var * dc_z * (dist * one_minus - rho)
        d2 = np.stack(
            [
                np.stack([4.0 * sigma, 2.0 * d1[:, 1]], axis=1),
                np.stack([2.0 * d1[:, 1], zz], axis=1),
            ],
            axis=1,
        )
    return Derivatives(sigma, d1, d2)


def sp_exp_natural_second_batch(phi: Array, weights: Array, deriv: Derivatives) -> Array:
    """Per pattern Σ_hj W^θ_hj ∂²Σ/∂θ_h∂θ_j on SAS's natural (σ², range) parameters.

    ``weights`` (G, 2, 2) is W of each pattern's group (working scale).
    """
    if deriv.d2 is None:
        raise StatsError("internal: second derivatives are needed for the KR R term")
    var = np.exp(2.0 * phi[:, 0])
    rho = 1.0 / (1.0 + np.exp(-phi[:, 1]))
    r1 = rho * (1.0 - rho)
    r2 = r1 * (1.0 - 2.0 * rho)
    lr = np.log(rho)
    n1 = 1.0 / (rho * lr**2)
    n2 = -(2.0 + lr) / (rho**2 * lr**3)
    jac = np.stack([2.0 * var, n1 * r1], axis=1)  # (G, 2)
    second = np.stack([4.0 * var, n2 * r1**2 + n1 * r2], axis=1)
    total = np.einsum("gkl,gklab->gab", weights, deriv.d2)
    diag = np.einsum("gkk->gk", weights)
    total -= np.einsum("gk,gkab->gab", diag * second / jac, deriv.d1)
    return np.asarray(total, dtype=float)


def _toeplitz_pd(rho: Array) -> Array:
    """Shrink Toeplitz correlations until the matrix is positive definite."""
    m = rho.size + 1
    lag = _lags(m)
    for _ in range(60):
        c = np.concatenate([[1.0], rho])[lag]
        if np.linalg.eigvalsh(c).min() > 1e-3:
            return rho
        rho = rho * 0.8
    return np.zeros_like(rho)


#: The structures built from a correlation: name → (correlation class, heterogeneous
#: variances, linear in its natural parameters).
CORRELATIONS: dict[str, tuple[type[_Correlation], bool, bool]] = {
    "cs": (_CompoundSymmetry, False, True),
    "csh": (_CompoundSymmetry, True, False),
    "ar1": (_AutoRegressive, False, False),
    "ar1h": (_AutoRegressive, True, False),
    "toep": (_Toeplitz, False, True),
    "toeph": (_Toeplitz, True, False),
    "ad": (_Antedependence, False, False),
    "adh": (_Antedependence, True, False),
}


def make_structure(name: str, m: int, coordinates: ArrayLike | None = None) -> Structure:
    """Return the covariance structure ``name`` over ``m`` visits.

    Parameters
    ----------
    name
        One of :data:`STRUCTURES`: ``us``, ``cs``, ``csh``, ``ar1``, ``ar1h``, ``toep``,
        ``toeph``, ``ad``, ``adh`` or ``sp_exp``.
    m
        Number of visits.
    coordinates
        Position (time) of each visit, one row per visit (Euclidean distance when there are
        several columns); needed only by ``sp_exp``.

    Returns
    -------
    Structure
        The structure object.

    Examples
    --------
    >>> s = make_structure("ar1", 3)
    >>> s.n_params
    2
    """
    key = name.lower()
    if key == "us":
        return Unstructured(m)
    if m < 2 and key != "cs":
        raise StatsError(
            f"covariance structure '{name}' needs at least two visits, got {m}",
            expected="two or more visit levels",
        )
    if key == "sp_exp":
        if coordinates is None or np.asarray(coordinates).shape[0] != m:
            raise StatsError(
                "covariance 'sp_exp' needs a coordinate (time) for each visit",
                expected=f"{m} visit coordinates",
                hint="pass coordinates='<numeric time column>' to fit_mmrm",
            )
        return Scaled(m, key, _SpatialExponential(m, coordinates), False, False)
    if key not in CORRELATIONS:
        raise StatsError(
            f"unknown covariance structure '{name}'",
            expected="one of " + ", ".join(STRUCTURES),
        )
    corr_cls, hetero, linear = CORRELATIONS[key]
    return Scaled(m, key, corr_cls(m), hetero, linear)
