"""The swimmer plot: each participant's time on study with doses, adverse events and alerts.

One horizontal lane per enrolled participant, from enrolment to the last visit done, on the
study-day axis (day 0 is the protocol's reference visit). Dosing sessions are diamonds (open
when the supplemental dose was withheld), adverse events triangles above the lane coloured by
severity (a star for a serious event), safety alerts ticks below the lane, and the outcome
category at the primary and follow-up visits squares on the lane. A lane ending in an arrow
is still on study; one ending in a cross left early.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from remit.analysis import TrialData
from remit.protocol import Protocol
from remit.protocol.status import LEFT_EARLY_STATUSES, ONGOING_STATUSES
from remit.reports.style import (
    FULL_WIDTH,
    OKABE_ITO,
    SEVERITY_COLOURS,
    STATUS_COLOURS,
    STATUS_LABELS,
    ReportFigure,
    figure_svg,
    mark_simulated,
    new_figure,
    report_style,
)

_ALERT_COLOUR = OKABE_ITO["reddish_purple"]
_SLACK_DAYS = 30


@dataclass(frozen=True)
class Lane:
    """One participant's lane: days relative to the reference visit."""

    participant_id: str
    start: float
    end: float
    status: str
    doses: tuple[tuple[float, bool], ...]  # (day, supplemental withheld)
    adverse_events: tuple[tuple[float, str, bool], ...]  # (day, severity, serious)
    alerts: tuple[float, ...]
    outcomes: tuple[tuple[float, str], ...]  # (day, category)
    alerts_outside: int = 0  # alerts dated outside the time on study, not drawn


def _day(moment: object, ref: pd.Timestamp) -> float:
    if moment is None or pd.isna(moment):  # type: ignore[call-overload]
        return float("nan")
    stamp = pd.Timestamp(moment)  # type: ignore[arg-type]
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return float((stamp.normalize() - ref).days)


def lanes(
    data: TrialData,
    protocol: Protocol,
    outcome_categories: Mapping[str, Mapping[str, str]],
) -> list[Lane]:
    """Build the lanes of the enrolled participants.

    ``outcome_categories`` maps a visit code to participant id → category (see
    :mod:`remit.reports.status`); a square is drawn at that visit's date when it took place.
    """
    people = data.participants
    visits = data.visits
    ref_code = protocol.study.reference_visit
    out: list[Lane] = []
    for pid in data.enrolled_ids:
        person = people[people["participant_id"] == pid].iloc[0]
        own = visits[(visits["participant_id"] == pid) & visits["actual_date"].notna()]
        ref_rows = own[own["visit_code"] == ref_code]
        if len(ref_rows):
            ref = pd.Timestamp(ref_rows["actual_date"].iloc[0])
        elif pd.notna(person["enrolled_date"]):
            ref = pd.Timestamp(person["enrolled_date"])
        else:
            continue
        dates = {
            str(c): pd.Timestamp(d)
            for c, d in zip(own["visit_code"], own["actual_date"], strict=True)
        }
        doses = data.doses[data.doses["participant_id"] == pid]
        dose_marks: list[tuple[float, bool]] = []
        for _session, rows in doses.groupby("session_number", sort=True):
            given = rows[rows["status"] == "given"]
            if given.empty:
                continue
            first = given.sort_values("given_at")["given_at"].iloc[0]
            when = _day(first, ref)
            if np.isnan(when):
                code = str(rows["visit_code"].iloc[0])
                when = _day(dates.get(code), ref)
            withheld = bool(
                ((rows["kind"] == "supplemental") & (rows["status"] == "withheld")).any()
            )
            dose_marks.append((when, withheld))
        ae = data.adverse_events[data.adverse_events["participant_id"] == pid]
        ae_marks = tuple(
            (_day(d, ref), str(s or "unknown"), bool(x))
            for d, s, x in zip(ae["onset_date"], ae["severity"], ae["serious"], strict=True)
        )
        al = data.alerts[data.alerts["participant_id"] == pid]
        # the clinical time of the observation behind the alert when the data carry it
        # (services' ``observed_at``); otherwise when the alert was raised
        times = (
            al["observed_at"].fillna(al["raised_at"]) if "observed_at" in al else al["raised_at"]
        )
        alert_marks = tuple(_day(t, ref) for t in times)
        outcome_marks = tuple(
            (_day(dates[visit], ref), cats.get(pid, "missing"))
            for visit, cats in outcome_categories.items()
            if visit in dates
        )
        start = _day(person["enrolled_date"], ref)
        days = [d for d in (_day(x, ref) for x in dates.values()) if not np.isnan(d)]
        events = [d for d, _ in dose_marks] + [d for d, _s, _x in ae_marks]
        known = [d for d in (*days, *events) if not np.isnan(d)]
        end = max(known) if known else 0.0
        if np.isnan(start):
            start = min(known) if known else 0.0
        # an alert is drawn where it falls on the lane; one dated far outside the time on
        # study (e.g. entered long after the visit) would distort the axis and is counted
        inside = tuple(d for d in alert_marks if start - _SLACK_DAYS <= d <= end + _SLACK_DAYS)
        outside = sum(1 for d in alert_marks if not np.isnan(d)) - len(inside)
        out.append(
            Lane(
                participant_id=pid,
                start=start,
                end=end,
                status=str(person["status"]),
                doses=tuple(dose_marks),
                adverse_events=ae_marks,
                alerts=inside,
                outcomes=outcome_marks,
                alerts_outside=outside,
            )
        )
    return out


def swimmer_figure(
    lanes_: Sequence[Lane],
    *,
    reference_visit: str,
    figure_id: str = "fig-swimmer",
    simulated: bool = False,
) -> ReportFigure:
    """Draw the lanes (see the module docstring for the symbols)."""
    n = len(lanes_)
    with report_style(figure_id):
        fig = new_figure(FULL_WIDTH, max(3.0, 0.3 * n + 2.2))
        ax = fig.add_subplot()
        for i, lane in enumerate(lanes_):
            y = n - 1 - i
            ax.plot([lane.start, lane.end], [y, y], color="#C8C8C8", linewidth=6, zorder=1)
            for day, withheld in lane.doses:
                ax.plot(
                    day,
                    y,
                    marker="D",
                    markersize=6,
                    markerfacecolor="white" if withheld else "#222222",
                    markeredgecolor="#222222",
                    zorder=4,
                )
            for day, category in lane.outcomes:
                ax.plot(
                    day,
                    y,
                    marker="s",
                    markersize=7,
                    color=STATUS_COLOURS[category],
                    markeredgecolor="#222222",
                    markeredgewidth=0.5,
                    zorder=5,
                )
            for day, severity, serious in lane.adverse_events:
                ax.plot(
                    day,
                    y + 0.3,
                    marker="*" if serious else "v",
                    markersize=9 if serious else 5,
                    color=SEVERITY_COLOURS.get(severity, OKABE_ITO["grey"]),
                    markeredgecolor="#222222",
                    markeredgewidth=0.4,
                    zorder=6,
                )
            for day in lane.alerts:
                ax.plot(day, y - 0.3, marker="^", markersize=5, color=_ALERT_COLOUR, zorder=6)
            if lane.status in ONGOING_STATUSES:
                ax.annotate(
                    "",
                    xy=(lane.end + 10, y),
                    xytext=(lane.end, y),
                    arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.0},
                )
            elif lane.status in LEFT_EARLY_STATUSES:
                ax.plot(lane.end + 7, y, marker="X", markersize=7, color="#222222", zorder=6)
        ax.set_yticks(range(n), [lane.participant_id for lane in reversed(lanes_)])
        ax.set_ylim(-0.8, n - 0.2)
        ax.axvline(0, color="#555555", linewidth=0.7, linestyle=":")
        ax.set_xlabel(f"Study day (day 0 = reference visit {reference_visit})")
        ax.set_ylabel("Participant")
        categories = sorted(
            {c for lane in lanes_ for _d, c in lane.outcomes},
            key=list(STATUS_COLOURS).index,
        )
        severities = [
            s
            for s in SEVERITY_COLOURS
            if any(s == v for ln in lanes_ for _d, v, _x in ln.adverse_events)
        ]
        handles: list[Line2D | Patch] = [
            Line2D([], [], marker="D", linestyle="", color="#222222", label="Dosing session"),
            Line2D(
                [],
                [],
                marker="D",
                linestyle="",
                markerfacecolor="white",
                markeredgecolor="#222222",
                label="… supplemental dose withheld",
            ),
        ]
        handles += [
            Line2D(
                [],
                [],
                marker="v",
                linestyle="",
                color=SEVERITY_COLOURS[s],
                markeredgecolor="#222222",
                label=f"AE, {s}",
            )
            for s in severities
        ]
        if any(x for ln in lanes_ for _d, _s, x in ln.adverse_events):
            handles.append(
                Line2D([], [], marker="*", linestyle="", color="#222222", label="Serious AE")
            )
        if any(ln.alerts for ln in lanes_):
            handles.append(
                Line2D([], [], marker="^", linestyle="", color=_ALERT_COLOUR, label="Safety alert")
            )
        handles += [
            Line2D(
                [],
                [],
                marker="s",
                linestyle="",
                color=STATUS_COLOURS[c],
                markeredgecolor="#222222",
                label=STATUS_LABELS[c],
            )
            for c in categories
        ]
        if any(ln.status in LEFT_EARLY_STATUSES for ln in lanes_):
            handles.append(
                Line2D([], [], marker="X", linestyle="", color="#222222", label="Left the study")
            )
        if any(ln.status in ONGOING_STATUSES for ln in lanes_):
            handles.append(
                Line2D([], [], marker=">", linestyle="", color="#555555", label="Still on study")
            )
        fig.legend(handles=handles, loc="outside lower center", ncol=4)
        if simulated:
            mark_simulated(fig)
        svg = figure_svg(fig, figure_id)
    return ReportFigure(figure_id, "Each participant's time on study", "", svg)


__all__ = ["Lane", "lanes", "swimmer_figure"]
