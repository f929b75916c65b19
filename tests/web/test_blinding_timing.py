"""No timing reveals the arm (issue 14), by a deterministic proxy instead of a clock.

Two participants of an RCT trial in different arms (MDMA and placebo), at the same stage
(randomised, dosing session 1 at V5 done, by the same plan on the same dates), are read by
every blinded role: every GET page and API route of one participant (path parameters filled
from that participant: their dose, form, conmed and visit), the audit views of their
allocation, dose and baseline form, their dosing day, and a refused dose. For each request
the two answers must match

- in structure: the same status and body after replacing what names the participant (study
  ID, kit, record ids, dates and times, tokens) with placeholders — the same length and the
  same text;
- in the work the server does: the same number and shape of SQL statements (every statement
  the engine sends, counted with a SQLAlchemy ``before_cursor_execute`` listener, its text
  with the expanded ``IN`` lists folded), so the time it takes cannot depend on the arm.

A wall clock is not used: it would be slow and flaky, while equal work and equal bytes are
what make equal times possible.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from tests.support.forms import NORMAL_VITALS, at
from tests.support.predose import ready_for_dose
from tests.support.trial import PASSWORD, ROLE_USER, OsloTrial, Participant, add_participant
from tests.support.web import page_login
from tests.web.test_access_matrix import guarded_routes
from tests.web.test_rater_blind import PROTOCOL, rct_trial

from remit import services as sv
from remit.store import web_sessions
from remit.store.dosing import Dose
from remit.web import create_app

assert PROTOCOL.blinding is not None
BLINDED_ROLES = PROTOCOL.blinding.blinded_roles


@dataclass(frozen=True)
class Pair:
    """The trial and one participant of each arm (study IDs), with their kits."""

    trial: OsloTrial
    folder: Path
    mdma: str
    placebo: str
    kits: dict[str, int]


def _running_session(trial: OsloTrial, pid: str) -> None:
    """Dosing session 1 (V5) of ``pid`` started, its initial dose given at the labelled dose
    (80 mg, as a blinded site records a kit) and left running: the supplemental dose is next."""
    engine, inv, the = trial.engine, trial.investigator, trial.therapist
    (v5,) = [v for v in sv.list_visits(engine, inv, pid) if v.visit_code == "V5"]
    assert v5.actual_date is not None
    planned = trial.protocol.dosing_session("V5")
    assert planned is not None
    sv.start_dosing_session(engine, inv, pid, "V5", started_at=at(v5.actual_date, 8, 30))
    dose0 = at(v5.actual_date, 9)
    sv.record_vitals(
        engine, the, pid, "V5", measured_at=dose0 - timedelta(minutes=15), values=NORMAL_VITALS
    )
    ready_for_dose(engine, trial.protocol, inv, the, pid, "V5", dose0 - timedelta(minutes=5))
    sv.record_dose(
        engine, inv, pid, "V5", kind="initial", dose_mg=planned.initial_mg, given_at=dose0
    )
    for minutes in planned.vitals.timepoints_min()[:4]:
        sv.record_vitals(
            engine,
            the,
            pid,
            "V5",
            measured_at=dose0 + timedelta(minutes=minutes),
            values=NORMAL_VITALS,
        )


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """Two participants of different arms whose first dosing session is running (initial
    dose given), on a trial whose other participants are dosed."""
    from tests.support.db import cheap_password_hashing

    folder = tmp_path_factory.mktemp("blinding-timing")
    trial = rct_trial(folder)
    una = trial.actors["unblinded_statistician"]
    first: dict[str, str] = {}
    with cheap_password_hashing():
        while len(first) < 2:
            pid = add_participant(
                trial, Participant(through="V5", confirm=True, baseline_level=3, site="OST")
            )
            (arm,) = [
                a.arm for a in sv.list_allocations(trial.engine, una) if a.participant_id == pid
            ]
            if arm not in first:
                first[arm] = pid
                _running_session(trial, pid)
            assert len(sv.list_allocations(trial.engine, una)) < 16, "both arms never came up"
    assert set(first) == {"MDMA", "PLACEBO"}, first
    kits = {a.participant_id: a.kit for a in sv.list_allocations(trial.engine, una)}
    return Pair(trial, folder, first["MDMA"], first["PLACEBO"], kits)


@pytest.fixture(scope="module")
def app(pair: Pair) -> FastAPI:
    from remit.web import WebSettings

    return create_app(pair.trial.engine, settings=WebSettings(work_dir=pair.folder / "web"))


# --------------------------------------------------------------------------- the proxy

#: The routes that read one participant (or one of their records).
ONE_PARTICIPANT = re.compile(r"\{(pid|participant_id|record_id|assessment_id)\}")
_IN_LIST = re.compile(r"IN \((?:\?|%\(\w+\)s|:\w+)(?:,\s*(?:\?|%\(\w+\)s|:\w+))*\)")
_BLANKS = re.compile(r"\s+")


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` sends inside the block, normalised: whitespace collapsed
    and expanded ``IN (…)`` lists folded to ``IN (…)`` (their length follows the data, e.g.
    the number of forms, which is the same for both participants anyway). The session lookup
    of every request goes to the DB-API cursor, not through SQLAlchemy's events: it is
    counted where it is made."""
    sent: list[str] = []

    def count(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        shape = _IN_LIST.sub("IN (…)", _BLANKS.sub(" ", statement).strip())
        sent.append(("many: " if many else "") + shape)

    read_session = web_sessions._read_session

    def lookup(on: Engine, digest: str) -> Any:
        if on is engine:
            sent.append("SELECT web_session (the session lookup, on the DB-API cursor)")
        return read_session(on, digest)

    event.listen(engine, "before_cursor_execute", count)
    web_sessions._read_session = lookup
    try:
        yield sent
    finally:
        web_sessions._read_session = read_session
        event.remove(engine, "before_cursor_execute", count)


def placeholders(text: str, pid: str, kit: int) -> str:
    """``text`` with what names one participant replaced: study ID, kit, record ids (in links,
    JSON ``…id`` fields and form fields), dates, times and one-off tokens. Other numbers stay:
    a dose in mg or a count differing by arm would still show."""
    out = text.replace(pid, "<PID>")
    out = re.sub(rf"\b{kit}\b", "<KIT>", out)
    out = re.sub(
        r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?",
        "<DATE>",
        out,
    )
    out = re.sub(r"\b\d{1,2}:\d{2}(?::\d{2})?\b", "<TIME>", out)
    out = re.sub(r"\b[0-9a-f]{16,}\b", "<HEX>", out)
    out = re.sub(r'(value|content)="[A-Za-z0-9_\-]{20,}"', r'\1="<TOKEN>"', out)
    out = re.sub(r"(?<=/)\d+(?=[/\"'?#<\s])", "<ID>", out)  # links
    out = re.sub(r'("(?:\w+_)?id"\s*:\s*)\d+', r"\1<ID>", out)  # JSON ids
    out = re.sub(r'(name="\w*id" value=")\d+', r"\1<ID>", out)  # form fields
    out = re.sub(r'(id="[a-z_]+-)\d+"', r'\1<ID>"', out)  # anchors
    # an audit row of an id column: its old and new ids
    out = re.sub(
        r'(<td>\w*_id</td><td class="old">)\d*(</td><td class="new">)\d*',
        r"\1<ID>\2<ID>",
        out,
    )
    out = re.sub(
        r"\b(assessment|dose|session|alert|allocation|visit|form|query|record|participant"
        r"|\w+_\w+) \d+",
        r"\1 <ID>",
        out,
    )
    return out


def record_ids(trial: OsloTrial, pid: str) -> dict[str, str]:
    """The ids of one participant's records that pages and answers name."""
    with trial.engine.connect() as c:
        (internal,) = c.exec_driver_sql(
            "SELECT id FROM participant WHERE study_id = ?", (pid,)
        ).one()
        found = {"participant": str(internal)}
        for table in ("assessment", "allocation", "dosing_session", "visit", "alert"):
            row = c.exec_driver_sql(
                f"SELECT min(id) FROM {table} WHERE participant_id = ?", (internal,)
            ).one()
            if row[0] is not None:
                found[table] = str(row[0])
        (dose,) = c.exec_driver_sql(
            "SELECT min(dose.id) FROM dose JOIN dosing_session s ON s.id = dose.dosing_session_id"
            " WHERE s.participant_id = ?",
            (internal,),
        ).one()
        found["dose"] = str(dose)
    with Session(trial.engine) as session:
        given = session.get_one(Dose, dose).given_at
        assert given is not None
        found["dose_at"] = given.isoformat()
    return found


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    sql: tuple[str, ...]


def _clients(app: FastAPI, role: str) -> tuple[TestClient, TestClient]:
    pages = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    assert page_login(pages, ROLE_USER[role]).status_code == 303
    api = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    token = api.post(
        "/api/v1/auth/login", json={"username": ROLE_USER[role], "password": PASSWORD}
    ).json()["token"]
    api.headers["Authorization"] = f"Bearer {token}"
    return pages, api


def requests_of(app: FastAPI, pid: str, ids: dict[str, str]) -> list[tuple[str, str, str, Any]]:
    """(surface, method, path, json) of every request made for one participant."""
    samples = {
        "pid": pid,
        "participant_id": pid,
        "visit": "V5",
        "visit_code": "V5",
        "code": "V5",
        "scale": "madrs",
        "table": "dose",
        "record_table": "dose",
        "record_id": ids["dose"],
        "assessment_id": ids["assessment"],
    }
    out: list[tuple[str, str, str, Any]] = []
    for method, template, _, surface in guarded_routes(app):
        if (
            method != "GET"
            or "{" not in template
            or not re.search(r"\{(pid|participant_id|record_id|assessment_id)\}", template)
        ):
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: samples.get(m.group(1), "1"), template)
        out.append((surface, "GET", path, None))
    for table in ("allocation", "dose", "assessment", "dosing_session", "participant"):
        if table in ids:
            out.append(("page", "GET", f"/audit/{table}/{ids[table]}", None))
    out.append(("page", "GET", f"/participants/{pid}/visits/V3/forms/madrs", None))
    # refused doses, the same bodies for both arms: a second initial dose, and a supplemental
    # dose far above the plan (the labelled supplemental dose is 40 mg) inside the offer window
    for kind, mg, minutes in (("initial", 80, 0), ("supplemental", 999, 121)):
        given = datetime.fromisoformat(ids["dose_at"]) + timedelta(minutes=minutes)
        body = {"kind": kind, "dose_mg": mg, "status": "given", "at": given.isoformat()}
        out.append(("api", "POST", f"/api/v1/participants/{pid}/dosing/V5/doses", body))
    return out


def answers_for(app: FastAPI, pair: Pair, role: str, pid: str) -> dict[str, Answer]:
    pages, api = _clients(app, role)
    ids = record_ids(pair.trial, pid)
    out: dict[str, Answer] = {}
    requests = requests_of(app, pid, ids)
    # the process's caches (the kept scales it installed) as on a server that has served a
    # request: which participant happens to be asked for first is not an arm's signature
    surface, method, path, _ = next(r for r in requests if r[1] == "GET")
    (api if surface == "api" else pages).request(method, path)
    for surface, method, path, body in requests:
        client = api if surface == "api" else pages
        with statements(pair.trial.engine) as sql:
            response = client.request(method, path, json=body)
        key = f"{method} " + re.sub(r"/\d+\b", "/<ID>", path.replace(pid, "<PID>"))
        key += f" {body['kind']} {body['dose_mg']} mg" if body else ""
        text = placeholders(response.text, pid, pair.kits[pid])
        out[key] = Answer(response.status_code, text, tuple(sql))
    return out


def differences(mdma: dict[str, Answer], placebo: dict[str, Answer]) -> list[str]:
    """Where the two participants' answers differ: status, body (length or text), SQL."""
    assert mdma.keys() == placebo.keys()
    differ = []
    for key, a in mdma.items():
        b = placebo[key]
        if a.status != b.status or len(a.body) != len(b.body) or a.body != b.body:
            differ.append(f"{key}: {a.status}/{len(a.body)} vs {b.status}/{len(b.body)} bytes")
        if a.sql != b.sql:
            differ.append(f"{key}: {len(a.sql)} vs {len(b.sql)} SQL statements")
    return differ


@pytest.mark.parametrize("role", BLINDED_ROLES)
def test_two_arms_look_the_same_to_a_blinded_role(app: FastAPI, pair: Pair, role: str) -> None:
    mdma = answers_for(app, pair, role, pair.mdma)
    placebo = answers_for(app, pair, role, pair.placebo)
    assert len(mdma) > 15
    differ = differences(mdma, placebo)
    assert differ == [], f"{role} can tell the arms apart:\n" + "\n".join(differ)
    doses = [a for k, a in mdma.items() if k.startswith("POST")]
    assert len(doses) == 2
    assert all(a.sql for a in mdma.values())
    if role in ("investigator", "therapist"):  # who may record a dose: refused, the same way
        assert [a.status for a in doses] == [409, 422], [a.body for a in doses]
        assert "differs from the planned supplemental dose" in doses[1].body
    else:
        assert [a.status for a in doses] == [403, 403]


def test_the_proxy_notices_a_path_that_depends_on_the_arm(
    app: FastAPI, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused dose that reads one more row and words its message differently for the
    MDMA kit (the kind of leak the test is for) is caught by both measures."""
    from sqlalchemy import select

    import remit.services.dosing as dosing
    from remit.store.allocation import Allocation

    mdma_kit = pair.kits[pair.mdma]
    kit_of, dose_problem = dosing.kit_of, dosing.dose_problem

    def leaky_kit_of(session: Any, participant_id: int) -> int | None:
        kit = kit_of(session, participant_id)
        if kit == mdma_kit:
            session.execute(select(Allocation.slot_id).where(Allocation.kit == kit))
        return kit

    def leaky_problem(kit: int | None, kind: str) -> str:
        return dose_problem(kit, kind) + (" (active)" if kit == mdma_kit else "")

    monkeypatch.setattr(dosing, "kit_of", leaky_kit_of)
    monkeypatch.setattr(dosing, "dose_problem", leaky_problem)
    differ = differences(
        answers_for(app, pair, "investigator", pair.mdma),
        answers_for(app, pair, "investigator", pair.placebo),
    )
    assert any("supplemental" in d and "bytes" in d for d in differ), differ
    assert any("supplemental" in d and "SQL statements" in d for d in differ), differ
