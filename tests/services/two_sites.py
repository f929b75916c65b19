"""A trial at two sites (OST and OUS) with enrolled participants and MADRS at V3 and V13, and
statisticians bound to one site or study-wide: for the tests of authorised, audited reads.
Made by the trial factory (:func:`tests.support.trial.build_trial`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, select
from tests.support.presets import two_site_protocol
from tests.support.trial import Participant, build_trial

from remit import services as sv
from remit.store import Actor
from remit.store.tables import IdentityAccessLog

__all__ = ["SITES", "TwoSites", "access_rows", "two_site_protocol", "two_site_trial"]

#: Where the participants are screened, in order (OSL-001 … OSL-004).
SITES = ("OST", "OUS", "OUS", "OUS")


@dataclass(frozen=True)
class TwoSites:
    """The engine, the participants per site and the readers."""

    engine: Engine
    by_site: dict[str, list[str]]
    ous_statistician: Actor
    statistician: Actor
    investigator: Actor


def two_site_trial(engine: Engine, *, forms: bool = True) -> TwoSites:
    """Participants at OST and OUS (:data:`SITES`), enrolled; with ``forms`` taken through V13
    with MADRS at V3 and V13. Users: ``kari`` (investigator, study-wide), ``rita`` (rater),
    ``stine`` (statistician at OUS), ``siri`` (statistician, study-wide)."""
    trial = build_trial(
        engine,
        protocol=two_site_protocol(),
        sites=None,
        staff={
            "kari": [("investigator", None)],
            "rita": [("independent_rater", None)],
            "stine": [("statistician", "OUS")],
            "siri": [("statistician", None)],
        },
        participants=[
            Participant(
                site=site,
                sex="female",
                birth_year=1980,
                referral=date(2024, 1, 8),
                through="V13" if forms else "V0",
                madrs_at={"V3": 5, "V13": 1 + n % 3} if forms else None,
            )
            for n, site in enumerate(SITES)
        ],
    )
    inv = trial.investigator
    by_site: dict[str, list[str]] = {}
    for pid, site in zip(trial.participants, SITES, strict=True):
        by_site.setdefault(site, []).append(pid)
    return TwoSites(
        engine=engine,
        by_site=by_site,
        ous_statistician=sv.actor_for(engine, "stine"),
        statistician=sv.actor_for(engine, "siri"),
        investigator=inv,
    )


def access_rows(engine: Engine, resource: str) -> list[IdentityAccessLog]:
    """The access-log rows of reads of ``resource``, oldest first."""
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        return list(
            session.scalars(
                select(IdentityAccessLog)
                .where(IdentityAccessLog.resource == resource)
                .order_by(IdentityAccessLog.id)
            )
        )
