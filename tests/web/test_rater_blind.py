"""The independent rater sees no earlier score (issue 14, ``rater_sees_prior_scores = false``).

On an RCT trial (participants randomised and dosed through V5; their baseline MADRS at V3
entered by the independent rater) one MADRS is seeded with distinctive answers: items
6 5 6 5 6 4 5 6 2 2, total 47, whose item 10 = 2 raised the alert ``madrs_item10_2``, and a
monitor queried its item 1. The same participant's V3 has the scales the rater does not rate,
seeded with distinctive values as well: the self-reports BDI-II (total 51, entered by the
participant through an ePRO link), GAD-7 (total 19) and SDS (total 26, work/school 9, 6 days
lost), entered on paper by the investigator, and the investigator's C-SSRS (active ideation,
type 2, intensity 12) whose alert ``cssrs_ideation_2_3`` is open. The rater requests every GET
page and API route of the app (path parameters filled with the seeded form, its participant,
alert and query), the form pages, API records, signing previews and audit views of every
seeded form and alert; every response is scanned:

- structurally: a JSON object of a saved form (any scale) has no total, band, score or
  answers and says ``scores_hidden``; a signing preview of it has hidden item values; no
  alert raised by a form is listed;
- for the seeded values as they would show: "total 47", a cell or heading reading 47, the
  JSON ``"total": 47``, item 1 as stored (``apparent_sadness`` 6), the alert's rule and text;
  the self-reports' totals and distinctive items, the C-SSRS's ideation and its alert;
- and the pages show the marker :data:`remit.services.SCORES_HIDDEN` where the values were.

The same walk as an investigator finds the seeded values (the scanner works), and in the
open-label Oslo protocol the rater still reads every score.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.forms import at, fill, madrs
from tests.support.trial import (
    PASSWORD,
    ROLE_USER,
    OsloTrial,
    Participant,
    add_participant,
    trial_file,
    visit_date,
)
from tests.support.web import csrf_of, page_login
from tests.web.test_access_matrix import guarded_routes

from remit import services as sv
from remit.errors import PermissionDeniedError
from remit.protocol import load_protocol
from remit.store import make_engine
from remit.web import create_app
from remit.web.forms import form_fields

PROTOCOL = load_protocol("mdma-mdd-rct-example")
#: The seeded MADRS: a total (47) and a pattern of answers no other form of the trial has.
SEED = {"1": 6, "2": 5, "3": 6, "4": 5, "5": 6, "6": 4, "7": 5, "8": 6, "9": 2, "10": 2}
SEED_TOTAL = 47
HIDDEN = sv.SCORES_HIDDEN
SEED_TEXT = (
    re.compile(rf"total\W{{0,40}}{SEED_TOTAL}\b"),
    re.compile(rf">\s*{SEED_TOTAL}(?:\.0)?\s*<"),
    re.compile(rf"\b{SEED_TOTAL}\.0\b"),
    re.compile(r"apparent_sadness\W{1,12}6\b"),  # item 1 as stored (6 in no other form)
    re.compile(r"madrs_item10"),
    re.compile(r"MADRS item 10"),
    # the randomisation stratum read from the baseline MADRS (its band)
    re.compile(r"madrs_baseline_band\W+(?:20-34|35\+)|>\s*(?:20-34|35\+)\s*<"),
)
#: The seeded forms of the scales the rater does not rate: scale → (answers, total).
BDI2 = {
    **fill("bdi2", level=3),
    "guilty_feelings": 2,
    "agitation": 2,
    "loss_of_interest_in_sex": 2,
}
GAD7 = {**fill("gad7", level=3), "trouble_relaxing": 2, "feeling_afraid": 2}
SDS = {
    **fill("sds"),
    "work_school": 9,
    "social_life": 9,
    "family_life": 8,
    "days_lost": 6,
    "days_unproductive": 5,
}
CSSRS = {
    **fill("cssrs", "since_last_visit"),
    "wish_to_be_dead": True,
    "non_specific_active_thoughts": True,
    "active_ideation_methods": False,
    "active_ideation_intent": False,
    "active_ideation_plan_intent": False,
    "intensity_frequency": 4,
    "intensity_duration": 3,
    "intensity_controllability": 1,
    "intensity_deterrents": 0,
    "intensity_reasons": 4,
}
OTHER_TOTALS = {"bdi2": 51, "gad7": 19, "sds": 26}
OTHER_TEXT = (
    *(re.compile(rf"total\W{{0,40}}{t}\b") for t in OTHER_TOTALS.values()),
    *(re.compile(rf"\b{t}\.0\b") for t in OTHER_TOTALS.values()),
    re.compile(r">\s*51(?:\.0)?\s*<"),
    re.compile(r"loss_of_interest_in_sex\W{1,12}2\b"),  # BDI-II items as stored
    re.compile(r"pessimism\W{1,12}3\b"),
    re.compile(r"uncontrollable_worry\W{1,12}3\b"),  # GAD-7
    re.compile(r"work_school\W{1,12}9\b"),  # SDS
    re.compile(r"days_lost\W{1,12}6\b"),
    re.compile(r"intensity_frequency\W{1,12}4\b"),  # C-SSRS and what it derives
    re.compile(r"ideation_type\W{1,12}2\b"),
    re.compile(r"ideation_intensity\W{1,12}12\b"),
    re.compile(r"cssrs_ideation_2_3"),
    re.compile(r"C-SSRS active suicidal ideation"),
    # the eligibility criteria read from forms: the baseline MADRS, the screening C-SSRS
    re.compile(rf"madrs_total is {SEED_TOTAL}\b"),
    re.compile(r"cssrs_ideation_type is \d"),
)


@dataclass(frozen=True)
class Seeded:
    """The trial and what was seeded in it."""

    trial: OsloTrial
    folder: Path
    pid: str
    form_id: int
    alert_id: int
    query_id: int
    #: The forms of the scales the rater does not rate (scale → id) and the C-SSRS alert.
    others: dict[str, int]
    cssrs_alert_id: int


def rct_trial(folder: Path) -> OsloTrial:
    """An RCT trial file in ``folder``: a list generated, participants randomised and dosed
    through V5 (at least three, both arms), the engine carrying the allocation key."""
    from tests.support.db import cheap_password_hashing

    with cheap_password_hashing():
        made = trial_file(folder / "rct.db", protocol=PROTOCOL, sites=None)
        key = sv.new_allocation_key_file(folder / "allocation.key")
        trial = replace(made, engine=sv.with_allocation_key(make_engine(folder / "rct.db"), key))
        una = trial.actors["unblinded_statistician"]
        sv.generate_list(trial.engine, una, n_per_stratum=8, seed=2026)
        arms: set[str] = set()
        while len(arms) < 2 or len(sv.list_allocations(trial.engine, una)) < 3:
            add_participant(trial, Participant(through="V5", dosing=True, site="OST"))
            arms = {a.arm for a in sv.list_allocations(trial.engine, una)}
            assert len(sv.list_allocations(trial.engine, una)) < 12, "both arms never came up"
    return trial


def seed(trial: OsloTrial, folder: Path, pid: str) -> Seeded:
    """Give ``pid``'s V3 MADRS the seeded answers (by the rater who entered it) and a query."""
    (form,) = [
        a
        for a in sv.list_assessments(trial.engine, trial.investigator, pid, visit_code="V3")
        if a.scale == "madrs"
    ]
    saved = sv.update_assessment(
        trial.engine,
        trial.rater,
        form.id,
        SEED,
        expected_version=form.version,
        reason="seeded for the blinding test",
    )
    assert saved.total == SEED_TOTAL
    assert not saved.scores_hidden
    assert [a.rule_id for a in saved.alerts] == ["madrs_item10_2"]
    query = sv.open_query(
        trial.engine,
        trial.actors["monitor"],
        "assessment",
        form.id,
        field="answers.apparent_sadness",
        text="please check item 1 against the source",
    )
    others, cssrs_alert = seed_others(trial, pid)
    return Seeded(trial, folder, pid, form.id, saved.alerts[0].id, query.id, others, cssrs_alert)


def seed_others(trial: OsloTrial, pid: str) -> tuple[dict[str, int], int]:
    """``pid``'s V3 self-reports (the BDI-II through an ePRO link, GAD-7 and SDS on paper) and
    C-SSRS with the seeded values; the forms by scale and the C-SSRS's alert."""
    when = at(visit_date(trial, pid, "V3"), 12)
    kari = trial.investigator
    link = sv.issue_epro_link(trial.engine, kari, pid, "V3", scales=["bdi2"], now=when)
    (bdi,) = sv.submit_epro_forms(trial.engine, link.token, {"bdi2": BDI2}, now=when).forms
    forms = {"bdi2": bdi}
    for scale, answers in (("gad7", GAD7), ("sds", SDS), ("cssrs", CSSRS)):
        forms[scale] = sv.record_assessment(trial.engine, kari, pid, "V3", scale, answers)
    for scale, total in OTHER_TOTALS.items():
        assert (forms[scale].total, forms[scale].status) == (total, "complete"), scale
    assert forms["bdi2"].rater_role == "participant"
    alerts = {a.rule_id: a.id for a in forms["cssrs"].alerts}
    assert "cssrs_ideation_2_3" in alerts, alerts
    return {scale: f.id for scale, f in forms.items()}, alerts["cssrs_ideation_2_3"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    folder = tmp_path_factory.mktemp("rater-blind")
    trial = rct_trial(folder)
    una = trial.actors["unblinded_statistician"]
    pid = sv.list_allocations(trial.engine, una)[-1].participant_id
    return seed(trial, folder, pid)


@pytest.fixture(scope="module")
def app(seeded: Seeded) -> FastAPI:
    from remit.web import WebSettings

    return create_app(seeded.trial.engine, settings=WebSettings(work_dir=seeded.folder / "web"))


# --------------------------------------------------------------------------- the scanner


#: The scales whose forms the trial holds (a form alert's rule starts with its scale's code).
FORM_SCALES = ("madrs", "cssrs", "bdi2", "gad7", "sds", "isi", "psqi", "pcl5", "se_vas")


def _json_hits(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, dict):
        scale = value.get("scale")
        if scale in FORM_SCALES and "answers" in value:  # a form, of any scale
            what = f"{where}: {scale} form {value.get('id')}"
            if value.get("total") not in (None, HIDDEN) or value.get("band") is not None:
                yield f"{what} total={value.get('total')!r}"
            if value.get("answers") not in ({}, HIDDEN) or value.get("score") not in (
                {},
                None,
                HIDDEN,
            ):
                yield f"{what} answers={str(value.get('answers'))[:80]}"
        if scale in FORM_SCALES and "items" in value:  # a signing preview
            shown = [i for i in value["items"] if i.get("value") != HIDDEN]
            if shown or value.get("total") is not None:
                yield f"{where}: {scale} preview items {shown[:3]!r} total={value.get('total')!r}"
        criterion = "status" in value and value.get("source") not in (None, "checklist")
        if criterion and value.get("value") not in (None, HIDDEN):  # read from a form
            yield f"{where}: criterion {value.get('id')} value={value.get('value')!r}"
        if str(value.get("rule_id", "")).startswith(FORM_SCALES):
            yield f"{where}: alert {value.get('rule_id')!r}"
        for v in value.values():
            yield from _json_hits(v, where)
    elif isinstance(value, list):
        for v in value:
            yield from _json_hits(v, where)


def score_hits(response: Any, where: str) -> list[str]:
    """Every earlier score a response shows (the seeded MADRS, self-reports and C-SSRS, and
    any form or form alert in JSON)."""
    text = html.unescape(response.text)  # "&#34;work_school&#34;: 9" is "work_school": 9
    patterns = (*SEED_TEXT, *OTHER_TEXT)
    hits = [f"{where}: {m.group(0)!r}" for p in patterns for m in p.finditer(text)]
    if text.lstrip().startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            hits += _json_hits(json.loads(text), where)
    return hits


# --------------------------------------------------------------------------- the walk


@dataclass
class Walk:
    hits: list[str]
    pages: dict[str, Any]


def _clients(app: FastAPI, role: str) -> tuple[TestClient, TestClient]:
    pages = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    assert page_login(pages, ROLE_USER[role]).status_code == 303
    api = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    token = api.post(
        "/api/v1/auth/login", json={"username": ROLE_USER[role], "password": PASSWORD}
    ).json()["token"]
    api.headers["Authorization"] = f"Bearer {token}"
    return pages, api


def walk(app: FastAPI, s: Seeded, role: str) -> Walk:
    """Every GET route (path parameters: the seeded form, its participant, alert and query),
    the audit views of the form and its alert, as ``role``."""
    samples = {
        "pid": s.pid,
        "participant_id": s.pid,
        "visit": "V3",
        "visit_code": "V3",
        "scale": "madrs",
        "table": "assessment",
        "record_table": "assessment",
        "record_id": str(s.form_id),
        "assessment_id": str(s.form_id),
        "alert_id": str(s.alert_id),
        "query_id": str(s.query_id),
    }
    pages, api = _clients(app, role)
    out = Walk([], {})

    def look(response: Any, where: str) -> None:
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"
        out.pages[where] = response
        out.hits.extend(score_hits(response, where))

    for method, template, _, surface in guarded_routes(app):
        if method != "GET" or template.endswith(("/logout", "/login/mfa")):
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: samples.get(m.group(1), "1"), template)
        look((api if surface == "api" else pages).get(path), path)
    look(pages.get(f"/audit/assessment/{s.form_id}"), "audit assessment")
    look(pages.get(f"/audit/alert/{s.alert_id}"), "audit alert")
    with s.trial.engine.connect() as c:
        allocation = c.exec_driver_sql(
            "SELECT a.id FROM allocation a JOIN participant p ON p.id = a.participant_id"
            " WHERE p.study_id = ?",
            (s.pid,),
        ).scalar_one()
        checks = c.exec_driver_sql(
            "SELECT e.id FROM eligibility_check e JOIN participant p ON p.id = e.participant_id"
            " WHERE p.study_id = ?",
            (s.pid,),
        ).scalars()
        for check in checks:  # the values the check read from the screening C-SSRS
            look(pages.get(f"/audit/eligibility_check/{check}"), f"audit eligibility {check}")
    look(pages.get(f"/audit/allocation/{allocation}"), "audit allocation")
    look(pages.get(f"/assessments/{s.form_id}"), "form page")
    for scale, form_id in s.others.items():  # the forms of scales the rater does not rate
        look(pages.get(f"/assessments/{form_id}"), f"form page {scale}")
        look(api.get(f"/api/v1/assessments/{form_id}"), f"api form {scale}")
        look(pages.get(f"/sign/assessment/{form_id}"), f"sign {scale}")
        look(api.get(f"/api/v1/signatures/assessment/{form_id}/preview"), f"api sign {scale}")
        look(pages.get(f"/audit/assessment/{form_id}"), f"audit {scale}")
    look(pages.get(f"/audit/alert/{s.cssrs_alert_id}"), "audit alert cssrs")
    look(pages.get("/alerts?status=all"), "alerts all")
    look(api.get("/api/v1/alerts"), "api alerts")
    look(api.get(f"/api/v1/participants/{s.pid}/assessments"), "api assessments")
    for person in sv.list_participants(s.trial.engine, s.trial.investigator):
        pid = person.participant_id  # every participant's baseline MADRS is earlier too
        look(pages.get(f"/participants/{pid}"), f"casebook {pid}")
        look(api.get(f"/api/v1/participants/{pid}/assessments"), f"api assessments {pid}")
    return out


def test_the_rater_sees_no_earlier_score(app: FastAPI, seeded: Seeded) -> None:
    done = walk(app, seeded, "independent_rater")
    assert len(done.pages) > 30
    assert done.hits == [], "the rater reads earlier scores:\n" + "\n".join(done.hits[:40])
    # the pages say so where the values were, in the same layout
    assert HIDDEN in done.pages[f"/participants/{seeded.pid}"].text  # the casebook
    form = done.pages["form page"]
    assert form.status_code == 200
    assert 'id="scores-hidden"' in form.text
    assert f'id="score-total"><span class="scores-hidden">{HIDDEN}' in form.text
    assert HIDDEN in done.pages["audit assessment"].text
    assert done.pages["audit alert"].status_code == 403  # refused, not leaked
    assert HIDDEN in done.pages["audit allocation"].text  # the stratum: the baseline band
    sign = done.pages[f"/sign/assessment/{seeded.form_id}"]
    assert sign.status_code == 200
    assert sign.text.count(HIDDEN) >= len(SEED) + 1
    # the API: the form is there, its values are not
    record = done.pages[f"/api/v1/assessments/{seeded.form_id}"].json()
    assert record["scores_hidden"] is True
    assert record["scale"] == "madrs"
    assert (record["total"], record["band"], record["answers"], record["score"]) == (
        None,
        None,
        {},
        {},
    )


def test_the_rater_sees_no_earlier_self_report_nor_c_ssrs(app: FastAPI, seeded: Seeded) -> None:
    """The scales the rater does not rate are hidden as well: the self-reports (one entered
    by the participant through ePRO, two on paper by the investigator) and the C-SSRS, on
    their form pages, API records, signing previews and audit views; the C-SSRS's alert is
    neither listed nor its history shown. The rater's ``remit participant show`` too."""
    done = walk(app, seeded, "independent_rater")
    assert done.hits == [], "the rater reads earlier scores:\n" + "\n".join(done.hits[:40])
    for scale in seeded.others:
        page = done.pages[f"form page {scale}"]
        assert page.status_code == 200, scale
        assert f'id="score-total"><span class="scores-hidden">{HIDDEN}' in page.text, scale
        record = done.pages[f"api form {scale}"].json()
        assert (record["scale"], record["scores_hidden"]) == (scale, True)
        assert (record["total"], record["answers"], record["score"]) == (None, {}, {}), scale
        assert HIDDEN in done.pages[f"audit {scale}"].text, scale
        preview = done.pages[f"api sign {scale}"].json()
        assert {i["value"] for i in preview["items"]} == {HIDDEN}, scale
    assert done.pages["audit alert cssrs"].status_code == 403
    # where eligibility stands: the criteria read from forms keep their status, not the value
    screening = done.pages[f"/api/v1/participants/{seeded.pid}/screening"].json()
    criteria = {c["id"]: c for c in screening["criteria"]}
    madrs_entry = criteria["madrs_entry"]
    assert (madrs_entry["value"], madrs_entry["reason"], madrs_entry["status"]) == (
        HIDDEN,
        HIDDEN,
        "met",
    )
    assert criteria["suicide_risk"]["value"] == HIDDEN
    assert criteria["age"]["value"] == 41  # the checklist's answers stay
    listed = {a.id for a in sv.list_alerts(seeded.trial.engine, seeded.trial.rater)}
    assert seeded.cssrs_alert_id not in listed
    text, shown = _participant_show(seeded, "rita")
    forms = {a["id"]: a for a in shown["assessments"]}
    for scale, form_id in seeded.others.items():
        assert (forms[form_id]["scores_hidden"], forms[form_id]["total"]) == (True, None), scale
    assert text.count("total hidden") >= len(seeded.others) + 1  # and the MADRS
    assert not [h for p in (*SEED_TEXT, *OTHER_TEXT) for h in p.findall(text)]
    assert list(_json_hits(shown, "remit participant show")) == []
    # the investigator, who acts on the C-SSRS and its alert, reads them
    _, kari = _participant_show(seeded, "kari")
    totals = {a["scale"]: a["total"] for a in kari["assessments"] if a["visit_code"] == "V3"}
    assert totals | OTHER_TOTALS == totals, totals
    acting = sv.list_alerts(seeded.trial.engine, seeded.trial.investigator)
    assert seeded.cssrs_alert_id in {a.id for a in acting}


def _participant_show(s: Seeded, user: str) -> tuple[str, Any]:
    """``remit participant show`` of the seeded participant as ``user``: the text, and the
    ``--json`` answer."""
    from typer.testing import CliRunner

    from remit.cli.app import app as cli

    args = ["participant", "show", s.pid, "--db", str(s.folder / "rct.db"), "--user", user]
    text = CliRunner().invoke(cli, args)
    shown = CliRunner().invoke(cli, [*args, "--json"])
    assert text.exit_code == 0, text.output
    assert shown.exit_code == 0, shown.output
    return text.output, json.loads(shown.stdout)


def test_the_scanner_finds_earlier_scores_for_an_investigator(app: FastAPI, seeded: Seeded) -> None:
    hits = walk(app, seeded, "investigator").hits
    assert any("form page" in h and "47" in h for h in hits), hits
    assert any("audit assessment" in h for h in hits), hits
    assert any("audit allocation" in h and "madrs_baseline_band" in h for h in hits), hits
    assert any("api assessments" in h and "total=47" in h for h in hits), hits
    assert any("alert 'madrs_item10_2'" in h for h in hits), hits
    assert any(h.startswith(f"/participants/{seeded.pid}:") for h in hits), hits  # casebook
    for scale, form_id in seeded.others.items():  # the self-reports and the C-SSRS
        assert any(h.startswith(f"form page {scale}:") for h in hits), (scale, hits)
        assert any(h.startswith(f"api form {scale}:") for h in hits), scale
        assert any(h.startswith(f"audit {scale}:") for h in hits), (scale, form_id)
    assert any("alert 'cssrs_ideation_2_3'" in h for h in hits), hits
    assert any(h.startswith("audit alert cssrs:") for h in hits), hits
    # the eligibility criteria read from forms: now (the screening page) and as checked
    assert any("/screening:" in h and "criterion madrs_entry value=47" in h for h in hits), hits
    assert any(h.startswith("audit eligibility") for h in hits), hits


def test_the_rater_sees_the_form_being_entered_until_it_is_saved(
    app: FastAPI, seeded: Seeded
) -> None:
    """The rater's own unfinished form shows what they typed; saved complete, it is earlier;
    a correction on the page enters every answer again."""
    trial = seeded.trial
    pid = add_participant(trial, Participant(through="V3", baseline_level=None, confirm=False))
    rater, engine = trial.rater, trial.engine
    partial = {k: v for k, v in madrs(4, 1).items() if k != "5"}
    typed = sv.record_assessment(engine, rater, pid, "V3", "madrs", partial)
    assert typed.status == "incomplete"
    (now,) = sv.list_assessments(engine, rater, pid, visit_code="V3")
    typed_values = sorted(v for v in now.answers.values() if v is not None)
    assert typed_values == [1] + [4] * 8
    assert not now.scores_hidden
    done = sv.update_assessment(
        engine, rater, typed.id, madrs(4, 1), expected_version=typed.version
    )
    assert done.status == "complete"
    assert done.total == 37
    later = sv.get_assessment(engine, rater, typed.id)
    assert later.scores_hidden
    assert later.total is None
    assert later.answers == {}
    assert sv.get_assessment(engine, trial.investigator, typed.id).total == 37
    # a correction through the page: the empty form filled in again, with a reason
    pages, _ = _clients(app, "independent_rater")
    page = pages.get(f"/assessments/{typed.id}").text
    assert 'id="scores-hidden"' in page
    form = {f.name: "5" for f in form_fields("madrs")} | {
        "csrf_token": csrf_of(page),
        "expected_version": str(later.version),
        "reason": "rating corrected from the source notes",
    }
    assert pages.post(f"/assessments/{typed.id}/edit", data=form).status_code == 303
    assert sv.get_assessment(engine, trial.investigator, typed.id).total == 50
    assert sv.get_assessment(engine, rater, typed.id).total is None
    with pytest.raises(PermissionDeniedError, match="earlier form"):
        sv.audit_history(engine, rater, "alert", seeded.alert_id)
    assert seeded.alert_id not in {a.id for a in sv.list_alerts(engine, rater)}
    assert seeded.alert_id in {a.id for a in sv.list_alerts(engine, trial.investigator)}


def test_an_open_label_rater_reads_every_score(tmp_path: Path) -> None:
    """The Oslo protocol has no [blinding]: the rater reads earlier MADRS scores."""
    from tests.support.db import cheap_password_hashing

    from remit.web import WebSettings

    with cheap_password_hashing():
        trial = trial_file(tmp_path / "oslo.db")
        pid = add_participant(trial, Participant(through="V4", confirm=True, site="OST"))
    (form,) = [
        a
        for a in sv.list_assessments(trial.engine, trial.rater, pid, visit_code="V3")
        if a.scale == "madrs"
    ]
    assert form.total == 28
    assert not form.scores_hidden
    assert form.answers
    app = create_app(trial.engine, settings=WebSettings(work_dir=tmp_path / "web"))
    pages, api = _clients(app, "independent_rater")
    assert api.get(f"/api/v1/assessments/{form.id}").json()["total"] == 28
    page = pages.get(f"/assessments/{form.id}").text
    assert 'id="score-total">28' in page
    assert HIDDEN not in page
    assert "total 28" in pages.get(f"/participants/{pid}").text
    assert HIDDEN not in pages.get(f"/audit/assessment/{form.id}").text
