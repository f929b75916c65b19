"""Power curves of a simulated design grid: power against total sample size.

One panel per correlation ρ; one colour per effect and one line style per dropout; the
bars are ±1.96 Monte Carlo standard errors of each simulated power and the thin grey
line marks the target power. Nothing is simulated here: the figure draws the grid table of
:func:`remit.stats.power_grid.run_power_grid`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from remit.reports.style import FULL_WIDTH, OKABE_ITO, new_figure, report_style

_COLOURS = tuple(
    OKABE_ITO[name]
    for name in ("blue", "vermillion", "bluish_green", "orange", "reddish_purple", "sky_blue")
)
_STYLES = ("-", "--", ":", "-.")
_NEEDED = ("n_total", "effect", "rho", "dropout", "power", "mc_se")


def power_curve_figure(table: pd.DataFrame, *, target: float | None = 0.8) -> Figure:
    """Simulated power against total N, one panel per ρ (see the module docstring).

    Parameters
    ----------
    table
        The grid table: ``n_total``, ``effect``, ``rho``, ``dropout``, ``power``, ``mc_se``.
    target
        Power drawn as a horizontal reference line (``None``: none).

    Returns
    -------
    matplotlib.figure.Figure
    """
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise ValueError(f"the grid table lacks the column(s) {missing}")
    rhos = sorted(table["rho"].unique())
    effects = sorted(table["effect"].unique())
    drops = sorted(table["dropout"].unique())
    with report_style("fig-power-curve"):
        fig = new_figure(min(FULL_WIDTH * len(rhos) / 2 + 1.5, 14.0), 3.4)
        axes = fig.subplots(1, len(rhos), sharey=True, squeeze=False)[0]
        for ax, rho in zip(axes, rhos, strict=True):
            sub = table[table["rho"] == rho]
            for i, effect in enumerate(effects):
                for j, drop in enumerate(drops):
                    line = sub[(sub["effect"] == effect) & (sub["dropout"] == drop)]
                    if line.empty:
                        continue
                    line = line.sort_values("n_total")
                    ax.errorbar(
                        line["n_total"],
                        line["power"],
                        yerr=1.96 * line["mc_se"],
                        color=_COLOURS[i % len(_COLOURS)],
                        linestyle=_STYLES[j % len(_STYLES)],
                        marker="o",
                        markersize=3,
                        capsize=2,
                        label=f"effect {effect:g}, dropout {drop:g}",
                    )
            if target is not None:
                ax.axhline(target, color="0.6", linewidth=0.8)
            ax.set_title(f"ρ = {rho:g}")
            ax.set_xlabel("total N")
            ax.set_ylim(-0.02, 1.02)
        axes[0].set_ylabel("simulated power")
        handles, labels = axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    return fig


def save_power_curve(table: pd.DataFrame, path: Path, *, target: float | None = 0.8) -> Path:
    """Write :func:`power_curve_figure` as a PNG (or any format matplotlib knows by suffix)."""
    fig = power_curve_figure(table, target=target)
    with report_style("fig-power-curve"):
        fig.savefig(path, dpi=150)
    return path
