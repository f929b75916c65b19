"""Listing participants and data queries: the status filter is checked, a site-bound actor sees
only their own site's records (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from tests.support.presets import two_site_protocol
from tests.support.trial import build_trial, stage

from remit import services as sv
from remit.errors import InputError
from remit.services import Actor


@dataclass(frozen=True)
class TwoSites:
    engine: Engine
    kari: Actor  # investigator at OST
    olav: Actor  # investigator at OUS
    mona: Actor  # monitor, study-wide
    ost: str  # the participant screened at OST
    ous: str  # the participant screened at OUS


@pytest.fixture
def two_sites(engine: Engine, fast_password_hashing: None) -> TwoSites:
    trial = build_trial(
        engine,
        protocol=two_site_protocol(),
        sites=None,
        staff={
            "kari": [("investigator", "OST")],
            "olav": [("investigator", "OUS")],
            "mona": [("monitor", None)],
        },
        participants=[
            stage("screened", site=site, sex=None, birth_year=None) for site in ("OST", "OUS")
        ],
    )
    kari, olav, mona = (sv.actor_for(engine, name) for name in ("kari", "olav", "mona"))
    ost, ous = trial.participants
    return TwoSites(engine, kari, olav, mona, ost, ous)


def _open_query_on(trial: TwoSites, study_id: str, text: str) -> sv.QueryRecord:
    record = sv.get_participant(trial.engine, trial.mona, study_id)
    return sv.open_query(trial.engine, trial.mona, "participant", record.id, field=None, text=text)


def test_a_site_bound_actor_lists_only_their_sites_queries(two_sites: TwoSites) -> None:
    engine = two_sites.engine
    at_ost = _open_query_on(two_sites, two_sites.ost, "Is the birth year right?")
    at_ous = _open_query_on(two_sites, two_sites.ous, "Is the sex right?")
    assert [q.id for q in sv.list_queries(engine, two_sites.kari)] == [at_ost.id]
    assert [q.id for q in sv.list_queries(engine, two_sites.olav)] == [at_ous.id]
    assert [q.id for q in sv.list_queries(engine, two_sites.mona)] == [at_ost.id, at_ous.id]

    sv.answer_query(engine, two_sites.kari, at_ost.id, "Yes, checked against the referral.")
    assert [q.id for q in sv.list_queries(engine, two_sites.kari, status="answered")] == [at_ost.id]
    assert sv.list_queries(engine, two_sites.kari, status="open") == []
    assert [q.id for q in sv.list_queries(engine, two_sites.olav, status="open")] == [at_ous.id]
    assert sv.list_queries(engine, two_sites.olav, status="answered") == []
    assert [q.id for q in sv.list_queries(engine, two_sites.mona, status="open")] == [at_ous.id]


def test_an_unknown_query_status_is_an_input_error(two_sites: TwoSites) -> None:
    with pytest.raises(InputError) as caught:
        sv.list_queries(two_sites.engine, two_sites.mona, status="pending")
    assert "'pending'" in str(caught.value)
    assert caught.value.expected == "one of open, answered, closed"


def test_a_site_bound_actor_lists_only_their_sites_participants(two_sites: TwoSites) -> None:
    engine = two_sites.engine
    assert [p.participant_id for p in sv.list_participants(engine, two_sites.kari)] == [
        two_sites.ost
    ]
    listed = sv.list_participants(engine, two_sites.mona, status="screening")
    assert [p.participant_id for p in listed] == [two_sites.ost, two_sites.ous]
    assert sv.list_participants(engine, two_sites.mona, status="enrolled") == []


def test_an_unknown_participant_status_is_an_input_error(two_sites: TwoSites) -> None:
    with pytest.raises(InputError) as caught:
        sv.list_participants(two_sites.engine, two_sites.kari, status="active")
    message = str(caught.value)
    assert "participant status 'active' is unknown" in message
    expected = caught.value.expected or ""
    for status in ("screening", "enrolled", "withdrawn", "lost_to_follow_up"):
        assert status in expected
