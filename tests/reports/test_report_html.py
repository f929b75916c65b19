"""The HTML report: sections, figures, numbers from the result, SIMULATED, missing data."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from tests.support.analysis_data import RENDERED_AT, RUN_AT

from remit.analysis import AnalysisResult, TrialData, run_analysis_plan
from remit.errors import InputError, NotFoundError
from remit.protocol import Protocol, load_protocol
from remit.reports import ReportResult, render_html, render_report
from remit.reports.format import fmt, fmt_ci, fmt_count, fmt_mean_sd
from remit.reports.render import write_pdf

SECTIONS = (
    "key-results",
    "consort",
    "baseline",
    "primary",
    "secondary",
    "trajectories",
    "waterfall",
    "response",
    "transitions",
    "swimmer",
    "safety",
    "vitals",
    "cssrs",
    "time-to-event",
    "sensitivity",
    "missing-data",
    "methods",
    "limitations",
    "provenance",
)
FIGURES = (
    "fig-consort",
    "fig-trajectories",
    "fig-waterfall",
    "fig-transitions",
    "fig-swimmer",
    "fig-vitals",
    "fig-km",
)


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start : html.index("</section>", start)]


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment (tags dropped, entities decoded)."""
    return unescape(re.sub(r"<[^>]+>", " ", fragment))


def _records(result_dict: dict[str, Any], kind: str, table: str) -> list[dict[str, Any]]:
    for section in result_dict["sections"]:
        if section["kind"] == kind:
            records: list[dict[str, Any]] = section["tables"][table]
            return records
    raise AssertionError(f"the result has no {kind} section")


def test_every_section_and_figure_is_present(html: str, report: ReportResult) -> None:
    assert report.sections == SECTIONS
    assert report.figures == FIGURES
    for section_id in SECTIONS:
        assert html.count(f'<section id="{section_id}">') == 1, section_id
    for figure_id in FIGURES:
        start = html.index(f'<figure id="{figure_id}"')
        figure = html[start : html.index("</figure>", start)]
        assert "<svg" in figure, figure_id
        assert "<figcaption id=" in figure, figure_id
        assert re.search(
            rf'<figcaption id="{figure_id}-caption"><strong>Figure \d+\. [^<]+\.</strong> \w',
            figure,
        )
        assert f'aria-labelledby="{figure_id}-caption"' in figure


def test_ids_are_unique_across_inline_svgs(html: str) -> None:
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert {k: n for k, n in ids.items() if n > 1} == {}


def test_report_has_no_external_references(html: str) -> None:
    lowered = html.lower()
    for needle in ('src="http', "src='http", "<link href=", "<link ", "@import", "url(http"):
        assert needle not in lowered, needle
    assert "<script" not in lowered
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith("#"), href
    assert re.search(r'xlink:href="(?!#)', html) is None


def test_mmrm_numbers_are_the_results(html: str, result_dict: dict[str, Any]) -> None:
    rows = _records(result_dict, "mmrm", "change_vs_baseline")
    assert {(r["scale"], r["visit"]) for r in rows} == {
        ("madrs", "V13"),
        ("madrs", "FU7"),
        ("sds", "V13"),
        ("sds", "FU7"),
    }
    table_html = {
        "madrs": _text(html[html.index('id="tbl-outcome-madrs"') :].split("</table>")[0]),
        "sds": _text(html[html.index('id="tbl-outcome-sds"') :].split("</table>")[0]),
    }
    for r in rows:
        cells = table_html[r["scale"]]
        assert f"{fmt(r['estimate'], 'estimate')} ({fmt(r['se'], 'se')})" in cells
        assert fmt_ci(r["ci_low"], r["ci_high"]) in cells
        assert fmt(r["p"], "p") in cells
    primary = next(r for r in rows if r["scale"] == "madrs" and r["visit"] == "V13")
    key = _text(_section(html, "key-results"))
    assert f"{fmt(primary['estimate'], 'estimate')} (SE {fmt(primary['se'], 'se')}" in key
    assert fmt_ci(primary["ci_low"], primary["ci_high"]) in key


def test_descriptive_wilcoxon_and_effect_sizes_are_the_results(
    html: str, result_dict: dict[str, Any]
) -> None:
    text = _text(html)
    for r in _records(result_dict, "descriptive", "by_visit"):
        if r["scale"] in ("madrs", "sds") and r["n"]:
            assert fmt_mean_sd(r["mean"], r["sd"]) in text, r
    wilcoxon = _text(html[html.index('id="tbl-wilcoxon"') :].split("</table>")[0])
    for r in _records(result_dict, "wilcoxon", "tests"):
        assert fmt(r["p_value"], "p") in wilcoxon
        assert (
            f"{fmt(r['hl_estimate'], 'estimate')} ({fmt_ci(r['hl_ci_low'], r['hl_ci_high'])})"
            in wilcoxon
        )
    for r in _records(result_dict, "effect_size", "effect_sizes"):
        if r["effect_size"] == "d_z":
            cell = f"{fmt(r['estimate'], 'effect')} ({fmt_ci(r['ci_low'], r['ci_high'], 'effect')})"
            assert cell in text, r


def test_proportions_transitions_and_rtm_are_the_results(
    html: str, result_dict: dict[str, Any]
) -> None:
    response = _text(_section(html, "response"))
    for r in _records(result_dict, "proportion", "proportions"):
        assert fmt_count(r["k"], r["n"], 100 * r["estimate"]) in response
        assert fmt_ci(r["clopper_pearson_low"], r["clopper_pearson_high"], "proportion") in response
        assert fmt_ci(r["wilson_low"], r["wilson_high"], "proportion") in response
    assert "Clopper–Pearson 95% CI" in response
    assert "Wilson 95% CI" in response
    transitions = _text(_section(html, "transitions"))
    for r in _records(result_dict, "mcnemar", "tests"):
        assert fmt(r["p_value"], "p") in transitions
    limitations = _text(_section(html, "limitations"))
    (rtm,) = _records(result_dict, "rtm", "range")
    assert f"{fmt(rtm['rtm_min'], 'estimate')} to {fmt(rtm['rtm_max'], 'estimate')}" in limitations
    assert fmt(rtm["observed_change"], "estimate") in limitations


def test_trajectory_figure_shows_the_mmrm_means(html: str, result_dict: dict[str, Any]) -> None:
    start = html.index('<figure id="fig-trajectories"')
    figure = html[start : html.index("</figure>", start)]
    for r in _records(result_dict, "mmrm", "lsmeans"):
        if r["scale"] == "madrs":
            assert f">{fmt(r['estimate'], 'estimate')}<" in figure


def test_safety_numbers_are_the_results(html: str, result_dict: dict[str, Any]) -> None:
    safety = _text(_section(html, "safety"))
    (overview,) = _records(result_dict, "safety", "ae_overview")
    n, pct = overview["n_participants"], overview["pct_participants"]
    assert f"{fmt(n, 'count')} ({fmt(pct, 'percent')})" in safety
    assert "anxiety" in safety
    assert "P09" in safety
    assert "participant's wish" in safety  # the withheld supplemental doses
    vitals = _text(_section(html, "vitals"))
    for r in _records(result_dict, "safety", "vitals_summary"):
        kind = "temperature" if r["sign"] == "temperature" else "vital"
        assert fmt(r["max_peak"], kind) in vitals  # type: ignore[arg-type]
    # systolic above 150 (the least pressing tier) in session 2
    assert "7 (P05, P07, P08, P09, P10, P11, P12)" in vitals
    cssrs = _text(_section(html, "cssrs"))
    assert "Worse than at baseline" in cssrs
    assert "P04" in cssrs
    assert "P09" in cssrs


def test_consort_counts_come_from_the_adsl(html: str) -> None:
    start = html.index('<figure id="fig-consort"')
    figure = _text(html[start : html.index("</figure>", start)]).replace("\u00a0", " ")
    for phrase in (
        "Assessed for eligibility (n = 14)",
        "Excluded (n = 2)",
        "current or past psychotic disorder (n = 1)",
        "Enrolled (n = 12)",
        "No V13 assessment (n = 1)",
        "P10: lost to follow-up",
    ):
        assert phrase in " ".join(figure.split()), phrase


def test_baseline_age_is_summarised_from_the_adsl(html: str, result: AnalysisResult) -> None:
    adsl = result.adsl
    ages = adsl.loc[adsl["ENRLFL"] == "Y", "AGE"].dropna().astype(float)
    baseline = " ".join(_text(_section(html, "baseline")).split())
    assert f"mean (SD) {fmt_mean_sd(ages.mean(), ages.std(ddof=1))}" in baseline
    assert f"range {fmt(ages.min(), 'count')}–{fmt(ages.max(), 'count')}" in baseline


def test_missing_v13_data_are_stated(html: str) -> None:
    missing = _text(_section(html, "missing-data"))
    assert "MADRS at V13: 1 of 12 missing (P11)" in missing
    assert "The primary endpoint (MADRS at V13) is missing for 1 of 12 participants" in missing
    assert "SDS at FU7: 1 of 12 missing (P10)" in missing
    waterfall = _text(_section(html, "waterfall"))
    assert "Not shown (no V13 value): P11" in waterfall


def test_methods_section_is_the_analysis_methods_text(html: str, result: AnalysisResult) -> None:
    from remit.analysis import methods_text

    methods = _section(html, "methods")
    for paragraph in methods_text(result):
        assert f"<p>{paragraph}</p>" in unescape(methods)
    for name in ("Wilcoxon signed-rank", "Satterthwaite", "Clopper-Pearson", "Wilson", "McNemar"):
        assert name in unescape(methods), name


def test_provenance_footer(html: str, result: AnalysisResult, oslo: Protocol) -> None:
    p = result.provenance
    provenance = _text(_section(html, "provenance"))
    assert oslo.sha256 in provenance
    assert p.data_sha256 in provenance
    assert RUN_AT.isoformat() in provenance
    assert RENDERED_AT.isoformat(timespec="seconds") in provenance
    assert "matplotlib" in provenance
    assert "numpy" in provenance
    footer = html[html.index('<footer class="report-foot"') :]
    for name, version in p.software.items():
        assert f"{name} {version}" in footer
    assert oslo.sha256 in footer
    assert p.data_sha256 in footer


def test_simulated_is_marked_everywhere(html: str, report: ReportResult) -> None:
    assert report.simulated
    assert 'id="simulated-banner"' in html
    assert "<title>SIMULATED" in html
    for figure_id in FIGURES:
        start = html.index(f'<figure id="{figure_id}"')
        figure = html[start : html.index("</figure>", start)]
        assert "SIMULATED DATA" in figure, figure_id
    for caption in re.findall(r"<caption>.*?</caption>", html, flags=re.S):
        assert "SIMULATED" in caption


def test_rendering_is_deterministic(
    result: AnalysisResult, trial: TrialData, oslo: Protocol, html: str
) -> None:
    again, _sections = render_html(
        result, trial, oslo, rendered_at=RENDERED_AT.isoformat(timespec="seconds")
    )
    assert again == html


def test_report_result_lists_what_was_written(report: ReportResult) -> None:
    assert report.html_path.name == "report.html"
    assert report.html_path.is_file()
    assert report.pdf_path is None
    assert report.pdf_note == "not asked for"
    d = report.to_dict()
    assert d["html"] == str(report.html_path)
    assert d["pdf"] is None
    assert d["tables"][0] == "tbl-baseline"
    assert "tbl-outcome-madrs" in d["tables"]
    frame = report.to_frame()
    assert set(frame["kind"]) == {"file", "section", "figure", "table"}
    assert "SIMULATED" in report.summary()
    assert "not written" in report.summary()


def test_a_result_of_another_protocol_is_refused(
    result: AnalysisResult, trial: TrialData, tmp_path: Path
) -> None:
    other = load_protocol("mdma-mdd-rct-example")
    with pytest.raises(InputError, match="not on the protocol given"):
        render_report(result, trial, other, tmp_path, pdf=False)


def test_out_dir_that_is_a_file_is_refused(
    result: AnalysisResult, trial: TrialData, oslo: Protocol, tmp_path: Path
) -> None:
    target = tmp_path / "report"
    target.write_text("x")
    with pytest.raises(InputError, match="is not a directory"):
        render_report(result, trial, oslo, target, pdf=False)


def test_pdf_required_without_a_browser_fails_before_any_work(
    result: AnalysisResult,
    trial: TrialData,
    oslo: Protocol,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMIT_CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(NotFoundError, match="no Chromium browser found"):
        render_report(result, trial, oslo, tmp_path / "out", pdf=True)
    assert not (tmp_path / "out").exists()
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><p>x</p>", "utf-8")
    assert write_pdf(page, None) == (
        None,
        "no Chromium found (install chromium or set REMIT_CHROMIUM)",
    )
    assert write_pdf(page, False) == (None, "not asked for")
    with pytest.raises(NotFoundError, match="REMIT_CHROMIUM"):
        write_pdf(page, True)


def test_real_data_without_safety_data(
    make_trial: Callable[..., TrialData], oslo: Protocol
) -> None:
    full = make_trial(simulated=False)
    data = TrialData(participants=full.participants, visits=full.visits, scores=full.scores)
    html, sections = render_html(run_analysis_plan(data, oslo, now=RUN_AT), data, oslo)
    assert [s.id for s in sections] == list(SECTIONS)
    assert "SIMULATED" not in html
    assert "simulated-banner" not in html.split("</style>")[1]
    assert "No vital signs recorded" in html
    assert "No serious adverse event was reported." in html
    assert "No dose was withheld." in html


def test_a_two_arm_trial_is_reported_by_arm(make_trial: Callable[..., TrialData]) -> None:
    rct = load_protocol("mdma-mdd-rct-example")
    frames = make_trial(simulated=False).frames()
    for name in ("scores", "visits"):
        frames[name] = frames[name].assign(
            visit_code=frames[name]["visit_code"].replace({"V13": "V17"})
        )
    people = frames["participants"].copy()
    people.loc[people["arm"].notna(), "arm"] = ["MDMA", "PLACEBO"] * 6
    frames["participants"] = people
    data = TrialData(**frames)
    result = run_analysis_plan(data, rct, now=RUN_AT)
    html, sections = render_html(result, data, rct)
    text = _text(html)
    labels = {a.code: a.label for a in rct.arms}
    baseline = _text(html[html.index('id="tbl-baseline"') :].split("</table>")[0])
    assert labels["MDMA"] in baseline
    assert labels["PLACEBO"] in baseline
    outcome = _text(html[html.index('id="tbl-outcome-madrs"') :].split("</table>")[0])
    assert f"Arm: {labels['MDMA']}" in outcome
    assert f"Arm: {labels['PLACEBO']}" in outcome
    differences = _records(result.to_dict(), "mmrm", "arm_differences")
    assert differences
    table = _text(html[html.index('id="tbl-arm-differences"') :].split("</table>")[0])
    for r in differences:
        assert f"{fmt(r['estimate'], 'estimate')} ({fmt(r['se'], 'se')})" in table
        assert fmt_ci(r["ci_low"], r["ci_high"]) in table
    key = _text(_section(html, "key-results"))
    primary = next(r for r in differences if r["scale"] == "madrs" and r["visit"] == "V17")
    assert f"MADRS (primary) at V17, {primary['contrast']}: " in key
    assert f"{labels['PLACEBO']}, MADRS response at V17: " in key
    waterfall = _section(html, "waterfall")
    assert labels["PLACEBO"] in waterfall
    assert "Hatching tells the arms apart." in waterfall
    # the MMRM models the change here, so the trajectories carry the observed means
    assert "black symbols are the observed means" in text
    # the example RCT's plan has no time-to-event analysis: that section is left out; its
    # sensitivity analyses are reference-based imputation (RbmiSectionResult), not the LMM
    assert [s.id for s in sections] == [s for s in SECTIONS if s != "time-to-event"]
    sensitivity = _section(html, "sensitivity")
    assert 'id="tbl-rbmi_j2r"' in sensitivity
    assert "tbl-lmm" not in sensitivity
    assert "Tipping delta" in sensitivity


def test_a_trial_before_follow_up_states_what_is_missing(
    make_trial: Callable[..., TrialData], oslo: Protocol
) -> None:
    frames = make_trial(simulated=False).frames()
    for name in ("scores", "visits"):
        frames[name] = frames[name][frames[name]["visit_code"] != "FU7"]
    data = TrialData(**frames)
    result = run_analysis_plan(data, oslo, now=RUN_AT)
    html, _sections = render_html(result, data, oslo)
    missing = " ".join(_text(_section(html, "missing-data")).split())
    assert "MADRS at FU7: 12 of 12 missing" in missing
    assert "MADRS at V13: 1 of 12 missing (P11)" in missing
    assert "no observation at FU7; left out of the model" in missing
    (primary,) = [
        r
        for r in _records(result.to_dict(), "mmrm", "change_vs_baseline")
        if r["scale"] == "madrs" and r["visit"] == "V13"
    ]
    key = _text(_section(html, "key-results"))
    assert f"to V13 {fmt(primary['estimate'], 'estimate')} (SE {fmt(primary['se'], 'se')}" in key


def test_a_plan_with_one_ci_method_has_that_column_only() -> None:
    from remit.analysis import example_trial
    from remit.protocol import protocol_from_text
    from remit.reports.tables import response_table

    text = load_protocol("oslo-mdma-mdd").text
    one = text.replace('ci_methods = ["clopper-pearson", "wilson"]', 'ci_methods = ["wilson"]')
    assert one != text
    result = run_analysis_plan(example_trial(), protocol_from_text(one, "o.toml"))
    table = response_table(result.section("responders"), result)
    assert table is not None
    assert table.header == ("Endpoint", "Visit", "k/n (%)", "Wilson 95% CI", "Not assessable")
    assert all(len(row) == len(table.header) for row in table.rows)
