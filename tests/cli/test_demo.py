"""`remit demo` end to end: the summary against the published aggregates, the database behind it
(audit trail, alerts, SIMULATED, roles), the report's numbers against remit.stats, refusals."""

from __future__ import annotations

import json
import re
import shutil
import sys
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from remit import services as sv
from remit.analysis import TrialData
from remit.cli.app import app
from remit.protocol import load_protocol
from remit.reports.format import fmt, fmt_ci
from remit.simulate import create_demo_database, find_staff, is_demo_database
from remit.simulate.dosing_day import COMMON_AES
from remit.stats import fit_mmrm, hodges_lehmann, proportion_ci, wilcoxon_signed_rank
from remit.store import make_engine, upgrade, verify_audit_chain

OSLO = load_protocol("oslo-mdma-mdd")


#: The actors the demo built the trial data for (counted while the module's demo runs).
BUILDS: list[Any] = []


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, fast_hashing: None
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("demo")
    original = sv.build_trial_data

    def counting(*args: Any, **kwargs: Any) -> Any:
        BUILDS.append(kwargs.get("actor"))
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        # every module of remit that holds the builder (however it imported it) gets the counter
        for module in list(sys.modules.values()):
            name = getattr(module, "__name__", "")
            if name.startswith("remit") and getattr(module, "build_trial_data", None) is original:
                patch.setattr(module, "build_trial_data", counting)
        result = CliRunner().invoke(app, ["demo", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), out


def test_the_demo_builds_the_trial_data_once_for_the_report_and_the_exports(
    demo: tuple[dict[str, Any], Path],
) -> None:
    assert (demo[1] / "exports").is_dir()
    assert [(actor.username, actor.role) for actor in BUILDS] == [("stine", "statistician")]


@pytest.fixture(scope="module")
def data(demo: tuple[dict[str, Any], Path]) -> TrialData:
    engine = make_engine(demo[1] / "trial.db", must_exist=True)
    try:
        return sv.build_trial_data(engine, actor=sv.Actor.system("tests"))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def html(demo: tuple[dict[str, Any], Path]) -> str:
    return (demo[1] / "report.html").read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", fragment))


def test_summary_lands_on_the_published_aggregates(demo: tuple[dict[str, Any], Path]) -> None:
    summary, out = demo
    assert summary["n_enrolled"] == 12
    assert abs(summary["baseline_madrs_mean"] - 29.6) <= 0.5
    assert abs(summary["baseline_madrs_sd"] - 4.9) <= 0.7
    madrs = summary["madrs_change_v13"]
    assert abs(madrs["mean"] - (-19.3)) <= 1.0
    assert madrs["ci_low"] < madrs["mean"] < madrs["ci_high"] < 0
    assert madrs["p"] < 0.001
    assert 1.5 < madrs["se"] < 3.5
    assert abs(summary["sds_change_v13"]["mean"] - (-11.7)) <= 1.0
    assert (summary["responders_v13"], summary["remitters_v13"]) == (9, 9)
    assert (summary["responders_fu7"], summary["remitters_fu7"]) == (8, 8)
    assert summary["relapses"] == 1
    assert summary["simulated"] is True
    assert summary["report"] == str(out / "report.html")
    assert summary["exports"] == str(out / "exports")
    for folder in ("csv", "sdtm", "adam", "odm"):
        assert any((out / "exports" / folder).iterdir()), folder
    assert {login["role"] for login in summary["logins"]} == {
        "admin", "investigator", "therapist", "independent_rater", "monitor", "statistician",
        "data_manager",
    }  # fmt: skip


def test_database_audit_trail_verifies_and_everyone_is_simulated(
    demo: tuple[dict[str, Any], Path], data: TrialData
) -> None:
    engine = make_engine(demo[1] / "trial.db", must_exist=True)
    try:
        verdict = verify_audit_chain(engine)
        assert verdict.ok, verdict
        assert verdict.rows_checked > 5000
    finally:
        engine.dispose()
    assert data.simulated
    assert data.participants["simulated"].all()
    assert len(data.participants) > 12
    failed = data.participants[data.participants["status"] == "ineligible"]
    assert len(failed) == len(data.participants) - 12
    assert all(len(reasons) == 1 for reasons in failed["ineligible_reasons"])
    assert (data.participants.loc[data.participants["arm"].notna(), "status"] == "completed").all()


def test_alerts_for_threshold_crossings_and_the_preparatory_act(data: TrialData) -> None:
    alerts = data.alerts
    vitals = alerts[alerts["rule_id"].str.startswith("vitals:")]
    assert len(vitals) >= 3
    # the simulated crossings lie just beyond the least pressing tier
    assert (vitals["level"] == "review").all()
    behaviour = alerts[alerts["rule_id"] == "cssrs_behaviour"]
    assert len(behaviour) == 1
    assert behaviour.iloc[0]["level"] == "urgent"
    ideation = alerts[alerts["rule_id"] == "cssrs_ideation_2_3"]
    fu7 = data.scores[(data.scores["scale"] == "cssrs") & (data.scores["visit_code"] == "FU7")]
    intense = {r.participant_id for r in fu7.itertuples() if r.derived["ideation_type"] >= 2}
    assert len(intense) == 2
    assert intense <= set(ideation["participant_id"])
    assert set(alerts["status"]) == {"closed"}
    # every reading beyond a limit raised one alert, however many of its signs crossed
    limits = OSLO.vital_thresholds("V5")
    crossing = sum(
        any(limits[name].breached(row[name]) for name in limits if pd.notna(row[name]))
        for _, row in data.vitals.iterrows()
    )
    assert crossing == len(vitals)


def test_the_report_lists_the_preparatory_act_and_summarises_the_alerts(
    data: TrialData, html: str
) -> None:
    fu7 = data.scores[(data.scores["scale"] == "cssrs") & (data.scores["visit_code"] == "FU7")]
    acted = [r.participant_id for r in fu7.itertuples() if r.items.get("preparatory_behaviour")]
    assert len(acted) == 1
    when = fu7.loc[fu7["participant_id"] == acted[0], "assessed_at"].iloc[0]
    # the safety section of the report lists the act among the behaviour events
    safety = html[html.index('id="safety"') :].split("</section>")[0]
    listing = safety[safety.index('id="tbl-cssrs-behaviour"') :].split("</table>")[0]
    rows = [_text(r) for r in listing.split("<tr")[1:]]
    events = [r for r in rows if "Preparatory acts or behaviour" in r]
    assert len(events) == 1
    assert acted[0] in events[0]
    assert "FU7" in events[0]
    assert when.date().isoformat() in events[0]
    by_visit = _text(html[html.index('id="tbl-cssrs-visits"') :].split("</table>")[0])
    assert f"1 ({acted[0]})" in by_visit
    # the urgent alert it raised is counted with its time to acknowledgement
    alerts = html[html.index('id="tbl-alerts"') :].split("</table>")[0]
    behaviour_row = next(_text(r) for r in alerts.split("<tr")[1:] if "cssrs_behaviour" in r)
    assert "urgent" in behaviour_row
    raised = data.alerts[data.alerts["rule_id"] == "cssrs_behaviour"].iloc[0]
    hours = (raised["acknowledged_at"] - raised["raised_at"]).total_seconds() / 3600
    assert fmt(hours, "hours") in behaviour_row
    # and the report's tables are numbered in the safety and suicidality sections
    assert re.search(r"Table \d+\.?\s*C-SSRS suicidal behaviour events", _text(html))


def test_doses_adverse_events_and_who_entered_what(
    demo: tuple[dict[str, Any], Path], data: TrialData
) -> None:
    withheld = data.doses[data.doses["status"] == "withheld"]
    assert len(withheld) == 1
    assert "withheld the supplemental dose" in withheld.iloc[0]["withheld_reason"]
    assert len(data.doses[data.doses["status"] == "given"]) == 12 * 2 * 2 - 1
    ae = data.adverse_events
    assert not ae["serious"].any()
    assert set(ae["term"]) <= set(COMMON_AES)
    assert {"jaw clenching (bruxism)", "headache"} <= set(ae["term"])
    assert set(ae["outcome"]) == {"recovered"}
    engine = make_engine(demo[1] / "trial.db", must_exist=True)
    try:
        staff = find_staff(engine)
        first = data.participants.loc[data.participants["arm"].notna(), "participant_id"].iloc[0]
        forms = sv.list_assessments(engine, staff["investigator"], first)
    finally:
        engine.dispose()
    roles = {(f.scale, f.rater_role) for f in forms}
    assert ("madrs", "independent_rater") in roles
    assert ("cssrs", "investigator") in roles
    assert ("se_vas", "therapist") in roles
    assert {r for s, r in roles if s == "madrs"} == {"independent_rater"}


def _long(data: TrialData, scale: str) -> pd.DataFrame:
    s = data.scores
    rows = s[(s["scale"] == scale) & s["visit_code"].isin(["V3", "V13", "FU7"])]
    return rows[["participant_id", "visit_code", "total"]].rename(
        columns={"visit_code": "visit", "total": "value"}
    )


def test_report_numbers_equal_what_remit_stats_returns(data: TrialData, html: str) -> None:
    text = _text(html)
    for scale in ("madrs", "sds"):
        fit = fit_mmrm(
            _long(data, scale),
            "value ~ visit",
            subject="participant_id",
            visit="visit",
            visit_levels=["V3", "V13", "FU7"],
        )
        table = _text(html[html.index(f'id="tbl-outcome-{scale}"') :].split("</table>")[0])
        for visit in ("V13", "FU7"):
            row = fit.coefficients.set_index("term").loc[f"visit{visit}"]
            assert f"{fmt(row['estimate'], 'estimate')} ({fmt(row['se'], 'se')})" in table
            assert fmt_ci(row["ci_low"], row["ci_high"]) in table
            assert fmt(row["p"], "p") in table
        wide = _long(data, scale).pivot(index="participant_id", columns="visit", values="value")
        wilcoxon = _text(html[html.index('id="tbl-wilcoxon"') :].split("</table>")[0])
        for visit in ("V13", "FU7"):
            test = wilcoxon_signed_rank(wide["V3"], wide[visit])
            hl = hodges_lehmann(wide["V3"], wide[visit])
            # the Oslo plan: method "auto" (exact below 50 pairs without ties or zeros),
            # otherwise the normal approximation without continuity correction
            clean = not test.has_ties and test.n_zero == 0
            assert fmt(test.p_exact if clean else test.p_normal, "p") in wilcoxon
            assert f"{fmt(hl.estimate, 'estimate')} ({fmt_ci(hl.ci_low, hl.ci_high)})" in wilcoxon
    madrs = _long(data, "madrs").pivot(index="participant_id", columns="visit", values="value")
    responders = int(((madrs["V3"] - madrs["V13"]) / madrs["V3"] >= 0.5).sum())
    ci = proportion_ci(responders, len(madrs))
    response = _text(html[html.index('<section id="response">') :].split("</section>")[0])
    assert fmt_ci(*ci.ci("clopper-pearson"), "proportion") in response
    assert fmt_ci(*ci.ci("wilson"), "proportion") in response
    baseline = madrs["V3"].to_numpy(dtype=float)
    assert f"{fmt(baseline.mean())} ({fmt(np.std(baseline, ddof=1), 'sd')})" in text
    assert "SIMULATED" in text


def test_a_previous_demo_is_kept_unless_forced(
    demo: tuple[dict[str, Any], Path], tmp_path: Path, fast_hashing: None
) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(demo[1])])
    assert result.exit_code == 2
    assert "holds a previous demo" in result.output
    assert "--force" in result.output
    copy = tmp_path / "trial.db"
    shutil.copyfile(demo[1] / "trial.db", copy)
    assert is_demo_database(copy)
    fresh = create_demo_database(copy, OSLO, force=True)
    try:
        assert sv.build_trial_data(
            fresh.engine, actor=fresh.staff["statistician"]
        ).participants.empty
    finally:
        fresh.engine.dispose()


def test_a_real_trial_is_never_replaced(tmp_path: Path, fast_hashing: None) -> None:
    engine = make_engine(tmp_path / "trial.db")
    upgrade(engine)
    sv.create_trial(engine, OSLO, admin_username="kari", admin_password="a real password 1")
    engine.dispose()
    before = (tmp_path / "trial.db").read_bytes()
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--force"])
    assert result.exit_code == 2
    assert "is not a Remit demo database" in result.output
    assert (tmp_path / "trial.db").read_bytes() == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "trial.db").write_text("not a database")
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "other"), "--force"])
    assert result.exit_code == 2
    assert "not a Remit demo database" in result.output


def test_the_terminal_summary_names_the_demo_users(
    demo: tuple[dict[str, Any], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from remit.cli.demo_cmd import DemoRun, _print

    summary, out = demo
    logins = tuple((u["username"], u["role"], u["password"]) for u in summary["logins"])
    _print(DemoRun(summary, out / "trial.db", out / "report.html", logins))
    shown = capsys.readouterr().out
    assert "SIMULATED DATA" in shown
    assert "remit-demo-rater" in shown
    assert f"remit serve --db {out / 'trial.db'}" in shown.replace("\n", "")
    assert "29.6 (4.9)" in shown


def _sdtm(demo: tuple[dict[str, Any], Path], domain: str) -> list[dict[str, Any]]:
    doc = json.loads((demo[1] / "exports" / "sdtm" / f"{domain}.json").read_text())
    names = [c["name"] for c in doc["columns"]]
    return [dict(zip(names, row, strict=True)) for row in doc["rows"]]


def test_the_demo_tapers_antidepressants_and_stops_them_before_the_washout_ends(
    demo: tuple[dict[str, Any], Path], data: TrialData
) -> None:
    meds = data.conmeds
    first_dose = (
        data.doses[data.doses["status"] == "given"].groupby("participant_id")["given_at"].min()
    )
    prohibited = meds[meds["prohibited"].notna()]
    assert len(prohibited) >= 3  # about half of the 12 come in on an SSRI or SNRI
    for m in prohibited.itertuples():
        cls = OSLO.medications.prohibited_class(m.atc_code)
        assert cls is not None
        assert m.taper_steps, f"{m.name} of {m.participant_id} has no taper plan"
        steps = [date.fromisoformat(d) for d in m.taper_steps]
        stop = m.stop_date.date()
        assert steps == sorted(steps)
        assert steps[-1] <= stop
        # the washout ends on or before the day of the first dose, which was therefore given
        assert stop + timedelta(days=cls.washout_days) <= first_dose[m.participant_id].date()
    assert (meds["prohibited"].isna() & meds["stop_date"].isna()).any()  # an allowed, ongoing one

    cm = _sdtm(demo, "cm")
    dm = {r["USUBJID"]: r for r in _sdtm(demo, "dm")}
    tapered = [r for r in cm if r["CMCLAS"] is not None]
    assert {r["CMSPID"] for r in tapered} >= {None, "TAPER STEP 1"}
    for r in tapered:
        # every period of a prohibited medication ended before the first dose
        assert r["CMENRF"] == "BEFORE"
        assert r["CMENDTC"] < dm[r["USUBJID"]]["RFSTDTC"][:10]
    assert any(r["CMENRTPT"] == "ONGOING" for r in cm)


def test_the_demo_logs_deviations_by_hand_besides_the_automatic_ones(
    demo: tuple[dict[str, Any], Path],
) -> None:
    dv = _sdtm(demo, "dv")
    coded = {(r["DVDECOD"], r["DVCAT"]) for r in dv}
    assert ("INFORMED CONSENT DEVIATION", "MINOR") in coded
    assert ("STUDY PROCEDURE DEVIATION", "MAJOR") in coded
    assert all(r["VISITNUM"] is not None and r["DVSTDTC"] < "2025" for r in dv)


def test_the_demo_exports_carry_the_real_consent_and_assessment_times(
    demo: tuple[dict[str, Any], Path], data: TrialData
) -> None:
    dm = {r["USUBJID"]: r for r in _sdtm(demo, "dm")}
    consent = {
        r["USUBJID"]: r["DSSTDTC"]
        for r in _sdtm(demo, "ds")
        if r["DSDECOD"] == "INFORMED CONSENT OBTAINED"
    }
    visits = {(r["USUBJID"], r["VISITNUM"]): r["SVSTDTC"] for r in _sdtm(demo, "sv")}
    qs = _sdtm(demo, "qs")
    assert len(dm) == len(data.participants)
    # DM.RFICDTC and the DS consent record are the consent recorded, for everyone screened
    recorded = {
        f"{OSLO.study.id}-{p.participant_id}": p.consented_at.strftime("%Y-%m-%dT%H:%M:%S")
        for p in data.participants.itertuples()
    }
    assert {k: r["RFICDTC"] for k, r in dm.items()} == recorded == consent
    first_form: dict[str, str] = {}
    for r in qs:
        first_form[r["USUBJID"]] = min(first_form.get(r["USUBJID"], r["QSDTC"]), r["QSDTC"])
        # a form's date is its visit's date (screening forms included), never the entry day
        assert r["QSDTC"][:10] == visits[(r["USUBJID"], r["VISITNUM"])], r
    failed = {k for k, r in dm.items() if r["ARMNRS"] == "SCREEN FAILURE"}
    assert set(dm) - failed <= set(first_form)
    assert failed & set(first_form)  # screen failures at the screening visit have forms too
    for usubjid, when in first_form.items():
        assert dm[usubjid]["RFICDTC"] <= when
