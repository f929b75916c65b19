"""The report as a document: sections holding paragraphs, items, tables and figures, and the
numbering of tables and figures in reading order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from remit.reports.style import ReportFigure
from remit.reports.tables import ReportTable


@dataclass(frozen=True)
class ReportSection:
    """One section of the report: an id (the HTML anchor), a title and its content."""

    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    tables: tuple[ReportTable, ...] = ()
    figures: tuple[ReportFigure, ...] = ()
    subsections: tuple[ReportSection, ...] = field(default=())


def captioned(fig: ReportFigure, caption: str) -> ReportFigure:
    """``fig`` with its caption (the number is added by :func:`numbered`)."""
    return ReportFigure(fig.id, fig.title, caption, fig.svg)


def numbered(sections: Sequence[ReportSection]) -> list[ReportSection]:
    """The sections with "Table n." and "Figure n." before each caption and title, counted
    separately in the order a reader meets them (figures of a section before its tables,
    as the page shows them)."""
    tables = 0
    figures = 0
    out: list[ReportSection] = []
    for s in sections:
        new_figures = []
        for f in s.figures:
            figures += 1
            new_figures.append(replace(f, title=f"Figure {figures}. {f.title}"))
        new_tables = []
        for t in s.tables:
            tables += 1
            new_tables.append(replace(t, caption=f"Table {tables}. {t.caption}"))
        out.append(replace(s, tables=tuple(new_tables), figures=tuple(new_figures)))
    return out


__all__ = ["ReportSection", "captioned", "numbered"]
