"""`remit demo --protocol mdma-mdd-rct-example`: a randomised two-arm trial end to end through
the services (concealed list, allocation at confirmation), analysed by arm from the
allocations; the blinded data are analysed pooled."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from remit import services as sv
from remit.analysis import ArmsConcealedError, run_analysis_plan
from remit.cli.app import app
from remit.errors import InputError, PermissionDeniedError
from remit.protocol import load_protocol
from remit.services.epro import self_report_scales
from remit.simulate import UNBLINDED_DEMO_USER

RCT = load_protocol("mdma-mdd-rct-example")
N = 8


@pytest.fixture(scope="module")
def rct(
    tmp_path_factory: pytest.TempPathFactory, fast_hashing: None
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("rct")
    args = ["demo", "--protocol", RCT.study.id, "--participants", str(N), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--no-exports", "--json"])
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
