"""The time-to-event section: Kaplan–Meier time to relapse among those in remission."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from remit.analysis.context import Context, estimated
from remit.analysis.result import SectionResult, headline_frame, headline_row, section_fields
from remit.errors import InputError
from remit.protocol import RelapseEndpoint, TimeToEventAnalysis
from remit.stats.survival import kaplan_meier

ESTIMATE_COLUMNS = (
    "arm",
    "endpoint_id",
    "from_visit",
    "to_visit",
    "n_at_risk",
    "n_events",
    "n_censored",
    "last_time_days",
    "survival",
    "se",
    "ci_low",
    "ci_high",
    "median_days",
    "median_ci_low",
    "median_ci_high",
    "ci_method",
)


@dataclass(frozen=True, eq=False, kw_only=True)
class TimeToEventSectionResult(SectionResult):
    """Result of a ``time_to_event`` analysis.

    ``estimates``: per arm and endpoint, the proportion free of the event at the endpoint's
    ``to_visit`` (the Kaplan–Meier curve at the last follow-up time) with its interval, and the
    median time; ``curves``: every step of each curve (time in days from ``from_visit``).
    """

    estimates: pd.DataFrame
    curves: pd.DataFrame


def _relapse_endpoint(a: TimeToEventAnalysis, ctx: Context, endpoint_id: str) -> RelapseEndpoint:
    endpoint = ctx.protocol.endpoint(endpoint_id)
    if not isinstance(endpoint, RelapseEndpoint):
        raise InputError(
            f"analysis {a.id} asks for the time to event of endpoint {endpoint_id!r}, "
            f"a {endpoint.kind} endpoint",
            expected='a relapse endpoint (kind = "relapse")',
            hint="list relapse endpoints only in a time_to_event analysis",
        )
    return endpoint


def run_time_to_event(a: TimeToEventAnalysis, ctx: Context) -> TimeToEventSectionResult:
    """Kaplan–Meier time to relapse per relapse endpoint (and arm), read at its ``to_visit``.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> s = run_time_to_event(oslo.analysis.analyses[9], ctx)
    >>> s.estimates[["endpoint_id", "to_visit", "n_at_risk", "n_events"]].values.tolist()
    [['madrs_relapse', 'FU7', 3, 1]]
    >>> round(float(s.estimates["survival"].iloc[0]), 4)
    0.6667
    """
    times = ctx.endpoints.time_to_relapse
    rows: list[dict[str, Any]] = []
    curves: list[pd.DataFrame] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    for endpoint_id in a.endpoints:
        e = _relapse_endpoint(a, ctx, endpoint_id)
        for arm, ids in ctx.groups:
            where = endpoint_id if arm is None or not ctx.by_arm else f"{arm}/{endpoint_id}"
            sub = times[(times["endpoint_id"] == endpoint_id) & times["participant_id"].isin(ids)]
            unknown = sub[sub["time_days"].isna()]
            if len(unknown):
                notes.append(
                    f"{where}: left out, no study day of the visits: "
                    + ", ".join(map(str, unknown["participant_id"]))
                )
            sub = sub[sub["time_days"].notna()]
            if sub.empty:
                notes.append(f"{where}: nobody in remission at {e.from_visit}; not estimable")
                continue
            km = estimated(
                notes,
                where,
                kaplan_meier,
                sub["time_days"].to_numpy(dtype=float),
                sub["event"].astype(bool).to_numpy(),
                conf_level=ctx.conf_level,
                ci_method=a.ci_method,
            )
            if km is None:
                continue
            raw[where] = km
            last = km.table.iloc[-1]
            rows.append(
                {
                    "arm": arm,
                    "endpoint_id": endpoint_id,
                    "from_visit": e.from_visit,
                    "to_visit": e.to_visit,
                    "n_at_risk": km.n,
                    "n_events": km.n_events,
                    "n_censored": km.n - km.n_events,
                    "last_time_days": float(last["time"]),
                    "survival": float(last["survival"]),
                    "se": float(last["se"]),
                    "ci_low": float(last["ci_low"]),
                    "ci_high": float(last["ci_high"]),
                    "median_days": km.median,
                    "median_ci_low": km.median_ci_low,
                    "median_ci_high": km.median_ci_high,
                    "ci_method": km.ci_method,
                }
            )
            curve = km.table.copy()
            curve.insert(0, "endpoint_id", endpoint_id)
            curve.insert(0, "arm", pd.Series([arm] * len(curve), dtype=object))
            curves.append(curve)
    estimates = pd.DataFrame(rows, columns=list(ESTIMATE_COLUMNS))
    method = f"Kaplan–Meier, Greenwood variance, {a.ci_method} interval"
    return TimeToEventSectionResult(
        estimates=estimates,
        curves=pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
        **section_fields(
            a,
            stats=raw,
            conventions={
                "time": "days from the assessment at the endpoint's first visit to the first "
                "visit out of remission (event) or to the last visit observed up to its second "
                "visit (censored)",
                "estimate": "Kaplan–Meier proportion free of relapse at the last follow-up time",
                "ci": f"pointwise {a.ci_method} interval, Greenwood variance",
            },
            notes=tuple(notes),
            headline=headline_frame(
                [
                    headline_row(
                        r,
                        f"{r['endpoint_id']} free at {r['to_visit']} (Kaplan–Meier)",
                        method,
                        scale=ctx.protocol.endpoint(r["endpoint_id"]).scale,
                        visit=r["to_visit"],
                        estimate=r["survival"],
                        n=r["n_at_risk"],
                    )
                    for r in rows
                ]
            ),
        ),
    )
