"""The MMRM section: one mixed model per scale, LS means and changes from baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from remit.analysis.context import Context, estimated
from remit.analysis.result import SectionResult, headline_frame, headline_row, section_fields
from remit.protocol import MMRMAnalysis
from remit.stats.mmrm import DfMethod, MMRMResult, fit_mmrm, formula_variables


@dataclass(frozen=True, eq=False, kw_only=True)
class MMRMSectionResult(SectionResult):
    """Result of an ``mmrm`` analysis: changes from baseline, LS means, fit statistics and,
    when the formula models ``arm`` and the plan asks for it, differences between arms."""

    change_vs_baseline: pd.DataFrame
    lsmeans: pd.DataFrame
    fits: pd.DataFrame
    arm_differences: pd.DataFrame | None = None


def _lsmean_rows(fit: MMRMResult) -> pd.DataFrame:
    """The L vector of the LS mean of each visit (covariates at their mean, other factors
    averaged), as :meth:`MMRMResult.lsmeans` builds them."""
    keys, rows = fit.lsmeans_matrix(["visit"])
    return pd.DataFrame(rows, index=[str(k) for k in keys.iloc[:, 0]])


def run_mmrm(a: MMRMAnalysis, ctx: Context) -> MMRMSectionResult:
    """MMRM per scale over the plan's visits, with LS means and differences vs baseline.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> s = run_mmrm(oslo.analysis.analyses[2], ctx)
    >>> t = s.tables["change_vs_baseline"]
    >>> t[["scale", "visit", "contrast"]].values.tolist()[0]
    ['madrs', 'V13', 'V13 - V3']
    >>> round(float(t["estimate"].iloc[0]), 6)
    -17.0
    """
    rows: list[dict[str, Any]] = []
    ls_rows: list[pd.DataFrame] = []
    fit_rows: list[dict[str, Any]] = []
    arm_rows: list[pd.DataFrame] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    t = ctx.totals
    for scale in a.scales:
        sub = t[
            (t["scale"] == scale)
            & t["visit_code"].isin(a.visits)
            & t["participant_id"].isin(ctx.population)
        ]
        levels = list(a.visits)
        if a.outcome == "change":
            sub = sub[sub["visit_code"] != a.baseline_visit]
            levels = [v for v in levels if v != a.baseline_visit]
        frame = pd.DataFrame(
            {
                "participant_id": sub["participant_id"].astype(str).to_numpy(),
                "visit": sub["visit_code"].astype(str).to_numpy(),
                "arm": sub["arm"].astype(object).to_numpy(),
                "baseline": sub["BASE"].to_numpy(dtype=float),
                "value": sub["AVAL"].to_numpy(dtype=float),
                "change": sub["CHG"].to_numpy(dtype=float),
            }
        )
        frame = frame[frame[a.outcome].notna()].reset_index(drop=True)
        empty = [v for v in levels if v not in set(frame["visit"])]
        if empty:
            notes.append(f"{scale}: no observation at {', '.join(empty)}; left out of the model")
            levels = [v for v in levels if v not in empty]
        if len(levels) < 2 or (a.outcome == "value" and a.baseline_visit not in levels):
            notes.append(f"{scale}: not estimable (fewer than two visits with data)")
            continue
        formula = f"{a.outcome} ~ {a.formula}"
        group = "arm" if "arm" in formula_variables(formula) else None
        observed = frame.groupby("visit").size().reindex(levels, fill_value=0)
        fit = estimated(
            notes,
            scale,
            fit_mmrm,
            frame,
            formula,
            subject="participant_id",
            visit="visit",
            covariance=a.covariance,
            group=group,
            method="reml" if a.reml else "ml",
            df=a.df_method,
            visit_levels=levels,
            alpha=1.0 - ctx.conf_level,
        )
        if fit is None:
            continue
        raw[scale] = fit
        if not fit.converged:
            notes.append(f"{scale}: the fit did not converge ({fit.message})")
        fit_rows.append(
            {
                "scale": scale,
                "formula": formula,
                "n_subjects": fit.n_subjects,
                "n_obs": fit.n_obs,
                "neg2_loglik": fit.neg2_loglik,
                "aic": fit.aic,
                "bic": fit.bic,
                "converged": fit.converged,
                "covariance": fit.covariance_structure,
                "method": fit.method,
                "df_method": fit.df_method,
            }
        )
        ls = fit.lsmeans(by=["visit", "arm"] if group else ["visit"])
        ls.insert(0, "scale", scale)
        if group:
            by_arm = frame.groupby(["visit", "arm"]).size()
            ls["n_obs"] = [
                int(by_arm.get((str(v), g), 0)) for v, g in zip(ls["visit"], ls["arm"], strict=True)
            ]
        else:
            ls["n_obs"] = [int(observed.get(str(v), 0)) for v in ls["visit"]]
        ls_rows.append(ls)
        if "visit_vs_baseline" in a.contrasts:
            if a.outcome == "change":
                for rec in ls.to_dict(orient="records"):
                    rows.append(
                        {
                            "scale": scale,
                            "arm": rec.get("arm"),
                            "visit": rec["visit"],
                            "contrast": f"mean change {rec['visit']} - {a.baseline_visit}",
                            **{k: rec[k] for k in ("estimate", "se", "df", "t", "p")},
                            "ci_low": rec["ci_low"],
                            "ci_high": rec["ci_high"],
                            "n_obs": rec["n_obs"],
                        }
                    )
            else:
                L = _lsmean_rows(fit)
                post = [v for v in levels if v != a.baseline_visit]
                names = [f"{v} - {a.baseline_visit}" for v in post]
                diffs = fit.contrast(
                    np.array(
                        [L.loc[v].to_numpy() - L.loc[a.baseline_visit].to_numpy() for v in post]
                    ),
                    names=names,
                )
                for v, rec in zip(post, diffs.to_dict(orient="records"), strict=True):
                    rows.append(
                        {
                            "scale": scale,
                            "arm": None,
                            "visit": v,
                            **{str(k): x for k, x in rec.items()},
                            "n_obs": int(observed.get(v, 0)),
                        }
                    )
        if "arm_by_visit" in a.contrasts:
            if group is None or frame["arm"].nunique() < 2:
                notes.append(f"{scale}: arm_by_visit needs an arm term and two arms; skipped")
            else:
                d = fit.differences(group="arm")
                d.insert(0, "scale", scale)
                arm_rows.append(d)
    arm_differences = pd.concat(arm_rows, ignore_index=True) if arm_rows else None
    return MMRMSectionResult(
        change_vs_baseline=pd.DataFrame(rows),
        lsmeans=pd.concat(ls_rows, ignore_index=True) if ls_rows else pd.DataFrame(),
        fits=pd.DataFrame(fit_rows),
        arm_differences=arm_differences,
        **section_fields(
            a,
            stats=raw,
            conventions={
                "model": f"{a.outcome} ~ {a.formula}, visits {', '.join(a.visits)}",
                "covariance": f"{a.covariance} "
                f"({_COVARIANCE_WORDS.get(a.covariance, a.covariance)}) residual covariance over "
                "visits within participant",
                "estimation": "REML" if a.reml else "ML",
                "df": _DF_WORDS[a.df_method],
                "contrasts": contrast_words(a),
                "missing_data": "every observed visit used; no imputation (missing at random)",
            },
            notes=tuple(notes),
            headline=_headline(a, rows, arm_differences),
        ),
    )


def _headline(
    a: MMRMAnalysis, rows: list[dict[str, Any]], arm_differences: pd.DataFrame | None
) -> pd.DataFrame:
    method = f"{a.covariance}, {_DF_WORDS[a.df_method]} df"
    out = [
        headline_row(r, f"mean change vs {a.baseline_visit} (MMRM)", method, n=r["n_obs"])
        for r in rows
    ]
    if arm_differences is not None:
        for r in arm_differences.to_dict(orient="records"):
            out.append(headline_row(r, f"difference {r['contrast']} (MMRM)", method))
    return headline_frame(out)


def contrast_words(a: MMRMAnalysis) -> str:
    """What the MMRM section estimates, in words (from the plan's contrasts and outcome).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> contrast_words(load_protocol("oslo-mdma-mdd").analysis.analyses[2])[:40]
    'the mean change from V3 at each visit as'
    """
    parts = []
    if "visit_vs_baseline" in a.contrasts:
        if a.outcome == "value":
            parts.append(
                f"the mean change from {a.baseline_visit} at each visit as the difference of "
                f"least-squares means (visit minus {a.baseline_visit})"
            )
        else:
            parts.append(
                f"the least-squares mean of the change from {a.baseline_visit} at each visit"
            )
    if "arm_by_visit" in a.contrasts:
        parts.append(
            "the difference between arms of least-squares means at each visit (each arm minus "
            "the first arm)"
        )
    return "; ".join(parts) + " — covariates at their mean over the data analysed"


_COVARIANCE_WORDS = {
    "us": "unstructured",
    "cs": "compound symmetry",
    "csh": "heterogeneous compound symmetry",
    "ar1": "first-order autoregressive",
    "ar1h": "heterogeneous first-order autoregressive",
    "toep": "Toeplitz",
    "toeph": "heterogeneous Toeplitz",
    "adh": "heterogeneous ante-dependence",
}
_DF_WORDS: dict[DfMethod, str] = {
    "satterthwaite": "Satterthwaite",
    "kenward-roger": "Kenward-Roger",
    "kenward-roger-linear": "Kenward-Roger (linear variant, as SAS)",
    "residual": "residual (n_obs − rank X)",
    "between-within": "between-within",
}
