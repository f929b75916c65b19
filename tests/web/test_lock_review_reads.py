"""The confirmation page of a participant's lock reads that participant's data queries and
unsigned forms only: the database keeps to the participant (``participant=`` of
:func:`remit.services.list_queries` and :func:`remit.services.signing.unsigned_forms`), so the
page costs the same statements however many queries the other participants have, and the
access log says whose queries and forms were read and how many. On SQLite (the web tests'
seeded trial: ``OSL-001`` enrolled with V3 due today, ``OSL-002`` screened)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tests.support.db import statements_sent
from tests.support.forms import madrs
from tests.support.trial import ROLE_USER
from tests.support.web import csrf_of

from remit import services as sv
from remit.services.signing import unsigned_forms
from remit.store.tables import IdentityAccessLog

Login = Callable[[str], TestClient]


def _actor(engine: Engine, role: str) -> sv.Actor:
    return sv.actor_for(engine, ROLE_USER[role])


def _confirmation(dm: TestClient, participant: str) -> str:
    """The first step of a participant's lock (the confirmation page; nothing is locked)."""
    shown = dm.post(
        "/locks/participant",
        data={"csrf_token": csrf_of(dm.get("/locks").text), "participant": participant},
    )
    assert shown.status_code == 200, shown.text
    return str(shown.text)


def _ask_about(engine: Engine, participant: str, n: int) -> list[int]:
    """``n`` monitor's queries on ``participant``'s record, every other one answered."""
    monitor, investigator = _actor(engine, "monitor"), _actor(engine, "investigator")
    record = sv.get_participant(engine, monitor, participant).id
    made = []
    for i in range(n):
        q = sv.open_query(engine, monitor, "participant", record, field=None, text=f"check {i}")
        if i % 2:
            sv.answer_query(engine, investigator, q.id, "checked")
        made.append(q.id)
    return made


def test_the_participant_confirmation_does_not_grow_with_other_participants_queries(
    app: FastAPI, login_as: Login
) -> None:
    engine = app.state.remit.engine
    (theirs,) = _ask_about(engine, "OSL-001", 1)
    dm = login_as("data_manager")
    _confirmation(dm, "OSL-001")  # a warm worker: what is read once per process is read
    token = csrf_of(dm.get("/locks").text)

    def confirmation() -> str:
        shown = dm.post("/locks/participant", data={"csrf_token": token, "participant": "OSL-001"})
        assert shown.status_code == 200, shown.text
        return str(shown.text)

    before = statements_sent(engine, confirmation)
    others = _ask_about(engine, "OSL-002", 20)
    after = statements_sent(engine, confirmation)
    assert after == before
    queries = confirmation().split('id="review-queries"', 1)[1].split("</ul>", 1)[0]
    assert re.findall(r'href="/queries#query-(\d+)"', queries) == [str(theirs)]
    assert len(others) == 20


def test_the_participant_confirmation_reads_and_logs_that_participants_only(
    app: FastAPI, login_as: Login
) -> None:
    engine = app.state.remit.engine
    rater = _actor(engine, "independent_rater")
    form = sv.record_assessment(engine, rater, "OSL-001", "V3", "madrs", madrs(2, 1))
    _ask_about(engine, "OSL-001", 2)
    _ask_about(engine, "OSL-002", 3)
    dm_actor = _actor(engine, "data_manager")
    unsigned = unsigned_forms(engine, dm_actor, participant="OSL-001")
    assert form.id in {f.id for f in unsigned}
    dm = login_as("data_manager")  # (its dashboard lists the open queries of the site)
    with Session(engine) as session:
        last = session.scalar(select(IdentityAccessLog.id).order_by(IdentityAccessLog.id.desc()))
    text = _confirmation(dm, "OSL-001")
    assert f'href="/assessments/{form.id}"' in text.split('id="review-unsigned"', 1)[1]

    person = sv.get_participant(engine, dm_actor, "OSL-001").id
    with Session(engine) as session:
        logged = session.execute(
            select(
                IdentityAccessLog.resource,
                IdentityAccessLog.participant_id,
                IdentityAccessLog.n_records,
            ).where(
                IdentityAccessLog.id > (last or 0),
                IdentityAccessLog.resource.in_(("list_queries", "unsigned_forms")),
            )
        ).all()
    assert sorted(logged) == [
        ("list_queries", person, 2),
        ("unsigned_forms", person, len(unsigned)),
    ]


def test_the_api_lists_one_participants_queries(
    app: FastAPI, api_as: Callable[[str], TestClient]
) -> None:
    engine = app.state.remit.engine
    first = _ask_about(engine, "OSL-001", 3)
    _ask_about(engine, "OSL-002", 2)
    monitor = api_as("monitor")
    every = monitor.get("/api/v1/queries")
    assert every.status_code == 200, every.text
    assert len(every.json()) == 5
    theirs = monitor.get("/api/v1/queries", params={"participant": "OSL-001"})
    assert theirs.status_code == 200, theirs.text
    assert [q["id"] for q in theirs.json()] == first
    opened = monitor.get("/api/v1/queries", params={"participant": "OSL-001", "status": "open"})
    assert [q["id"] for q in opened.json()] == first[::2]
    unknown = monitor.get("/api/v1/queries", params={"participant": "OSL-999"})
    assert unknown.status_code == 404, unknown.text
    invalid = monitor.get("/api/v1/queries", params={"participant": "OSL 001;"})
    assert invalid.status_code == 422, invalid.text
