"""Regression to the mean over the plan's reliability range and population means."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from remit.analysis.context import Context
from remit.analysis.result import SectionResult, section_fields
from remit.protocol import ChangeEndpoint, Protocol, RTMAnalysis
from remit.stats.rtm import regression_to_mean


@dataclass(frozen=True, eq=False, kw_only=True)
class RTMSectionResult(SectionResult):
    """Result of an ``rtm`` analysis: the expected range and the grid it was read from."""

    range: pd.DataFrame
    grid: pd.DataFrame | None = None


def reliability_grid(low: float, high: float, step: float = 0.05) -> tuple[float, ...]:
    """``low``, every multiple of ``step`` strictly between, and ``high``.

    Examples
    --------
    >>> reliability_grid(0.65, 0.93)
    (0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93)
    """
    inside = [
        round(k * step, 10)
        for k in range(math.floor(low / step) + 1, math.ceil(high / step))
        if low < k * step < high
    ]
    return tuple(dict.fromkeys([low, *inside, high]))


def run_rtm(a: RTMAnalysis, ctx: Context) -> RTMSectionResult:
    """Expected regression to the mean over the plan's reliability range and population means.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> r = run_rtm(oslo.analysis.analyses[6], ctx).tables["range"].iloc[0]
    >>> round(float(r["rtm_min"]), 4), round(float(r["rtm_max"]), 4)
    (0.6767, 5.1333)
    """
    notes: list[str] = []
    x = ctx.values(a.scale, a.visit)
    obs = x[~np.isnan(x)]
    change_endpoint = _change_endpoint_for(ctx.protocol, a.scale, a.visit)
    observed: float | None = None
    if change_endpoint is not None:
        c = ctx.endpoints.change
        values = c.loc[c["endpoint_id"] == change_endpoint.id, "change"].dropna()
        if len(values):
            observed = float(values.mean())
    raw: dict[str, Any] = {}
    range_ = pd.DataFrame()
    grid: pd.DataFrame | None = None
    if obs.size == 0:
        notes.append(f"no {a.scale} total at {a.visit}: regression to the mean not estimable")
    else:
        r = regression_to_mean(
            float(obs.mean()),
            a.population_means,
            reliability_grid(*a.reliability),
            observed_change=observed,
        )
        raw[a.scale] = r
        range_ = pd.DataFrame(
            [
                {
                    "scale": a.scale,
                    "visit": a.visit,
                    "n": int(obs.size),
                    "selected_mean": r.selected_mean,
                    "rtm_min": r.rtm_min,
                    "rtm_max": r.rtm_max,
                    "observed_change": r.observed_change,
                    "observed_change_endpoint": change_endpoint.id if change_endpoint else None,
                    "reliability_low": a.reliability[0],
                    "reliability_high": a.reliability[1],
                    "entry_cutoff": a.entry_cutoff,
                }
            ]
        )
        grid = r.to_frame()
    return RTMSectionResult(
        range=range_,
        grid=grid,
        **section_fields(
            a,
            stats=raw,
            conventions={
                "formula": "expected RTM = (1 − ρ)·(baseline mean of those enrolled − population "
                "mean μ)",
                "assumptions": "scores normal with equal variance at both times; ρ = test–retest "
                f"reliability over {a.reliability[0]:g}–{a.reliability[1]:g}; μ over "
                + ", ".join(f"{m:g}" for m in a.population_means),
            },
            notes=tuple(notes),
        ),
    )


def _change_endpoint_for(protocol: Protocol, scale: str, visit: str) -> ChangeEndpoint | None:
    found = [
        e
        for e in protocol.endpoints
        if isinstance(e, ChangeEndpoint) and e.scale == scale and e.from_visit == visit
    ]
    primary = [e for e in found if e.role == "primary"]
    if primary:
        return primary[0]
    return found[0] if found else None
