"""Numerical derivatives (central differences with one Richardson extrapolation step) and a
Newton polish of a quasi-Newton optimum, for criteria with no analytic derivatives.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def _steps(phi: Array) -> Array:
    return np.maximum(np.abs(phi), 1e-2 * max(float(np.abs(phi).max()), 1e-8)) * 1e-3


def gradient(f: Callable[[Array], float], x: Array) -> Array:
    """Gradient by central differences with one Richardson extrapolation step.

    Examples
    --------
    >>> gradient(lambda v: float(v[0] ** 2 + 3 * v[1]), np.array([2.0, 1.0])).round(8).tolist()
    [4.0, 3.0]
    """
    out: Array = jacobian(lambda v: np.array([f(v)]), x)[0]
    return out


def jacobian(f: Callable[[Array], Array], x: Array) -> Array:
    """Jacobian (outputs × inputs) by Richardson-extrapolated central differences."""
    h = _steps(x)
    columns = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h[k]
        d1 = (f(x + e) - f(x - e)) / (2 * h[k])
        d2 = (f(x + e / 2) - f(x - e / 2)) / h[k]
        columns.append((4 * d2 - d1) / 3)
    return np.column_stack(columns)


def hessian(f: Callable[[Array], float], x: Array) -> Array:
    """Hessian as the (Richardson) central-difference Jacobian of the numerical gradient."""
    h = _steps(x)
    k_n = x.size
    H = np.zeros((k_n, k_n))
    for k in range(k_n):
        e = np.zeros(k_n)
        e[k] = h[k]
        d1 = (gradient(f, x + e) - gradient(f, x - e)) / (2 * h[k])
        d2 = (gradient(f, x + e / 2) - gradient(f, x - e / 2)) / h[k]
        H[:, k] = (4 * d2 - d1) / 3
    return (H + H.T) / 2


def newton_polish(
    f: Callable[[Array], float], theta: Array, diag_index: list[int]
) -> tuple[Array, float]:
    """Newton steps with numerical derivatives from a quasi-Newton solution.

    L-BFGS-B with finite-difference gradients stops a little short of the optimum; a few
    Newton steps bring the estimates to the precision of R's references. On the boundary
    (a zero diagonal of Λ) the free coordinates' gradient is reported instead.

    ``diag_index`` lists the coordinates bounded below by 0; returns the polished point and
    the largest absolute gradient over its free coordinates.

    Examples
    --------
    >>> theta, grad = newton_polish(lambda v: float((v[0] - 1.5) ** 2), np.array([1.4]), [0])
    >>> round(float(theta[0]), 6), grad < 1e-6
    (1.5, True)
    """
    theta = theta.copy()
    for _ in range(20):
        on_boundary = [k for k in diag_index if theta[k] < 1e-6]
        free = [k for k in range(theta.size) if k not in on_boundary]
        grad = gradient(f, theta)
        if not free:
            return theta, 0.0
        g = grad[free]
        hess = hessian(f, theta)[np.ix_(free, free)]
        try:
            step = np.linalg.solve(hess, g)
        except np.linalg.LinAlgError:
            return theta, float(np.abs(g).max())
        if not np.all(np.linalg.eigvalsh(hess) > 0):
            return theta, float(np.abs(g).max())
        current = f(theta)
        scale = 1.0
        while scale > 1e-4:
            trial = theta.copy()
            trial[free] -= scale * step
            if all(trial[k] >= 0 for k in diag_index) and f(trial) <= current + 1e-12:
                break
            scale /= 2
        else:
            return theta, float(np.abs(g).max())
        theta = trial
        if float(np.abs(scale * step).max()) < 1e-10 * max(1.0, float(np.abs(theta).max())):
            break
    grad = gradient(f, theta)
    free = [k for k in range(theta.size) if not (k in diag_index and theta[k] < 1e-6)]
    return theta, float(np.abs(grad[free]).max()) if free else 0.0
