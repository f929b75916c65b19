"""Scale names and ranges in the report come from the scale files through the analysis result
(``AnalysisResult.scales``), not from tables in the report code."""

from __future__ import annotations

import dataclasses

from remit.analysis import AnalysisResult, ScaleInfo, TrialData
from remit.protocol import Protocol
from remit.reports.content import build_sections
from remit.reports.tables import baseline_table, scale_name


def test_result_carries_the_scale_files_facts(result: AnalysisResult) -> None:
    assert result.scale("madrs").total_range == (0.0, 60.0)
    assert scale_name(result, "gad7") == "GAD-7"
    assert scale_name(result, "bdi2") == "BDI-II"
    assert scale_name(result, "cssrs") == "C-SSRS"
    assert scale_name(result, "hamd") == "HAMD"  # not in the result: the code upper-cased


def test_report_uses_the_names_and_range_the_result_carries(
    result: AnalysisResult, trial: TrialData, oslo: Protocol
) -> None:
    renamed = dict(result.scales)
    renamed["madrs"] = ScaleInfo("madrs", "Renamed", "MADRS-X", (0.0, 50.0))
    bent = dataclasses.replace(result, scales=renamed)
    rows = baseline_table(bent, oslo).rows
    assert any("MADRS-X total at V3" in str(row[0]) for row in rows)
    sections = build_sections(bent, trial, oslo, rendered_at="now", report_software={})
    captions = [f.caption for s in sections for f in s.figures]
    assert any("MADRS-X" in c for c in captions)
    assert not any("MADRS total" in c for c in captions)
