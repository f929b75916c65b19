"""Tipping-point figure: the treatment difference and its confidence interval against delta.

The line is the estimate at each delta of the grid, the band its confidence interval; the
dashed horizontal line is no difference (0) and the vertical line marks the tipping delta, the
first delta of the grid whose interval includes 0 (where significance is lost).
"""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.figure import Figure

from remit.reports.style import (
    FULL_WIDTH,
    MEAN_COLOUR,
    OKABE_ITO,
    THRESHOLD_COLOUR,
    new_figure,
    report_style,
)
from remit.stats.rbmi import TippingPointResult


def tipping_point_figure(result: TippingPointResult, *, title: str | None = None) -> Figure:
    """Estimate and confidence interval against delta, the tipping delta marked.

    Parameters
    ----------
    result
        A :func:`remit.stats.tipping_point` result.
    title
        Figure title (default: what was compared, at which visit, under which strategy).

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot; write it with :func:`write_png`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from remit.stats import tipping_point
    >>> rng = np.random.default_rng(3)
    >>> n = 30
    >>> arm = np.repeat(["ctl", "trt"], n // 2)
    >>> yv = rng.normal(size=(n, 2)) - (arm == "trt")[:, None] * [1.0, 2.0]
    >>> yv[[1, 17, 19, 25], 1] = np.nan
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(n), 2), "visit": [1, 2] * n,
    ...                    "arm": np.repeat(arm, 2), "y": yv.ravel()})
    >>> tp = tipping_point(df, y="y", subject="id", visit="visit", group="arm",
    ...                    reference="ctl", deltas=np.arange(0, 30, 2.0), stop=False)
    >>> fig = tipping_point_figure(tp)
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()][:2]
    ['Estimate', '95% CI']
    """
    table = result.table
    with report_style("tipping-point"):
        fig = new_figure(width=FULL_WIDTH * 0.75, height=3.6)
        ax = fig.add_subplot()
        x = table["delta"].to_numpy(dtype=float)
        ax.plot(
            x,
            table["estimate"].to_numpy(dtype=float),
            color=MEAN_COLOUR,
            marker="o",
            markersize=3,
            label="Estimate",
        )
        ax.fill_between(
            x,
            table["ci_low"].to_numpy(dtype=float),
            table["ci_high"].to_numpy(dtype=float),
            color=OKABE_ITO["sky_blue"],
            alpha=0.35,
            linewidth=0,
            label=f"{round(100 * (1 - result.alpha))}% CI",
        )
        ax.axhline(0.0, color=OKABE_ITO["grey"], linestyle="--", linewidth=0.8)
        if result.tipping_delta is not None:
            ax.axvline(
                result.tipping_delta,
                color=THRESHOLD_COLOUR,
                linewidth=1.0,
                label=f"Tipping point: delta {result.tipping_delta:g}",
            )
        ax.legend(loc="best")
        ax.set_xlabel("Delta added to imputed values after dropout")
        what = f"{result.arm} − {result.reference}" if result.reference is not None else "Mean"
        ax.set_ylabel(f"{what} at visit {result.visit}")
        ax.set_title(
            title
            if title is not None
            else f"Tipping point ({result.strategy}, {result.method}): {what}"
        )
    return fig


def write_png(fig: Figure, path: Path, dpi: int = 150) -> None:
    """Write ``fig`` as a PNG file (no metadata date, so the bytes depend on the data only)."""
    with report_style("tipping-point"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    path.write_bytes(buffer.getvalue())
