"""Vital signs over each dosing session, with the protocol's thresholds.

A grid: one row per vital sign read (in the order of ``remit.protocol.VITAL_SIGNS``), one
column per dosing session. Thin lines are participants; the thick line is
the mean at each planned time point (a drawing aid, not a reported statistic); dashed lines
are the session's thresholds from the protocol; readings beyond a threshold are ringed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from remit.protocol import VITAL_SIGNS, VitalThreshold
from remit.reports.format import Kind, fmt
from remit.reports.style import (
    FULL_WIDTH,
    INDIVIDUAL_COLOUR,
    MEAN_COLOUR,
    THRESHOLD_COLOUR,
    ReportFigure,
    figure_svg,
    mark_simulated,
    new_figure,
    report_style,
)


def sign_kind(sign: str) -> Kind:
    """The format kind of a vital sign's readings: whole numbers or one decimal."""
    found = VITAL_SIGNS.get(sign)
    return "vital" if found is None or found.decimals == 0 else "temperature"


def vitals_figure(
    vitals: pd.DataFrame,
    sessions: Sequence[tuple[int, str]],
    thresholds: Mapping[int, Mapping[str, VitalThreshold]],
    *,
    figure_id: str = "fig-vitals",
    simulated: bool = False,
) -> ReportFigure:
    """Draw the vital-signs grid.

    Parameters
    ----------
    vitals
        The ``vitals`` frame of :class:`~remit.analysis.TrialData`.
    sessions
        ``(session number, label)`` per column, in order.
    thresholds
        Session number → vital sign → the protocol's threshold.
    """
    signs = [s for s in VITAL_SIGNS if s in vitals and vitals[s].notna().any()]
    n_rows, n_cols = max(1, len(signs)), max(1, len(sessions))
    with report_style(figure_id):
        fig = new_figure(FULL_WIDTH, 1.75 * n_rows + 0.6)
        axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True)
        for r, sign in enumerate(signs):
            label, unit, kind = VITAL_SIGNS[sign].label, VITAL_SIGNS[sign].unit, sign_kind(sign)
            shown = vitals[vitals[sign].notna()]
            limits = [
                (t.high, t.low) for per in thresholds.values() if (t := per.get(sign)) is not None
            ]
            bounds = [float(v) for pair in limits for v in pair if v is not None]
            values = shown[sign].to_numpy(dtype=float)
            lo = min([*values, *bounds]) if len(values) or bounds else 0.0
            hi = max([*values, *bounds]) if len(values) or bounds else 1.0
            pad = 0.08 * (hi - lo or 1.0)
            for c, (session, title) in enumerate(sessions):
                ax = axes[r][c]
                rows = shown[shown["session_number"] == session]
                hours = rows["minutes_after_dose"].astype(float) / 60.0
                for _pid, one in rows.assign(h=hours).sort_values("h").groupby("participant_id"):
                    ax.plot(one["h"], one[sign], color=INDIVIDUAL_COLOUR, linewidth=0.7, alpha=0.8)
                if len(rows):
                    mean = rows.assign(h=hours).groupby("h")[sign].mean()
                    ax.plot(mean.index, mean.to_numpy(), color=MEAN_COLOUR, linewidth=2.0)
                limit = thresholds.get(session, {}).get(sign)
                if limit is not None:
                    for bound in (limit.high, limit.low):
                        if bound is None:
                            continue
                        ax.axhline(bound, color=THRESHOLD_COLOUR, linestyle="--", linewidth=0.9)
                        ax.annotate(
                            f"{fmt(bound, kind)} {unit}",
                            (0.99, bound),
                            xycoords=("axes fraction", "data"),
                            xytext=(0, 2 if bound == limit.high else -2),
                            textcoords="offset points",
                            ha="right",
                            va="bottom" if bound == limit.high else "top",
                            fontsize=7,
                            color=THRESHOLD_COLOUR,
                        )
                    beyond = rows[[limit.breached(float(v)) for v in rows[sign]]]
                    if len(beyond):
                        ax.plot(
                            beyond["minutes_after_dose"].astype(float) / 60.0,
                            beyond[sign],
                            linestyle="",
                            marker="o",
                            markersize=6,
                            markerfacecolor="none",
                            markeredgecolor=THRESHOLD_COLOUR,
                            markeredgewidth=1.2,
                        )
                ax.set_ylim(lo - pad, hi + pad)
                ax.axvline(0, color="#777777", linewidth=0.6, linestyle=":")
                if r == 0:
                    ax.set_title(title)
                if c == 0:
                    ax.set_ylabel(f"{label}\n({unit})")
                if r == n_rows - 1:
                    ax.set_xlabel("Hours after the initial dose")
        if not signs:
            axes[0][0].text(0.5, 0.5, "No vital signs recorded", ha="center", va="center")
            axes[0][0].set_axis_off()
        if simulated:
            mark_simulated(fig)
        svg = figure_svg(fig, figure_id)
    return ReportFigure(figure_id, "Vital signs during the dosing sessions", "", svg)


__all__ = ["sign_kind", "vitals_figure"]
