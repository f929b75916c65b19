"""The services facade the outer layers use instead of the store: opening and creating a
database, who acts, logging in, the audit trail and the dosing day."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.forms import at
from tests.support.predose import ready_for_dose
from tests.support.trial import PASSWORD, OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError, NotFoundError, PermissionDeniedError, StoreError
from remit.protocol import load_protocol

NORMAL = {"values": {"systolic_bp": 125, "diastolic_bp": 80, "heart_rate": 72, "temperature": 36.8}}


# --- the database ----------------------------------------------------------------------------


def test_open_database_refuses_a_missing_file_and_an_unmigrated_one(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(InputError, match="there is no SQLite database"):
        sv.open_database(missing)
    assert not missing.exists()

    empty = sv.open_database(missing, must_exist=False, require_migrated=False)
    assert sv.database_revision(empty) is None
    sv.close_database(empty)
    with pytest.raises(StoreError, match="remit db upgrade"):
        sv.open_database(missing)  # the file exists now, without tables


def test_create_database_migrates_to_the_head_and_open_database_accepts_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "trial.db"
    engine = sv.create_database(path)
    assert sv.database_revision(engine) == sv.head_revision()
    sv.close_database(engine)
    again = sv.open_database(path)
    assert sv.upgrade_database(again) == sv.head_revision()  # repeating is harmless
    sv.close_database(again)


def _synchronous(engine: sv.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA synchronous").scalar_one())


def test_a_throw_away_database_writes_without_sync_only_while_its_engine_lives(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo.db"
    fast = sv.create_database(path, durable=False)
    assert _synchronous(fast) == 0  # OFF
    sv.close_database(fast, checkpoint=True)
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # the file alone holds everything
    durable = sv.open_database(path)
    assert _synchronous(durable) == 2  # FULL, the store's setting
    sv.close_database(durable)


def test_census_counts_real_and_simulated_participants(
    tmp_path: Path, fast_password_hashing: None
) -> None:
    engine = sv.create_database(tmp_path / "trial.db")
    try:
        assert sv.database_census(engine) == sv.DatabaseCensus(None, 0, 0)
        sv.create_trial(
            engine, load_protocol("oslo-mdma-mdd"), admin_username="ada", admin_password=PASSWORD
        )
        inv = _user(engine, "ingrid", [("investigator", None)])
        sv.screen_participant(engine, inv, sex="female", birth_year=1980)
        sv.screen_participant(engine, inv, sex="male", birth_year=1975, simulated=True)
        sv.screen_participant(engine, inv, sex="male", birth_year=1990, simulated=True)
        census = sv.database_census(engine)
    finally:
        sv.close_database(engine)
    assert (census.first_user, census.participants, census.simulated_participants) == (
        "ada",
        3,
        2,
    )
    assert census.real_participants == 1
    assert census.to_dict() == {"first_user": "ada", "participants": 3, "simulated_participants": 2}


def _user(engine: sv.Engine, name: str, roles: list[tuple[str, str | None]]) -> sv.Actor:
    admin = sv.actor_for(engine, "ada")
    sv.add_user(engine, admin, name, PASSWORD, roles)
    return sv.actor_for(engine, name, roles[0][0], roles[0][1])


# --- who acts --------------------------------------------------------------------------------


def test_actor_for_chooses_among_the_roles_held(oslo: OsloTrial) -> None:
    e = oslo.engine
    assert sv.actor_for(e, "kari") == oslo.investigator
    eva = _user(e, "eva", [("investigator", "OST"), ("monitor", None)])
    assert (eva.role, eva.site_id) == ("investigator", 1)
    with pytest.raises(PermissionDeniedError, match="several matching roles"):
        sv.actor_for(e, "eva")
    assert sv.actor_for(e, "eva", "monitor").site_id is None
    with pytest.raises(NotFoundError, match="'nobody' does not exist"):
        sv.actor_for(e, "nobody")
    both = sv.actors_for(e, "eva")
    assert {role: (a.username, a.site_id) for role, a in both.items()} == {
        "investigator": ("eva", 1),
        "monitor": ("eva", None),
    }


def test_login_checks_the_password_and_the_role_chosen(oslo: OsloTrial) -> None:
    e = oslo.engine
    assert sv.login(e, "kari", PASSWORD) == oslo.investigator
    with pytest.raises(PermissionDeniedError, match="unknown username, wrong password"):
        sv.login(e, "kari", "not the password at all")
    with pytest.raises(PermissionDeniedError, match="unknown username, wrong password"):
        sv.login(e, "nobody", PASSWORD)
    _user(e, "eva", [("investigator", "OST"), ("monitor", None)])
    with pytest.raises(InputError, match="investigator@OST, monitor"):
        sv.login(e, "eva", PASSWORD)
    assert sv.login(e, "eva", PASSWORD, "investigator@OST").site_id == 1
    assert sv.login(e, "eva", PASSWORD, "monitor").role == "monitor"
    with pytest.raises(InputError, match="given therapist"):
        sv.login(e, "eva", PASSWORD, "therapist")


def test_check_password_is_the_acting_users_own(oslo: OsloTrial) -> None:
    assert sv.check_password(oslo.engine, oslo.investigator, PASSWORD)
    assert not sv.check_password(oslo.engine, oslo.investigator, "not the password at all")
    impostor = sv.Actor(oslo.monitor.user_id, "kari", "investigator", 1)  # kari's name, not id
    assert not sv.check_password(oslo.engine, impostor, PASSWORD)


# --- the audit trail -------------------------------------------------------------------------


def test_audit_history_of_a_record_is_access_checked(oslo: OsloTrial) -> None:
    e = oslo.engine
    pid = enrolled(oslo, "V0")
    participant = sv.get_participant(e, oslo.monitor, pid)
    history = sv.audit_history(e, oslo.monitor, "participant", participant.id)
    assert history
    assert {h.record_id for h in history} == {participant.id}
    assert history == sv.audit_log(e, table="participant", record_id=participant.id)
    # rows about no participant (the site) are shown study-wide, never to a site-bound user
    assert sv.audit_history(e, oslo.monitor, "site", 1)
    assert sv.audit_history(e, oslo.investigator, "site", 1) == []
    with pytest.raises(PermissionDeniedError, match="not shown in the web app"):
        sv.audit_history(e, oslo.monitor, "participant_identity", 1)


def test_the_audit_chain_verifies_through_the_facade(oslo: OsloTrial) -> None:
    enrolled(oslo, "V0")
    result = sv.verify_audit_chain(oslo.engine)
    assert result.ok
    assert len(sv.audit_log(oslo.engine)) > 0


# --- the dosing day --------------------------------------------------------------------------


def test_dosing_day_lists_doses_and_vital_signs(oslo: OsloTrial) -> None:
    e, inv, the = oslo.engine, oslo.investigator, oslo.therapist
    pid = enrolled(oslo, "V5")
    day = visit_date(oslo, pid, "V5")
    assert sv.dosing_day(e, oslo.monitor, pid, "V5") == sv.DosingDay((), ())
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8, 30))
    sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 8, 45), **NORMAL)
    ready_for_dose(e, oslo.protocol, inv, oslo.therapist, pid, "V5", at(day, 8, 55))
    dose = sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))
    sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 9, 30), **NORMAL)
    found = sv.dosing_day(e, oslo.monitor, pid, "V5")
    assert [d.id for d in found.doses] == [dose.id]
    assert [v.measured_at for v in found.vitals] == [at(day, 8, 45), at(day, 9, 30)]
    assert found.to_dict()["doses"][0]["dose_mg"] == 80
    assert sv.dosing_day(e, oslo.monitor, pid, "V99") == sv.DosingDay((), ())
