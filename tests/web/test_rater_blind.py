"""The independent rater sees no earlier score (issue 14, ``rater_sees_prior_scores = false``).

On an RCT trial (participants randomised and dosed through V5; their baseline MADRS at V3
entered by the independent rater) one MADRS is seeded with distinctive answers: items
6 5 6 5 6 4 5 6 2 2, total 47, whose item 10 = 2 raised the alert ``madrs_item10_2``, and a
monitor queried its item 1. The rater requests every GET page and API route of the app (path
parameters filled with the seeded form, its participant, alert and query), the audit views of
the form and of its alert, and the signing preview; every response is scanned:

- structurally: a JSON object of a MADRS form has no total, band, score or answers and says
  ``scores_hidden``; a signing preview of it has hidden item values; no alert of a MADRS
  rule is listed;
- for the seeded values as they would show: "total 47", a cell or heading reading 47, the
  JSON ``"total": 47``, item 1 as stored (``apparent_sadness`` 6), the alert's rule and text;
- and the pages show the marker :data:`remit.services.SCORES_HIDDEN` where the values were.

The same walk as an investigator finds the seeded values (the scanner works), and in the
open-label Oslo protocol the rater still reads every score.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.forms import madrs
from tests.support.trial import (
    PASSWORD,
    ROLE_USER,
    OsloTrial,
    Participant,
    add_participant,
    trial_file,
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


@dataclass(frozen=True)
class Seeded:
    """The trial and what was seeded in it."""

    trial: OsloTrial
    folder: Path
    pid: str
    form_id: int
    alert_id: int
    query_id: int


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
    return Seeded(trial, folder, pid, form.id, saved.alerts[0].id, query.id)


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


def _json_hits(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("scale") == "madrs" and "answers" in value:  # a form
            if value.get("total") not in (None, HIDDEN) or value.get("band") is not None:
                yield f"{where}: form {value.get('id')} total={value.get('total')!r}"
            if value.get("answers") not in ({}, HIDDEN) or value.get("score") not in (
                {},
                None,
                HIDDEN,
            ):
                yield f"{where}: form {value.get('id')} answers={value.get('answers')!r}"
        if value.get("scale") == "madrs" and "items" in value:  # a signing preview
            shown = [i for i in value["items"] if i.get("value") != HIDDEN]
            if shown or value.get("total") is not None:
                yield f"{where}: preview items {shown[:3]!r} total={value.get('total')!r}"
        if str(value.get("rule_id", "")).startswith("madrs"):
            yield f"{where}: alert {value.get('rule_id')!r}"
        for v in value.values():
            yield from _json_hits(v, where)
    elif isinstance(value, list):
        for v in value:
            yield from _json_hits(v, where)


def score_hits(response: Any, where: str) -> list[str]:
    """Every earlier MADRS score a response shows."""
    text = response.text
    hits = [f"{where}: {m.group(0)!r}" for p in SEED_TEXT for m in p.finditer(text)]
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
    look(pages.get(f"/audit/allocation/{allocation}"), "audit allocation")
    look(pages.get(f"/assessments/{s.form_id}"), "form page")
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


def test_the_scanner_finds_earlier_scores_for_an_investigator(app: FastAPI, seeded: Seeded) -> None:
    hits = walk(app, seeded, "investigator").hits
    assert any("form page" in h and "47" in h for h in hits), hits
    assert any("audit assessment" in h for h in hits), hits
    assert any("audit allocation" in h and "madrs_baseline_band" in h for h in hits), hits
    assert any("api assessments" in h and "total=47" in h for h in hits), hits
    assert any("alert 'madrs_item10_2'" in h for h in hits), hits
    assert any(h.startswith(f"/participants/{seeded.pid}:") for h in hits), hits  # casebook


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
