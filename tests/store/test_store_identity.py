"""Identity data: readable only by investigators and admins, every attempt logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from remit.errors import NotFoundError, PermissionDeniedError
from remit.store import audit_log, read_identity, set_identity, unit_of_work, verify_audit_chain
from remit.store.tables import AuditEvent, IdentityAccessLog, Participant


def _enrol_with_identity(trial: Any) -> int:
    participant_id = trial.add_participant()
    with unit_of_work(trial.engine, trial.investigator) as uow:
        set_identity(
            uow, participant_id, name="Ola Nordmann", national_id="01019012345", contact="Oslo"
        )
    return participant_id


def _log(trial: Any) -> list[tuple[str, bool, str | None]]:
    with Session(trial.engine) as session:
        return [
            (row.username, row.granted, row.purpose)
            for row in session.scalars(select(IdentityAccessLog).order_by(IdentityAccessLog.id))
        ]


def test_investigator_and_admin_read_identity_and_each_read_is_logged(trial: Any) -> None:
    participant_id = _enrol_with_identity(trial)
    with unit_of_work(trial.engine, trial.investigator) as uow:
        identity = read_identity(uow, "OSL-001", purpose="phone call about visit V3")
    assert (identity.name, identity.national_id, identity.contact) == (
        "Ola Nordmann",
        "01019012345",
        "Oslo",
    )
    with unit_of_work(trial.engine, trial.admin) as uow:
        assert read_identity(uow, participant_id).study_id == "OSL-001"
    assert _log(trial) == [
        ("kari", True, "phone call about visit V3"),
        ("ada", True, None),
    ]
    reads = [e for e in audit_log(trial.engine, "OSL-001") if e.action == "read"]
    assert [(e.username, e.role, e.reason) for e in reads] == [
        ("kari", "investigator", "phone call about visit V3"),
        ("ada", "admin", None),
    ]


def test_a_rater_is_refused_and_the_refusal_is_logged_while_the_rest_rolls_back(
    trial: Any, rows: Callable[[type[Any]], int]
) -> None:
    _enrol_with_identity(trial)
    participants = rows(Participant)

    def attempt() -> None:
        with unit_of_work(trial.engine, trial.rater) as uow:
            uow.add(Participant(study_id="OSL-002", site_id=trial.site_id))
            read_identity(uow, "OSL-001", purpose="curious")

    with pytest.raises(PermissionDeniedError, match=r"rita \(independent_rater\) may not read"):
        attempt()
    assert rows(Participant) == participants  # the rest of the unit of work rolled back
    assert _log(trial) == [("rita", False, "curious")]
    refused = [e for e in audit_log(trial.engine, "OSL-001") if e.action == "read_refused"]
    assert [(e.username, e.role) for e in refused] == [("rita", "independent_rater")]
    assert verify_audit_chain(trial.engine).ok


def test_an_investigator_of_another_site_and_a_monitor_are_refused(trial: Any) -> None:
    _enrol_with_identity(trial)
    for actor in (trial.other_site_investigator, trial.monitor):
        with pytest.raises(PermissionDeniedError), unit_of_work(trial.engine, actor) as uow:
            read_identity(uow, "OSL-001")
    assert _log(trial) == [("bjorn", False, None), ("mona", False, None)]


def test_a_refusal_caught_inside_the_unit_of_work_is_logged_once(trial: Any) -> None:
    _enrol_with_identity(trial)
    with unit_of_work(trial.engine, trial.rater) as uow:
        with pytest.raises(PermissionDeniedError):
            read_identity(uow, "OSL-001")
        uow.add(Participant(study_id="OSL-003", site_id=trial.site_id))
    assert _log(trial) == [("rita", False, None)]


def test_a_read_of_a_missing_identity_is_logged_and_not_found(trial: Any) -> None:
    trial.add_participant()
    with (
        pytest.raises(NotFoundError, match="no identity"),
        unit_of_work(trial.engine, trial.investigator) as uow,
    ):
        read_identity(uow, "OSL-001")
    assert _log(trial) == [("kari", True, None)]


def test_identity_values_never_enter_the_audit_trail(trial: Any) -> None:
    _enrol_with_identity(trial)
    with unit_of_work(trial.engine, trial.investigator, reason="moved") as uow:
        set_identity(uow, "OSL-001", name="Ola Nordmann", contact="Bergen")
    with Session(trial.engine) as session:
        changes = [
            (row.action, row.field, row.old_value, row.new_value)
            for row in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.table_name == "participant_identity")
                .order_by(AuditEvent.id)
            )
            if row.field != "participant_id"
        ]
    redacted = '"[redacted]"'
    assert changes == [
        ("insert", "name", None, redacted),
        ("insert", "national_id", None, redacted),
        ("insert", "contact", None, redacted),
        # the change of contact and the removal of the national ID show, their values do not
        ("update", "national_id", redacted, "null"),
        ("update", "contact", redacted, redacted),
    ]
