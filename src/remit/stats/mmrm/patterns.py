"""Missing-visit patterns of an MMRM and their sufficient statistics.

Subjects are grouped by covariance group and missing-visit pattern (and, with subject-specific
coordinates, by their visit times).  :func:`build_blocks` keeps for each pattern
Σ_i X_i⊗X_i, Σ_i X_i⊗y_i and Σ_i y_i y_i' over its subjects, padded to all visits, which is all
:class:`remit.stats.mmrm.fit.Likelihood` needs from the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from remit.errors import StatsError
from remit.stats.mmrm.design import Design

Array = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass
class PatternBlock:
    """Missing-visit patterns, padded to all ``m`` visits.

    A missing visit gets a zero row in X and y and an identity row/column in Σ, which leaves
    log|Σ_i|, Σ_i⁻¹ on the observed visits and every product with X and y unchanged; ``mask``
    zeroes the padded entries where they would otherwise leak (gradient, dΣ).

    Sufficient statistics are stored only for observed visit pairs ("compact" rows, ``obs``
    indexes them in the flattened (G, m, m) array) so padding costs no flops where it matters.
    """

    m: int
    group: IntArray  # (G,) covariance group of each pattern
    idx: IntArray  # (G, m) visit indices
    n: Array  # (G,) subjects per pattern
    C: Array  # (nnz, p*p)  Σ_i X_i[a,:] ⊗ X_i[b,:] over observed pairs (g, a, b)
    D: Array  # (nnz, p)    Σ_i X_i[a,:] y_i[b]
    E: Array  # (nnz,)      Σ_i y_i[a] y_i[b]
    mask: Array  # (G, m, m)   1 where both visits are observed
    obs: IntArray  # (nnz,) flat index of each compact row in (G, m, m)
    obs_t: IntArray  # (nnz,) compact row of the transposed pair (g, b, a)
    row_group: IntArray  # (nnz,) covariance group of each compact row
    dist: Array | None = None  # (G, m, m) subject-specific distances (sp_exp with row times)

    def gather(self, full: Array) -> Array:
        """Compact rows (observed visit pairs) of a (G, m, m) array."""
        return full.reshape(-1)[self.obs]

    def scatter(self, compact: Array) -> Array:
        """A (G, m, m) array, zero where a visit is missing, from compact rows."""
        out = np.zeros(self.mask.size)
        out[self.obs] = compact
        return out.reshape(self.mask.shape)

    def sigma(self, sig_all: Array) -> Array:
        """Σ of each pattern, identity on its missing visits."""
        sig = sig_all[self.group[:, None, None], self.idx[:, :, None], self.idx[:, None, :]]
        return np.where(self.mask > 0, sig, np.eye(self.m))


def build_blocks(design: Design) -> list[PatternBlock]:
    """The missing-visit patterns of ``design`` with their sufficient statistics.

    Rows of X and y are scaled by √w when the design has weights.  Raises
    :class:`~remit.errors.StatsError` for more than 62 visit levels (patterns are bit masks).

    Examples
    --------
    >>> import pandas as pd
    >>> from remit.stats.mmrm.design import build_design
    >>> df = pd.DataFrame({"id": [1, 1, 2, 3, 3], "t": ["a", "b", "a", "a", "b"],
    ...                    "y": [1.0, 2.0, 1.5, 0.5, 2.2]})
    >>> [block] = build_blocks(build_design(df, "y ~ t", subject="id", visit="t"))
    >>> block.n.tolist()  # subjects per pattern: visit a only, visits a and b
    [1.0, 2.0]
    """
    X, y = design.X, design.y
    if design.weights is not None:
        sw = np.sqrt(design.weights)
        X = X * sw[:, None]
        y = y * sw
    p = X.shape[1]
    subj = design.subject_codes
    M = len(design.visits)
    if M > 62:
        raise StatsError(
            f"{M} visit levels; at most 62 are supported",
            expected="at most 62 distinct visits",
        )
    # rows are sorted by group, subject, visit; subjects are contiguous
    bits = np.left_shift(np.int64(1), design.visit_codes.astype(np.int64))
    starts = np.flatnonzero(np.r_[True, subj[1:] != subj[:-1]])
    mask = np.bitwise_or.reduceat(bits, starts)
    counts = np.diff(np.r_[starts, subj.size])
    sgroup = design.group_codes[starts]
    # every subject padded to all M visits (zeros where missing)
    row_subject = np.repeat(np.arange(starts.size), counts)
    observed = np.zeros((starts.size, M))
    observed[row_subject, design.visit_codes] = 1.0
    times = None
    if design.row_coordinates is not None:
        # subjects share a pattern only if they share their visit times too
        q = design.row_coordinates.shape[1]
        times = np.zeros((starts.size, M, q))
        times[row_subject, design.visit_codes] = design.row_coordinates
        pattern_key = np.column_stack([sgroup, observed, times.reshape(starts.size, -1)])
    else:
        pattern_key = np.column_stack([sgroup, mask])
    _, pattern_of = np.unique(pattern_key, axis=0, return_inverse=True)
    pattern_of = pattern_of.ravel()
    n_pat = int(pattern_of.max()) + 1
    xs = np.zeros((starts.size, M, p))
    ys = np.zeros((starts.size, M))
    xs[row_subject, design.visit_codes] = X
    ys[row_subject, design.visit_codes] = y
    first = np.unique(pattern_of, return_index=True)[1].astype(np.intp)  # a subject per pattern
    group = sgroup[first].astype(np.intp)
    n = np.bincount(pattern_of, minlength=n_pat).astype(float)
    seen = observed[first]
    mask_mat = seen[:, :, None] * seen[:, None, :]
    obs = np.flatnonzero(mask_mat.reshape(-1) > 0)
    compact = np.full(mask_mat.size, -1, dtype=np.intp)
    compact[obs] = np.arange(obs.size)
    g_of, a_of, b_of = np.unravel_index(obs, mask_mat.shape)
    obs_t = compact[np.ravel_multi_index((g_of, b_of, a_of), mask_mat.shape)]
    # compact rows of pattern g are its observed pairs (a, b), row-major: one block per pattern
    sizes = mask_mat.reshape(n_pat, -1).sum(axis=1).astype(np.intp)
    offsets = np.r_[0, np.cumsum(sizes)]
    C = np.empty((obs.size, p * p))
    D = np.empty((obs.size, p))
    E = np.empty(obs.size)
    order = np.argsort(pattern_of, kind="stable")
    bounds = np.r_[0, np.cumsum(n.astype(np.intp))]
    for g in range(n_pat):
        who = order[bounds[g] : bounds[g + 1]]
        vis = np.flatnonzero(observed[first[g]])
        mg = vis.size
        xg = xs[who][:, vis].reshape(who.size, -1)  # (n_g, m_g * p)
        yg = ys[who][:, vis]
        rows = slice(offsets[g], offsets[g + 1])
        C[rows] = (xg.T @ xg).reshape(mg, p, mg, p).transpose(0, 2, 1, 3).reshape(-1, p * p)
        D[rows] = (xg.T @ yg).reshape(mg, p, mg).transpose(0, 2, 1).reshape(-1, p)
        E[rows] = (yg.T @ yg).reshape(-1)
    idx = np.broadcast_to(np.arange(M, dtype=np.intp), (n_pat, M)).copy()
    dist = None
    if times is not None:
        t = times[first]  # (G, M, q)
        diff = t[:, :, None, :] - t[:, None, :, :]
        dist = np.sqrt((diff**2).sum(axis=-1)) * mask_mat
    return [PatternBlock(M, group, idx, n, C, D, E, mask_mat, obs, obs_t, group[g_of], dist)]
