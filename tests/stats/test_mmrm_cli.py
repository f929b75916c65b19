"""``remit stats mmrm``: the JSON contract and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remit.cli.app import app

DATA = Path(__file__).parent / "reference" / "data"
AD = str(DATA / "antidepressant_data.csv")
FEV = str(DATA / "fev_data.csv")
BASE = [
    "stats",
    "mmrm",
    AD,
    "--formula",
    "CHANGE ~ BASVAL*VISIT + THERAPY*VISIT",
    "--subject",
    "PATIENT",
    "--visit",
    "VISIT",
]

runner = CliRunner()


def test_json_contract() -> None:
    result = runner.invoke(
        app,
        [
            *BASE,
            "--group",
            "THERAPY",
            "--df",
            "kenward-roger",
            "--compare",
            "DRUG",
            "--reference",
            "PLACEBO",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in (
        "neg2_loglik",
        "aic",
        "bic",
        "converged",
        "n_subjects",
        "n_obs",
        "coefficients",
        "covariance",
        "visits",
        "lsmeans",
        "differences",
    ):
        assert key in out
    assert out["converged"] is True
    assert out["neg2_loglik"] == pytest.approx(3494.20285008, abs=1e-6)
    assert out["n_subjects"] == 172
    assert out["visits"] == [4, 5, 6, 7]
    assert len(out["covariance"]) == 4
    assert out["covariance"][0][0] == pytest.approx(19.6845, abs=1e-3)
    assert set(out["coefficients"][0]) == {
        "term",
        "estimate",
        "se",
        "df",
        "t",
        "p",
        "ci_low",
        "ci_high",
    }
    assert len(out["lsmeans"]) == 8
    assert set(out["lsmeans"][0]) == {"visit", "group", "estimate", "se", "df"}
    diff7 = [d for d in out["differences"] if d["visit"] == 7]
    assert len(diff7) == 1
    assert diff7[0]["contrast"] == "DRUG - PLACEBO"
    assert diff7[0]["estimate"] == pytest.approx(-2.8018, abs=1e-4)
    assert diff7[0]["se"] == pytest.approx(1.1163, abs=1e-4)


def test_default_differences_against_first_level() -> None:
    result = runner.invoke(app, [*BASE, "--group", "THERAPY", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {d["contrast"] for d in out["differences"]} == {"PLACEBO - DRUG"}
    assert out["differences"][0]["df"] == pytest.approx(169.0, abs=0.05)


def test_tables_and_warnings() -> None:
    result = runner.invoke(
        app,
        [
            "stats",
            "mmrm",
            FEV,
            "-f",
            "FEV1 ~ ARMCD*AVISIT",
            "-s",
            "USUBJID",
            "-v",
            "AVISIT",
            "-g",
            "ARMCD",
            "-c",
            "ar1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Fixed effects" in result.stdout
    assert "Differences by visit" in result.stdout
    assert "263 row(s)" in result.output  # the dropped rows are reported
    as_json = runner.invoke(
        app,
        [
            "stats",
            "mmrm",
            FEV,
            "-f",
            "FEV1 ~ ARMCD*AVISIT",
            "-s",
            "USUBJID",
            "-v",
            "AVISIT",
            "--json",
        ],
    )
    out = json.loads(as_json.stdout)
    assert out["dropped_rows"] == 263
    assert any("263 row(s)" in w for w in out["warnings"])
    assert out["differences"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stats", "mmrm", "nope.csv", "-f", "y ~ x", "-s", "a", "-v", "b"], "does not exist"),
        ([*BASE[:4], "CHANGE ~ NOPE", *BASE[5:]], "not found"),
        ([*BASE, "--covariance", "xyz"], "unknown covariance"),
        ([*BASE, "--group", "THERAPY", "--compare", "ASPIRIN"], "not a level"),
        ([*BASE, "--df", "magic"], "df method"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
