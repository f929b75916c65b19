"""Outcome figures: individual trajectories with the mean, a waterfall, status transitions.

Each builder takes plain, already-derived inputs (values per participant, categories, the
summary numbers of the analysis result) and draws them; none computes a statistic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from remit.reports.format import fmt
from remit.reports.status import CATEGORIES
from remit.reports.style import (
    FULL_WIDTH,
    MEAN_COLOUR,
    STATUS_COLOURS,
    STATUS_LABELS,
    THRESHOLD_COLOUR,
    ReportFigure,
    figure_svg,
    mark_simulated,
    new_figure,
    report_style,
)


@dataclass(frozen=True)
class VisitAxis:
    """Where a visit sits on the time axis: its code, a short label and its planned week."""

    code: str
    label: str
    week: float


@dataclass(frozen=True)
class SummaryPoint:
    """A mean with its confidence interval at one visit, as the analysis result gives it.

    ``group`` names the series (e.g. the arm) when there are several.
    """

    visit: str
    mean: float
    ci_low: float
    ci_high: float
    group: str = ""


# bar hatching per group (arm) in the waterfall; the first group is plain
_HATCHES: tuple[str, ...] = ("", "///", "...", "xxx")

# mean series: (marker, line style, colour); the first is the single-arm case
_SERIES: tuple[tuple[str, Literal["-", "--", ":"], str], ...] = (
    ("s", "-", MEAN_COLOUR),
    ("o", "--", "#555555"),
    ("^", ":", MEAN_COLOUR),
)


def _status_legend(categories: Sequence[str]) -> list[Patch]:
    present = [c for c in CATEGORIES if c in set(categories)]
    return [Patch(color=STATUS_COLOURS[c], label=STATUS_LABELS[c]) for c in present]


def trajectory_figure(
    values: pd.DataFrame,
    visits: Sequence[VisitAxis],
    categories: Mapping[str, str],
    summary: Sequence[SummaryPoint],
    *,
    figure_id: str = "fig-trajectories",
    scale_label: str = "MADRS total score",
    y_range: tuple[float, float] | None = None,
    cutoffs: Sequence[tuple[float, str]] = (),
    summary_label: str = "Mean (95% CI)",
    category_visit: str = "",
    simulated: bool = False,
) -> ReportFigure:
    """Each participant's scores over the visits, coloured by outcome, with the mean and CI.

    Parameters
    ----------
    values
        Columns ``participant_id``, ``visit_code``, ``value`` (the analysis records).
    visits
        The visits on the x axis, in order, with their planned week.
    categories
        Participant id → outcome category (colours the line).
    summary
        The mean and CI per visit from the analysis result, drawn in black.
    cutoffs
        Horizontal reference lines ``(value, label)``, e.g. the remission cut-off.
    """
    weeks = {v.code: v.week for v in visits}
    with report_style(figure_id):
        fig = new_figure(FULL_WIDTH, 4.6)
        ax = fig.add_subplot()
        shown = values[values["visit_code"].isin(weeks)].copy()
        shown["x"] = shown["visit_code"].map(weeks)
        for pid, rows in shown.sort_values("x").groupby("participant_id", sort=True):
            colour = STATUS_COLOURS[categories.get(str(pid), "missing")]
            ax.plot(
                rows["x"],
                rows["value"],
                color=colour,
                alpha=0.75,
                linewidth=0.9,
                marker="o",
                markersize=3,
                zorder=2,
            )
        span = max(weeks.values()) - min(weeks.values()) if weeks else 1.0
        groups = list(dict.fromkeys(p.group for p in summary))
        mean_handles: list[Line2D] = []
        for g, group in enumerate(groups):
            marker, style, colour = _SERIES[g % len(_SERIES)]
            points = [p for p in summary if p.group == group and p.visit in weeks]
            if not points:
                continue
            xs = [weeks[p.visit] + (0.012 + 0.022 * g) * span for p in points]
            m_arr = np.array([p.mean for p in points], dtype=float)
            lo_arr = np.array([p.ci_low for p in points], dtype=float)
            hi_arr = np.array([p.ci_high for p in points], dtype=float)
            err = np.nan_to_num(np.array([m_arr - lo_arr, hi_arr - m_arr]), nan=0.0)
            ax.errorbar(
                xs,
                m_arr,
                yerr=err,
                color=colour,
                linestyle=style,
                linewidth=2.2,
                capsize=4,
                marker=marker,
                markersize=6,
                zorder=5,
            )
            for x, m in zip(xs, m_arr, strict=True):
                ax.annotate(
                    fmt(m, "estimate"),
                    (x, m),
                    xytext=(8, 6 if g % 2 == 0 else -12),
                    textcoords="offset points",
                    fontsize=8,
                    fontweight="bold",
                    va="bottom",
                    color=colour,
                    zorder=6,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                )
            label = f"{summary_label}: {group}" if group else summary_label
            mean_handles.append(
                Line2D(
                    [],
                    [],
                    color=colour,
                    linestyle=style,
                    marker=marker,
                    linewidth=2.2,
                    label=label,
                )
            )
        for value, _label in cutoffs:
            ax.axhline(value, color=THRESHOLD_COLOUR, linestyle="--", linewidth=0.9, zorder=1)
        ax.set_xticks([v.week for v in visits], [v.label for v in visits])
        ax.set_xlabel("Visit (planned weeks after the baseline visit)")
        ax.set_ylabel(scale_label)
        if y_range is not None:
            ax.set_ylim(*y_range)
        ax.set_xlim(min(weeks.values()) - 0.05 * span, max(weeks.values()) + 0.09 * span)
        handles: list[Patch | Line2D] = list(_status_legend(list(categories.values())))
        handles.extend(mean_handles)
        handles.extend(
            Line2D([], [], color=THRESHOLD_COLOUR, linestyle="--", linewidth=0.9, label=label)
            for _value, label in cutoffs
        )
        longest = max((len(str(h.get_label())) for h in handles), default=0)
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=3 if longest <= 32 else 2,
            title=f"Line colour: status at {category_visit}" if category_visit else None,
            title_fontsize=8,
        )
        if simulated:
            mark_simulated(fig)
        svg = figure_svg(fig, figure_id)
    return ReportFigure(figure_id, f"{scale_label} over time", "", svg)


def waterfall_figure(
    percent_change: pd.Series,
    categories: Mapping[str, str],
    *,
    threshold_pct: float | None,
    figure_id: str = "fig-waterfall",
    visit_label: str = "V13",
    scale_label: str = "MADRS",
    groups: Mapping[str, str] | None = None,
    simulated: bool = False,
) -> ReportFigure:
    """One bar per participant: percent change from baseline, sorted, with the response line.

    Parameters
    ----------
    percent_change
        Participant id → percent change at the visit (NaN when missing; such participants are
        named under the axis, not drawn).
    threshold_pct
        The response threshold as a change, e.g. −50 for "reduced by at least 50 %".
    groups
        Participant id → group label (e.g. the arm); several groups are told apart by hatching.
    """
    known = percent_change.dropna().sort_values(ascending=False, kind="mergesort")
    missing = sorted(str(p) for p in percent_change.index if pd.isna(percent_change[p]))
    with report_style(figure_id):
        fig = new_figure(FULL_WIDTH, 3.8)
        ax = fig.add_subplot()
        x = np.arange(len(known))
        colours = [STATUS_COLOURS[categories.get(str(p), "missing")] for p in known.index]
        bars = ax.bar(
            x, known.to_numpy(), color=colours, width=0.75, edgecolor="#333333", linewidth=0.4
        )
        ax.axhline(0, color="#333333", linewidth=0.8)
        handles: list[Patch | Line2D] = list(
            _status_legend([categories.get(str(p), "missing") for p in known.index])
        )
        names = list(dict.fromkeys((groups or {}).values()))
        if len(names) > 1:
            hatch = {name: _HATCHES[i % len(_HATCHES)] for i, name in enumerate(names)}
            for bar, pid in zip(bars, known.index, strict=True):
                bar.set_hatch(hatch.get((groups or {}).get(str(pid), ""), ""))
            handles += [
                Patch(facecolor="white", edgecolor="#333333", hatch=hatch[n], label=n)
                for n in names
            ]
        if threshold_pct is not None:
            ax.axhline(threshold_pct, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1.0)
            handles.append(
                Line2D(
                    [],
                    [],
                    color=THRESHOLD_COLOUR,
                    linestyle="--",
                    label=f"Response threshold ({fmt(threshold_pct, 'count')}%)",
                )
            )
        ax.set_xticks(x, [str(p) for p in known.index], rotation=90 if len(known) > 24 else 0)
        ax.set_xlabel("Participant (sorted by change)")
        ax.set_ylabel(f"Change in {scale_label} from baseline at {visit_label} (%)")
        low = min(-100.0, float(known.min()) if len(known) else -100.0)
        high = max(20.0, float(known.max()) + 5 if len(known) else 20.0)
        ax.set_ylim(low - 5, high)
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=3,
            title=f"Bar colour: status at {visit_label}",
            title_fontsize=8,
        )
        if missing:
            ax.text(
                0.99,
                0.97,
                f"Not assessed at {visit_label}: " + ", ".join(missing),
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7.5,
                color="#555555",
            )
        if simulated:
            mark_simulated(fig)
        svg = figure_svg(fig, figure_id)
    return ReportFigure(figure_id, f"Waterfall of percent change at {visit_label}", "", svg)


def _flow(x0: float, x1: float, y0: tuple[float, float], y1: tuple[float, float]) -> MplPath:
    """A band from the interval y0 at x0 to the interval y1 at x1, with S-shaped edges."""
    mid = (x0 + x1) / 2
    verts = [
        (x0, y0[0]),
        (mid, y0[0]),
        (mid, y1[0]),
        (x1, y1[0]),
        (x1, y1[1]),
        (mid, y1[1]),
        (mid, y0[1]),
        (x0, y0[1]),
        (x0, y0[0]),
    ]
    codes = [
        MplPath.MOVETO,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.LINETO,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.CLOSEPOLY,
    ]
    return MplPath(verts, codes)


def transition_figure(
    before: Mapping[str, str],
    after: Mapping[str, str],
    *,
    before_label: str,
    after_label: str,
    figure_id: str = "fig-transitions",
    simulated: bool = False,
) -> ReportFigure:
    """An alluvial chart: participants' outcome category at one visit flowing to the next.

    Parameters
    ----------
    before, after
        Participant id → category (see :mod:`remit.reports.status`) at the two visits.
    """
    ids = sorted(set(before) | set(after))
    pairs = pd.DataFrame(
        {
            "before": [before.get(p, "missing") for p in ids],
            "after": [after.get(p, "missing") for p in ids],
        }
    )
    counts = pairs.value_counts().to_dict()
    gap = 0.6
    total = len(ids)
    with report_style(figure_id):
        fig = new_figure(FULL_WIDTH, 3.9)
        ax = fig.add_subplot()
        node_w = 0.12
        xs = (0.0, 1.0)

        def layout(column: Mapping[str, str]) -> dict[str, tuple[float, float]]:
            spans: dict[str, tuple[float, float]] = {}
            top = total + gap * (len(CATEGORIES) - 1)
            for c in CATEGORIES:
                n = sum(1 for p in ids if column.get(p, "missing") == c)
                if n == 0:
                    continue
                spans[c] = (top - n, top)
                top -= n + gap
            return spans

        left, right = layout(before), layout(after)
        # flows: stack within each node in category order, so bands do not cross needlessly
        out_fill = {c: span[1] for c, span in left.items()}
        in_fill = {c: span[1] for c, span in right.items()}
        for b in CATEGORIES:
            for a in CATEGORIES:
                n = counts.get((b, a), 0)
                if n == 0:
                    continue
                y0 = (out_fill[b] - n, out_fill[b])
                y1 = (in_fill[a] - n, in_fill[a])
                out_fill[b] -= n
                in_fill[a] -= n
                path = _flow(xs[0] + node_w / 2, xs[1] - node_w / 2, y0, y1)
                ax.add_patch(
                    PathPatch(path, facecolor=STATUS_COLOURS[b], alpha=0.35, edgecolor="none")
                )
        for x, spans, side in ((xs[0], left, "right"), (xs[1], right, "left")):
            for c, (lo, hi) in spans.items():
                ax.add_patch(
                    Rectangle(
                        (x - node_w / 2, lo),
                        node_w,
                        hi - lo,
                        facecolor=STATUS_COLOURS[c],
                        edgecolor="#333333",
                        linewidth=0.6,
                    )
                )
                n = round(hi - lo)
                label = f"{STATUS_LABELS[c]}  {n}"
                if side == "right":
                    ax.text(x - node_w / 2 - 0.02, (lo + hi) / 2, label, ha="right", va="center")
                else:
                    ax.text(x + node_w / 2 + 0.02, (lo + hi) / 2, label, ha="left", va="center")
        height = total + gap * (len(CATEGORIES) - 1)
        ax.text(xs[0], height + 0.4, before_label, ha="center", va="bottom", fontweight="bold")
        ax.text(xs[1], height + 0.4, after_label, ha="center", va="bottom", fontweight="bold")
        ax.set_xlim(-0.75, 1.75)
        ax.set_ylim(-0.2, height + 1.4)
        ax.set_axis_off()
        if simulated:
            mark_simulated(fig)
        svg = figure_svg(fig, figure_id)
    return ReportFigure(figure_id, f"Outcome status from {before_label} to {after_label}", "", svg)


__all__ = [
    "SummaryPoint",
    "VisitAxis",
    "trajectory_figure",
    "transition_figure",
    "waterfall_figure",
]
