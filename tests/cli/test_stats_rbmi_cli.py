"""remit stats rbmi and remit stats tipping-point: JSON contract, agreement with the library,
the figure, and exit 2 with a clear line for bad columns, levels and options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.stats.test_rbmi import _trial
from typer.testing import CliRunner

from remit.cli.app import app
from remit.stats import rbmi_bayes, rbmi_condmean, tipping_point

runner = CliRunner()
BASE = ["-f", "y ~ arm*visit + base", "-s", "id", "-v", "visit", "-g", "arm", "-r", "ctl"]
KW = {"y": "y", "subject": "id", "visit": "visit", "group": "arm", "reference": "ctl"}


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rbmi") / "trial.csv"
    df = _trial(n_per_arm=20, seed=4).copy()
    df["ice"] = np.where(df["id"] % 3 == 0, "j2r", "")
    df.to_csv(path, index=False)
    return path


def _json(args: list[str]) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return out


def test_rbmi_condmean_json_matches_library(csv: Path) -> None:
    out = _json(["stats", "rbmi", str(csv), *BASE, "--strategy", "j2r", "--json"])
    df = _trial(n_per_arm=20, seed=4)
    lib = rbmi_condmean(df, covariates=["base"], strategy="J2R", **KW).to_frame()
    assert [r["visit"] for r in out["table"]] == [1, 2, 3, 4]
    assert out["method"] == "jackknife"
    assert out["imputation_model"] == "y ~ arm*visit + base*visit"
    assert out["analysis_model"] == "y ~ arm + base"
    for row, (_, ref) in zip(out["table"], lib.iterrows(), strict=True):
        assert row["contrast"] == "trt - ctl"
        for key in ("estimate", "se", "ci_low", "ci_high", "p"):
            assert row[key] == pytest.approx(ref[key], rel=1e-12)
        assert row["df"] is None  # normal-based


def test_rbmi_bayes_json_is_seeded_and_matches_library(csv: Path) -> None:
    args = ["stats", "rbmi", str(csv), *BASE, "--strategy", "cir", "--method", "bayes"]
    args += ["--samples", "30", "--seed", "11", "--delta", "-1", "--json"]
    out = _json(args)
    again = _json(args)
    assert out == again
    df = _trial(n_per_arm=20, seed=4)
    lib = rbmi_bayes(
        df, covariates=["base"], strategy="CIR", delta=-1.0, n_samples=30, seed=11, **KW
    ).to_frame()
    assert out["method"] == "bayes"
    assert out["n_resamples"] == 30
    assert out["seed"] == 11
    assert out["delta"] == -1.0
    np.testing.assert_allclose([r["estimate"] for r in out["table"]], lib["estimate"])
    np.testing.assert_allclose([r["df"] for r in out["table"]], lib["df"])


def test_rbmi_strategy_column(csv: Path) -> None:
    out = _json(["stats", "rbmi", str(csv), *BASE, "--strategy-column", "ice", "--json"])
    assert out["strategies"]["J2R"] == 14
    assert out["strategies"]["MAR"] == 26


def test_rbmi_table_output(csv: Path) -> None:
    result = runner.invoke(app, ["stats", "rbmi", str(csv), *BASE, "--strategy", "cr"])
    assert result.exit_code == 0, result.output
    assert "Treatment differences by visit" in result.stdout
    assert "CR 40" in result.stdout
    assert "trt - ctl" in result.stdout


def test_tipping_point_json_and_figure(csv: Path, tmp_path: Path) -> None:
    png = tmp_path / "tp.png"
    out = _json(
        [
            "stats", "tipping-point", str(csv), *BASE, "--deltas", "0:-12:-1",
            "--figure", str(png), "--json",
        ]
    )  # fmt: skip
    df = _trial(n_per_arm=20, seed=4)
    lib = tipping_point(df, covariates=["base"], deltas=np.arange(0.0, -13.0, -1.0), **KW)
    assert out["tipping_delta"] == lib.tipping_delta is not None
    assert len(out["table"]) == len(lib.table)
    assert out["figure"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    last = out["table"][-1]
    assert last["ci_low"] <= 0 <= last["ci_high"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-f", "score ~ arm*visit"], "not in the data"),
        (["-f", "y ~ arm*visit + weight"], "weight"),
        (["-r", "placebo"], "--reference 'placebo' is not a value of 'arm'"),
        (["-g", "group"], "'group'"),
        (["--strategy", "locf"], "--strategy 'locf'"),
        (["--method", "mcmc"], "--method 'mcmc'"),
        (["--samples", "1"], "--samples"),
        (["--strategy-column", "nope"], "--strategy-column"),
        (["-f", "arm*visit"], "no response"),
    ],
)
def test_rbmi_bad_input_exits_2(csv: Path, extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["stats", "rbmi", str(csv), *BASE, *extra, "--json"])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--deltas", "0:-5:1"], "is not a grid"),
        (["--deltas", "a,b"], "is not a grid"),
        (["--deltas", "0,-1", "--arm", "pbo"], "--arm 'pbo'"),
        (["--deltas", "0,-1", "--at-visit", "9"], "--at-visit '9'"),
        (["--deltas", "0,-1", "--figure", "x.svg"], ".png"),
    ],
)
def test_tipping_bad_input_exits_2(csv: Path, extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["stats", "tipping-point", str(csv), *BASE, *extra])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stats", "rbmi", str(tmp_path / "none.csv"), *BASE])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_one_arm_tipping_point(tmp_path: Path) -> None:
    df = _trial()
    one = df[df["arm"] == "trt"].drop(columns="arm")
    path = tmp_path / "one.csv"
    one.to_csv(path, index=False)
    args = ["-f", "y ~ visit", "-s", "id", "-v", "visit"]
    out = _json(["stats", "tipping-point", str(path), *args, "--deltas", "0:-60:-2", "--json"])
    assert out["reference"] is None
    assert out["tipping_delta"] < 0
    mar = _json(["stats", "rbmi", str(path), *args, "--json"])
    assert mar["table"][0]["contrast"] == "mean"
    assert mar["analysis_model"] == "mean of y"
    bad = runner.invoke(app, ["stats", "rbmi", str(path), *args, "--strategy", "j2r"])
    assert bad.exit_code == 2
    assert "need a reference arm" in bad.stderr
    bad = runner.invoke(app, ["stats", "rbmi", str(path), *args, "-r", "ctl"])
    assert bad.exit_code == 2
    assert "without --group" in bad.stderr
