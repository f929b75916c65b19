"""remit power mmrm --simulate (batched) and --grid: table, figure, resume, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from remit.cli.app import app

runner = CliRunner()
BASE = ["power", "mmrm", "--delta", "0.5", "--retention", "1,.9,.8,.7", "--rho", "0.3"]
GRID = [*BASE, "--simulate", "5", "--seed", "4", "--grid", "n=40,60;delta=0,0.8;dropout=0,0.2"]


def test_grid_table_figure_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "grid.csv"
    png = tmp_path / "power.png"
    result = runner.invoke(app, [*GRID, "--out", str(out), "--figure", str(png)])
    assert result.exit_code == 0, result.output
    assert "Simulated MMRM power, 5 trials per point (seed 4)" in result.output
    table = pd.read_csv(out)
    assert table["point"].tolist() == list(range(8))
    assert sorted(set(table["n_total"])) == [40, 60]
    assert sorted(set(table["dropout"])) == [0.0, 0.2]
    assert (table["n_sim"] == 5).all()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # an interrupted run: keep the first three rows, resume, get the same table
    partial = tmp_path / "partial.csv"
    table.iloc[:3].to_csv(partial, index=False)
    again = runner.invoke(app, [*GRID, "--resume", str(partial), "--json"])
    assert again.exit_code == 0, again.output
    payload = json.loads(again.stdout)
    assert payload["n_resumed"] == 3
    pd.testing.assert_frame_equal(pd.DataFrame(payload["table"]), table, check_dtype=False)


def test_grid_json_file_and_errors(tmp_path: Path) -> None:
    out = tmp_path / "grid.json"
    result = runner.invoke(app, [*GRID, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(json.loads(out.read_text())["table"]) == 8
    bad = runner.invoke(app, [*BASE, "--simulate", "5", "--grid", "size=40"])
    assert bad.exit_code == 2
    assert "axis=values" in bad.output
    bad = runner.invoke(app, [*BASE, "--simulate", "5", "--grid", "delta=0.5"])
    assert bad.exit_code == 2
    assert "no total sample size" in bad.output
    bad = runner.invoke(app, [*BASE, "--grid", "n=40"])
    assert bad.exit_code == 2
    assert "trials per grid point" in bad.output
    bad = runner.invoke(app, [*BASE, "--out", str(out)])
    assert bad.exit_code == 2
    assert "without --grid" in bad.output
    bad = runner.invoke(app, [*GRID, "--scheduler", "localhost:1"])
    assert bad.exit_code == 2
    assert "tcp://" in bad.output
    other = tmp_path / "other.csv"
    other.write_text("point,n_total\n0,40\n")
    bad = runner.invoke(app, [*GRID, "--resume", str(other)])
    assert bad.exit_code == 2
    assert "lack the column" in bad.output


def test_simulate_reports_the_batched_engine() -> None:
    result = runner.invoke(app, [*BASE, "--n", "60", "--simulate", "6", "--seed", "2", "--json"])
    assert result.exit_code == 0, result.output
    sim = json.loads(result.stdout)["simulation"]
    assert sim["engine"] == "batch"
    assert sim["n_refitted"] == 0


def test_dask_is_imported_only_by_a_grid_that_uses_it() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from remit.cli.app import app\n"
        "r = CliRunner()\n"
        "assert r.invoke(app, ['--help']).exit_code == 0\n"
        f"assert r.invoke(app, {[*BASE, '--n', '40', '--simulate', '2']!r}).exit_code == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == "[]"
