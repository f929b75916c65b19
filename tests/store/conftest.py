"""A small trial (study, protocol, site, users) in a fresh database, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, func, select

from remit.store import (
    Actor,
    add_site,
    add_user,
    create_study,
    store_protocol_version,
    unit_of_work,
)
from remit.store.tables import AuditEvent, Base, Participant

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Trial:
    """Ids and actors of the test trial."""

    engine: Engine
    study_id: int
    protocol_version_id: int
    site_id: int
    other_site_id: int
    investigator: Actor
    rater: Actor
    admin: Actor
    monitor: Actor
    other_site_investigator: Actor

    def add_participant(self, study_id: str = "OSL-001", **values: object) -> int:
        with unit_of_work(self.engine, self.investigator) as uow:
            participant = Participant(study_id=study_id, site_id=self.site_id, **values)
            uow.add(participant)
            uow.flush()
            return participant.id


@pytest.fixture(autouse=True)
def _fast_hashing(fast_password_hashing: None) -> None:
    """Store tests create many users: cheap argon2 parameters (test_users checks the real ones)."""


@pytest.fixture
def trial(engine: Engine) -> Trial:
    with unit_of_work(engine, Actor.system()) as uow:
        study = create_study(uow, "OSL", "MDMA-assisted therapy for MDD")
        protocol = store_protocol_version(
            uow, study, name="oslo-mdma-mdd", version="1.0", text='name = "oslo"\n'
        )
        site = add_site(uow, study, "OSL", "Oslo University Hospital")
        other = add_site(uow, study, "BGO", "Bergen")
        users = {
            name: add_user(uow, name, PASSWORD, [(role, site_id)])
            for name, role, site_id in [
                ("kari", "investigator", site.id),
                ("rita", "independent_rater", site.id),
                ("ada", "admin", None),
                ("mona", "monitor", None),
                ("bjorn", "investigator", other.id),
            ]
        }
    return Trial(
        engine=engine,
        study_id=study.id,
        protocol_version_id=protocol.id,
        site_id=site.id,
        other_site_id=other.id,
        investigator=Actor(users["kari"].id, "kari", "investigator", site.id),
        rater=Actor(users["rita"].id, "rita", "independent_rater", site.id),
        admin=Actor(users["ada"].id, "ada", "admin", None),
        monitor=Actor(users["mona"].id, "mona", "monitor", None),
        other_site_investigator=Actor(users["bjorn"].id, "bjorn", "investigator", other.id),
    )


def count_rows(engine: Engine, table: type[Base]) -> int:
    """Rows in ``table``."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def rows(engine: Engine) -> Callable[[type[Base]], int]:
    """``rows(Table)``: how many rows the table holds now."""
    return lambda table: count_rows(engine, table)


@pytest.fixture
def audit_rows(engine: Engine) -> Callable[[], int]:
    """``audit_rows()``: how many rows the audit trail holds now."""
    return lambda: count_rows(engine, AuditEvent)
