"""How the report's figures look: palette, sizes, fonts, and the SVG they are written as.

Colours come from the Okabe–Ito palette, which stays distinguishable with the common forms of
colour-blindness; status colours mean the same thing in every figure. Figures are written as
SVG with text kept as text (``svg.fonttype = "none"``), so they are sharp at any zoom,
searchable, and small; the SVG ids are salted with the figure id so that several figures can
sit inline in one HTML page without clashing ids.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import matplotlib
from matplotlib.figure import Figure

#: Okabe–Ito colours by name.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}

#: Outcome status → colour, the same in every figure.
STATUS_COLOURS: dict[str, str] = {
    "remission": OKABE_ITO["blue"],
    "response": OKABE_ITO["sky_blue"],
    "no_response": OKABE_ITO["vermillion"],
    "missing": OKABE_ITO["grey"],
}

#: Outcome status → legend label.
STATUS_LABELS: dict[str, str] = {
    "remission": "Remission",
    "response": "Response without remission",
    "no_response": "No response",
    "missing": "Not assessed",
}

#: Adverse-event severity → colour.
SEVERITY_COLOURS: dict[str, str] = {
    "mild": OKABE_ITO["yellow"],
    "moderate": OKABE_ITO["orange"],
    "severe": OKABE_ITO["vermillion"],
}

THRESHOLD_COLOUR = OKABE_ITO["vermillion"]
MEAN_COLOUR = OKABE_ITO["black"]
INDIVIDUAL_COLOUR = "#8C8C8C"

#: Width of a full-width figure, inches (fits an A4 page with margins).
FULL_WIDTH = 7.0

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "axes.edgecolor": "#333333",
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.2,
    "figure.dpi": 100,
    "savefig.bbox": None,  # constrained layout already fits; "tight" would draw twice
    "savefig.pad_inches": 0.05,
}


@contextmanager
def report_style(figure_id: str) -> Iterator[None]:
    """Matplotlib settings of the report, with SVG ids salted by ``figure_id``."""
    settings: dict[Any, Any] = {**_RC, "svg.hashsalt": figure_id}
    with matplotlib.rc_context(settings):
        yield


def new_figure(
    width: float = FULL_WIDTH,
    height: float = 4.0,
    layout: Literal["constrained", "tight"] | None = "constrained",
) -> Figure:
    """A figure not registered with pyplot (nothing global is kept; no display is needed)."""
    return Figure(figsize=(width, height), layout=layout)


_XML_HEAD = re.compile(r"^.*?(?=<svg\b)", re.S)


def figure_svg(fig: Figure, figure_id: str) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no doctype, no metadata date).

    The salt makes the clip-path and glyph ids unique per figure; the root element gets the
    accessible role ``img``.
    """
    with report_style(figure_id):
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _XML_HEAD.sub("", buffer.getvalue(), count=1)
    svg = _scope_ids(svg, figure_id)
    head = f'<svg role="img" aria-labelledby="{figure_id}-caption" data-figure="{figure_id}" '
    return svg.replace("<svg ", head, 1).strip()


_ID = re.compile(r'\bid="([^"]+)"')


def _scope_ids(svg: str, prefix: str) -> str:
    """Prefix every id of ``svg`` (and every reference to one) with ``prefix``.

    Matplotlib numbers its groups ``figure_1``, ``axes_1`` … in every figure; inline in one
    page, those would clash.
    """
    ids = set(_ID.findall(svg))
    if not ids:
        return svg

    def scoped(name: str) -> str:
        return f"{prefix}-{name}" if name in ids else name

    svg = _ID.sub(lambda m: f'id="{scoped(m.group(1))}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{scoped(m.group(1))})", svg)
    return re.sub(
        r'((?:xlink:)?href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{scoped(m.group(2))}"', svg
    )


def mark_simulated(fig: Figure) -> None:
    """Write SIMULATED DATA across the figure, faint enough to read the data through."""
    fig.text(
        0.5,
        0.5,
        "SIMULATED DATA",
        fontsize=34,
        color="#B0B0B0",
        alpha=0.35,
        rotation=20,
        ha="center",
        va="center",
        fontweight="bold",
        zorder=100,
        gid="simulated-mark",
    )


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the report: its id, title, caption and inline SVG."""

    id: str
    title: str
    caption: str
    svg: str


__all__ = [
    "FULL_WIDTH",
    "OKABE_ITO",
    "SEVERITY_COLOURS",
    "STATUS_COLOURS",
    "STATUS_LABELS",
    "ReportFigure",
    "figure_svg",
    "mark_simulated",
    "new_figure",
    "report_style",
]
