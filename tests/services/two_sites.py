"""A trial at two sites (OST and OUS) with enrolled participants and MADRS at V3 and V13, and
statisticians bound to one site or study-wide: for the tests of authorised, audited reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, select
from tests.services.conftest import ELIGIBLE, PASSWORD, madrs

from remit import services as sv
from remit.protocol import Protocol, load_protocol
from remit.protocol.loader import parse_protocol
from remit.store import Actor
from remit.store.tables import IdentityAccessLog

#: Where the participants are screened, in order (OSL-001 … OSL-004).
SITES = ("OST", "OUS", "OUS", "OUS")


def two_site_protocol() -> Protocol:
    """The Oslo protocol with a second site, OUS (site id 2)."""
    text = load_protocol("oslo-mdma-mdd").text.replace(
        'sites = [{ code = "OST", name = "Østfold Hospital Trust", country = "NO" }]',
        'sites = [{ code = "OST", name = "Østfold Hospital Trust", country = "NO" }, '
        '{ code = "OUS", name = "Oslo University Hospital", country = "NO" }]',
    )
    protocol, problems = parse_protocol(text)
    assert protocol is not None, problems
    return protocol


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
    protocol = two_site_protocol()
    trial = sv.create_trial(engine, protocol, admin_username="ada", admin_password=PASSWORD)
    admin = Actor(trial.admin.id, "ada", "admin", None)
    for name, role, site in [
        ("kari", "investigator", None),
        ("rita", "independent_rater", None),
        ("stine", "statistician", "OUS"),
        ("siri", "statistician", None),
    ]:
        sv.add_user(engine, admin, name, PASSWORD, [(role, site)])
    inv, rater = sv.actor_for(engine, "kari"), sv.actor_for(engine, "rita")
    by_site: dict[str, list[str]] = {}
    for n, site in enumerate(SITES):
        pid = sv.screen_participant(engine, inv, site=site, sex="female", birth_year=1980)
        by_site.setdefault(site, []).append(pid.participant_id)
        sv.set_anchor_date(engine, inv, pid.participant_id, "referral", date(2024, 1, 8))
        for code in protocol.visit_codes:
            visits = sv.list_visits(engine, inv, pid.participant_id)
            target = {v.visit_code: v for v in visits}[code].target_date
            assert target is not None
            sv.record_visit(engine, inv, pid.participant_id, code, target)
            if code == "SCR":
                sv.check_eligibility(engine, inv, pid.participant_id, ELIGIBLE)
            if code == "V0":
                sv.enrol(engine, inv, pid.participant_id)
                if not forms:
                    break
            if code in ("V3", "V13"):
                answers = madrs(5 if code == "V3" else 1 + n % 3, 1)
                sv.record_assessment(engine, rater, pid.participant_id, code, "madrs", answers)
            if code == "V13":
                break
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
