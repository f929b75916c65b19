"""Report rendering (HTML/PDF), figures and formatted tables.

:func:`render_report` turns an :class:`~remit.analysis.AnalysisResult` (with the trial's data
and protocol) into a self-contained ``report.html`` — figures inline as SVG, CSS inline, no
external reference — and, where a headless Chromium is available, ``report.pdf``. Every number
printed comes from the result through :func:`fmt`.
"""

from remit.reports.format import fmt, fmt_ci, fmt_count, fmt_mean_sd
from remit.reports.render import HTML_NAME, PDF_NAME, ReportResult, render_html, render_report

__all__ = [
    "HTML_NAME",
    "PDF_NAME",
    "ReportResult",
    "fmt",
    "fmt_ci",
    "fmt_count",
    "fmt_mean_sd",
    "render_html",
    "render_report",
]
