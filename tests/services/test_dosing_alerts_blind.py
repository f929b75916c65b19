"""The alerts of the dosing day do not reach an independent rater blind to dosing.

An RCT protocol may let the independent rater see the safety data (``rater_sees_safety =
true``) but not the dosing day (``rater_sees_dosing = false``). The dosing day's records
were refused to that rater, but the alerts they raise were not: a reading of vital signs
beyond its limits during the session ("systolic 172 mmHg"), a form rated during the session
(the SE-VAS), a planned reading missed, and an undeliverable alert about one of them were in
the rater's alert list, its delivery log and the alerts' audit histories, and the
notification chain e-mailed them to the rater when it named the role. MDMA raises the
blood pressure and the heart rate: their number and text differ by arm. Now every one of
those paths leaves them out (or refuses them, on the audit trail), the rater still reads
the alert of a reading at a visit that is not a dosing day, the investigator reads and is
told of every alert, and ``remit protocol check`` reports (``P041``) a chain whose step names
only that rater (SQLite and PostgreSQL).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tests.support.forms import NORMAL_VITALS, at, fill
from tests.support.predose import ready_for_dose
from tests.support.trial import (
    RCT_STAFF,
    OsloTrial,
    Participant,
    add_participant,
    build_trial,
    visit_date,
)

from remit import services as sv
from remit.errors import PermissionDeniedError
from remit.protocol import Protocol, load_protocol
from remit.protocol.loader import parse_protocol, protocol_from_text
from remit.protocol.notify import UNDELIVERABLE_RULE
from remit.services.senders import OutgoingMessage, SendResult
from remit.store.vitals import VitalSignValue

VAS_RULE = """
[[safety.rules]]
id = "se_vas_distress"
scale = "se_vas"
item = "emotional_distress"
op = ">="
value = 80
level = "same_day"
text = "SE-VAS emotional distress 80 or more during the session: same-day review"

"""
#: the urgent level told to the investigator and the rater (allowed: the rater sees safety)
RATER_TOLD = (
    '[[safety.notify.levels]]\nlevel = "urgent"\nroles = ["investigator"]',
    '[[safety.notify.levels]]\nlevel = "urgent"\nroles = ["investigator", "independent_rater"]',
)
#: the review level's only step told to the rater alone (a P041 finding)
RATER_ONLY = (
    '[[safety.notify.levels]]\nlevel = "review"\nroles = ["investigator"]',
    '[[safety.notify.levels]]\nlevel = "review"\nroles = ["independent_rater"]',
)


def rct_text(*changes: tuple[str, str]) -> str:
    """The RCT example's text with the rater seeing the safety data but not the dosing day,
    a safety rule on the SE-VAS, and ``changes``."""
    text = load_protocol("mdma-mdd-rct-example").text
    for old, new in (
        ("rater_sees_safety = false", "rater_sees_safety = true"),
        ("[safety.vitals]\n", VAS_RULE + "[safety.vitals]\n"),
        *changes,
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@dataclass
class Recorder:
    """A sender that keeps what it is given."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    channel: str = "email"

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(True)

    def describe(self) -> str:
        return "recorder"

    def to(self, address: str) -> list[OutgoingMessage]:
        return [m for m in self.sent if m.to == address]


@dataclass(frozen=True)
class Planted:
    trial: OsloTrial
    pid: str
    #: the alerts of the dosing day: source table → alert ids
    dosing: dict[str, set[int]]
    #: the alert of a reading at V4 (no dosing day)
    other: int
    reading: int  # the dosing-day reading that raised an alert
    end: datetime
    vas: int  # the SE-VAS rated during the session
    before: int  # the reading at V4


def plant(
    engine: Engine, tmp_path: Path, protocol: Protocol, *, kari_email: bool = True
) -> Planted:
    """One randomised participant: a reading of systolic 165 at V4 (an urgent alert the
    rater may read), then the dosing day V5 with a reading of systolic 172 an hour after the
    dose, an SE-VAS with emotional distress 90, and the planned readings missed after it."""
    key = sv.new_allocation_key_file(tmp_path / "allocation.key")
    trial = build_trial(
        sv.with_allocation_key(engine, key), protocol=protocol, sites=None, staff=RCT_STAFF
    )
    sv.generate_list(trial.engine, trial.actors["unblinded_statistician"], n_per_stratum=4, seed=5)
    for name in ("kari", "rita", "tor", "mona", "ada", "dag")[0 if kari_email else 1 :]:
        sv.set_user_email(trial.engine, trial.admin, name, f"{name}@trial.example")
    inv, the = trial.investigator, trial.therapist
    pid = add_participant(trial, Participant(through="V4", site="OST", confirm=True))
    v4 = visit_date(trial, pid, "V4")
    before = sv.record_vitals(
        engine, the, pid, "V4", measured_at=at(v4, 10), values={**NORMAL_VITALS, "systolic_bp": 165}
    )
    (other,) = before.alerts
    day = visit_date(trial, pid, "V5")
    sv.start_dosing_session(engine, inv, pid, "V5", started_at=at(day, 8, 30))
    dose0 = at(day, 9)
    sv.record_vitals(
        engine, the, pid, "V5", measured_at=dose0 - timedelta(minutes=15), values=NORMAL_VITALS
    )
    ready_for_dose(engine, trial.protocol, inv, the, pid, "V5", dose0 - timedelta(minutes=5))
    planned = trial.protocol.dosing_session("V5")
    assert planned is not None
    sv.record_dose(
        engine, inv, pid, "V5", kind="initial", dose_mg=planned.initial_mg, given_at=dose0
    )
    vas = sv.record_vas(
        engine, the, pid, "V5", "initial_dose",
        {**fill("se_vas", level=10), "emotional_distress": 90}, assessed_at=dose0,
    )  # fmt: skip
    high = sv.record_vitals(
        engine, the, pid, "V5", measured_at=dose0 + timedelta(minutes=60),
        values={**NORMAL_VITALS, "systolic_bp": 172},
    )  # fmt: skip
    end = dose0 + timedelta(hours=5)
    missed = sv.raise_missed_readings(engine, now=end)
    dosing = {
        "assessment": {a.id for a in vas.alerts},
        "vital_sign": {a.id for a in high.alerts},
        "dosing_session": {a.id for a in missed},
    }
    assert all(dosing.values()), dosing
    return Planted(trial, pid, dosing, other.id, high.id, end, vas.id, before.id)


@pytest.fixture
def planted(engine: Engine, tmp_path: Path, fast_password_hashing: None) -> Planted:
    return plant(engine, tmp_path, protocol_from_text(rct_text(RATER_TOLD)))


def _all(s: Planted) -> set[int]:
    return set().union(*s.dosing.values())


def test_the_rater_blind_to_dosing_lists_no_alert_of_the_dosing_day(planted: Planted) -> None:
    engine, rita, kari = planted.trial.engine, planted.trial.rater, planted.trial.investigator
    theirs = {a.id for a in sv.list_alerts(engine, rita)}
    assert planted.other in theirs  # the safety data of another visit: the rater reads it
    assert not theirs & _all(planted), theirs & _all(planted)
    assert {a.id for a in sv.list_alerts(engine, rita, participant=planted.pid)} == theirs
    for status in ("open", "unclosed"):
        assert {a.id for a in sv.list_alerts(engine, rita, status=status)} == theirs
    # the count differs by nothing the dosing day raised: the same as with no dosing day
    assert len(theirs) == 1
    assert {a.id for a in sv.list_alerts(engine, kari)} >= _all(planted) | {planted.other}


def test_the_rater_is_not_told_of_an_alert_of_the_dosing_day(planted: Planted) -> None:
    """The urgent chain names the rater (allowed: the rater sees the safety data): the
    rater is e-mailed of the urgent reading at V4, not of the urgent reading of the dosing
    day, which the investigator is told of; the rater's delivery log shows neither the
    dosing day's deliveries nor the investigator's."""
    engine, rita, kari = planted.trial.engine, planted.trial.rater, planted.trial.investigator
    sender = Recorder()
    done = sv.deliver_due(engine, sender)
    assert done.undeliverable == ()
    to_rita = sender.to("rita@trial.example")
    assert [m.subject for m in to_rita] == [
        m.subject for m in sender.to("kari@trial.example") if f"alert {planted.other})" in m.subject
    ]
    assert len(to_rita) == 1
    told_kari = {m.subject for m in sender.to("kari@trial.example")}
    for alert_id in _all(planted):
        assert any(s.endswith(f"(alert {alert_id})") for s in told_kari), alert_id
    theirs = sv.list_deliveries(engine, rita)
    assert theirs
    assert {d.alert_id for d in theirs} == {planted.other}
    assert {d.alert_id for d in sv.list_deliveries(engine, kari)} >= _all(planted)
    for alert_id in _all(planted):
        assert sv.list_deliveries(engine, rita, alert_id=alert_id) == []


def test_the_rater_reads_no_audit_history_of_the_dosing_days_alerts(planted: Planted) -> None:
    """The audit histories of the dosing day's alerts and of the reading that raised one
    (and its values) are refused to the rater, each refusal audited; the V4 alert's is not."""
    engine, rita, kari = planted.trial.engine, planted.trial.rater, planted.trial.investigator
    refused_reads = [("alert", i) for i in sorted(_all(planted))]
    refused_reads.append(("vital_sign", planted.reading))
    with Session(engine) as session:
        reading_values = list(
            session.scalars(
                select(VitalSignValue.id).where(VitalSignValue.vital_sign_id == planted.reading)
            )
        )
    assert reading_values
    refused_reads += [("vital_sign_value", v) for v in reading_values]
    for table, record_id in refused_reads:
        assert sv.audit_history(engine, kari, table, record_id), (table, record_id)
        with pytest.raises(PermissionDeniedError, match="may not see dosing data"):
            sv.audit_history(engine, rita, table, record_id)
    assert sv.audit_history(engine, rita, "alert", planted.other)
    refusals = {
        (e.table_name, e.record_id)
        for e in sv.audit_log(engine)
        if e.action == "read_refused" and e.username == rita.username
    }
    assert refusals == set(refused_reads)


def test_the_check_reports_a_step_naming_only_the_rater_blind_to_dosing() -> None:
    """A step of the chain (or ``undeliverable_roles``) naming only the rater blind to
    dosing would reach nobody with an alert of the dosing day: P041, so the protocol is not
    taken in force."""
    found = [p for p in parse_protocol(rct_text(RATER_ONLY))[1] if p.code == "P041"]
    assert [p.where.split(" (")[0] for p in found] == ["safety.notify.levels[3].roles"], found
    assert "only the independent rater" in found[0].what
    alone = (
        'undeliverable_roles = ["admin", "data_manager"]',
        'undeliverable_roles = ["independent_rater"]',
    )
    found = [p for p in parse_protocol(rct_text(alone))[1] if p.code == "P041"]
    assert [p.where.split(" (")[0] for p in found] == ["safety.notify.undeliverable_roles"]


def test_an_undeliverable_alert_of_the_dosing_day_is_not_told_to_the_rater(
    engine: Engine, tmp_path: Path, fast_password_hashing: None
) -> None:
    """The investigator has no e-mail address, so the dosing day's alerts reach nobody: each
    raises an undeliverable alert (whose text names the first alert's rule) told to the
    admin, never to the rater whom ``undeliverable_roles`` names too, and left out of the
    rater's list; the reading at V4 reaches the rater."""
    also = (
        'undeliverable_roles = ["admin", "data_manager"]',
        'undeliverable_roles = ["admin", "independent_rater"]',
    )
    s = plant(engine, tmp_path, protocol_from_text(rct_text(RATER_TOLD, also)), kari_email=False)
    sender = Recorder()
    done = sv.deliver_due(engine, sender)
    assert [m.subject for m in sender.to("rita@trial.example")] == [
        f"[Remit urgent] {s.pid}: vitals:systolic_bp:high:urgent (alert {s.other})"
    ]
    kari, rita = s.trial.investigator, s.trial.rater
    undeliverable = [a for a in sv.list_alerts(engine, kari) if a.rule_id == UNDELIVERABLE_RULE]
    assert {a.source_id for a in undeliverable} == _all(s)
    assert set(done.undeliverable) == {a.id for a in undeliverable}
    told = {m.to for m in sender.sent if "notify:undeliverable" in m.subject}
    assert told == {"ada@trial.example"}
    assert {a.id for a in sv.list_alerts(engine, rita)} == {s.other}
    assert {d.alert_id for d in sv.list_deliveries(engine, rita)} == {s.other}


def test_the_check_passes_a_chain_naming_the_rater_beside_the_investigators() -> None:
    """P041 is not reported when the step names the investigators too, or when the rater
    sees the dosing day."""
    assert [p for p in parse_protocol(rct_text(RATER_TOLD))[1] if p.code == "P041"] == []
    seeing = rct_text(RATER_ONLY, ("rater_sees_dosing = false", "rater_sees_dosing = true"))
    assert [p for p in parse_protocol(seeing)[1] if p.code == "P041"] == []


def test_an_open_label_rater_reads_every_alert(engine: Engine, fast_password_hashing: None) -> None:
    """The Oslo protocol has no [blinding]: its rater reads the alerts the investigator reads."""
    trial = build_trial(engine)
    pid = add_participant(trial, Participant(through="V5", dosing=True, site="OST"))
    day = visit_date(trial, pid, "V5")
    sv.raise_missed_readings(engine, now=at(day, 23))
    every = sv.list_alerts(engine, trial.investigator)
    assert any(a.source_table == "dosing_session" for a in every)
    assert sv.list_alerts(engine, trial.rater) == every


def test_the_alerts_page_api_and_audit_view_show_the_rater_no_dosing_day_alert(
    planted: Planted, tmp_path: Path
) -> None:
    """The same through the web app: the alerts page, the home page, ``GET /api/v1/alerts``
    and the audit view of each alert, as the rater and as the investigator."""
    from fastapi.testclient import TestClient
    from tests.support.trial import PASSWORD
    from tests.support.web import page_login

    from remit.web import WebSettings, create_app

    app = create_app(planted.trial.engine, settings=WebSettings(work_dir=tmp_path / "web"))
    sv.deliver_due(planted.trial.engine, Recorder())
    # (the reading's 172 as a number of its own: not the digits of a time's microseconds)
    dosing_day = re.compile(r"SE-VAS emotional distress|se_vas_distress|missed:|\b172\b")

    def seen(username: str) -> dict[str, str]:
        pages = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
        assert page_login(pages, username).status_code == 303
        api = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
        login = {"username": username, "password": PASSWORD}
        api.headers["Authorization"] = (
            "Bearer " + api.post("/api/v1/auth/login", json=login).json()["token"]
        )
        out = {
            "/": pages.get("/"),
            "/alerts?status=all": pages.get("/alerts?status=all"),
            "/api/v1/alerts": api.get("/api/v1/alerts"),
        }
        for alert_id in sorted(_all(planted)):
            out[f"/audit/alert/{alert_id}"] = pages.get(f"/audit/alert/{alert_id}")
        return {path: f"{r.status_code} {html.unescape(r.text)}" for path, r in out.items()}

    rita = seen("rita")
    hits = {path: m.group(0) for path, text in rita.items() if (m := dosing_day.search(text))}
    assert hits == {}
    assert {a["id"] for a in json.loads(rita["/api/v1/alerts"][4:])} == {planted.other}
    assert all(rita[p].startswith("403") for p in rita if p.startswith("/audit/"))
    kari = seen("kari")
    assert all(dosing_day.search(kari[p]) for p in ("/alerts?status=all", "/api/v1/alerts"))
    assert all(kari[p].startswith("200") for p in kari if p.startswith("/audit/"))


def test_the_rater_gets_no_query_on_a_record_of_the_dosing_day(planted: Planted) -> None:
    """A monitor's queries on the dosing day's reading and on the SE-VAS quote the dosing
    day: left out of the rater's list and refused to their answer (audited), nothing
    stored; the query on the V4 reading is listed; the investigator reads and answers all."""
    engine, rita, kari = planted.trial.engine, planted.trial.rater, planted.trial.investigator
    mona = planted.trial.actors["monitor"]
    on_day = [
        sv.open_query(engine, mona, "vital_sign", planted.reading, field="measured_at",
                      text="systolic 172 an hour after the dose: AE recorded?"),
        sv.open_query(engine, mona, "assessment", planted.vas, field="answers.emotional_distress",
                      text="distress 90 during the session: please confirm"),
    ]  # fmt: skip
    other = sv.open_query(
        engine, mona, "vital_sign", planted.before, field="measured_at", text="165 at V4?"
    )
    theirs = {q.id for q in sv.list_queries(engine, rita)}
    assert other.id in theirs
    assert not theirs & {q.id for q in on_day}
    for q in on_day:
        with pytest.raises(PermissionDeniedError, match="may not see dosing data"):
            sv.answer_query(engine, rita, q.id, "no idea")
    refused = [
        (e.table_name, e.record_id)
        for e in sv.audit_log(engine)
        if e.action == "read_refused" and e.username == rita.username
    ]
    assert refused == [("vital_sign", planted.reading), ("assessment", planted.vas)]
    shown = {q.id: q for q in sv.list_queries(engine, kari)}
    assert all(shown[q.id].status == "open" for q in on_day)  # nothing of the refusals stored
    assert sv.answer_query(engine, kari, on_day[0].id, "AE recorded").status == "answered"
