"""A small synthetic trial entered through the services on SQLite: the same seed gives the same
data; a missed V13 is stated by `remit analyse` and `remit report` and the MMRM still runs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine
from tests.support.db import copy_database
from tests.support.simulated import SMALL, START
from typer.testing import CliRunner

from remit import services as sv
from remit.analysis import TrialData
from remit.cli.app import app
from remit.errors import InputError
from remit.protocol import load_protocol
from remit.simulate import (
    SimulationResult,
    close_demo_database,
    create_demo_database,
    find_staff,
    simulate_trial,
)

OSLO = load_protocol("oslo-mdma-mdd")


def _simulate(
    path: Path, seed: int, missed: dict[int, list[str]] | None = None
) -> tuple[SimulationResult, TrialData]:
    demo = create_demo_database(path, OSLO)
    try:
        assert find_staff(demo.engine)["independent_rater"].username == "rune"
        result = simulate_trial(
            demo.engine, OSLO, rng=seed, start_date=START, targets=SMALL, missed=missed
        )
        data = sv.build_trial_data(demo.engine, actor=demo.staff["statistician"])
    finally:
        close_demo_database(demo)
    return result, data


@pytest.fixture(scope="module")
def twice(
    tmp_path_factory: pytest.TempPathFactory, fast_hashing: None
) -> tuple[tuple[SimulationResult, TrialData], tuple[SimulationResult, TrialData]]:
    folder = tmp_path_factory.mktemp("twice")
    return _simulate(folder / "a.db", 5), _simulate(folder / "b.db", 5)


@pytest.fixture
def missing_v13(simulated_missing_v13: Path, tmp_path: Path) -> Path:
    """A copy of the shared small simulated trial in which one participant misses V13."""
    path = tmp_path / "trial.db"
    copy_database(simulated_missing_v13, path)
    return path


def test_the_same_seed_gives_identical_data(
    twice: tuple[tuple[SimulationResult, TrialData], tuple[SimulationResult, TrialData]],
) -> None:
    (first, a), (second, b) = twice
    assert first == second
    assert first.n_enrolled == 4
    assert first.n_screened == 6
    for name in ("participants", "visits", "scores", "doses", "vitals", "adverse_events"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    # alerts are raised, acknowledged and closed at the wall-clock time of entry (the store
    # sets those times); all else about them is the same
    clock = ["raised_at", "acknowledged_at", "closed_at"]
    pd.testing.assert_frame_equal(
        a.alerts.drop(columns=clock), b.alerts.drop(columns=clock), obj="alerts"
    )
    pd.testing.assert_frame_equal(a.deviations, b.deviations, obj="deviations")
    assert len(a.scores) > 100
    # and so the same analysis summary
    from remit.analysis import run_analysis_plan
    from remit.cli.demo_cmd import summarise

    first_summary = summarise(run_analysis_plan(a, OSLO), OSLO)
    assert first_summary == summarise(run_analysis_plan(b, OSLO), OSLO)
    assert first_summary["n_enrolled"] == 4


def test_simulation_result_reports_what_was_entered(
    twice: tuple[tuple[SimulationResult, TrialData], tuple[SimulationResult, TrialData]],
) -> None:
    (result, _), _ = twice
    frame = result.to_frame()
    assert list(frame["participant_id"]) == [f"OSL-{k:03d}" for k in range(1, 7)]
    assert sorted(frame["course"]) == sorted(
        ["sustained", "relapse", "non_responder", "non_responder"] + ["screen_failure"] * 2
    )
    as_dict = json.loads(json.dumps(result.to_dict()))
    assert as_dict["n_calls"] == result.n_calls == sum(result.actions.values())
    assert result.actions["screen"] == 6
    assert "SIMULATED trial: 6 screened, 4 enrolled" in result.summary()
    assert result.alerts.get("cssrs_behaviour") == 1


def test_planned_totals_are_what_the_database_holds(
    twice: tuple[tuple[SimulationResult, TrialData], tuple[SimulationResult, TrialData]],
) -> None:
    (result, data), _ = twice
    madrs = data.scores[data.scores["scale"] == "madrs"]
    stored = madrs.pivot(index="participant_id", columns="visit_code", values="total")
    for person in result.participants:
        if not person.enrolled:
            assert person.participant_id not in stored.index
            continue
        assert person.madrs is not None
        row = stored.loc[person.participant_id]
        assert (row["V3"], row["V13"], row["FU7"]) == person.madrs
    assert data.simulated
    assert data.participants["simulated"].all()


def test_a_trial_without_the_roles_is_refused(tmp_path: Path, fast_hashing: None) -> None:
    from remit.store import make_engine, upgrade

    engine = make_engine(tmp_path / "bare.db")
    upgrade(engine)
    sv.create_trial(engine, OSLO, admin_username="ada", admin_password="remit-demo-admin")
    with pytest.raises(InputError, match="independent_rater"):
        simulate_trial(engine, OSLO, rng=1, start_date=START, targets=SMALL)
    engine.dispose()


def test_staff_at_a_site_act_at_that_site(tmp_path: Path, fast_hashing: None) -> None:
    from remit.store import Actor, make_engine, upgrade

    engine = make_engine(tmp_path / "site.db")
    upgrade(engine)
    trial = sv.create_trial(engine, OSLO, admin_username="ada", admin_password="remit-demo-admin")
    admin = Actor(trial.admin.id, "ada", "admin", None)
    people = [("kari", "investigator"), ("tor", "therapist"), ("rita", "independent_rater")]
    for name, role in people:
        sv.add_user(engine, admin, name, "a long enough password", [(role, "OST")])
    sv.add_user(engine, admin, "siv", "a long enough password", [("therapist", None)])
    staff = find_staff(engine)
    engine.dispose()
    assert {r: (a.username, a.site_id) for r, a in staff.items()} == {
        "investigator": ("kari", 1),
        "therapist": ("siv", None),  # a study-wide role is preferred
        "independent_rater": ("rita", 1),
    }


def test_analyse_states_the_missing_v13_and_the_mmrm_still_runs(missing_v13: Path) -> None:
    result = CliRunner().invoke(
        app, ["analyse", "--db", str(missing_v13), "--user", "stine", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    gaps = [m for m in out["missing"] if m["n_missing"] and m["scale"] == "madrs"]
    assert [(m["visit_code"], m["n_missing"]) for m in gaps] == [("V13", 1)]
    mmrm = next(s for s in out["sections"] if s["kind"] == "mmrm")
    rows = {(r["scale"], r["visit"]): r for r in mmrm["tables"]["change_vs_baseline"]}
    assert rows[("madrs", "V13")]["n_obs"] == 3
    assert rows[("madrs", "V13")]["estimate"] is not None
    assert rows[("madrs", "FU7")]["n_obs"] == 4


def test_report_states_the_missing_v13_and_shows_the_mmrm(
    missing_v13: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        ["report", "--db", str(missing_v13), "--user", "stine", "--out", str(tmp_path), "--no-pdf"],
    )
    assert result.exit_code == 0, result.output
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "SIMULATED" in html
    missing_section = html[html.index('<section id="missing-data">') :]
    missing_section = missing_section[: missing_section.index("</section>")]
    assert "MADRS at V13: 1 of 4 missing (OSL-" in missing_section
    assert 'id="tbl-outcome-madrs"' in html


def test_report_of_an_empty_trial_says_there_is_nothing_to_analyse(
    tmp_path: Path, fast_hashing: None
) -> None:
    demo = create_demo_database(tmp_path / "empty.db", OSLO)
    close_demo_database(demo)
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--db",
            str(tmp_path / "empty.db"),
            "--user",
            "stine",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 2
    assert "nothing to analyse" in result.output
    assert not (tmp_path / "r" / "report.html").exists()


def test_simulation_on_sqlite_and_postgresql(engine: Engine, fast_password_hashing: None) -> None:
    """The same small trial through the services on both engines: same stored totals, the
    audit chain verifies."""
    from remit.store import Actor, verify_audit_chain

    trial = sv.create_trial(engine, OSLO, admin_username="ada", admin_password="remit-demo-admin")
    admin = Actor(trial.admin.id, "ada", "admin", None)
    people = [("ingrid", "investigator"), ("terje", "therapist"), ("rune", "independent_rater")]
    for name, role in people:
        sv.add_user(engine, admin, name, "a long enough password", [(role, None)])
    result = simulate_trial(engine, OSLO, rng=3, start_date=START, targets=SMALL)
    data = sv.build_trial_data(engine, actor=sv.Actor.system("tests"))
    madrs = data.scores[data.scores["scale"] == "madrs"]
    stored = madrs.pivot(index="participant_id", columns="visit_code", values="total")
    planned = {p.participant_id: p.madrs for p in result.participants if p.enrolled}
    assert {pid: (r["V3"], r["V13"], r["FU7"]) for pid, r in stored.iterrows()} == planned
    assert verify_audit_chain(engine).ok
