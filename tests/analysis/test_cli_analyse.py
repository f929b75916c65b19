"""`remit analyse` on a data folder and on a database."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from remit.analysis import TrialData, run_analysis_plan
from remit.cli.app import app
from remit.protocol import Protocol

runner = CliRunner()


def test_analyse_data_folder_json(tmp_path: Path, trial: TrialData, oslo: Protocol) -> None:
    folder = trial.to_directory(tmp_path / "data")
    result = runner.invoke(
        app, ["analyse", "--data", str(folder), "--protocol", "oslo-mdma-mdd", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["provenance"]["data_sha256"] == trial.snapshot_sha256()
    assert out["n_population"] == 12
    direct = run_analysis_plan(trial, oslo)
    mmrm = next(s for s in out["sections"] if s["id"] == "mmrm")
    expected = direct.section("mmrm").tables["change_vs_baseline"]["estimate"].tolist()
    assert [r["estimate"] for r in mmrm["tables"]["change_vs_baseline"]] == expected
    assert any("Satterthwaite" in p for p in out["methods"])
    assert "adqs" not in out
    result = runner.invoke(
        app,
        ["analyse", "--data", str(folder), "--protocol", "oslo-mdma-mdd", "--json", "--datasets"],
    )
    assert len(json.loads(result.stdout)["adqs"]) == len(direct.adqs)


def test_analyse_data_folder_text_with_protocol_beside(
    tmp_path: Path, trial: TrialData, oslo: Protocol
) -> None:
    folder = trial.to_directory(tmp_path / "data")
    (folder / "protocol.toml").write_text(oslo.text, encoding="utf-8")
    saved = tmp_path / "copy"
    result = runner.invoke(
        app, ["analyse", "--data", str(folder), "--methods", "--save-data", str(saved)]
    )
    assert result.exit_code == 0, result.output
    assert "missing madrs at V13: 1 (P11)" in result.output
    assert "MMRM" in result.output
    assert "Wilcoxon signed-rank" in result.output  # the methods section
    assert TrialData.from_directory(saved).snapshot_sha256() == trial.snapshot_sha256()


def test_analyse_refuses_unclear_input(tmp_path: Path, trial: TrialData) -> None:
    folder = trial.to_directory(tmp_path / "data")
    result = runner.invoke(app, ["analyse", "--data", str(folder)])
    assert result.exit_code == 2
    assert "no protocol given" in result.output
    result = runner.invoke(app, ["analyse"], env={"REMIT_DATABASE_URL": ""})
    assert result.exit_code == 2
    assert "no data given" in result.output
    result = runner.invoke(app, ["analyse", "--data", str(folder), "--db", "x.db"])
    assert result.exit_code == 2
    assert "both --db and --data" in result.output


def test_analyse_empty_database_says_nothing_to_analyse(tmp_path: Path, oslo: Protocol) -> None:
    from remit.services import Actor, add_user, create_trial
    from remit.store import make_engine, upgrade

    db = tmp_path / "trial.db"
    upgrade(str(db))
    engine = make_engine(db)
    try:
        trial = create_trial(
            engine, oslo, admin_username="admin", admin_password="a long passphrase 1"
        )
        admin = Actor(trial.admin.id, "admin", "admin", None)
        add_user(engine, admin, "stine", "a long passphrase 2", [("statistician", None)])
    finally:
        engine.dispose()
    result = runner.invoke(
        app,
        ["--password-stdin", "analyse", "--db", str(db), "--user", "stine"],
        input="a long passphrase 2\n",  # stine's own password, not the tests' usual one
    )
    assert result.exit_code == 2, result.output
    assert "nothing to analyse: no participant is enrolled" in result.output


def test_analyse_two_arm_text_shows_the_arm(tmp_path: Path, trial: TrialData) -> None:
    arm = {p: ("MDMA" if i < 6 else "PLACEBO") for i, p in enumerate(trial.enrolled_ids)}
    people = trial.participants.assign(arm=trial.participants["participant_id"].map(arm))
    scores = trial.scores.assign(visit_code=trial.scores["visit_code"].replace({"V13": "V17"}))
    data = TrialData(**{**trial.frames(), "participants": people, "scores": scores})
    folder = data.to_directory(tmp_path / "rct")
    result = runner.invoke(
        app,
        ["analyse", "--data", str(folder), "--protocol", "mdma-mdd-rct-example"],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    assert "PLACEBO - MDMA" in result.output
    assert "PLACEBO: adverse events" in result.output
