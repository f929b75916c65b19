"""An adverse event upgraded to serious raises the SAE alert and starts its reporting clock from
when the team learnt it was serious; a serious event is never made non-serious by an edit; an
outcome that says the event ended needs an end date (and one still going on has none), at entry
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.forms import at
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError
from remit.store.tables import Alert, AuditEvent

EVENT: dict[str, Any] = {"term": "panic attack", "severity": "moderate", "relatedness": "possible"}


def _audit(oslo: OsloTrial, ae_id: int) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Field → (old, new, reason) of the audit rows of updates to the event."""
    with Session(oslo.engine) as session:
        rows = session.scalars(
            select(AuditEvent).where(
                AuditEvent.table_name == "adverse_event",
                AuditEvent.record_id == ae_id,
                AuditEvent.action == "update",
            )
        )
        return {str(r.field): (r.old_value, r.new_value, r.reason) for r in rows}


def _alert_rows(oslo: OsloTrial, ae_id: int) -> list[tuple[str, datetime | None]]:
    with Session(oslo.engine) as session:
        rows = session.scalars(
            select(Alert).where(Alert.source_table == "adverse_event", Alert.source_id == ae_id)
        )
        return [(a.rule_id, a.due_at) for a in rows]


def test_an_event_upgraded_to_serious_raises_the_sae_alert_with_its_clock_from_then(
    oslo: OsloTrial,
) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    e, inv = oslo.engine, oslo.investigator
    aware_at = at(day, 9)
    ae = sv.record_adverse_event(
        e, oslo.therapist, pid, **EVENT, onset_date=day, awareness_at=aware_at
    )
    assert (ae.serious, ae.alerts, ae.sae_report_due_at) == (False, (), None)
    became = aware_at + timedelta(days=2)  # hospitalised two days later
    sae = sv.update_adverse_event(
        e,
        inv,
        ae.id,
        changes={"serious": True, "seriousness_criteria": ["hospitalisation"]},
        reason="admitted to hospital on day 2",
        became_serious_at=became,
    )
    due = became + timedelta(hours=24)
    assert (sae.serious, sae.seriousness_criteria) == (True, ("hospitalisation",))
    assert (sae.awareness_at, sae.became_serious_at, sae.sae_report_due_at) == (
        aware_at,
        became,
        due,
    )
    assert [(a.rule_id, a.level, a.due_at) for a in sae.alerts] == [("sae", "immediate", due)]
    audit = _audit(oslo, ae.id)
    assert audit["serious"][2] == "admitted to hospital on day 2"
    assert audit["became_serious_at"][2] == "admitted to hospital on day 2"
    # the clock runs from when the team learnt it was serious, not from the event's awareness
    assert sv.list_overdue_saes(e, inv, now=aware_at + timedelta(hours=25)) == []
    assert sv.list_overdue_saes(e, inv, now=due - timedelta(minutes=1)) == []
    assert [a.id for a in sv.list_overdue_saes(e, inv, now=due + timedelta(minutes=1))] == [ae.id]
    with pytest.raises(InputError, match="before the team knew it was serious"):
        sv.mark_sae_reported(e, inv, ae.id, reported_at=became - timedelta(hours=1))
    reported = sv.mark_sae_reported(e, inv, ae.id, reported_at=became + timedelta(hours=3))
    assert [a.status for a in reported.alerts] == ["closed"]


def test_an_upgrade_without_a_time_starts_the_clock_at_the_update(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    ae = sv.record_adverse_event(
        oslo.engine, oslo.therapist, pid, **EVENT, onset_date=day, awareness_at=at(day, 9)
    )
    before = datetime.now(UTC)
    sae = sv.update_adverse_event(
        oslo.engine,
        oslo.investigator,
        ae.id,
        changes={"serious": True, "seriousness_criteria": ["life_threatening"]},
        reason="called by the emergency ward",
    )
    assert sae.became_serious_at is not None
    assert sae.sae_report_due_at is not None
    assert before <= sae.became_serious_at <= datetime.now(UTC)
    assert sae.sae_report_due_at == sae.became_serious_at + timedelta(hours=24)
    assert [a.rule_id for a in sae.alerts] == ["sae"]


def test_a_refused_upgrade_stores_nothing(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    e, inv = oslo.engine, oslo.investigator
    aware_at = at(day, 9)
    ae = sv.record_adverse_event(
        e, oslo.therapist, pid, **EVENT, onset_date=day, awareness_at=aware_at
    )
    serious = {"serious": True, "seriousness_criteria": ["hospitalisation"]}
    refused: list[tuple[dict[str, Any], datetime | None, str]] = [
        ({"serious": True}, None, "without seriousness criteria"),
        ({"serious": True, "seriousness_criteria": [""]}, None, "not a list of words"),
        ({"serious": "yes", "seriousness_criteria": ["death"]}, None, "not true or false"),
        (serious, datetime.now(UTC) + timedelta(days=1), "is in the future"),
        (serious, aware_at - timedelta(hours=1), "before the team learnt of the event"),
        ({"severity": "severe"}, aware_at + timedelta(hours=1), "not made serious"),
        (
            serious | {"outcome": "fatal", "end_date": day},
            None,
            r"do not include 'death'",
        ),
    ]
    for changes, became, message in refused:
        with pytest.raises(InputError, match=message):
            sv.update_adverse_event(
                e, inv, ae.id, changes=changes, reason="worse", became_serious_at=became
            )
    (stored,) = sv.list_adverse_events(e, inv, pid)
    assert (stored.serious, stored.severity, stored.outcome, stored.became_serious_at) == (
        False,
        "moderate",
        "unknown",
        None,
    )
    assert stored.sae_report_due_at is None
    assert _alert_rows(oslo, ae.id) == []
    assert _audit(oslo, ae.id) == {}


def test_a_death_after_the_event_upgrades_it_with_the_criterion_death(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    ae = sv.record_adverse_event(
        oslo.engine, oslo.therapist, pid, **EVENT, onset_date=day, awareness_at=at(day, 9)
    )
    sae = sv.update_adverse_event(
        oslo.engine,
        oslo.investigator,
        ae.id,
        changes={
            "serious": True,
            "seriousness_criteria": ["death"],
            "outcome": "fatal",
            "end_date": day,
        },
        reason="died; the family called",
    )
    assert (sae.serious, sae.outcome, sae.end_date) == (True, "fatal", day)
    assert [a.rule_id for a in sae.alerts] == ["sae"]


def test_a_serious_event_is_never_made_non_serious_by_an_edit(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    e, inv = oslo.engine, oslo.investigator
    sae = sv.record_adverse_event(
        e, oslo.therapist, pid, **EVENT, onset_date=day, awareness_at=at(day, 9),
        serious=True, seriousness_criteria=["hospitalisation"],
    )  # fmt: skip
    with pytest.raises(InputError, match="is recorded as serious") as refused:
        sv.update_adverse_event(
            e, inv, sae.id, changes={"serious": False}, reason="was not really serious"
        )
    assert "serious=False was given" in str(refused.value)
    assert "stays serious" in str(refused.value)  # expected
    assert "close its SAE alert with a note" in str(refused.value)  # what to do
    with pytest.raises(InputError, match="without seriousness criteria"):
        sv.update_adverse_event(
            e, inv, sae.id, changes={"seriousness_criteria": []}, reason="no criteria"
        )
    (stored,) = sv.list_adverse_events(e, inv, pid)
    assert (stored.serious, stored.seriousness_criteria) == (True, ("hospitalisation",))
    assert [(a.rule_id, a.status) for a in stored.alerts] == [("sae", "open")]
    assert [a.id for a in sv.list_overdue_saes(e, inv, now=at(day, 9) + timedelta(days=2))] == [
        sae.id
    ]
    # adding a criterion to a serious event is an ordinary audited change: no second alert
    worse = sv.update_adverse_event(
        e,
        inv,
        sae.id,
        changes={"serious": True, "seriousness_criteria": ["hospitalisation", "disability"]},
        reason="lasting disability",
    )
    assert worse.seriousness_criteria == ("hospitalisation", "disability")
    assert worse.became_serious_at is None
    assert [a.rule_id for a in worse.alerts] == ["sae"]


def test_an_ended_outcome_without_an_end_date_is_refused_at_record(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    e, therapist = oslo.engine, oslo.therapist
    death = {"serious": True, "seriousness_criteria": ["death"]}
    refused: list[tuple[dict[str, Any], str]] = [
        ({"outcome": "recovered"}, "outcome recovered but no end date"),
        ({"outcome": "recovered_with_sequelae"}, "outcome recovered_with_sequelae but no end"),
        ({"outcome": "fatal", **death}, "outcome fatal but no end date"),
        ({"outcome": "recovering", "end_date": day}, "still going on"),
        ({"outcome": "not_recovered", "end_date": day}, "still going on"),
        ({"outcome": "recovered", "end_date": day - timedelta(days=1)}, "is before onset"),
        (
            {"outcome": "fatal", "end_date": day, "serious": True,
             "seriousness_criteria": ["hospitalisation"]},
            "do not include 'death'",
        ),
    ]  # fmt: skip
    for given, message in refused:
        with pytest.raises(InputError, match=message):
            sv.record_adverse_event(e, therapist, pid, **EVENT, onset_date=day, **given)
    assert sv.list_adverse_events(e, oslo.investigator, pid) == []
    with Session(e) as session:
        assert session.scalars(select(Alert).where(Alert.rule_id == "sae")).all() == []
    for given in (
        {"outcome": "recovered", "end_date": day},
        {"outcome": "fatal", "end_date": day + timedelta(days=3), **death},
        {"outcome": "recovering"},
        {"outcome": "unknown", "end_date": day},
        {"outcome": "unknown"},
    ):
        sv.record_adverse_event(e, therapist, pid, **EVENT, onset_date=day, **given)
    assert len(sv.list_adverse_events(e, oslo.investigator, pid)) == 5


def test_an_ended_outcome_without_an_end_date_is_refused_at_update(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    e, inv = oslo.engine, oslo.investigator
    ae = sv.record_adverse_event(e, oslo.therapist, pid, **EVENT, onset_date=day)
    refused: list[tuple[dict[str, Any], str]] = [
        ({"outcome": "recovered"}, "outcome recovered but no end date"),
        ({"outcome": "recovered", "end_date": None}, "outcome recovered but no end date"),
        ({"outcome": "recovering", "end_date": day}, "still going on"),
        ({"outcome": "recovered", "end_date": day - timedelta(days=1)}, "is before onset"),
    ]
    for changes, message in refused:
        with pytest.raises(InputError, match=message):
            sv.update_adverse_event(e, inv, ae.id, changes=changes, reason="follow-up")
    (stored,) = sv.list_adverse_events(e, inv, pid)
    assert (stored.outcome, stored.end_date) == ("unknown", None)
    assert _audit(oslo, ae.id) == {}
    resolved = sv.update_adverse_event(
        e, inv, ae.id, changes={"outcome": "recovered", "end_date": day}, reason="resolved"
    )
    assert (resolved.outcome, resolved.end_date) == ("recovered", day)
    # the stored end date counts: an ongoing outcome needs it cleared, an ended one keeps it
    with pytest.raises(InputError, match="still going on"):
        sv.update_adverse_event(e, inv, ae.id, changes={"outcome": "recovering"}, reason="back")
    with pytest.raises(InputError, match="outcome recovered but no end date"):
        sv.update_adverse_event(e, inv, ae.id, changes={"end_date": None}, reason="unknown end")
    back = sv.update_adverse_event(
        e, inv, ae.id, changes={"outcome": "recovering", "end_date": None}, reason="it is back"
    )
    assert (back.outcome, back.end_date) == ("recovering", None)
