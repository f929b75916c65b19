"""The blinded (pooled) report of a randomised protocol: titled "blinded (pooled) — arms not
shown", its sections filled with pooled numbers (the hand-computed ones of
``tests/analysis/test_blinded.py``), a CONSORT diagram without arm boxes with the blinding
counts, and nothing by arm."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from tests.analysis.test_blinded import RCT, blinded_trial
from tests.support.analysis_data import RENDERED_AT, RUN_AT

from remit.analysis import POOLED_LABEL, AnalysisResult, MMRMSectionResult, run_analysis_plan
from remit.reports import ReportResult, fmt, fmt_ci, render_report


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return run_analysis_plan(blinded_trial(), RCT, now=RUN_AT)


@pytest.fixture(scope="module")
def written(result: AnalysisResult, tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    out: Path = tmp_path_factory.mktemp("blinded-report")
    return render_report(result, blinded_trial(), RCT, out, pdf=False, now=RENDERED_AT)


@pytest.fixture(scope="module")
def html(written: ReportResult) -> str:
    return written.html_path.read_text("utf-8")


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start : html.index("</section>", start)]


def _text(fragment: str) -> str:
    without_svg = re.sub(r"<svg.*?</svg>", " ", fragment, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", without_svg)))


def test_the_report_is_titled_blinded_pooled(written: ReportResult, html: str) -> None:
    assert written.blinded
    assert written.to_dict()["blinded"] is True
    assert "BLINDED (POOLED)" in written.summary()
    title = re.search(r"<title>(.*?)</title>", html)
    assert title is not None
    assert "Blinded (pooled)" in unescape(title.group(1))
    head = _text(html[: html.index('<section id="key-results">')])
    assert POOLED_LABEL in head
    assert "Every analysis pools both arms" in head


def test_the_sections_hold_pooled_numbers(result: AnalysisResult, html: str) -> None:
    for sid in ("key-results", "consort", "baseline", "primary", "response", "safety"):
        assert f'<section id="{sid}">' in html, sid
    mmrm = result.first(MMRMSectionResult)
    assert mmrm is not None
    change = mmrm.tables["change_vs_baseline"]
    row = change[(change.scale == "madrs") & (change.visit == "V17")].iloc[0]
    assert row["estimate"] == pytest.approx(-17.0)  # the hand computation
    primary = _text(_section(html, "primary"))
    assert fmt(row["estimate"], "estimate") in primary
    assert fmt_ci(row["ci_low"], row["ci_high"]) in primary
    assert fmt(row["estimate"], "estimate") in _text(_section(html, "key-results"))
    response = _text(_section(html, "response"))
    assert "5/6" in response
    assert "3/6" in response
    safety = _text(_section(html, "safety"))
    assert "headache" in safety
    for sid in ("key-results", "primary", "response", "safety", "baseline"):
        assert "not estimable" not in _text(_section(html, sid)), sid


def test_nothing_is_shown_by_arm(html: str) -> None:
    text = _text(html)
    assert "Arm:" not in text
    for code in ("MDMA", "PLACEBO"):
        cells = re.findall(rf"<t[dh][^>]*>\s*{code}\s*</t[dh]>", html)
        assert cells == [], code
    assert 'id="tbl-arm-differences"' not in html
    assert "No control group" not in text  # the trial has one; the report pools it
    assert "Blinded (pooled) report: both arms are analysed together" in text


def test_the_consort_diagram_has_no_arm_boxes_and_counts_the_blinding(html: str) -> None:
    consort = _section(html, "consort")
    text = _text(consort)
    assert 'id="fig-consort"' in consort
    assert "Allocated to" not in consort
    assert "allocated intervention" not in text
    assert "Randomised: 6 of 6 enrolled (arms not shown)." in text
    assert "Emergency unblindings: 1 (E2)" in text
    assert "Blinded roles: investigator, therapist" in text
