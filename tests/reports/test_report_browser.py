"""The report in a real browser (Debian's Chromium via Playwright) and printed to PDF."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.support.browser import CHROMIUM
from tests.support.paths import ARTIFACTS
from tests.support.waiting import CEILING_S

from remit.reports import ReportResult
from remit.reports.pdf import find_browser
from remit.reports.render import write_pdf

pytestmark = pytest.mark.browser


def test_each_section_and_figure_is_visible(browser: Any, report: ReportResult) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(CEILING_S * 1000)  # a busy machine is slow, not broken
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(report.html_path.resolve().as_uri())
        page.wait_for_load_state("load")
        for section_id in report.sections:
            section = page.locator(f"section#{section_id}")
            assert section.is_visible(), section_id
            assert section.locator("h2").inner_text().strip(), section_id
        for figure_id in report.figures:
            svg = page.locator(f"figure#{figure_id} svg")
            assert svg.is_visible(), figure_id
            box = svg.bounding_box()
            assert box is not None
            assert box["width"] > 300, figure_id
            assert box["height"] > 100, figure_id
            assert page.locator(f"figure#{figure_id} figcaption").is_visible()
        for table_id in report.tables:
            assert page.locator(f"table#{table_id}").is_visible(), table_id
        banner = page.locator("#simulated-banner")
        assert banner.is_visible()
        assert "SIMULATED" in banner.inner_text()
        page.locator("#provenance").scroll_into_view_if_needed()
        assert banner.is_visible()  # sticky: still on screen at the end of the page
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "report-full.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 50_000
    finally:
        page.close()
    # everything came from the file itself: no other file, no network
    assert requests == [report.html_path.resolve().as_uri()]


def test_table_of_contents_links_reach_their_sections(browser: Any, report: ReportResult) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.set_default_timeout(CEILING_S * 1000)
    try:
        page.goto(report.html_path.resolve().as_uri())
        page.click('nav.toc a[href="#vitals"]')
        top = page.evaluate("document.getElementById('vitals').getBoundingClientRect().top")
        banner = page.evaluate(
            "document.getElementById('simulated-banner').getBoundingClientRect().bottom"
        )
        assert banner <= top < 200  # the heading is not hidden under the sticky banner
    finally:
        page.close()


@pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason=f"{CHROMIUM} is not installed (Debian: apt install chromium)",
)
def test_pdf_is_printed_with_headless_chromium(report: ReportResult, tmp_path: Path) -> None:
    assert find_browser() is not None
    html = tmp_path / "report.html"
    shutil.copyfile(report.html_path, html)
    path, note = write_pdf(html, True)
    assert path == tmp_path / "report.pdf"
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 5
    assert "--print-to-pdf" in note
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(path, ARTIFACTS / "report.pdf")
