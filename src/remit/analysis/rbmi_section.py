"""The reference-based imputation section: per-visit differences (or one arm's mean change)
after MAR, J2R, CR or CIR imputation with delta, and the tipping-point grid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from remit.analysis.context import Context, estimated
from remit.analysis.result import SectionResult, section_fields
from remit.protocol import RbmiAnalysis
from remit.stats.rbmi import RbmiResult, rbmi_bayes, rbmi_condmean, tipping_point


@dataclass(frozen=True, eq=False, kw_only=True)
class RbmiSectionResult(SectionResult):
    """Result of an ``rbmi`` analysis: per-visit estimates (``differences``: active − reference
    arm, or the mean change for one arm) and, when the plan gives ``tipping_deltas``, the
    tipping-point grid (``tipping``) and where significance was lost (``tipping_points``)."""

    differences: pd.DataFrame
    tipping: pd.DataFrame | None = None
    tipping_points: pd.DataFrame | None = None


def _frame(a: RbmiAnalysis, ctx: Context, scale: str) -> tuple[pd.DataFrame, list[str]]:
    """Change from baseline of every participant of the population at every visit (NaN where
    missing), with the baseline and the arm; participants without a baseline are left out."""
    t = ctx.totals
    sub = t[(t["scale"] == scale) & t["participant_id"].isin(ctx.population)]
    base = (
        sub[sub["visit_code"] == a.baseline_visit]
        .drop_duplicates("participant_id")
        .set_index("participant_id")["AVAL"]
        .astype(float)
    )
    post = sub[sub["visit_code"].isin(a.visits)]
    change = {
        (str(p), str(v)): float(c)
        for p, v, c in zip(post["participant_id"], post["visit_code"], post["CHG"], strict=True)
    }
    arm_of = dict(zip(sub["participant_id"].astype(str), sub["arm"], strict=True))
    notes: list[str] = []
    people = [str(p) for p in ctx.population]
    no_base = [p for p in people if p not in base.index or pd.isna(base.get(p))]
    if no_base:
        notes.append(
            f"{scale}: {len(no_base)} participant(s) without a {a.baseline_visit} total left out"
        )
    rows = [
        {
            "participant_id": p,
            "visit": v,
            "arm": arm_of.get(p),
            "baseline": float(base[p]),
            "change": change.get((p, v), float("nan")),
        }
        for p in people
        if p not in no_base
        for v in a.visits
    ]
    frame = pd.DataFrame(rows, columns=["participant_id", "visit", "arm", "baseline", "change"])
    return frame, notes


def run_rbmi(a: RbmiAnalysis, ctx: Context) -> RbmiSectionResult:
    """Reference-based imputation of the change from baseline per scale, then the tipping point.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> a = next(x for x in oslo.analysis.analyses if x.kind == "rbmi")
    >>> s = run_rbmi(a, ctx)
    >>> s.differences[["scale", "visit", "contrast"]].values.tolist()[0]
    ['madrs', 'V13', 'mean']
    >>> list(s.tipping_points.columns)
    ['scale', 'visit', 'tipping_delta', 'n_imputed']
    """
    notes: list[str] = []
    raw: dict[str, Any] = {}
    diff_rows: list[pd.DataFrame] = []
    tip_rows: list[pd.DataFrame] = []
    tip_summary: list[dict[str, Any]] = []
    alpha = 1.0 - ctx.conf_level
    one_arm = not ctx.by_arm
    group = None if one_arm else "arm"
    reference = None if one_arm else a.reference
    common: dict[str, Any] = {
        "y": "change",
        "subject": "participant_id",
        "visit": "visit",
        "group": group,
        "reference": reference,
        "covariates": ["baseline"],
        "visit_levels": list(a.visits),
        "alpha": alpha,
        "strategy": a.strategy.upper(),
    }
    if one_arm and a.reference is not None:
        notes.append(f"one arm: reference {a.reference} not used")
    for scale in a.scales:
        frame, missing = _frame(a, ctx, scale)
        notes.extend(missing)
        result: RbmiResult | None
        if a.method == "bayes":
            result = estimated(
                notes, scale, rbmi_bayes, frame, delta=a.delta or None, n_samples=a.samples,
                seed=a.seed, **common,
            )  # fmt: skip
        else:
            result = estimated(
                notes, scale, rbmi_condmean, frame, delta=a.delta or None,
                method=a.resampling, n_boot=a.samples, seed=a.seed, **common,
            )  # fmt: skip
        if result is None:
            continue
        raw[scale] = result
        table = result.to_frame()
        table.insert(0, "scale", scale)
        table["n_imputed"] = result.n_imputed
        diff_rows.append(table)
        if not a.tipping_deltas:
            continue
        at = a.tipping_visit or a.visits[-1]
        tp = estimated(
            notes, f"{scale} tipping point", tipping_point, frame, deltas=list(a.tipping_deltas),
            at_visit=at, method="bayes" if a.method == "bayes" else a.resampling,
            n_boot=a.samples, n_samples=a.samples, seed=a.seed, stop=False, **common,
        )  # fmt: skip
        if tp is None:
            continue
        raw[f"{scale}/tipping"] = tp
        grid = tp.to_frame()
        grid.insert(0, "scale", scale)
        grid.insert(1, "visit", at)
        tip_rows.append(grid)
        tip_summary.append(
            {
                "scale": scale,
                "visit": at,
                "tipping_delta": tp.tipping_delta,
                "n_imputed": result.n_imputed,
            }
        )
        if tp.tipping_delta is None:
            notes.append(
                f"{scale}: significance at {at} was kept over the whole delta grid"
                if result.n_imputed
                else f"{scale}: nothing was imputed, so delta changes nothing"
            )
    columns = ["scale", "visit", "contrast", "estimate", "se", "ci_low", "ci_high", "p", "df"]
    differences = (
        pd.concat(diff_rows, ignore_index=True)
        if diff_rows
        else pd.DataFrame(columns=[*columns, "n_imputed"])
    )
    how = (
        f"approximate-Bayesian multiple imputation, {a.samples} imputations pooled by Rubin's "
        "rules with Barnard–Rubin degrees of freedom"
        if a.method == "bayes"
        else f"conditional mean imputation with {a.resampling} standard errors "
        "(normal-based intervals and p-values)"
    )
    model = "visit + baseline×visit" if one_arm else "arm×visit + baseline×visit"
    return RbmiSectionResult(
        differences=differences,
        tipping=pd.concat(tip_rows, ignore_index=True) if tip_rows else None,
        tipping_points=pd.DataFrame(tip_summary) if tip_summary else None,
        **section_fields(
            a,
            stats=raw,
            conventions={
                "imputation_model": f"MMRM of the change from baseline ({model}, unstructured "
                "covariance, REML) fitted to the observed values",
                "strategy": {
                    "mar": "missing at random",
                    "j2r": f"jump to reference ({a.reference})",
                    "cr": f"copy reference ({a.reference})",
                    "cir": f"copy increments in reference ({a.reference})",
                }[a.strategy]
                + " after a participant's last observed visit; intermittent gaps MAR",
                "delta": f"{a.delta:g} added to values imputed after the last observed visit",
                "method": how,
                "analysis": "mean change per visit"
                if one_arm
                else "ANCOVA per visit (change ~ arm + baseline)",
                "seed": "none (deterministic)" if a.seed is None else str(a.seed),
            },
            notes=tuple(notes),
        ),
    )
