"""remit stats paired|proportion and remit power mmrm: JSON contract, tables, errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from remit.cli.app import app

runner = CliRunner()


def _paired_csv(tmp_path: Path) -> Path:
    before = [30, 28, 35, 31, 27, 33, 29, 34, 26, 32, 30, 25]
    after = [30, 26, 34, 26, 23, 31, 26, 28, 21, 25, 22, 16]
    lines = ["id,madrs_v0,madrs_v1"] + [
        f"P{i},{b},{a}" for i, (b, a) in enumerate(zip(before, after, strict=True))
    ]
    lines.append("P99,20,")  # incomplete pair
    path = tmp_path / "paired.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_paired_json_contract(tmp_path: Path) -> None:
    path = _paired_csv(tmp_path)
    result = runner.invoke(
        app, ["stats", "paired", str(path), "--before", "madrs_v0", "--after", "madrs_v1", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n"] == 12
    assert out["n_dropped"] == 1
    assert round(out["wilcoxon"]["p"], 6) == 0.003822
    assert out["wilcoxon"]["reported"] == "normal-continuity"
    assert round(out["wilcoxon"]["p_exact"], 6) == 0.000977
    assert set(out["wilcoxon"]) >= {"p_exact", "p_normal", "p_normal_continuity", "statistic"}
    assert out["t_test"]["df"] == 11
    assert out["hodges_lehmann"]["ci_method"] == "normal-continuity"
    names = [row["effect_size"] for row in out["effect_sizes"]]
    assert names == ["d_z", "g_z", "d_av", "g_av"]


def test_paired_table_and_scipy_convention(tmp_path: Path) -> None:
    path = _paired_csv(tmp_path)
    result = runner.invoke(
        app,
        [
            "stats",
            "paired",
            str(path),
            "--before",
            "madrs_v0",
            "--after",
            "madrs_v1",
            "--convention",
            "scipy",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "reported: exact (scipy convention)" in result.output
    assert "1 incomplete dropped" in result.output


def test_paired_errors_are_one_line(tmp_path: Path) -> None:
    path = _paired_csv(tmp_path)
    result = runner.invoke(
        app, ["stats", "paired", str(path), "--before", "nope", "--after", "madrs_v1"]
    )
    assert result.exit_code == 2
    assert "--before 'nope' is not a column" in result.output
    result = runner.invoke(
        app, ["stats", "paired", str(tmp_path / "missing.csv"), "--before", "a", "--after", "b"]
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_proportion_json_and_errors() -> None:
    result = runner.invoke(app, ["stats", "proportion", "5", "12", "--json"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    by = {row["method"]: row for row in out["intervals"]}
    assert round(by["clopper-pearson"]["ci_low"], 5) == 0.15165
    assert round(by["wilson"]["ci_high"], 5) == 0.68049
    assert set(by) == {"clopper-pearson", "wilson", "jeffreys", "agresti-coull"}
    bad = runner.invoke(app, ["stats", "proportion", "13", "12"])
    assert bad.exit_code == 2
    assert "k=13 successes out of n=12" in bad.output


def test_power_analytic_and_simulated() -> None:
    base = ["power", "mmrm", "--delta", "0.5", "--retention", "1,.9,.8,.7", "--rho", "0.25"]
    result = runner.invoke(app, [*base, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["analytic"]["n_total"] == 174
    assert out["analytic"]["method"] == "lu-luo-chen-2008"
    result = runner.invoke(
        app, [*base, "--n", "60", "--simulate", "4", "--seed", "7", "--jobs", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["simulation"]["n_sim"] == 4
    assert out["simulation"]["seed"] == 7
    assert out["simulation"]["n_per_arm"] == [30, 30]
    table = runner.invoke(
        app, [*base, "--n", "60", "--simulate", "2", "--seed", "7", "--jobs", "1"]
    )
    assert table.exit_code == 0, table.output
    assert "simulated power (2 trials, seed 7)" in table.output


def test_power_bad_input() -> None:
    result = runner.invoke(
        app, ["power", "mmrm", "--delta", "0.5", "--retention", "1,x", "--rho", "0.25"]
    )
    assert result.exit_code == 2
    assert "not a list of numbers" in result.output
    result = runner.invoke(
        app,
        [
            "power",
            "mmrm",
            "--delta",
            "0.5",
            "--retention",
            "1,.9",
            "--rho",
            "0.2",
            "--correlation",
            "un",
        ],
    )
    assert result.exit_code == 2
    assert "cs or ar1" in result.output
