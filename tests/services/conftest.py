"""An initialised Oslo trial (protocol, site OST, one user per role) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func, select

from remit.protocol import Protocol, load_protocol
from remit.services import add_user, create_trial
from remit.store import Actor
from remit.store.tables import Base

PASSWORD = "correct horse battery staple"

#: Screening data that pass every Oslo criterion.
ELIGIBLE = {
    "age_years": 41,
    "mdd_dsm5": True,
    "episode_weeks": 30,
    "madrs_total": 31,
    "psychosis": False,
    "bipolar_i": False,
    "personality_disorder": False,
    "substance_use_disorder": False,
    "cardiovascular_disease": False,
    "lives_within_1h": True,
    "systolic_bp": 128,
    "cssrs_ideation_type": 1,
}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A UTC time on ``day``."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def madrs(total_each: int = 3, item10: int = 1) -> dict[str, int]:
    """MADRS answers: items 1–9 ``total_each``, item 10 ``item10``."""
    return {str(i): total_each for i in range(1, 10)} | {"10": item10}


def cssrs_none(version: str = "since_last_visit") -> dict[str, object]:
    """A C-SSRS with no ideation and no behaviour."""
    suffix = "_lifetime" if version == "baseline" else ""
    answers: dict[str, object] = {
        f"wish_to_be_dead{suffix}": False,
        f"non_specific_active_thoughts{suffix}": False,
    }
    return answers


@dataclass(frozen=True)
class OsloTrial:
    """The engine, the protocol and one actor per role (all at site OST, some study-wide)."""

    engine: Engine
    protocol: Protocol
    admin: Actor
    investigator: Actor
    therapist: Actor
    rater: Actor
    monitor: Actor
    data_manager: Actor
    statistician: Actor


@pytest.fixture
def oslo(engine: Engine, fast_password_hashing: None) -> OsloTrial:
    protocol = load_protocol("oslo-mdma-mdd")
    trial = create_trial(
        engine, protocol, sites=["OST"], admin_username="ada", admin_password=PASSWORD
    )
    admin = Actor(trial.admin.id, "ada", "admin", None)
    actors: dict[str, Actor] = {}
    for name, role, site in [
        ("kari", "investigator", "OST"),
        ("tor", "therapist", "OST"),
        ("rita", "independent_rater", "OST"),
        ("mona", "monitor", None),
        ("dag", "data_manager", None),
        ("siri", "statistician", None),
    ]:
        user = add_user(engine, admin, name, PASSWORD, [(role, site)])
        site_id = 1 if site else None
        actors[role] = Actor(user.id, name, role, site_id)
    return OsloTrial(
        engine=engine,
        protocol=protocol,
        admin=admin,
        investigator=actors["investigator"],
        therapist=actors["therapist"],
        rater=actors["independent_rater"],
        monitor=actors["monitor"],
        data_manager=actors["data_manager"],
        statistician=actors["statistician"],
    )


def count_all(engine: Engine) -> dict[str, int]:
    """Rows per table (every table, audit trail included)."""
    with engine.connect() as connection:
        return {
            name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in Base.metadata.tables.items()
        }


@pytest.fixture
def rows(engine: Engine) -> Callable[[], dict[str, int]]:
    """``rows()``: rows per table now."""
    return lambda: count_all(engine)


def fill(scale: str, version: str | None = None, level: int = 1) -> dict[str, object]:
    """Valid answers to every item of a scale: numbers at ``level`` (within range), booleans
    no, choices their first option, PSQI times at night and morning; skipped items blank."""
    from remit.scales import load_scale

    definition = load_scale(scale)
    answers: dict[str, object] = {}
    for item in definition.items_for(version):
        if item.skip_when is not None or item.kind == "text":
            continue
        if item.kind in ("integer", "number"):
            low = item.min if item.min is not None else 0
            high = item.max if item.max is not None else low + level
            value = min(max(low, level), high)
            answers[item.code] = int(value) if item.kind == "integer" else float(value)
        elif item.kind == "boolean":
            answers[item.code] = False
        elif item.kind == "choice":
            answers[item.code] = next(iter(item.options))
        elif item.kind == "time":
            answers[item.code] = "23:00" if "bed" in item.code else "07:00"
    if scale == "psqi":
        answers["latency_minutes"] = 20.0
        answers["hours_asleep"] = 7.0
    if scale == "sds":
        answers["work_school"] = level
    return answers


REFERRAL = date(2023, 1, 2)


def enrolled(oslo: OsloTrial, through: str = "V4", *, forms: bool = False) -> str:
    """Screen, enrol and take a participant through the visits up to ``through`` (on target).

    With ``forms`` the C-SSRS baseline at SCR is entered too. Returns the study ID.
    """
    from remit import services as sv

    inv = oslo.investigator
    pid = sv.screen_participant(
        oslo.engine, inv, sex="male", birth_year=1980, identity={"name": "Ola Nordmann"}
    ).participant_id
    sv.set_anchor_date(oslo.engine, inv, pid, "referral", REFERRAL)
    for code in oslo.protocol.visit_codes:
        target = {v.visit_code: v for v in sv.list_visits(oslo.engine, inv, pid)}[code].target_date
        assert target is not None
        sv.record_visit(oslo.engine, inv, pid, code, target)
        if code == "SCR":
            sv.check_eligibility(oslo.engine, inv, pid, ELIGIBLE)
            if forms:
                sv.record_assessment(
                    oslo.engine,
                    inv,
                    pid,
                    "SCR",
                    "cssrs",
                    fill("cssrs", "baseline"),
                    version="baseline",
                )
        if code == "V0":
            sv.enrol(oslo.engine, inv, pid)
        if code == through:
            return pid
    return pid


def visit_date(oslo: OsloTrial, pid: str, code: str) -> date:
    """The actual (else target) date of a participant's visit."""
    from remit import services as sv

    visit = {v.visit_code: v for v in sv.list_visits(oslo.engine, oslo.investigator, pid)}[code]
    found = visit.actual_date or visit.target_date
    assert found is not None
    return found
