"""The Kaplan–Meier figure: the proportion free of the event over time, with its interval.

The curve is drawn from the analysis result's step table (one row per observed time with
the estimate and its pointwise interval); nothing is estimated here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from numpy.typing import NDArray

from remit.reports.style import (
    FULL_WIDTH,
    OKABE_ITO,
    ReportFigure,
    figure_svg,
    mark_simulated,
    new_figure,
    report_style,
)

FloatArray = NDArray[np.float64]
_SERIES_COLOURS = tuple(
    OKABE_ITO[name] for name in ("blue", "vermillion", "bluish_green", "orange", "reddish_purple")
)


def _steps(curve: pd.DataFrame, column: str, start: float) -> tuple[FloatArray, FloatArray]:
    """Times and values of a right-continuous step function starting at (0, ``start``)."""
    times = np.concatenate([[0.0], curve["time"].to_numpy(dtype=float)])
    values = np.concatenate([[start], curve[column].to_numpy(dtype=float)])
    return times, values


def km_figure(
    curves: pd.DataFrame,
    *,
    labels: Mapping[str, str],
    time_label: str,
    figure_id: str = "fig-km",
    simulated: bool = False,
) -> ReportFigure:
    """Kaplan–Meier curves, one per series, with shaded pointwise intervals and censoring ticks.

    Parameters
    ----------
    curves
        The step table of a time-to-event result: ``series`` (the label key), ``time``,
        ``n_censored``, ``survival``, ``ci_low`` and ``ci_high``, sorted by time per series.
    labels
        Series key → legend label.
    time_label
        What the time axis counts (e.g. "Days after V13").
    """
    with report_style(figure_id):
        fig = new_figure(FULL_WIDTH, 3.6)
        ax = fig.add_subplot()
        handles: list[Line2D] = []
        last = 0.0
        for i, (key, curve) in enumerate(curves.groupby("series", sort=False)):
            colour = _SERIES_COLOURS[i % len(_SERIES_COLOURS)]
            t, s = _steps(curve, "survival", 1.0)
            ax.step(t, s, where="post", color=colour, linewidth=1.6)
            _t, low = _steps(curve, "ci_low", 1.0)
            _t, high = _steps(curve, "ci_high", 1.0)
            ax.fill_between(
                t,
                np.nan_to_num(low, nan=0.0),
                np.nan_to_num(high, nan=1.0),
                step="post",
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
            censored = curve[curve["n_censored"] > 0]
            ax.plot(
                censored["time"],
                censored["survival"],
                linestyle="none",
                marker="|",
                markersize=9,
                color=colour,
            )
            handles.append(Line2D([], [], color=colour, label=labels.get(str(key), str(key))))
            last = max(last, float(curve["time"].max()) if len(curve) else 0.0)
        handles.append(
            Line2D([], [], color="#555555", linestyle="none", marker="|", label="Censored")
        )
        ax.set_xlim(0, last * 1.05 if last else 1.0)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel(time_label)
        ax.set_ylabel("Proportion free of relapse")
        fig.legend(handles=handles, loc="outside lower center", ncol=3)
        if simulated:
            mark_simulated(fig)
        svg = figure_svg(fig, figure_id)
    return ReportFigure(figure_id, "Time to relapse (Kaplan–Meier)", "", svg)
