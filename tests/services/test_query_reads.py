"""Data queries and unsigned forms read per participant, and without a statement per query.

:func:`remit.services.list_queries` read each query's thread with one statement per query
(two per query with its participant), so the queries page, the worklists and the lock
reviews grew with the site; and neither it nor :func:`remit.services.signing.unsigned_forms`
could be asked for one participant's, so the participant lock confirmation read the whole
site's and kept one participant's in Python. Now the queries and their threads are one
statement whatever their number, with the same records, order, site scope and rater blind
as the per-query reads (the reference below), and ``participant=`` keeps one participant's,
refused for a participant of another site as every read refuses it (SQLite and PostgreSQL).

The trial is the RCT example at its two sites (OST and OUS): its independent rater is blind
to earlier scores, to the safety data and to dosing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session
from tests.support.db import count_all, statements_sent
from tests.support.forms import at
from tests.support.trial import (
    STAFF,
    OsloTrial,
    Participant,
    add_participant,
    build_trial,
    visit_date,
)

from remit import services as sv
from remit.errors import NotFoundError, PermissionDeniedError
from remit.protocol import load_protocol
from remit.services.blinding import SAFETY_HIDDEN, SCORES_HIDDEN, rater_queries
from remit.services.signing import unsigned_forms
from remit.store.tables import DataQuery, DataQueryMessage
from remit.store.tables import Participant as ParticipantRow

#: The RCT example's staff at its two sites: ``kari``/``olav`` investigators and
#: ``rita``/``rolf`` raters at OST/OUS, the others (``tor`` the therapist too) study-wide.
STAFF_AT_TWO_SITES = {
    **STAFF,
    "kari": (("investigator", "OST"),),
    "tor": (("therapist", None),),
    "olav": (("investigator", "OUS"),),
    "rita": (("independent_rater", "OST"),),
    "rolf": (("independent_rater", "OUS"),),
}
STATUSES = (None, "open", "answered", "closed")


@dataclass(frozen=True)
class Queried:
    """The trial, its participants at OST (``ost``) and OUS (``ous``) and the queries made."""

    trial: OsloTrial
    ost: str
    ous: str
    queries: dict[str, int]

    def actor(self, name: str) -> sv.Actor:
        return sv.actor_for(self.trial.engine, name)


@pytest.fixture
def rct(engine: Engine, tmp_path: Path, fast_password_hashing: None) -> OsloTrial:
    key = sv.new_allocation_key_file(tmp_path / "allocation.key")
    trial = build_trial(
        sv.with_allocation_key(engine, key),
        protocol=load_protocol("mdma-mdd-rct-example"),
        sites=None,
        staff=STAFF_AT_TWO_SITES,
    )
    sv.generate_list(trial.engine, trial.actors["unblinded_statistician"], n_per_stratum=4, seed=5)
    return trial


def _record_id(engine: Engine, actor: sv.Actor, pid: str, table: str) -> int:
    """The id of ``pid``'s first record of ``table`` (participant, visit, assessment,
    adverse event)."""
    if table == "participant":
        return sv.get_participant(engine, actor, pid).id
    if table == "visit":
        return sv.list_visits(engine, actor, pid)[0].id
    if table == "assessment":
        return sv.list_assessments(engine, actor, pid)[0].id
    return sv.list_adverse_events(engine, actor, pid)[0].id


def people(trial: OsloTrial) -> Queried:
    """Two participants through V4 (V3's MADRS entered, an adverse event at V1), at OST and
    OUS; OST's dosing day V5 started. No query yet."""
    engine = trial.engine
    ost = add_participant(
        trial, Participant(through="V4", site="OST", adverse_events=("V1",), confirm=True)
    )
    ous = add_participant(trial, Participant(through="V4", site="OUS", adverse_events=("V1",)))
    day = visit_date(trial, ost, "V5")
    sv.start_dosing_session(engine, trial.investigator, ost, "V5", started_at=at(day, 8, 30))
    return Queried(trial, ost, ous, {})


def ask(made: Queried, n: int) -> None:
    """Round ``n`` of the monitor's queries: on each record of each participant and on the
    dosing day, answered and closed in turn, the raters answering some themselves."""
    engine = made.trial.engine
    kari, olav, mona, dag = (made.actor(name) for name in ("kari", "olav", "mona", "dag"))
    rita, rolf = made.actor("rita"), made.actor("rolf")
    for pid, staff, rater in ((made.ost, kari, rita), (made.ous, olav, rolf)):
        for turn, table in enumerate(("participant", "visit", "assessment", "adverse_event")):
            record = _record_id(engine, staff, pid, table)
            q = sv.open_query(
                engine, mona, table, record, field=None, text=f"{table} of {pid}: check {n}"
            )
            made.queries[f"{pid} {table} {n}"] = q.id
            if turn % 3 == 1:  # answered by the site
                sv.answer_query(engine, staff, q.id, f"checked {table}, score 31")
            elif turn % 3 == 2:  # answered, then closed with a last word
                sv.answer_query(engine, staff, q.id, "corrected")
                sv.close_query(engine, dag, q.id, "thanks: total 31 now")
            if table == "participant":  # a rater's own words stay theirs
                sv.answer_query(engine, rater, q.id, f"{rater.username} saw the source")
    (session,) = sv.list_dosing_sessions(engine, kari, made.ost)
    q = sv.open_query(engine, mona, "dosing_session", session.id, field=None, text="dose?")
    made.queries[f"{made.ost} dosing_session {n}"] = q.id


def queried(trial: OsloTrial) -> Queried:
    """:func:`people` with one round of queries (:func:`ask`)."""
    made = people(trial)
    ask(made, 0)
    return made


def per_query_reads(
    engine: Engine,
    actor: sv.Actor,
    *,
    status: str | None = None,
    participant: str | None = None,
) -> list[sv.QueryRecord]:
    """The reference: the queries read as ``list_queries`` read them before, one query and
    its thread at a time (the site scope, the status, the participant kept, then the rater's
    blind)."""
    with Session(engine) as session:
        query = (
            select(DataQuery)
            .outerjoin(ParticipantRow, ParticipantRow.id == DataQuery.participant_id)
            .order_by(DataQuery.id)
        )
        if status is not None:
            query = query.where(DataQuery.status == status)
        if participant is not None:
            query = query.where(ParticipantRow.study_id == participant)
        if actor.site_id is not None:
            query = query.where(
                or_(DataQuery.participant_id.is_(None), ParticipantRow.site_id == actor.site_id)
            )
        records = []
        for q in session.scalars(query):
            thread = session.execute(
                select(DataQueryMessage.user_id, DataQueryMessage.message)
                .where(DataQueryMessage.data_query_id == q.id)
                .order_by(DataQueryMessage.id)
            )
            study_id = None
            if q.participant_id is not None:
                study_id = session.get_one(ParticipantRow, q.participant_id).study_id
            records.append(
                sv.QueryRecord.from_row(
                    q, participant_id=study_id, messages=tuple((u, m) for u, m in thread)
                )
            )
        return rater_queries(session, actor, records)


READERS = ("mona", "dag", "kari", "olav", "rita", "rolf")


def test_the_queries_read_the_same_as_one_query_at_a_time(rct: OsloTrial) -> None:
    made = queried(rct)
    engine = rct.engine
    for name in READERS:
        actor = made.actor(name)
        own = {"kari": made.ost, "rita": made.ost, "olav": made.ous, "rolf": made.ous}.get(name)
        for status in STATUSES:
            for participant in {None, own or made.ost}:
                listed = sv.list_queries(engine, actor, status=status, participant=participant)
                expected = per_query_reads(engine, actor, status=status, participant=participant)
                assert listed == expected, (name, status, participant)
    everything = sv.list_queries(engine, made.actor("mona"))
    assert [q.id for q in everything] == sorted(made.queries.values())
    assert {q.status for q in everything} == {"open", "answered", "closed"}
    closed = next(q for q in everything if q.status == "closed")
    assert [m for _, m in closed.messages] == ["corrected", "thanks: total 31 now"]


def test_the_rater_reads_the_queries_through_the_blind(rct: OsloTrial) -> None:
    made = queried(rct)
    rita = made.actor("rita")
    theirs = {q.id: q for q in sv.list_queries(rct.engine, rita)}
    ids = made.queries
    # site OST only; no query on an adverse event or on the dosing day
    assert set(theirs) == {ids[f"{made.ost} {t} 0"] for t in ("participant", "visit", "assessment")}
    on_person = theirs[ids[f"{made.ost} participant 0"]]
    assert on_person.text == SAFETY_HIDDEN
    assert on_person.messages == ((rita.user_id, "rita saw the source"),)
    on_visit = theirs[ids[f"{made.ost} visit 0"]]
    assert (on_visit.text, {m for _, m in on_visit.messages}) == (SAFETY_HIDDEN, {SAFETY_HIDDEN})
    on_form = theirs[ids[f"{made.ost} assessment 0"]]
    assert on_form.text == SCORES_HIDDEN
    assert {m for _, m in on_form.messages} == {SCORES_HIDDEN}
    assert "31" not in repr(list(theirs.values()))
    kari = sv.list_queries(rct.engine, made.actor("kari"), participant=made.ost)
    assert {q.text for q in kari} >= {f"adverse_event of {made.ost}: check 0", "dose?"}


def test_the_queries_cost_the_same_statements_for_2_or_20_queries(rct: OsloTrial) -> None:
    made = people(rct)
    engine, mona = rct.engine, made.actor("mona")
    for pid, staff in ((made.ost, "kari"), (made.ous, "olav")):  # one query on each MADRS
        form = _record_id(engine, made.actor(staff), pid, "assessment")
        q = sv.open_query(engine, mona, "assessment", form, field="answers", text="item 10?")
        sv.answer_query(engine, made.actor(staff), q.id, "checked")

    def counts() -> dict[tuple[str, str | None], int]:
        found = {}
        for name in READERS:
            actor = made.actor(name)
            own = made.ous if name in ("olav", "rolf") else made.ost
            for participant in (None, own):
                sv.list_queries(engine, actor, participant=participant)  # as a warm worker
                found[(name, participant)] = statements_sent(
                    engine,
                    lambda a=actor, p=participant: sv.list_queries(  # type: ignore[misc]
                        engine, a, participant=p
                    ),
                )
        return found

    few = counts()
    assert len(sv.list_queries(engine, mona)) == 2
    ask(made, 0)
    ask(made, 1)
    assert len(sv.list_queries(engine, mona)) == 20
    assert counts() == few


def test_one_participants_queries_and_unsigned_forms(rct: OsloTrial) -> None:
    made = queried(rct)
    engine, mona, kari = rct.engine, made.actor("mona"), made.actor("kari")
    theirs = sv.list_queries(engine, mona, participant=made.ost)
    assert theirs
    assert {q.participant_id for q in theirs} == {made.ost}
    assert theirs == [q for q in sv.list_queries(engine, mona) if q.participant_id == made.ost]
    by_key = sv.get_participant(engine, mona, made.ous).id
    assert sv.list_queries(engine, kari, participant=made.ost, status="answered") == [
        q for q in sv.list_queries(engine, kari, status="answered") if q.participant_id == made.ost
    ]
    assert {q.participant_id for q in sv.list_queries(engine, mona, participant=by_key)} == {
        made.ous
    }

    unsigned = unsigned_forms(engine, mona)
    assert {f.participant_id for f in unsigned} == {made.ost, made.ous}
    for pid in (made.ost, made.ous):
        assert unsigned_forms(engine, mona, participant=pid) == [
            f for f in unsigned if f.participant_id == pid
        ]
    assert unsigned_forms(engine, mona, participant=by_key) == [
        f for f in unsigned if f.participant_id == made.ous
    ]


def test_another_sites_or_an_unknown_participant_is_refused_and_nothing_is_written(
    rct: OsloTrial,
) -> None:
    made = queried(rct)
    engine, kari, rita = rct.engine, made.actor("kari"), made.actor("rita")
    before = count_all(engine)
    for actor in (kari, rita):
        with pytest.raises(PermissionDeniedError, match=made.ous):
            sv.list_queries(engine, actor, participant=made.ous)
        with pytest.raises(PermissionDeniedError, match=made.ous):
            unsigned_forms(engine, actor, participant=made.ous)
    with pytest.raises(NotFoundError, match="MDM-999"):
        sv.list_queries(engine, kari, participant="MDM-999")
    with pytest.raises(NotFoundError, match="MDM-999"):
        unsigned_forms(engine, kari, participant="MDM-999")
    assert count_all(engine) == before
