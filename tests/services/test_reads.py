"""Reads are authorised and audited: every read service takes the acting user, keeps to the
user's site and writes one access-log row saying what was read (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.services.two_sites import access_rows, two_site_trial
from tests.support.db import count_all

from remit import services as sv
from remit.errors import PermissionDeniedError
from remit.store import Actor


def test_a_site_bound_statistician_gets_their_site_only_and_the_read_is_logged(
    engine: Engine, fast_password_hashing: None
) -> None:
    trial = two_site_trial(engine, forms=False)
    ous = sv.build_trial_data(engine, actor=trial.ous_statistician)
    everyone = sv.build_trial_data(engine, actor=trial.statistician)
    assert (
        sorted(ous.participants["participant_id"])
        == trial.by_site["OUS"]
        == [
            "OSL-002",
            "OSL-003",
            "OSL-004",
        ]
    )
    assert set(ous.visits["participant_id"]) == set(trial.by_site["OUS"])
    assert len(everyone.participants) == 4
    assert set(everyone.visits["participant_id"]) == {"OSL-001", *trial.by_site["OUS"]}
    logged = [
        (r.username, r.role, r.site_id, r.n_records, r.participant_id, r.granted)
        for r in access_rows(engine, "build_trial_data")
    ]
    assert logged == [
        ("stine", "statistician", 2, 3, None, True),
        ("siri", "statistician", None, 4, None, True),
    ]


def test_every_read_service_writes_one_access_row(
    engine: Engine, fast_password_hashing: None
) -> None:
    trial = two_site_trial(engine, forms=False)
    e, inv = engine, trial.investigator
    admin = sv.actor_for(engine, "ada")
    reads: dict[str, Callable[[], Any]] = {
        "list_participants": lambda: sv.list_participants(e, inv),
        "get_participant": lambda: sv.get_participant(e, inv, "OSL-002"),
        "list_visits": lambda: sv.list_visits(e, inv, "OSL-002"),
        "anchor_dates": lambda: sv.anchor_dates(e, inv, "OSL-002"),
        "consent_status": lambda: sv.consent_status(e, inv, "OSL-002"),
        "list_assessments": lambda: sv.list_assessments(e, inv, "OSL-002"),
        "list_adverse_events": lambda: sv.list_adverse_events(e, inv, "OSL-002"),
        "list_conmeds": lambda: sv.list_conmeds(e, inv, "OSL-002"),
        "list_dosing_sessions": lambda: sv.list_dosing_sessions(e, inv, "OSL-002"),
        "dosing_day": lambda: sv.dosing_day(e, inv, "OSL-002", "V5"),
        "list_alerts": lambda: sv.list_alerts(e, inv),
        "list_deviations": lambda: sv.list_deviations(e, inv),
        "list_deliveries": lambda: sv.list_deliveries(e, inv),
        "list_overdue_saes": lambda: sv.list_overdue_saes(e, inv),
        "list_queries": lambda: sv.list_queries(e, inv),
        "signatures_of": lambda: sv.signatures_of(e, inv, "participant", 2),
        "audit_history": lambda: sv.audit_history(e, inv, "participant", 2),
        "list_users": lambda: sv.list_users(e, admin),
    }
    for resource, read in reads.items():
        before = count_all(engine)
        read()
        after = count_all(engine)
        changed = {t: after[t] - before[t] for t in before if before[t] != after[t]}
        assert changed == {"identity_access_log": 1}, resource
        row = access_rows(engine, resource)[-1]
        one_participant = resource not in (
            "list_participants",
            "list_alerts",
            "list_deviations",
            "list_deliveries",
            "list_overdue_saes",
            "list_queries",
            "list_users",
            "audit_history",
        )
        assert (row.username, row.participant_id) == (
            "ada" if resource == "list_users" else "kari",
            2 if one_participant else None,
        ), resource
    assert access_rows(engine, "list_participants")[-1].n_records == 4


def test_a_read_of_another_sites_participant_is_refused_and_writes_nothing(
    engine: Engine, fast_password_hashing: None
) -> None:
    trial = two_site_trial(engine, forms=False)
    stine: Actor = trial.ous_statistician
    assert [p.participant_id for p in sv.list_participants(engine, stine)] == trial.by_site["OUS"]
    before = count_all(engine)
    with pytest.raises(PermissionDeniedError, match="OSL-001"):
        sv.get_participant(engine, stine, "OSL-001")
    with pytest.raises(PermissionDeniedError, match="OSL-001"):
        sv.list_visits(engine, stine, "OSL-001")
    assert count_all(engine) == before
