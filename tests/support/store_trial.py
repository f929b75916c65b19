"""A small trial written with :mod:`remit.store` only, for the tests of the store itself (the
layer below :mod:`remit.services`, so not made by :mod:`tests.support.trial`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from tests.support.trial import PASSWORD

from remit.store import (
    Actor,
    add_site,
    add_user,
    create_study,
    store_protocol_version,
    unit_of_work,
)
from remit.store.tables import Base, Participant


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


def store_trial(engine: Engine) -> Trial:
    """Study, protocol version, sites OSL and BGO and five users, written with the store only."""
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
