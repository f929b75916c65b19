"""The LMM section: visit means with a random intercept and slope per participant, a
sensitivity analysis to the MMRM's unstructured covariance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from remit.analysis.context import Context, estimated
from remit.analysis.result import SectionResult, headline_frame, headline_row, section_fields
from remit.protocol import LMMAnalysis
from remit.stats.mixed import fit_lmm

#: The plan's words for the time the random slope runs on → (ADQS column, divisor, words).
TIME_SCALES: dict[str, tuple[str, float, str]] = {
    "study_week": ("ADY", 7.0, "study week (study day / 7)"),
    "visit_number": ("AVISITN", 1.0, "visit number"),
}


@dataclass(frozen=True, eq=False, kw_only=True)
class LMMSectionResult(SectionResult):
    """Result of an ``lmm`` analysis: per scale, the change of each visit from baseline (the
    visit coefficients), the variance parameters and the fit statistics."""

    change_vs_baseline: pd.DataFrame
    random_effects: pd.DataFrame
    fits: pd.DataFrame


def _frame(a: LMMAnalysis, ctx: Context, scale: str) -> pd.DataFrame:
    t = ctx.totals
    sub = t[(t["scale"] == scale) & t["visit_code"].isin(a.visits)]
    column, divisor, _words = TIME_SCALES[a.time]
    levels = [a.baseline_visit, *(v for v in a.visits if v != a.baseline_visit)]
    frame = pd.DataFrame(
        {
            "participant_id": sub["participant_id"].astype(str).to_numpy(),
            "visit": pd.Categorical(sub["visit_code"].astype(str), categories=levels),
            "value": sub["AVAL"].to_numpy(dtype=float),
            "time": sub[column].to_numpy(dtype=float) / divisor,
        }
    )
    return frame[frame["value"].notna()].reset_index(drop=True)


def run_lmm(a: LMMAnalysis, ctx: Context) -> LMMSectionResult:
    """Fit ``value ~ visit`` with a random intercept (and slope on time) per participant.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> s = run_lmm(oslo.analysis.analyses[10], ctx)
    >>> s.change_vs_baseline[["scale", "visit", "contrast"]].values.tolist()[0]
    ['madrs', 'V13', 'V13 - V3']
    >>> round(float(s.change_vs_baseline["estimate"].iloc[0]), 6)
    -17.0
    """
    rows: list[dict[str, Any]] = []
    random_rows: list[dict[str, Any]] = []
    fit_rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    random = "intercept + slope" if a.random_slope else "intercept"
    for scale in a.scales:
        frame = _frame(a, ctx, scale)
        observed = frame.groupby("visit", observed=False).size()
        if observed.get(a.baseline_visit, 0) == 0 or (observed > 0).sum() < 2:
            notes.append(f"{scale}: not estimable (fewer than two visits with data)")
            continue
        frame["visit"] = frame["visit"].cat.remove_unused_categories()
        fit = estimated(
            notes,
            scale,
            fit_lmm,
            frame,
            "value ~ visit",
            subject="participant_id",
            slope="time" if a.random_slope else None,
            method="reml" if a.reml else "ml",
            conf_level=ctx.conf_level,
        )
        if fit is None:
            continue
        raw[scale] = fit
        if not fit.converged:
            notes.append(f"{scale}: the fit did not converge ({fit.message})")
        for rec in fit.coefficients.to_dict(orient="records"):
            term = str(rec["term"])
            if not term.startswith("visit[T."):
                continue
            visit = term[len("visit[T.") : -1]
            rows.append(
                {
                    "scale": scale,
                    "visit": visit,
                    "contrast": f"{visit} - {a.baseline_visit}",
                    **{k: rec[k] for k in ("estimate", "se", "df", "t", "p", "ci_low", "ci_high")},
                    "n_obs": int(observed.get(visit, 0)),
                }
            )
        random_rows += [
            {"scale": scale, "name": r["name"], "estimate": r["estimate"]}
            for r in fit.random_effects.to_dict(orient="records")
        ]
        fit_rows.append(
            {
                "scale": scale,
                "formula": "value ~ visit",
                "random": random,
                "time": TIME_SCALES[a.time][2],
                "n_subjects": fit.n_subjects,
                "n_obs": fit.n_obs,
                "neg2_loglik": fit.neg2_loglik,
                "aic": fit.aic,
                "bic": fit.bic,
                "converged": fit.converged,
                "method": fit.method,
                "df_method": fit.df_method,
            }
        )
    method = f"random {random}, Satterthwaite df"
    return LMMSectionResult(
        change_vs_baseline=pd.DataFrame(rows),
        random_effects=pd.DataFrame(random_rows),
        fits=pd.DataFrame(fit_rows),
        **section_fields(
            a,
            stats=raw,
            conventions={
                "model": f"value ~ visit ({a.baseline_visit} the reference), visits "
                + ", ".join(a.visits),
                "random": f"random {random} per participant"
                + (f" on {TIME_SCALES[a.time][2]}, correlated" if a.random_slope else ""),
                "estimation": "REML" if a.reml else "ML",
                "df": "Satterthwaite",
                "missing_data": "every observed visit used; no imputation (missing at random)",
            },
            notes=tuple(notes),
            headline=headline_frame(
                [
                    headline_row(
                        r,
                        f"mean change vs {a.baseline_visit} (LMM, random slope)"
                        if a.random_slope
                        else f"mean change vs {a.baseline_visit} (LMM)",
                        method,
                        n=r["n_obs"],
                    )
                    for r in rows
                ]
            ),
        ),
    )
