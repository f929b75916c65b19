"""The immutable result of an MMRM fit: coefficients, Σ, LS means, contrasts and F tests."""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special, stats

from remit.errors import StatsError
from remit.stats.mmrm.design import Design
from remit.stats.mmrm.inference import (
    between_within_df,
    kenward_roger_f,
    satterthwaite_df,
    satterthwaite_f,
)

Array = NDArray[np.float64]

ContrastLike = Array | Sequence[float] | Sequence[Sequence[float]] | Mapping[str, float] | pd.Series


@dataclass(frozen=True)
class FTestResult:
    """An F test of L β = 0.

    ``f`` is the KR-scaled statistic λF under Kenward-Roger (``scale`` = λ, else 1).
    """

    num_df: int
    den_df: float
    f: float
    p: float
    scale: float
    df_method: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the test."""
        return {
            "num_df": self.num_df,
            "den_df": self.den_df,
            "f": self.f,
            "p": self.p,
            "scale": self.scale,
            "df_method": self.df_method,
        }

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of the test."""
        return pd.DataFrame([self.to_dict()])

    def summary(self) -> str:
        """One line: F(num, den) = f, p."""
        return (
            f"F({self.num_df}, {self.den_df:.2f}) = {self.f:.4f}, p = {self.p:.4g} "
            f"({self.df_method} df)"
        )


@dataclass(frozen=True)
class MMRMResult:
    """A fitted mixed model for repeated measures (never refits itself).

    Attributes
    ----------
    coefficients
        One row per fixed effect: term, estimate, se, df, t, p, ci_low, ci_high.
    beta_cov
        Covariance of the estimates used for inference (Kenward-Roger adjusted under KR).
    beta_cov_model
        The model-based (asymptotic) covariance (X'V⁻¹X)⁻¹.
    covariance
        Σ as a DataFrame indexed by visit, or a dict of them per level of ``covariance_by``.
    theta
        Natural covariance parameters (SAS names and scale).
    neg2_loglik, aic, bic
        −2 (restricted) log-likelihood; AIC and BIC as SAS counts them (REML: covariance
        parameters only; BIC with n = number of subjects).
    converged, iterations, message
        What the optimiser reported.
    phi
        Working covariance parameters at the optimum (pass as ``start=`` to a refit).
    theta_cov_working
        W: covariance of the working parameters, 2 × inverse Hessian of −2ℓ.
    sensitivity
        M_h = X'V⁻¹ (∂V/∂φ_h) V⁻¹X for each working parameter (∂Φ/∂φ_h = Φ M_h Φ).
    design
        The design the fit used (rows, factor levels, covariates).
    """

    coefficients: pd.DataFrame
    beta_cov: pd.DataFrame
    beta_cov_model: pd.DataFrame
    covariance: pd.DataFrame | dict[Hashable, pd.DataFrame]
    theta: pd.Series
    neg2_loglik: float
    aic: float
    bic: float
    converged: bool
    iterations: int
    message: str
    n_subjects: int
    n_obs: int
    dropped_rows: tuple[Hashable, ...]
    aliased: tuple[str, ...]
    method: str
    df_method: str
    covariance_structure: str
    alpha: float
    visits: tuple[Hashable, ...]
    group: str | None
    phi: Array = field(repr=False)
    theta_cov_working: Array = field(repr=False)
    sensitivity: Array = field(repr=False)
    design: Design = field(repr=False)

    # ------------------------------------------------------------------ helpers
    @property
    def terms(self) -> tuple[str, ...]:
        """Names of the estimated fixed effects."""
        return tuple(self.coefficients["term"])

    @property
    def beta(self) -> Array:
        """Estimated fixed effects as an array."""
        return np.asarray(self.coefficients["estimate"], dtype=float)

    def _contrast_matrix(self, L: ContrastLike) -> Array:
        terms = self.terms
        if isinstance(L, Mapping | pd.Series):
            unknown = [k for k in L if k not in terms]
            if unknown:
                raise StatsError(
                    f"contrast names unknown term(s) {unknown}",
                    expected="terms among " + ", ".join(terms),
                )
            row = np.zeros(len(terms))
            for k, v in L.items():
                row[terms.index(str(k))] = float(v)
            return row[None, :]
        mat = np.atleast_2d(np.asarray(L, dtype=float))
        if mat.ndim != 2 or mat.shape[1] != len(terms):
            raise StatsError(
                f"contrast has shape {mat.shape}",
                expected=f"rows of length {len(terms)} (one weight per coefficient)",
            )
        return mat

    def _df(self, lvec: Array) -> float:
        phi = self.beta_cov_model.to_numpy()
        method = self.df_method
        if method in ("satterthwaite", "kenward-roger", "kenward-roger-linear"):
            return satterthwaite_df(lvec, phi, self.sensitivity, self.theta_cov_working)
        if method == "residual":
            return float(self.n_obs - len(self.terms))
        bw = between_within_df(self.design.X, self.design.subject_codes, self.terms)
        used = np.abs(lvec) > 0
        return float(bw[used].min()) if used.any() else float(bw.min())

    def contrast(self, L: ContrastLike, *, names: Sequence[str] | None = None) -> pd.DataFrame:
        """Estimate, SE, df, t, p and CI of each row of ``L`` (one t test per row).

        Parameters
        ----------
        L
            A vector or matrix of weights over the coefficients, or a mapping term → weight.
        names
            Row labels.

        Returns
        -------
        pandas.DataFrame
            Columns contrast, estimate, se, df, t, p, ci_low, ci_high.

        Examples
        --------
        >>> from remit.stats.mmrm import fit_mmrm
        >>> from remit.stats.mmrm.examples import small_example
        >>> df = small_example()
        >>> fit = fit_mmrm(df, "y ~ t", subject="id", visit="t")
        >>> round(float(fit.contrast({"tb": 1.0})["estimate"].iloc[0]), 3)
        1.15
        """
        mat = self._contrast_matrix(L)
        cov = self.beta_cov.to_numpy()
        beta = self.beta
        rows = []
        for i, lvec in enumerate(mat):
            est = float(lvec @ beta)
            se = math.sqrt(max(float(lvec @ cov @ lvec), 0.0))
            df = self._df(lvec)
            rows.append(_t_row(names[i] if names else f"L{i + 1}", est, se, df, self.alpha))
        return pd.DataFrame(rows)

    def f_test(self, L: ContrastLike) -> FTestResult:
        """F test of L β = 0 (Satterthwaite, KR-scaled under Kenward-Roger, or fixed df).

        Examples
        --------
        >>> from remit.stats.mmrm import fit_mmrm
        >>> from remit.stats.mmrm.examples import small_example
        >>> df = small_example()
        >>> fit_mmrm(df, "y ~ t", subject="id", visit="t").f_test([[0.0, 1.0]]).num_df
        1
        """
        mat = self._contrast_matrix(L)
        phi = self.beta_cov_model.to_numpy()
        beta = self.beta
        method = self.df_method
        if method in ("kenward-roger", "kenward-roger-linear"):
            res = kenward_roger_f(
                mat,
                beta,
                phi,
                self.beta_cov.to_numpy(),
                self.sensitivity,
                self.theta_cov_working,
            )
        elif method == "satterthwaite":
            res = satterthwaite_f(mat, beta, phi, self.sensitivity, self.theta_cov_working)
        else:
            q = mat.shape[0]
            cov = mat @ phi @ mat.T
            est = mat @ beta
            f = float(est @ np.linalg.solve(cov, est)) / q
            df = min(self._df(row) for row in mat)
            return FTestResult(q, df, f, float(stats.f.sf(f, q, df)), 1.0, method)
        return FTestResult(res.num_df, res.den_df, res.f, res.p, res.scale, method)

    # ------------------------------------------------------------------ LS means
    def lsmeans_matrix(self, by: Sequence[str]) -> tuple[pd.DataFrame, Array]:
        """The rows L of the LS means by ``by``: one row of weights over the coefficients per
        combination of levels (reference grid, covariates at their mean, equal weights).

        Parameters
        ----------
        by
            Factors of the model.

        Returns
        -------
        tuple
            The combinations (a DataFrame with the ``by`` columns) and the matrix L, so that
            ``L @ beta`` are the LS means; differences of rows give contrasts for
            :meth:`contrast`.

        Examples
        --------
        >>> from remit.stats.mmrm import fit_mmrm
        >>> from remit.stats.mmrm.examples import small_example
        >>> df = small_example()
        >>> keys, L = fit_mmrm(df, "y ~ t", subject="id", visit="t").lsmeans_matrix(["t"])
        >>> L.tolist()
        [[1.0, 0.0], [1.0, 1.0]]
        """
        return self._grid_rows(by)

    def _grid_rows(self, by: Sequence[str]) -> tuple[pd.DataFrame, Array]:
        design = self.design
        for col in by:
            if col not in design.factors:
                raise StatsError(
                    f"'{col}' is not a factor of the model",
                    expected="one of " + ", ".join(design.factors)
                    if design.factors
                    else "a model with factors",
                )
        names = list(design.factors)
        combos = list(itertools.product(*(design.factors[n] for n in names)))
        grid = pd.DataFrame(combos, columns=names)
        for n in names:
            grid[n] = pd.Categorical(grid[n], categories=list(design.factors[n]))
        for c in design.covariates:
            grid[c] = float(design.data[c].mean())
        if design.response not in grid:
            grid[design.response] = 0.0
        rows = design.rows(grid)
        keys = grid[list(by)].astype(object)
        out_keys: list[tuple[Hashable, ...]] = []
        out_rows: list[Array] = []
        for key in itertools.product(*(design.factors[b] for b in by)):
            sel = np.ones(len(grid), dtype=bool)
            for b, v in zip(by, key, strict=True):
                sel &= (keys[b] == v).to_numpy()
            out_keys.append(key)
            out_rows.append(rows[sel].mean(axis=0))
        return pd.DataFrame(out_keys, columns=list(by)), np.array(out_rows)

    def lsmeans(self, by: Sequence[str] | str | None = None) -> pd.DataFrame:
        """Least-squares means (SAS LSMEANS, emmeans): covariates at their mean over the rows
        analysed, other factors averaged with equal weights.

        Parameters
        ----------
        by
            Factors to give means for; default the visit and the ``group`` column.

        Returns
        -------
        pandas.DataFrame
            One row per combination: the ``by`` columns, estimate, se, df, t, p, ci_low, ci_high.

        Examples
        --------
        >>> from remit.stats.mmrm import fit_mmrm
        >>> from remit.stats.mmrm.examples import small_example
        >>> df = small_example()
        >>> fit_mmrm(df, "y ~ t", subject="id", visit="t").lsmeans()["estimate"].round(3).tolist()
        [1.025, 2.175]
        """
        if by is None:
            by = [self.design.visit] + ([self.group] if self.group else [])
        elif isinstance(by, str):
            by = [by]
        keys, rows = self.lsmeans_matrix(list(by))
        table = self.contrast(rows)
        table = table.drop(columns=["contrast"])
        return pd.concat([keys, table], axis=1)

    def differences(
        self,
        group: str | None = None,
        *,
        reference: Hashable | None = None,
        compare: Hashable | None = None,
    ) -> pd.DataFrame:
        """Differences of LS means between levels of ``group`` at each visit.

        Parameters
        ----------
        group
            The factor compared (default: the ``group`` given to :func:`fit_mmrm`).
        reference
            Level subtracted (default: the first level).
        compare
            Level compared with the reference (default: every other level).

        Returns
        -------
        pandas.DataFrame
            visit, contrast ("B - A"), estimate, se, df, t, p, ci_low, ci_high.

        Examples
        --------
        >>> from remit.stats.mmrm import fit_mmrm
        >>> from remit.stats.mmrm.examples import small_example
        >>> df = small_example()
        >>> fit = fit_mmrm(df, "y ~ arm * t", subject="id", visit="t", group="arm")
        >>> fit.differences()["contrast"].tolist()
        ['y - x', 'y - x']
        """
        group = group or self.group
        if group is None:
            raise StatsError(
                "no group column to compare",
                expected="differences(group=...) or fit_mmrm(..., group=...)",
            )
        visit = self.design.visit
        if group not in self.design.factors:
            raise StatsError(
                f"'{group}' is not a factor of the model",
                expected="a categorical column used in the formula",
            )
        levels = list(self.design.factors[group])
        ref = levels[0] if reference is None else reference
        if ref not in levels:
            raise StatsError(
                f"reference level {ref!r} is not a level of '{group}'",
                expected="one of " + ", ".join(map(str, levels)),
            )
        if compare is not None and compare not in levels:
            raise StatsError(
                f"level {compare!r} is not a level of '{group}'",
                expected="one of " + ", ".join(map(str, levels)),
            )
        others = [compare] if compare is not None else [lv for lv in levels if lv != ref]
        keys, rows = self.lsmeans_matrix([visit, group])
        index = {(k[0], k[1]): i for i, k in enumerate(keys.itertuples(index=False))}
        out_rows, labels, visits = [], [], []
        for v in self.design.factors.get(visit, self.visits):
            for lv in others:
                out_rows.append(rows[index[(v, lv)]] - rows[index[(v, ref)]])
                labels.append(f"{lv} - {ref}")
                visits.append(v)
        table = self.contrast(np.array(out_rows), names=labels)
        table.insert(0, "visit", visits)
        return table

    # ------------------------------------------------------------------ output
    def covariance_matrix(self) -> Array:
        """Σ as a plain array (the first group's when ``covariance_by`` was used)."""
        cov = self.covariance
        if isinstance(cov, dict):
            return np.asarray(next(iter(cov.values())).to_numpy(), dtype=float)
        return np.asarray(cov.to_numpy(), dtype=float)

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table."""
        return self.coefficients.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the contract of ``remit stats mmrm --json``)."""
        out: dict[str, Any] = {
            "neg2_loglik": self.neg2_loglik,
            "aic": self.aic,
            "bic": self.bic,
            "converged": self.converged,
            "iterations": self.iterations,
            "message": self.message,
            "method": self.method,
            "df_method": self.df_method,
            "covariance_structure": self.covariance_structure,
            "n_subjects": self.n_subjects,
            "n_obs": self.n_obs,
            "dropped_rows": list(self.dropped_rows),
            "aliased": list(self.aliased),
            "coefficients": self.coefficients.to_dict(orient="records"),
            "visits": [_plain(v) for v in self.visits],
            "theta": {str(k): float(v) for k, v in self.theta.items()},
        }
        if isinstance(self.covariance, dict):
            out["covariance"] = {str(k): v.to_numpy().tolist() for k, v in self.covariance.items()}
        else:
            out["covariance"] = self.covariance.to_numpy().tolist()
        return out

    def summary(self) -> str:
        """A readable multi-line summary."""
        lines = [
            f"MMRM ({self.method.upper()}, {self.covariance_structure} covariance, "
            f"{self.df_method} df): {self.n_obs} observations, {self.n_subjects} subjects",
            f"-2 log-likelihood {self.neg2_loglik:.4f}  AIC {self.aic:.4f}  BIC {self.bic:.4f}",
            f"converged: {self.converged} ({self.message}, {self.iterations} iterations)",
        ]
        if self.dropped_rows:
            lines.append(f"{len(self.dropped_rows)} incomplete row(s) left out")
        lines.append(self.coefficients.to_string(index=False))
        return "\n".join(lines)


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _t_row(name: str, est: float, se: float, df: float, alpha: float) -> dict[str, Any]:
    if se > 0 and df > 0:
        t = est / se
        # scipy.special directly: the scipy.stats wrappers cost ~0.3 ms per call
        if math.isinf(df):
            p = float(2.0 * special.ndtr(-abs(t)))
            q = float(special.ndtri(1.0 - alpha / 2.0))
        else:
            p = float(2.0 * special.stdtr(df, -abs(t)))
            q = float(special.stdtrit(df, 1.0 - alpha / 2.0))
    else:
        t, p, q = math.nan, math.nan, math.nan
    return {
        "contrast": name,
        "estimate": est,
        "se": se,
        "df": df,
        "t": t,
        "p": p,
        "ci_low": est - q * se,
        "ci_high": est + q * se,
    }
