"""The plan's numbers on the hand-made trial against R 4.2.2 (nlme, emmeans, stats).

``reference/fixture_reference.R`` reads ``reference/fixture_totals.csv`` (the totals of
``tests/support/analysis_data.py``) and wrote ``reference/fixture_reference.json``. Tolerances
per quantity:
estimates 1e-6 and standard errors 1e-5 relative, −2 REML log-likelihood 1e-6 absolute,
p-values of exact methods 1e-9 relative. emmeans offers only a numerical ("appx")
Satterthwaite df for gls fits, which moves in the second decimal from run to run, so the MMRM
df is compared to 3 % and its p-value to 10 % (remit's own Satterthwaite df is checked against
R's mmrm package in tests/stats).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remit.analysis import AnalysisResult, TrialData, run_analysis_plan
from remit.protocol import Protocol

REF = json.loads((Path(__file__).parent / "reference" / "fixture_reference.json").read_text())


@pytest.fixture(scope="module")
def result(trial: TrialData, oslo: Protocol) -> AnalysisResult:
    return run_analysis_plan(trial, oslo)


@pytest.mark.parametrize("scale", ["madrs", "sds"])
@pytest.mark.parametrize("visit", ["V13", "FU7"])
def test_wilcoxon_against_r(result: AnalysisResult, scale: str, visit: str) -> None:
    row = result.section("wilcoxon").table.set_index(["scale", "visit"]).loc[(scale, visit)]
    assert row["statistic"] == REF[f"{scale}/{visit}/wilcoxon_V"]
    assert row["p_value_method"] == "normal"
    assert row["p_value"] == pytest.approx(REF[f"{scale}/{visit}/wilcoxon_p_normal"], rel=1e-9)


@pytest.mark.parametrize("scale", ["madrs", "sds"])
def test_mmrm_against_nlme_and_emmeans(result: AnalysisResult, scale: str) -> None:
    section = result.section("mmrm")
    fits = section.tables["fits"].set_index("scale")
    assert fits.loc[scale, "neg2_loglik"] == pytest.approx(
        REF[f"{scale}/mmrm/neg2_reml_loglik"], abs=1e-6
    )
    table = section.tables["change_vs_baseline"].set_index(["scale", "visit"])
    for visit in ("V13", "FU7"):
        row = table.loc[(scale, visit)]
        key = f"{scale}/mmrm/{visit}"
        assert row["estimate"] == pytest.approx(REF[f"{key}/estimate"], rel=1e-6)
        assert row["se"] == pytest.approx(REF[f"{key}/se"], rel=1e-5)
        assert row["df"] == pytest.approx(REF[f"{key}/df"], rel=0.03)
        assert row["p"] == pytest.approx(REF[f"{key}/p"], rel=0.10)


def test_proportion_and_mcnemar_against_r(result: AnalysisResult) -> None:
    props = result.section("responders").table.set_index(["endpoint_id", "visit"])
    row = props.loc[("madrs_response", "V13")]
    assert (row["k"], row["n"]) == (8, 11)
    assert row["clopper_pearson_low"] == pytest.approx(REF["prop/8of11/cp_low"], rel=1e-9)
    assert row["clopper_pearson_high"] == pytest.approx(REF["prop/8of11/cp_high"], rel=1e-9)
    assert row["wilson_low"] == pytest.approx(REF["prop/8of11/wilson_low"], rel=1e-9)
    assert row["wilson_high"] == pytest.approx(REF["prop/8of11/wilson_high"], rel=1e-9)
    tests = result.section("transitions").table.set_index("endpoint_id")
    assert tests.loc["madrs_remission", "p_value"] == pytest.approx(
        REF["mcnemar/remission/p"], rel=1e-12
    )
