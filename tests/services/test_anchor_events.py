"""Event (anchor) dates live in ``participant_event``, audited; never in ``visit``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.db import count_all
from tests.support.trial import PASSWORD, REFERRAL, OsloTrial, enrolled

from remit import services as sv
from remit.errors import InputError, LockedError
from remit.store import (
    audit_log,
    replay_audit,
    snapshot_tables,
    unit_of_work,
    verify_audit_chain,
)
from remit.store.tables import ParticipantEvent, Signature, Visit


def _events(oslo: OsloTrial) -> list[ParticipantEvent]:
    with Session(oslo.engine) as session:
        return list(session.scalars(select(ParticipantEvent).order_by(ParticipantEvent.id)))


def _no_event_code_in_visit(oslo: OsloTrial) -> None:
    events = {e.code for e in oslo.protocol.events}
    with Session(oslo.engine) as session:
        codes = set(session.scalars(select(Visit.visit_code)))
    assert codes, "the schedule made visit rows"
    assert codes <= set(oslo.protocol.visit_codes)
    assert not codes & events


def test_an_anchor_date_lands_in_participant_event_audited(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = sv.screen_participant(e, inv, sex="female").participant_id
    visits = sv.set_anchor_date(e, inv, pid, "referral", REFERRAL)

    [event] = _events(oslo)
    assert (event.event_code, event.event_date) == ("referral", REFERRAL)
    assert event.protocol_version_id is not None
    assert event.recorded_at is not None
    _no_event_code_in_visit(oslo)
    assert [v.visit_code for v in visits] == list(oslo.protocol.visit_codes[: len(visits)])
    assert {v.visit_code: v.target_date for v in visits}["PHONE"] is not None
    assert sv.anchor_dates(e, inv, pid) == {"referral": REFERRAL}

    trail = audit_log(e, pid, table="participant_event")
    fields = {entry.field: entry for entry in trail}
    assert {entry.action for entry in trail} == {"insert"}
    assert fields["event_date"].new_value == REFERRAL.isoformat()
    assert fields["event_code"].new_value == "referral"
    assert (fields["event_date"].username, fields["event_date"].role) == ("kari", "investigator")
    assert verify_audit_chain(e).ok
    assert replay_audit(e) == snapshot_tables(e)


def test_changing_an_event_date_needs_a_reason_and_is_audited(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "PHONE")
    e, inv = oslo.engine, oslo.investigator
    before = count_all(e)
    with pytest.raises(InputError, match="already 2023-01-02"):
        sv.set_anchor_date(e, inv, pid, "referral", REFERRAL + timedelta(days=1), reason="  ")
    assert count_all(e) == before  # nothing written
    same = sv.set_anchor_date(e, inv, pid, "referral", REFERRAL)  # the same date: no change
    assert count_all(e) == before
    assert same == sv.list_visits(e, inv, pid)

    [event] = _events(oslo)
    signature = sv.sign(
        e, inv, "participant_event", event.id, password=PASSWORD, meaning="approved"
    )
    sv.set_anchor_date(e, inv, pid, "referral", REFERRAL + timedelta(days=1), reason="typo")
    [changed] = _events(oslo)
    assert changed.event_date == REFERRAL + timedelta(days=1)
    assert changed.recorded_at > event.recorded_at
    update = [
        entry
        for entry in audit_log(e, pid, table="participant_event")
        if entry.action == "update" and entry.field == "event_date"
    ]
    assert [(u.old_value, u.new_value, u.reason) for u in update] == [
        (REFERRAL.isoformat(), (REFERRAL + timedelta(days=1)).isoformat(), "typo")
    ]
    with Session(e) as session:
        voided = session.get_one(Signature, signature.id)
    assert voided.voided_at is not None
    assert voided.void_reason is not None
    assert "typo" in voided.void_reason
    _no_event_code_in_visit(oslo)
    assert replay_audit(e) == snapshot_tables(e)


def test_the_store_itself_refuses_an_unexplained_event_change(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = sv.screen_participant(e, inv, sex="male").participant_id
    sv.set_anchor_date(e, inv, pid, "referral", REFERRAL)
    [event] = _events(oslo)
    with (
        pytest.raises(InputError, match=r"event_date of participant_event \d+ needs a reason"),
        unit_of_work(e, inv) as uow,
    ):
        uow.session.get_one(ParticipantEvent, event.id).event_date = REFERRAL + timedelta(2)
    with (
        pytest.raises(InputError, match=r"deleting participant_event \d+ needs a reason"),
        unit_of_work(e, inv) as uow,
    ):
        uow.session.delete(uow.session.get_one(ParticipantEvent, event.id))
    assert _events(oslo)[0].event_date == REFERRAL


def test_a_locked_event_record_cannot_change(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = sv.screen_participant(e, inv, sex="male").participant_id
    sv.set_anchor_date(e, inv, pid, "referral", REFERRAL)
    [event] = _events(oslo)
    sv.lock(
        e,
        oslo.data_manager,
        "form",
        record_table="participant_event",
        record_id=event.id,
        reason="source verified",
    )
    with pytest.raises(LockedError, match=f"participant_event {event.id} is locked"):
        sv.set_anchor_date(e, inv, pid, "referral", REFERRAL + timedelta(days=1), reason="typo")
    assert _events(oslo)[0].event_date == REFERRAL


def test_build_trial_data_visits_are_visits(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "SCR")
    data = sv.build_trial_data(oslo.engine, actor=oslo.statistician)
    mine = data.visits[data.visits["participant_id"] == pid]
    assert list(mine["visit_code"]) == list(oslo.protocol.visit_codes[: len(mine)])
    assert "referral" not in set(data.visits["visit_code"])
