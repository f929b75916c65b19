"""``remit export`` and ``remit import odm`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from remit.cli.app import app

runner = CliRunner()


def test_export_all_then_import_odm(trial_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = runner.invoke(
        app,
        ["export", "--db", str(trial_db), "--out", str(out), "--date-shift-seed", "3",
         "--rs-for-clinician", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["date_shifted"] is True
    assert summary["clinician_domain"] == "RS"
    assert set(summary["files"]) == {"csv", "sdtm", "adam", "odm", "redcap"}
    assert (out / "sdtm" / "rs.xpt").exists()
    assert (out / "adam" / "define.html").exists()

    from tests.support.presets import import_target

    engine, _ = import_target(tmp_path / "fresh.db")
    url = str(engine.url)  # type: ignore[attr-defined]
    engine.dispose()  # type: ignore[attr-defined]
    result = runner.invoke(
        app,
        ["import", "odm", str(out / "odm" / "odm_snapshot.xml"), "--db", url, "--user", "imp"],
    )
    assert result.exit_code == 0, result.output
    assert "3 new, 0 changed, 0 unchanged participants" in result.output
    # the same file again changes nothing and says so
    again = runner.invoke(
        app,
        ["import", "odm", str(out / "odm" / "odm_snapshot.xml"), "--db", url, "--user", "imp"],
    )
    assert again.exit_code == 0, again.output
    assert "0 new, 0 changed, 3 unchanged participants" in again.output
    # a file of another study is refused, naming both studies
    other = tmp_path / "other.xml"
    text = (out / "odm" / "odm_snapshot.xml").read_text(encoding="utf-8")
    other.write_text(
        text.replace(
            'ClinicalData StudyOID="ST.OSLO-MDMA-MDD"', 'ClinicalData StudyOID="ST.OTHER"'
        ),
        encoding="utf-8",
    )
    refused = runner.invoke(app, ["import", "odm", str(other), "--db", url, "--user", "imp"])
    assert refused.exit_code == 2, refused.output
    assert "ST.OTHER" in refused.output
    assert "ST.OSLO-MDMA-MDD" in refused.output


def test_export_refuses_an_unknown_format(trial_db: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["export", "--db", str(trial_db), "--out", str(tmp_path), "--format", "sas"]
    )
    assert result.exit_code == 2
    assert "--format sas is not known" in result.output


def test_import_odm_refusal_is_one_line(trial_db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<notodm/>")
    from tests.support.presets import import_target

    engine, _ = import_target(tmp_path / "fresh.db")
    url = str(engine.url)  # type: ignore[attr-defined]
    engine.dispose()  # type: ignore[attr-defined]
    result = runner.invoke(app, ["import", "odm", str(bad), "--db", url, "--user", "imp"])
    assert result.exit_code == 2
    assert "is not an ODM 1.3 file" in result.output


def test_every_command_has_help() -> None:
    for args in (["export", "--help"], ["import", "odm", "--help"],
                 ["import", "redcap-dictionary", "--help"]):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert "Usage" in result.output
