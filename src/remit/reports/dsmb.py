"""The DSMB closed report: safety by coded arm ("Group A", "Group B"), with the report's machinery
and look, and nothing in it that names an arm, a kit's content or a dose in mg.

:func:`render_dsmb_report` takes the result of the plan run on the coded data and the coded
protocol (:mod:`remit.analysis.dsmb`) and writes ``dsmb-closed-report.html``: a cover (interim
or locked, the data cut-off, the protocol version, the counts per coded arm, that the arms are
coded and which key decodes them), the participant flow by coded arm, and the safety sections
of the report (adverse events and SAEs, exposure, C-SSRS, vital signs, alerts, dose stops,
deviations). The key itself (which code is which arm) is written elsewhere by the caller; this
module never sees the arms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from remit.analysis import AnalysisResult, SafetySectionResult, TrialData
from remit.errors import InputError
from remit.protocol import Protocol
from remit.reports.content import ReportSection, build_sections
from remit.reports.document import numbered
from remit.reports.figures.consort import randomised_disposition
from remit.reports.format import fmt
from remit.reports.render import (
    page_context,
    report_folder,
    report_software,
    template_environment,
    utc_text,
    write_pdf,
)
from remit.reports.tables import ReportTable

__all__ = ["DSMB_EFFICACY_SECTIONS", "DSMB_HTML_NAME", "DSMB_PDF_NAME", "DSMB_SECTIONS"]
__all__ += ["DsmbFacts", "DsmbReportResult", "shows_efficacy"]
__all__ += ["render_dsmb_html", "render_dsmb_report"]

DSMB_HTML_NAME = "dsmb-closed-report.html"
DSMB_PDF_NAME = "dsmb-closed-report.pdf"
#: The report's sections the closed report keeps (after its cover), in this order.
DSMB_SECTIONS: tuple[str, ...] = ("consort", "safety", "vitals", "cssrs", "provenance")
#: The efficacy sections it adds (before the provenance) when the charter allows efficacy
#: (the protocol's ``[dsmb] efficacy``; the coded plan then holds efficacy analyses).
DSMB_EFFICACY_SECTIONS: tuple[str, ...] = (
    "key-results",
    "baseline",
    "primary",
    "secondary",
    "trajectories",
    "response",
    "time-to-event",
)
#: A column of a dose in mg: left out of the closed report (a dose tells the arm).
_MG_COLUMN = re.compile(r"\bmg\b")
_NUMBER = re.compile(r"^(Table|Figure) \d+\. ")


@dataclass(frozen=True)
class DsmbFacts:
    """What the cover says besides the result: the report's id, the SHA-256 of its coding
    key (so the board can check the key they are given is this report's), the data cut-off
    (when the data were read, UTC) and whether the study was locked then."""

    report_id: str
    key_sha256: str
    cut_off: datetime
    study_locked: bool

    @property
    def state(self) -> str:
        """``interim, data not locked`` or ``data locked``."""
        return "data locked" if self.study_locked else "interim, data not locked"


@dataclass(frozen=True)
class DsmbReportResult:
    """What :func:`render_dsmb_report` wrote (the key file is the caller's)."""

    html_path: Path
    pdf_path: Path | None
    pdf_note: str
    report_id: str
    study_locked: bool
    cut_off: str
    sections: tuple[str, ...]
    tables: tuple[str, ...]
    simulated: bool
    rendered_at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (paths as strings)."""
        return {
            "html": str(self.html_path),
            "pdf": str(self.pdf_path) if self.pdf_path else None,
            "pdf_note": self.pdf_note,
            "report_id": self.report_id,
            "study_locked": self.study_locked,
            "cut_off": self.cut_off,
            "sections": list(self.sections),
            "tables": list(self.tables),
            "simulated": self.simulated,
            "rendered_at": self.rendered_at,
        }


def _cut_off_text(moment: datetime) -> str:
    when = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _without_mg(table: ReportTable) -> ReportTable:
    """``table`` without its columns of a dose in mg."""
    keep = [i for i, h in enumerate(table.header) if not _MG_COLUMN.search(h)]
    if len(keep) == len(table.header):
        return table
    width = len(table.header)
    rows = tuple(
        row if len(row) == 1 and width > 1 else tuple(row[i] for i in keep) for row in table.rows
    )
    return replace(table, header=tuple(table.header[i] for i in keep), rows=rows)


def _unnumbered(section: ReportSection) -> ReportSection:
    return replace(
        section,
        tables=tuple(replace(t, caption=_NUMBER.sub("", t.caption)) for t in section.tables),
        figures=tuple(replace(f, title=_NUMBER.sub("", f.title)) for f in section.figures),
    )


def _counts_table(result: AnalysisResult, protocol: Protocol) -> ReportTable:
    """Per coded arm and in total: randomised, dosed, withdrawn, adverse events, SAEs."""
    whole, randomised, arms = randomised_disposition(result.adsl, protocol)
    safety = result.first(SafetySectionResult)
    overview = safety.tables.get("ae_overview") if safety is not None else None
    frame = overview if overview is not None else pd.DataFrame()

    def ae(arm: str | None, column: str) -> str:
        # one row of the overview per coded arm: an arm's row, or (None) every arm's summed
        if frame.empty or column not in frame:
            return "–"
        rows = frame if arm is None or "arm" not in frame else frame[frame["arm"] == arm]
        return fmt(float(rows[column].sum()), "count")

    rows = [
        (
            a.label,
            fmt(a.flow.enrolled, "count"),
            fmt(a.flow.dosed, "count"),
            fmt(len(a.flow.withdrawn), "count"),
            ae(a.code, "n_events"),
            ae(a.code, "n_participants"),
            ae(a.code, "n_serious"),
        )
        for a in arms
    ]
    rows.append(
        (
            "Total",
            fmt(randomised, "count"),
            fmt(sum(a.flow.dosed for a in arms), "count"),
            fmt(sum(len(a.flow.withdrawn) for a in arms), "count"),
            ae(None, "n_events"),
            ae(None, "n_participants"),
            ae(None, "n_serious"),
        )
    )
    return ReportTable(
        "tbl-dsmb-counts",
        f"Participants and adverse events by coded arm ({fmt(whole.enrolled, 'count')} enrolled)",
        (
            "Coded arm",
            "Randomised",
            "Dosed at least once",
            "Withdrawn",
            "Adverse events",
            "Participants with an adverse event",
            "Serious adverse events",
        ),
        tuple(rows),
        notes=("Counts per coded arm; which arm each code stands for is in the separate key.",),
    )


def shows_efficacy(protocol: Protocol) -> bool:
    """Whether the coded plan holds any analysis besides the safety tables."""
    return any(a.kind != "safety" for a in protocol.analysis.analyses)


def _cover(
    result: AnalysisResult, protocol: Protocol, facts: DsmbFacts, rendered_at: str
) -> ReportSection:
    codes = ", ".join(a.label for a in protocol.arms)
    p = result.provenance
    paragraphs = (
        f"DSMB closed report — {facts.state}, as of {_cut_off_text(facts.cut_off)}.",
        f"Data cut-off: {_cut_off_text(facts.cut_off)} (every record entered before the data "
        "were read for this report); "
        + (
            "the study was locked by the data manager."
            if facts.study_locked
            else "the study was not locked: the data may still be corrected, and this is an "
            "interim look."
        ),
        f"Protocol {p.protocol_id} version {p.protocol_version} (SHA-256 "
        f"{p.protocol_sha256[:12]}…); report {facts.report_id}, rendered {rendered_at}.",
        f"Arms are coded ({codes}): the codes were drawn at random for this report, so a code "
        "does not stand for the same arm in another report. The key that says which arm each "
        f"code stands for is given separately by the unblinded statistician (key SHA-256 "
        f"{facts.key_sha256}). Doses in mg and kit contents are not shown.",
        (
            "Content: safety (participant flow, exposure, adverse events and serious adverse "
            "events, C-SSRS, vital signs, safety alerts, dose stops and protocol deviations) "
            "and efficacy by coded arm, as the DSMB charter allows (the protocol's [dsmb] "
            "efficacy = true); reference-based imputation is left out (its reference arm "
            "would tell which code is the control)."
            if shows_efficacy(protocol)
            else "Content: safety only (participant flow, exposure, adverse events and serious "
            "adverse events, C-SSRS, vital signs, safety alerts, dose stops and protocol "
            "deviations); no efficacy analysis is included (the protocol's [dsmb] efficacy is "
            "false, the default)."
        ),
        *((f"DSMB charter: {protocol.dsmb.charter}.",) if protocol.dsmb.charter else ()),
    )
    return ReportSection(
        "dsmb-cover",
        "Closed report: cover",
        paragraphs,
        tables=(_counts_table(result, protocol),),
    )


def _consort(section: ReportSection, result: AnalysisResult, protocol: Protocol) -> ReportSection:
    """The flow by coded arm, with items of the closed report (the protocol's design words and
    arm codes left out)."""
    _, randomised, arms = randomised_disposition(result.adsl, protocol)
    adsl = result.adsl
    unblinded = (
        sorted(str(x) for x in adsl.loc[adsl["UNBLNDFL"] == "Y", "participant_id"])
        if "UNBLNDFL" in adsl
        else []
    )
    items = (
        f"Randomised: {fmt(randomised, 'count')} ("
        + ", ".join(f"{a.label} {fmt(a.flow.enrolled, 'count')}" for a in arms)
        + "). Each arm was read from the sealed allocation list by the unblinded statistician "
        "and coded for this report.",
        f"Emergency unblindings: {fmt(len(unblinded), 'count')}"
        + (f" ({', '.join(unblinded)})" if unblinded else "")
        + ".",
    )
    return replace(section, title="Participant flow by coded arm", items=items)


def _vitals(section: ReportSection) -> ReportSection:
    # the figure names each session by its nominal doses in mg: the table alone is kept
    if not section.figures:
        return section
    note = (
        "The figure of the vital signs by hour is left out of the closed report (its panels "
        "name the sessions' doses); the table gives the peaks per coded arm."
    )
    return replace(section, figures=(), paragraphs=(*section.paragraphs, note))


def dsmb_sections(
    result: AnalysisResult,
    data: TrialData,
    protocol: Protocol,
    facts: DsmbFacts,
    *,
    rendered_at: str,
    report_software: dict[str, str],
) -> list[ReportSection]:
    """The closed report's sections: the cover, then :data:`DSMB_SECTIONS` of the report
    built from the coded result, without any column of a dose in mg; numbered anew."""
    built = {
        s.id: _unnumbered(s)
        for s in build_sections(
            result, data, protocol, rendered_at=rendered_at, report_software=report_software
        )
    }
    sections = [_cover(result, protocol, facts, rendered_at)]
    order = DSMB_SECTIONS
    if shows_efficacy(protocol):
        order = (*DSMB_SECTIONS[:-1], *DSMB_EFFICACY_SECTIONS, DSMB_SECTIONS[-1])
    for sid in order:
        section = built.get(sid)
        if section is None:
            continue
        if sid == "consort":
            section = _consort(section, result, protocol)
        if sid == "vitals":
            section = _vitals(section)
        sections.append(replace(section, tables=tuple(_without_mg(t) for t in section.tables)))
    return numbered(sections)


def _check_coded(result: AnalysisResult, protocol: Protocol) -> None:
    if result.blinded or len(protocol.arms) < 2:
        raise InputError(
            "the DSMB closed report needs the analysis by coded arm; the result given is "
            + ("blinded (pooled)" if result.blinded else "of a one-arm protocol"),
            expected="run_analysis_plan(coded_data(...), coded_protocol(...), require_arms=True)",
        )
    if result.provenance.protocol_sha256 != protocol.sha256:
        raise InputError(
            "the analysis result was not run with the protocol given",
            expected="the coded protocol the result was computed with",
        )


def render_dsmb_html(
    result: AnalysisResult,
    data: TrialData,
    protocol: Protocol,
    facts: DsmbFacts,
    *,
    rendered_at: str | None = None,
) -> tuple[str, list[ReportSection]]:
    """The closed report as one HTML string, with its sections (nothing written)."""
    _check_coded(result, protocol)
    rendered = rendered_at or utc_text(None)
    sections = dsmb_sections(
        result, data, protocol, facts, rendered_at=rendered, report_software=report_software()
    )
    p = result.provenance
    html = (
        template_environment()
        .get_template("dsmb.html.j2")
        .render(
            sections=sections,
            simulated=result.simulated,
            headline=f"DSMB closed report — {facts.state}, as of {_cut_off_text(facts.cut_off)}",
            coded_note="Every arm is shown only as a code ("
            + ", ".join(a.label for a in protocol.arms)
            + "), drawn at random for this report; the key is held apart.",
            report_id=facts.report_id,
            cut_off=_cut_off_text(facts.cut_off),
            protocol_id=p.protocol_id,
            protocol_version=p.protocol_version,
            **page_context(result, rendered),
        )
    )
    return html, sections


def render_dsmb_report(
    result: AnalysisResult,
    data: TrialData,
    protocol: Protocol,
    facts: DsmbFacts,
    out_dir: Path | str,
    *,
    pdf: bool | None = None,
    now: datetime | None = None,
) -> DsmbReportResult:
    """Write ``dsmb-closed-report.html`` (and, as ``pdf`` asks, the PDF) into ``out_dir``.

    ``result`` is the plan run on the coded data with the coded protocol
    (:func:`remit.analysis.dsmb.coded_data`, :func:`~remit.analysis.dsmb.coded_protocol`);
    ``pdf`` as for :func:`remit.reports.render_report`.
    """
    folder = report_folder(out_dir, pdf, DSMB_HTML_NAME, DSMB_PDF_NAME)
    rendered = utc_text(now)
    html, sections = render_dsmb_html(result, data, protocol, facts, rendered_at=rendered)
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / DSMB_HTML_NAME
    html_path.write_text(html, encoding="utf-8")
    pdf_path, note = write_pdf(html_path, pdf, DSMB_PDF_NAME)
    return DsmbReportResult(
        html_path=html_path,
        pdf_path=pdf_path,
        pdf_note=note,
        report_id=facts.report_id,
        study_locked=facts.study_locked,
        cut_off=facts.cut_off.astimezone(UTC).isoformat(timespec="seconds"),
        sections=tuple(s.id for s in sections),
        tables=tuple(t.id for s in sections for t in s.tables),
        simulated=result.simulated,
        rendered_at=rendered,
    )
