"""Render the trial report: :func:`render_report` writes ``report.html`` (and ``report.pdf``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from remit.analysis import POOLED_LABEL, AnalysisResult, TrialData, pooled_protocol
from remit.errors import InputError, RemitError
from remit.protocol import Protocol
from remit.reports.content import ReportSection, build_sections
from remit.reports.pdf import find_browser, print_pdf

HTML_NAME = "report.html"
PDF_NAME = "report.pdf"


@dataclass(frozen=True)
class ReportResult:
    """What :func:`render_report` wrote.

    Attributes
    ----------
    out_dir, html_path, pdf_path
        Where the files are (``pdf_path`` is ``None`` when no PDF was written).
    pdf_note
        How the PDF was made, or why it was not.
    sections, figures, tables
        Ids of the sections, figures and tables, in order (the HTML anchors).
    simulated
        Whether the report is marked SIMULATED.
    blinded
        Whether the report is the blinded (pooled) one: both arms together, no arm shown.
    rendered_at
        UTC time of rendering (ISO 8601).
    """

    out_dir: Path
    html_path: Path
    pdf_path: Path | None
    pdf_note: str
    sections: tuple[str, ...]
    figures: tuple[str, ...]
    tables: tuple[str, ...]
    simulated: bool
    rendered_at: str
    blinded: bool = False

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file written."""
        return (self.html_path,) + ((self.pdf_path,) if self.pdf_path else ())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (paths as strings)."""
        return {
            "out_dir": str(self.out_dir),
            "html": str(self.html_path),
            "pdf": str(self.pdf_path) if self.pdf_path else None,
            "pdf_note": self.pdf_note,
            "sections": list(self.sections),
            "figures": list(self.figures),
            "tables": list(self.tables),
            "simulated": self.simulated,
            "blinded": self.blinded,
            "rendered_at": self.rendered_at,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per item written: kind (file, section, figure, table) and name."""
        rows = [("file", str(p)) for p in self.paths]
        rows += [("section", s) for s in self.sections]
        rows += [("figure", f) for f in self.figures]
        rows += [("table", t) for t in self.tables]
        return pd.DataFrame(rows, columns=["kind", "name"])

    def summary(self) -> str:
        """A few lines for a person."""
        head = "REPORT" + (" — SIMULATED DATA" if self.simulated else "")
        if self.blinded:
            head += " — BLINDED (POOLED): ARMS NOT SHOWN"
        return "\n".join(
            [
                head,
                f"html: {self.html_path}",
                f"pdf: {self.pdf_path}" if self.pdf_path else f"pdf: not written ({self.pdf_note})",
                f"{len(self.sections)} sections, {len(self.figures)} figures, "
                f"{len(self.tables)} tables",
            ]
        )


def package_version(name: str) -> str:
    """The installed version of package ``name``, or "not installed"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def utc_text(now: datetime | None) -> str:
    """``now`` (or this moment) in UTC as ISO 8601 to the second; a naive time is read as UTC."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def template_environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates (autoescaped, strict undefined)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("remit.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(
    result: AnalysisResult,
    data: TrialData,
    protocol: Protocol,
    *,
    rendered_at: str | None = None,
) -> tuple[str, list[ReportSection]]:
    """The report as one HTML string, with the sections it holds.

    ``rendered_at`` is the rendering time printed in the provenance (default: now, UTC).
    """
    if result.provenance.protocol_sha256 != protocol.sha256:
        raise InputError(
            f"the analysis result was run on protocol {result.provenance.protocol_id} "
            f"(sha256 {result.provenance.protocol_sha256[:12]}…), not on the protocol given "
            f"({protocol.study.id}, sha256 {protocol.sha256[:12]}…)",
            expected="the protocol the result was computed with",
            hint="rerun the analysis plan with this protocol, or pass the protocol it used",
        )
    if result.blinded:  # the pooled plan the result was run with (same text and hash)
        protocol = pooled_protocol(protocol)
    rendered = rendered_at or utc_text(None)
    sections = build_sections(
        result, data, protocol, rendered_at=rendered, report_software=report_software()
    )
    study = protocol.study
    registry = ", ".join(f"{k} {v}" for k, v in study.registry_ids.items())
    html = (
        template_environment()
        .get_template("report.html.j2")
        .render(
            sections=sections,
            simulated=result.simulated,
            blinded=result.blinded,
            blinded_label=POOLED_LABEL,
            title=study.title,
            short_title=study.short_title,
            protocol_id=study.id,
            protocol_version=study.version,
            design=study.design,
            registry=registry,
            **page_context(result, rendered),
        )
    )
    return html, sections


def report_software() -> dict[str, str]:
    """The rendering software and its versions, named in every report."""
    return {"matplotlib": package_version("matplotlib"), "jinja2": package_version("jinja2")}


def page_context(result: AnalysisResult, rendered_at: str) -> dict[str, Any]:
    """What every report page's template shows besides its sections: the style sheet and the
    provenance (protocol and data hashes, when computed and rendered, the software)."""
    p = result.provenance
    software = {**p.software, **report_software()}
    return {
        "css": resources.files("remit.reports").joinpath("templates/report.css").read_text("utf-8"),
        "protocol_sha256": p.protocol_sha256,
        "data_sha256": p.data_sha256,
        "created_at": p.created_at,
        "rendered_at": rendered_at,
        "remit_version": package_version("remit"),
        "software": ", ".join(f"{k} {v}" for k, v in software.items()),
    }


def report_folder(out_dir: Path | str, pdf: bool | None, html_name: str, pdf_name: str) -> Path:
    """The folder a report is written into, checked before anything is rendered: not a file,
    and (``pdf=True``) a Chromium to print with, else :class:`~remit.errors.NotFoundError`
    with the fix."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(
            f"report output {folder} exists and is not a directory",
            expected="a directory path (it is created if missing)",
        )
    if pdf is True and find_browser() is None:
        print_pdf(folder / html_name, folder / pdf_name)  # raises NotFoundError with the fix
    return folder


def write_pdf(html_path: Path, pdf: bool | None, name: str = PDF_NAME) -> tuple[Path | None, str]:
    """Print ``html_path`` to ``name`` (``report.pdf``) beside it as ``pdf`` asks; return
    (path, note).

    ``pdf=False``: nothing; ``None``: print when a browser is found, else say why not;
    ``True``: print or raise (:class:`~remit.errors.NotFoundError` without a browser,
    :class:`~remit.reports.pdf.PdfError` when printing fails).
    """
    if pdf is False:
        return None, "not asked for"
    target = html_path.parent / name
    browser = find_browser()
    if browser is None:
        if pdf:
            print_pdf(html_path, target)  # raises NotFoundError with the fix
        return None, "no Chromium found (install chromium or set REMIT_CHROMIUM)"
    try:
        return (
            print_pdf(html_path, target, browser=browser),
            f"printed with {browser} --headless --print-to-pdf",
        )
    except RemitError as exc:
        if pdf:
            raise
        return None, f"PDF failed: {exc}"


def render_report(
    result: AnalysisResult,
    data: TrialData,
    protocol: Protocol,
    out_dir: Path | str,
    *,
    pdf: bool | None = None,
    now: datetime | None = None,
) -> ReportResult:
    """Write the trial report into ``out_dir``: ``report.html`` and, if asked, ``report.pdf``.

    Parameters
    ----------
    result
        What :func:`remit.analysis.run_analysis_plan` returned for ``data`` and ``protocol``;
        every number printed is taken from it.
    data
        The trial's data (the figures draw each participant from it).
    protocol
        The protocol the result was computed with (thresholds, visits, definitions).
    out_dir
        Directory to write into (created if needed).
    pdf
        ``True``: also write ``report.pdf`` and fail if no Chromium is found; ``False``: HTML
        only; ``None`` (default): write the PDF when a Chromium is found.
    now
        The rendering time to record (default: now, UTC).

    Returns
    -------
    ReportResult
        The paths written and the ids of sections, figures and tables.
    """
    folder = report_folder(out_dir, pdf, HTML_NAME, PDF_NAME)
    rendered = utc_text(now)
    html, sections = render_html(result, data, protocol, rendered_at=rendered)
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / HTML_NAME
    html_path.write_text(html, encoding="utf-8")
    pdf_path, pdf_note = write_pdf(html_path, pdf)
    return ReportResult(
        out_dir=folder,
        html_path=html_path,
        pdf_path=pdf_path,
        pdf_note=pdf_note,
        sections=tuple(s.id for s in sections),
        figures=tuple(f.id for s in sections for f in s.figures),
        tables=tuple(t.id for s in sections for t in s.tables),
        simulated=result.simulated,
        rendered_at=rendered,
        blinded=result.blinded,
    )


__all__ = [
    "HTML_NAME",
    "PDF_NAME",
    "ReportResult",
    "render_html",
    "render_report",
    "report_folder",
    "write_pdf",
]
