"""`remit demo --protocol mdma-mdd-rct-example`: a randomised two-arm trial end to end through
the services (concealed list, allocation at confirmation), analysed by arm from the
allocations; the blinded data are analysed pooled."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from remit import services as sv
from remit.analysis import ArmsConcealedError, run_analysis_plan
from remit.cli.app import app
from remit.errors import InputError, PermissionDeniedError
from remit.protocol import load_protocol
from remit.services.epro import self_report_scales
from remit.simulate import DEMO_USERS, UNBLINDED_DEMO_USER

RCT = load_protocol("mdma-mdd-rct-example")
N = 8


@pytest.fixture(scope="module")
def rct(
    tmp_path_factory: pytest.TempPathFactory, fast_hashing: None
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("rct")
    args = ["demo", "--protocol", RCT.study.id, "--participants", str(N), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), out


def _engine(out: Path, *, key: bool = True) -> sv.Engine:
    found = sv.load_allocation_key(out / "allocation.key") if key else None
    return sv.open_database(out / "trial.db", allocation_key=found)


def test_the_json_gives_n_per_arm_and_the_mmrm_difference_with_its_ci(
    rct: tuple[dict[str, Any], Path],
) -> None:
    summary, _ = rct
    assert summary["n_enrolled"] == N
    assert set(summary["n_per_arm"]) == {"MDMA", "PLACEBO"}
    assert sum(summary["n_per_arm"].values()) == N
    assert all(n >= 1 for n in summary["n_per_arm"].values())
    d = summary["madrs_difference_v17"]
    assert d["contrast"] == "PLACEBO - MDMA"
    for k in ("estimate", "se", "ci_low", "ci_high", "p"):
        assert math.isfinite(d[k]), k
    assert d["ci_low"] < d["estimate"] < d["ci_high"]
    assert set(summary["responders_by_arm"]) == {"MDMA", "PLACEBO"}


def test_the_arms_come_from_the_allocations_and_the_participant_rows_stay_empty(
    rct: tuple[dict[str, Any], Path],
) -> None:
    summary, out = rct
    engine = _engine(out)
    try:
        una = sv.actor_for(engine, UNBLINDED_DEMO_USER[0], UNBLINDED_DEMO_USER[1], None)
        allocations = {a.participant_id: a.arm for a in sv.list_allocations(engine, una)}
        data = sv.build_trial_data(engine, actor=una, unblinded=True)
        enrolled = data.participants[data.participants["participant_id"].isin(allocations)]
        assert len(allocations) == N
        assert dict(zip(enrolled["participant_id"], enrolled["arm"], strict=True)) == allocations
        counts = {arm: list(allocations.values()).count(arm) for arm in ("MDMA", "PLACEBO")}
        assert counts == summary["n_per_arm"]
        # the blinded statistician's data mask every randomised arm (the others stay empty);
        # the plan runs them pooled, and refuses them when the arms are required
        stine = sv.actor_for(engine, "stine", "statistician", None)
        blinded = sv.build_trial_data(engine, actor=stine)
        masked = blinded.participants.set_index("participant_id")["arm"]
        assert set(masked.dropna()) == {"BLINDED"}
        assert set(masked.dropna().index) == set(
            data.participants.dropna(subset=["arm"])["participant_id"]
        )
        assert run_analysis_plan(blinded, RCT).blinded
        with pytest.raises(ArmsConcealedError, match="concealed"):
            run_analysis_plan(blinded, RCT, require_arms=True)
        # nor may a blinded role ask for the unblinded data
        with pytest.raises(PermissionDeniedError):
            sv.build_trial_data(engine, actor=stine, unblinded=True)
    finally:
        sv.close_database(engine)


def test_without_the_key_the_unblinded_data_are_refused(rct: tuple[dict[str, Any], Path]) -> None:
    _, out = rct
    engine = _engine(out, key=False)
    try:
        una = sv.actor_for(engine, UNBLINDED_DEMO_USER[0], UNBLINDED_DEMO_USER[1], None)
        with pytest.raises(InputError, match="allocation key"):
            sv.build_trial_data(engine, actor=una, unblinded=True)
    finally:
        sv.close_database(engine)


def test_the_simulated_outcomes_follow_the_allocated_arm(rct: tuple[dict[str, Any], Path]) -> None:
    """Both arms share the baseline; after it, the ratings entered are those of the arm in the
    kit (MDMA's course follows the Oslo targets, placebo's the assumed smaller change)."""
    _, out = rct
    engine = _engine(out)
    try:
        una = sv.actor_for(engine, UNBLINDED_DEMO_USER[0], UNBLINDED_DEMO_USER[1], None)
        data = sv.build_trial_data(engine, actor=una, unblinded=True)
    finally:
        sv.close_database(engine)
    s = data.scores[data.scores["scale"] == "madrs"]
    wide = s.pivot_table(index="participant_id", columns="visit_code", values="total")
    arms = data.participants.set_index("participant_id")["arm"].dropna()
    change = (wide["V17"] - wide["V3"]).groupby(arms).mean()
    assert change["MDMA"] < change["PLACEBO"]


def test_participants_enter_their_self_reports_through_used_epro_links(
    rct: tuple[dict[str, Any], Path],
) -> None:
    """Each randomised participant's self-report forms at V3 and V17 came through one used
    link per visit (issued by the investigator, submitted by the participant)."""
    _, out = rct
    engine = _engine(out)
    try:
        una = sv.actor_for(engine, UNBLINDED_DEMO_USER[0], UNBLINDED_DEMO_USER[1], None)
        ingrid = sv.actor_for(engine, "ingrid", "investigator", None)
        allocated = [a.participant_id for a in sv.list_allocations(engine, una)]
        for pid in allocated:
            links = sv.list_epro_links(engine, ingrid, pid)
            visits = {link.visit_code for link in links if link.used_at is not None}
            assert {"V3", "V17"} <= visits, pid
            v17 = next(link for link in links if link.visit_code == "V17")
            assert set(v17.scales) == set(self_report_scales(RCT, "V17"))
            assert v17.state == "used"
            # issued and answered at the visit's simulated time, not the wall clock
            assert v17.used_at is not None
            assert v17.issued_at <= v17.used_at
            assert v17.used_at < datetime(2025, 6, 1, tzinfo=UTC)
    finally:
        sv.close_database(engine)


def test_the_report_has_the_randomised_consort_diagram_and_the_blinding_summary(
    rct: tuple[dict[str, Any], Path],
) -> None:
    summary, out = rct
    html = (out / "report.html").read_text(encoding="utf-8").replace("\u00a0", " ")
    assert f"Randomised (n = {N})" in html
    for arm in RCT.arms:  # the box text may wrap before its count
        assert f"Allocated to {arm.label}" in html
    per_arm = ", ".join(f"{a.label} {summary['n_per_arm'][a.code]}" for a in RCT.arms)
    assert f"Randomised: {N} ({per_arm})" in html
    assert html.count("Lost to follow-up or discontinued") == len(RCT.arms)
    assert html.count("Analysed, full analysis set") == len(RCT.arms)
    assert "Emergency unblindings: 0 (recorded by an investigator" in html


def _dm(folder: Path) -> pd.DataFrame:
    return pd.read_sas(folder / "sdtm" / "dm.xpt", format="xport", encoding="utf-8")


def _audit(out: Path, where: str) -> list[Any]:
    engine = sa.create_engine(f"sqlite:///{out / 'trial.db'}")
    try:
        with engine.connect() as c:
            return list(c.execute(sa.text(f"SELECT * FROM audit_event WHERE {where} ORDER BY id")))
    finally:
        engine.dispose()


def test_the_demo_exports_are_blinded_and_the_unblinded_ones_apart_after_the_lock(
    rct: tuple[dict[str, Any], Path],
) -> None:
    summary, out = rct
    assert summary["exports"] == str(out / "exports")
    assert summary["exports_unblinded"] == str(out / "exports-unblinded")
    blinded, unblinded = out / "exports", out / "exports-unblinded"
    # the same structure: the same files, the same columns
    files = sorted(p.relative_to(blinded) for p in blinded.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(unblinded) for p in unblinded.rglob("*") if p.is_file())
    dm_b, dm_u = _dm(blinded), _dm(unblinded)
    assert list(dm_b.columns) == list(dm_u.columns)
    randomised = dm_u["ARMCD"] != ""
    assert int(randomised.sum()) == N
    # blinded: every randomised participant's arm masked, no dose in mg
    assert set(dm_b.loc[randomised, "ARMCD"]) == {"BLINDED"}
    assert set(dm_b.loc[randomised, "ACTARM"]) == {"BLINDED"}
    ex_b = pd.read_sas(blinded / "sdtm" / "ex.xpt", format="xport", encoding="utf-8")
    assert len(ex_b) > 0
    assert ex_b["EXDOSE"].isna().all()
    people = pd.read_csv(blinded / "csv" / "participants.csv")
    assert set(people["arm"].dropna()) == {"BLINDED"}
    # unblinded: the arms of the allocations
    engine = _engine(out)
    try:
        una = sv.actor_for(engine, UNBLINDED_DEMO_USER[0], UNBLINDED_DEMO_USER[1], None)
        allocations = {a.participant_id: a.arm for a in sv.list_allocations(engine, una)}
    finally:
        sv.close_database(engine)
    arms = dict(zip(dm_u.loc[randomised, "SUBJID"], dm_u.loc[randomised, "ARMCD"], strict=True))
    assert arms == allocations
    ex_u = pd.read_sas(unblinded / "sdtm" / "ex.xpt", format="xport", encoding="utf-8")
    assert ex_u["EXDOSE"].notna().all()
    # the study was locked by the data manager before the arms were read
    lock = _audit(out, "table_name = 'lock'")
    read = _audit(out, "table_name = 'randomisation_list' AND action = 'read'")
    assert {(r.username, r.role, r.record_id) for r in lock} == {("dag", "data_manager", 1)}
    assert any(r.field == "level" and json.loads(r.new_value) == "study" for r in lock)
    assert read
    assert read[0].username == UNBLINDED_DEMO_USER[0]
    assert lock[0].id < read[0].id


def _arm_values(value: Any) -> set[Any]:
    """Every value of an ``arm`` key anywhere in a JSON document."""
    if isinstance(value, dict):
        here = {value["arm"]} if "arm" in value else set()
        return here.union(*(_arm_values(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_arm_values(v) for v in value))
    return set()


def _analyse(out: Path, user: str, *extra: str, key: bool = True) -> Any:
    password = {**DEMO_USERS, UNBLINDED_DEMO_USER[0]: UNBLINDED_DEMO_USER[1:]}[user][1]
    env = {"REMIT_ALLOCATION_KEY_FILE": str(out / "allocation.key") if key else ""}
    args = ["--password-stdin", *extra[:1], "--db", str(out / "trial.db"), "--user", user]
    return CliRunner().invoke(app, [*args, *extra[1:]], input=f"{password}\n", env=env)


def test_analyse_unblinded_as_the_unblinded_statistician_is_by_arm_and_audited(
    rct: tuple[dict[str, Any], Path],
) -> None:
    summary, out = rct
    before = len(_audit(out, "table_name = 'randomisation_list' AND action = 'read'"))
    done = _analyse(out, "una", "analyse", "--unblinded", "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["blinded"] is False
    headline = [r for s in result["sections"] if s["kind"] == "mmrm" for r in s["headline"]]
    contrasts = [r for r in headline if r["scale"] == "madrs" and r["visit"] == "V17"]
    estimate = summary["madrs_difference_v17"]["estimate"]
    assert any(math.isclose(r["estimate"], estimate) for r in contrasts)
    reads = _audit(out, "table_name = 'randomisation_list' AND action = 'read'")
    assert len(reads) == before + 1
    assert (reads[-1].username, reads[-1].role) == ("una", "unblinded_statistician")
    assert reads[-1].reason == "remit analyse --unblinded"
    assert json.loads(reads[-1].new_value)["participants_with_arm"] == N


def test_analyse_unblinded_is_refused_for_a_blinded_role_and_without_the_key(
    rct: tuple[dict[str, Any], Path],
) -> None:
    _, out = rct
    refused = "table_name = 'randomisation_list' AND action = 'read_refused'"
    before = len(_audit(out, refused))
    done = _analyse(out, "stine", "analyse", "--unblinded", "--json")
    assert done.exit_code == 2
    assert "stine" in done.output
    assert "build_unblinded_trial_data" in done.output or "unblinded" in done.output
    assert done.stdout.strip() == ""  # nothing analysed
    rows = _audit(out, refused)
    assert len(rows) == before + 1
    assert (rows[-1].username, rows[-1].role) == ("stine", "statistician")
    # the unblinded statistician without the allocation key
    done = _analyse(out, "una", "analyse", "--unblinded", key=False)
    assert done.exit_code == 2
    assert "no allocation key is configured" in done.output
    assert len(_audit(out, refused)) == before + 2
    # a data folder has no list to unblind
    done = CliRunner().invoke(app, ["analyse", "--data", str(out), "--unblinded"])
    assert done.exit_code == 2
    assert "a data folder has no randomisation list" in done.output


def _unlocked_copy(out: Path, to: Path) -> Path:
    """A copy of the demo's trial (database and key) whose study lock was opened again."""
    import shutil
    import sqlite3

    to.mkdir()
    shutil.copy(out / "allocation.key", to / "allocation.key")
    with sqlite3.connect(out / "trial.db") as src, sqlite3.connect(to / "trial.db") as dst:
        src.backup(dst)
    engine = _engine(to)
    try:
        dag = sv.actor_for(engine, "dag", "data_manager")
        with engine.connect() as c:
            (held,) = c.execute(
                sa.text("SELECT id FROM lock WHERE level = 'study' AND unlocked_at IS NULL")
            ).scalars()
        sv.unlock(engine, dag, held, reason="a late correction before the analysis")
    finally:
        sv.close_database(engine)
    return to


def test_analyse_and_report_unblinded_are_refused_before_the_database_lock(
    rct: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    _, out = rct
    copy = _unlocked_copy(out, tmp_path / "unlocked")
    refused = "table_name = 'randomisation_list' AND action = 'read_refused'"
    before = len(_audit(copy, refused))
    done = _analyse(copy, "una", "analyse", "--unblinded", "--json")
    assert done.exit_code == 2, done.output
    assert done.stdout.strip() == ""  # nothing analysed
    assert "not read for analysis before the database lock" in done.output
    assert "unlocked again" in done.output
    args = ("report", "--out", str(tmp_path / "u"), "--no-pdf", "--unblinded")
    report = _analyse(copy, "una", *args)
    assert report.exit_code == 2, report.output
    assert "before the database lock" in report.output
    assert not (tmp_path / "u" / "report.html").exists()
    rows = _audit(copy, refused)
    assert [(r.username, r.reason) for r in rows[before:]] == [
        ("una", "remit analyse --unblinded"),
        ("una", "remit report --unblinded"),
    ]
    # the blinded (pooled) analysis needs no lock
    pooled = _analyse(copy, "stine", "analyse", "--json")
    assert pooled.exit_code == 0, pooled.output
    assert json.loads(pooled.stdout)["blinded"] is True


def test_a_blinded_user_gets_the_pooled_analysis_and_report(
    rct: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    _, out = rct
    done = _analyse(out, "stine", "analyse", "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["blinded"] is True
    mmrm = next(s for s in result["sections"] if s["kind"] == "mmrm")
    change = [r for r in mmrm["headline"] if r["scale"] == "madrs" and r["visit"] == "V17"]
    assert len(change) == 1
    assert math.isfinite(change[0]["estimate"])
    assert _arm_values(result["sections"]) <= {None, "BLINDED", "all"}  # "all": pooled rows
    assert "PLACEBO - MDMA" not in json.dumps(result["sections"])
    text = _analyse(out, "stine", "analyse")
    assert "BLINDED (POOLED) — ARMS NOT SHOWN" in text.stdout
    report = _analyse(out, "stine", "report", "--out", str(tmp_path / "b"), "--no-pdf")
    assert report.exit_code == 0, report.output
    assert "blinded (pooled) report" in report.stdout
    html = (tmp_path / "b" / "report.html").read_text("utf-8")
    assert "blinded (pooled) — arms not shown" in html
    assert "Allocated to" not in html
    # the report by arm, unblinded
    args = ("report", "--out", str(tmp_path / "u"), "--no-pdf", "--unblinded")
    report = _analyse(out, "una", *args)
    assert report.exit_code == 0, report.output
    html = (tmp_path / "u" / "report.html").read_text("utf-8")
    assert "arms not shown" not in html
    assert "Allocated to" in html
    refused = _analyse(out, "stine", "report", "--out", str(tmp_path / "r"), "--unblinded")
    assert refused.exit_code == 2
    assert not (tmp_path / "r" / "report.html").exists()
