"""The independent rater reads no safety data (``rater_sees_safety = false``).

MDMA has tell-tale effects (raised blood pressure and heart rate, jaw clenching, insomnia), and
a new antidepressant or a benzodiazepine tells the course of the illness: a rater who read them
could guess the arm. On an RCT trial (participants randomised and dosed through V5, each with
the factory's dosing-day vital signs and a mild headache) one participant is planted with:

- two adverse events: a non-serious "bruxism with jaw clenching" and a serious "hypertensive
  crisis after session" (its SAE alert);
- a reading of vital signs at V3, systolic 193 mmHg and heart rate 137/min (their alerts);
- a concomitant medication, "Lemborexant" for "insomnia since dosing";
- a missed visit whose reason is "admitted with serotonin toxicity" (the visit's deviation);
- a monitor's query on their MADRS quoting a score ("item 1 rated 6") and one on the adverse
  event quoting its term;

and another candidate is a screen failure whose words quote a C-SSRS answer ("C-SSRS item 4
positive"). The rater walks every GET page and API route (path parameters filled with the
planted records), the audit views and signing previews of every planted record, and the
alerts, queries and casebooks: every response is scanned for the planted words and values, and
a JSON alert not raised by a form. Zero hits; the refusals read "hidden: the protocol blinds
raters to …" and are on the audit trail as ``read_refused``. The same walk as the
investigator finds every planted item (the scanner works); the investigator still gets every
alert, and the open-label Oslo rater reads adverse events and medications as before.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from tests.support.forms import NORMAL_VITALS, at
from tests.support.trial import OsloTrial, Participant, add_participant, visit_date
from tests.web.test_access_matrix import guarded_routes
from tests.web.test_rater_blind import _clients, rct_trial

from remit import services as sv
from remit.errors import PermissionDeniedError
from remit.web import create_app

AE_TERM = "bruxism with jaw clenching"
SAE_TERM = "hypertensive crisis after session"
CONMED = "Lemborexant"
INDICATION = "insomnia since dosing"
SF_TEXT = "C-SSRS item 4 positive"
MISSED = "admitted with serotonin toxicity"
FORM_QUERY = "item 1 rated 6, check the source"
AE_QUERY = "bruxism onset: before or after the dose?"
PLANTED = (
    re.compile(r"(?i)bruxism|jaw clenching"),
    re.compile(r"(?i)hypertensive crisis"),
    re.compile(r"(?i)lemborexant|insomnia since dosing"),
    re.compile(r"(?i)item 4 positive"),
    re.compile(r"(?i)serotonin toxicity"),
    re.compile(r"item 1 rated 6"),
    # the planted vital signs as they would show: a value with its unit or in its column
    re.compile(r"\b193(?:\.0)?\s*mm ?Hg|systolic_bp\W{1,12}193\b|>\s*193(?:\.0)?\s*<"),
    re.compile(r"\b137(?:\.0)?\s*(?:bpm|/min|beats)|heart_rate\W{1,12}137\b|>\s*137(?:\.0)?\s*<"),
)
#: The sources of an alert the rater may be shown (a form; filtered by PriorScores as well).
FORM_SOURCES = (None, "assessment")


@dataclass(frozen=True)
class Planted:
    trial: OsloTrial
    folder: Path
    pid: str
    failed_pid: str
    ae_id: int
    sae_id: int
    conmed_id: int
    vitals_id: int
    vital_alerts: tuple[int, ...]
    sae_alert: int
    form_id: int
    visit_id: int
    queries: tuple[int, int]
    #: the planted messages of the alerts (they name the values)
    messages: tuple[str, ...]


def plant(trial: OsloTrial, folder: Path) -> Planted:
    una, kari = trial.actors["unblinded_statistician"], trial.investigator
    engine, monitor = trial.engine, trial.actors["monitor"]
    pid = sv.list_allocations(engine, una)[-1].participant_id
    v3 = visit_date(trial, pid, "V3")
    ae = sv.record_adverse_event(
        engine, kari, pid, term=AE_TERM, onset_date=v3, severity="moderate",
        relatedness="probable",
    )  # fmt: skip
    sae = sv.record_adverse_event(
        engine, kari, pid, term=SAE_TERM, onset_date=v3, severity="severe",
        relatedness="possible", serious=True, seriousness_criteria=["hospitalisation"],
        awareness_at=at(v3, 15),
    )  # fmt: skip
    vitals = sv.record_vitals(
        engine, kari, pid, "V3", measured_at=at(v3, 11),
        values={**NORMAL_VITALS, "systolic_bp": 193, "heart_rate": 137},
    )  # fmt: skip
    assert vitals.alerts, "the planted vital signs raise no alert"
    med = sv.record_conmed(
        engine, kari, pid, name=CONMED, indication=INDICATION, dose="5 mg",
        start_date=v3 + timedelta(days=1),
    )  # fmt: skip
    last = sv.list_visits(engine, kari, pid)[-1]
    missed = sv.mark_visit_missed(engine, kari, pid, last.visit_code, reason=MISSED)
    assert missed.deviation is not None
    assert MISSED in missed.deviation
    (form,) = [
        a for a in sv.list_assessments(engine, kari, pid, visit_code="V3") if a.scale == "madrs"
    ]
    q_form = sv.open_query(engine, monitor, "assessment", form.id, field=None, text=FORM_QUERY)
    q_ae = sv.open_query(engine, monitor, "adverse_event", ae.id, field="term", text=AE_QUERY)
    failed = add_participant(trial, Participant(through=None, confirm=False))
    sv.record_screen_failure(engine, kari, failed, code="other", text=SF_TEXT)
    (sae_alert,) = sae.alerts
    messages = tuple(a.message for a in (*vitals.alerts, sae_alert))
    return Planted(
        trial, folder, pid, failed, ae.id, sae.id, med.id, vitals.id,
        tuple(a.id for a in vitals.alerts), sae_alert.id, form.id, missed.id,
        (q_form.id, q_ae.id), messages,
    )  # fmt: skip


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    folder = tmp_path_factory.mktemp("rater-safety")
    return plant(rct_trial(folder), folder)


@pytest.fixture(scope="module")
def app(planted: Planted) -> FastAPI:
    from remit.web import WebSettings

    return create_app(planted.trial.engine, settings=WebSettings(work_dir=planted.folder / "web"))


def _json_alerts(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, dict):
        if (
            "rule_id" in value
            and "level" in value
            and value.get("source_table") not in FORM_SOURCES
        ):
            yield f"{where}: alert {value.get('rule_id')!r} of {value.get('source_table')}"
        for v in value.values():
            yield from _json_alerts(v, where)
    elif isinstance(value, list):
        for v in value:
            yield from _json_alerts(v, where)


def safety_hits(response: Any, where: str, messages: tuple[str, ...]) -> list[str]:
    """Every planted safety datum a response shows."""
    text = html.unescape(response.text)
    hits = [f"{where}: {m.group(0)!r}" for p in PLANTED for m in p.finditer(text)]
    hits += [f"{where}: alert text {m[:50]!r}" for m in messages if m in text]
    if text.lstrip().startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            hits += _json_alerts(json.loads(text), where)
    return hits


@dataclass
class Walk:
    hits: list[str]
    pages: dict[str, Any]


def walk(app: FastAPI, s: Planted, role: str) -> Walk:
    """Every GET route with the planted records as path parameters, and the audit views,
    signing previews, lists and casebooks of every planted record, as ``role``."""
    samples = {
        "pid": s.pid,
        "participant_id": s.pid,
        "visit": "V3",
        "visit_code": "V3",
        "scale": "madrs",
        "table": "adverse_event",
        "record_table": "adverse_event",
        "record_id": str(s.ae_id),
        "assessment_id": str(s.form_id),
        "alert_id": str(s.sae_alert),
        "query_id": str(s.queries[1]),
        "ae_id": str(s.ae_id),
        "conmed_id": str(s.conmed_id),
    }
    pages, api = _clients(app, role)
    out = Walk([], {})

    def look(response: Any, where: str) -> None:
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"
        out.pages[where] = response
        out.hits.extend(safety_hits(response, where, s.messages))

    for method, template, _, surface in guarded_routes(app):
        if method != "GET" or template.endswith(("/logout", "/login/mfa")):
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: samples.get(m.group(1), "1"), template)
        look((api if surface == "api" else pages).get(path), path)
    with s.trial.engine.connect() as c:
        failed_key = c.exec_driver_sql(
            "SELECT id FROM participant WHERE study_id = ?", (s.failed_pid,)
        ).scalar_one()
        key = c.exec_driver_sql(
            "SELECT id FROM participant WHERE study_id = ?", (s.pid,)
        ).scalar_one()
    records = {
        "adverse_event": (s.ae_id, s.sae_id),
        "concomitant_medication": (s.conmed_id,),
        "vital_sign": (s.vitals_id,),
        "alert": (*s.vital_alerts, s.sae_alert),
        "visit": (s.visit_id,),
        "participant": (key, failed_key),
        "data_query": s.queries,
    }
    for table, ids in records.items():
        for record_id in ids:
            look(pages.get(f"/audit/{table}/{record_id}"), f"audit {table} {record_id}")
            look(pages.get(f"/sign/{table}/{record_id}"), f"sign {table} {record_id}")
            look(
                api.get(f"/api/v1/signatures/{table}/{record_id}/preview"),
                f"api sign {table} {record_id}",
            )
    for pid in (s.pid, s.failed_pid):
        look(pages.get(f"/participants/{pid}"), f"casebook {pid}")
        look(pages.get(f"/participants/{pid}/screening"), f"screening {pid}")
        look(api.get(f"/api/v1/participants/{pid}"), f"api participant {pid}")
        look(pages.get(f"/participants/{pid}/conmeds"), f"conmeds {pid}")
        look(api.get(f"/api/v1/participants/{pid}/conmeds"), f"api conmeds {pid}")
        look(api.get(f"/api/v1/participants/{pid}/adverse-events"), f"api aes {pid}")
    look(pages.get("/participants"), "participant list")
    look(api.get("/api/v1/participants"), "api participant list")
    look(api.get(f"/api/v1/participants/{s.pid}/visits"), "api visits")
    look(pages.get("/alerts?status=all"), "alerts all")
    look(api.get("/api/v1/alerts"), "api alerts")
    look(pages.get("/queries"), "queries")
    look(api.get("/api/v1/queries"), "api queries")
    look(pages.get("/"), "home")
    look(pages.get("/worklist"), "worklist")
    return out


def test_the_rater_reads_no_safety_data(app: FastAPI, planted: Planted) -> None:
    done = walk(app, planted, "independent_rater")
    assert len(done.pages) > 60
    assert done.hits == [], "the rater reads safety data:\n" + "\n".join(done.hits[:40])
    # refused with a clear message where a record was asked for, omitted from lists
    for where in (
        f"api aes {planted.pid}",
        f"api conmeds {planted.pid}",
        f"audit adverse_event {planted.ae_id}",
        f"audit vital_sign {planted.vitals_id}",
        f"audit alert {planted.sae_alert}",
        f"sign adverse_event {planted.ae_id}",
    ):
        response = done.pages[where]
        assert response.status_code == 403, (where, response.status_code)
        assert "hidden: the protocol blinds raters to" in html.unescape(response.text), where
    assert sv.SAFETY_HIDDEN in done.pages[f"casebook {planted.pid}"].text  # the AE section
    assert sv.SAFETY_HIDDEN in done.pages[f"screening {planted.failed_pid}"].text
    failed = done.pages[f"api participant {planted.failed_pid}"].json()
    assert (failed["status_reason"], failed["screen_failure_code"]) == (sv.SAFETY_HIDDEN, "other")
    queries = {q["id"]: q for q in done.pages["api queries"].json()}
    form_query, ae_query = planted.queries
    assert ae_query not in queries  # a query on an adverse event is left out
    assert queries[form_query]["text"] == sv.SCORES_HIDDEN  # a query on a hidden form: masked
    assert queries[form_query]["record_table"] == "assessment"  # the rater can still answer it


def test_the_refusals_are_on_the_audit_trail(planted: Planted) -> None:
    engine, rater = planted.trial.engine, planted.trial.rater
    with pytest.raises(
        PermissionDeniedError, match="hidden: the protocol blinds raters to adverse"
    ):
        sv.list_adverse_events(engine, rater, planted.pid)
    with pytest.raises(PermissionDeniedError, match="concomitant medications"):
        sv.list_conmeds(engine, rater, planted.pid)
    with pytest.raises(PermissionDeniedError, match="vital signs"):
        sv.audit_history(engine, rater, "vital_sign", planted.vitals_id)
    refused = [
        e
        for e in sv.audit_log(engine)
        if e.action == "read_refused"
        and e.username == rater.username
        and e.table_name != "identity_access_log"  # the walk's identity page
    ]
    assert {(e.table_name, e.record_id) for e in refused} >= {
        ("adverse_event", 0),
        ("concomitant_medication", 0),
        ("vital_sign", planted.vitals_id),
    }
    assert all(e.reason and "blind to the safety data" in e.reason for e in refused), [
        (e.table_name, e.reason) for e in refused if not (e.reason and "safety" in e.reason)
    ]
    # a query on a hidden record cannot be answered by the rater; one on their form can, and
    # the answer shows its text masked
    form_query, ae_query = planted.queries
    with pytest.raises(PermissionDeniedError, match="blinds raters to adverse events"):
        sv.answer_query(engine, rater, ae_query, "no idea")
    answered = sv.answer_query(engine, rater, form_query, "checked against the source")
    assert answered.text == sv.SCORES_HIDDEN
    assert answered.messages[-1] == (rater.user_id, "checked against the source")
    assert answered.status == "answered"
    late = at(visit_date(planted.trial, planted.pid, "V3"), 15) + timedelta(days=30)
    overdue = sv.list_overdue_saes(engine, planted.trial.investigator, now=late)
    assert planted.sae_id in {ae.id for ae in overdue}  # the investigator is told
    assert sv.list_overdue_saes(engine, rater, now=late) == []


def test_the_investigator_finds_every_planted_item_and_gets_the_alerts(
    app: FastAPI, planted: Planted
) -> None:
    hits = walk(app, planted, "investigator").hits
    for words in ("bruxism", "hypertensive crisis", "Lemborexant", "item 4 positive",
                  "serotonin toxicity", "item 1 rated 6", "193", "137"):  # fmt: skip
        assert any(words.lower() in h.lower() for h in hits), (words, hits[:20])
    assert any("alert" in h and "vital_sign" in h for h in hits), hits[:20]
    # the alerts still reach the people who act on them, as before
    engine = planted.trial.engine
    listed = {a.id for a in sv.list_alerts(engine, planted.trial.investigator)}
    assert {*planted.vital_alerts, planted.sae_alert} <= listed
    rater_listed = {a.id for a in sv.list_alerts(engine, planted.trial.rater)}
    assert not rater_listed & {*planted.vital_alerts, planted.sae_alert}


def test_an_open_label_rater_reads_adverse_events_and_medications(tmp_path: Path) -> None:
    """The Oslo protocol has no [blinding]: nothing changes for its rater."""
    from tests.support.db import cheap_password_hashing
    from tests.support.trial import trial_file

    with cheap_password_hashing():
        trial = trial_file(tmp_path / "oslo.db")
        pid = add_participant(trial, Participant(through="V5", dosing=True, site="OST"))
    engine, kari, rater = trial.engine, trial.investigator, trial.rater
    sv.record_conmed(engine, kari, pid, name=CONMED, indication=INDICATION)
    assert [m.name for m in sv.list_conmeds(engine, rater, pid)] == [CONMED]
    v3 = visit_date(trial, pid, "V3")
    sv.record_adverse_event(
        engine, kari, pid, term=AE_TERM, onset_date=v3, severity="mild", relatedness="possible"
    )
    assert [ae.term for ae in sv.list_adverse_events(engine, rater, pid)] == [AE_TERM]
    assert sv.get_participant(engine, rater, pid) == sv.get_participant(engine, kari, pid)
    assert sv.list_alerts(engine, rater) == sv.list_alerts(engine, kari)
    assert not sv.SafetyBlind.of(trial.protocol, rater).active


def test_the_rater_is_refused_on_the_command_line(planted: Planted) -> None:
    """``remit conmed list`` and ``remit alerts list`` as the rater: a one-line refusal, and
    the alerts without those of vital signs and adverse events; the investigator reads both."""
    from typer.testing import CliRunner

    from remit.cli.app import app as cli

    db = ["--db", str(planted.folder / "rct.db")]
    conmeds = ["conmed", "list", "--participant", planted.pid, *db]
    refused = CliRunner().invoke(cli, [*conmeds, "--user", "rita"])
    assert refused.exit_code != 0
    assert "hidden: the protocol blinds raters to concomitant medications" in refused.output
    assert "Lemborexant" not in refused.output
    read = CliRunner().invoke(cli, [*conmeds, "--user", "kari", "--json"])
    assert [m["name"] for m in json.loads(read.stdout)] == [CONMED]
    alerts = ["alerts", "list", "--status", "unclosed", *db, "--json"]
    shown = CliRunner().invoke(cli, [*alerts, "--user", "rita"])
    assert shown.exit_code == 0, shown.output
    assert list(_json_alerts(json.loads(shown.stdout), "remit alerts list")) == []
    kari = json.loads(CliRunner().invoke(cli, [*alerts, "--user", "kari"]).stdout)
    assert {*planted.vital_alerts, planted.sae_alert} <= {a["id"] for a in kari}
