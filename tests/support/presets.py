"""Named trials made by the factory of :mod:`tests.support.trial`, for suites that share one.

- :data:`SMALL_TRIAL` — three participants with every kind of data (the export tests).
- :func:`web_trial` — one enrolled participant ready for data entry, one in screening (the web
  tests).
- :func:`import_target` — an empty trial whose one user holds the data-entry roles (the import
  tests).
- :func:`two_site_protocol` — the Oslo protocol with a second site, OUS.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from tests.support.forms import at
from tests.support.trial import REFERRAL, Correction, Participant, build_trial, stage

from remit.protocol import Protocol, load_protocol
from remit.protocol.loader import parse_protocol
from remit.store import Actor, make_engine, upgrade

#: Every identity value of :data:`SMALL_TRIAL` (the export tests check none leaks).
IDENTITY = {
    "OSL-001": {
        "name": "Kari Nordmann",
        "national_id": "01018312345",
        "contact": "kari@example.no",
    },
    "OSL-002": {"name": "Ola Tveiten", "national_id": "02028054321", "contact": "+47 912 34 567"},
    "OSL-003": {"name": "Siv Haugland", "national_id": "03037711223", "contact": "siv@example.no"},
}


def _referral(level: int) -> date:
    return REFERRAL + timedelta(days=3 * level)


#: ``OSL-001`` to the last follow-up with every form (MADRS level 4, improving from V13), both
#: dosing days, a headache at V5 and its V13 MADRS corrected; ``OSL-002`` to V6 with its
#: supplemental dose withheld, then withdrawn; ``OSL-003`` ineligible at screening (psychosis).
SMALL_TRIAL = (
    stage(
        "dosed",  # through every visit, still on study
        through="FU7",
        improved_from="V13",
        level=4,
        adverse_events=("V5",),
        corrections=(
            Correction(
                "V13", "madrs", {"apparent_sadness": 3}, "rater corrected item 1 after source check"
            ),
        ),
        sex="female",
        birth_year=1983,
        identity=IDENTITY["OSL-001"],
        referral=_referral(4),
        screened_at=at(_referral(4), 12),
    ),
    stage(
        "dosed",
        through="V6",
        level=3,
        withhold_supplemental=True,
        withdrawn="moved abroad",
        identity=IDENTITY["OSL-002"],
        referral=_referral(3),
        screened_at=at(_referral(3), 12),
    ),
    stage(
        "ineligible",
        forms="all",
        level=2,
        sex="female",
        birth_year=1977,
        identity=IDENTITY["OSL-003"],
        referral=_referral(2),
        screened_at=at(_referral(2), 12),
    ),
)


def web_trial(today: date) -> tuple[Participant, ...]:
    """``OSL-001`` registered and consented, referred 42 days before ``today`` (the web
    tests' fixture then screens and enrols it and records its visits up to V2 so that V3
    falls due today: forms are refused for a visit not reached); ``OSL-002`` screened."""
    return (
        Participant(
            through=None,
            enrol=False,
            sex="female",
            birth_year=1983,
            identity={"name": "Kari Nordmann", "national_id": "01018312345"},
            screened_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
            referral=today - timedelta(days=42),  # the walk to V2 fits the windows
            consented_at=datetime(2026, 1, 5, 9, tzinfo=UTC),  # at registration
        ),
        stage("screened", birth_year=1990),
    )


#: The date of ``OSL-001``'s first dosing day (V5) in :func:`web_dosing_trial`.
DOSING_DAY = date(2026, 3, 2)


def web_dosing_trial(day: date = DOSING_DAY, *, confirmed: bool = True) -> tuple[Participant, ...]:
    """:func:`web_trial` a dosing day on: ``OSL-001`` screened, enrolled, through V4 on the
    target dates and (if ``confirmed``) confirmed there with a baseline MADRS of 28 at V3, so
    that its first dosing day V5 falls on ``day`` (59 days after the referral); ``OSL-002``
    screened."""
    return (
        Participant(
            through="V4",
            sex="female",
            birth_year=1983,
            identity={"name": "Kari Nordmann", "national_id": "01018312345"},
            screened_at=at(day - timedelta(days=64), 9),
            referral=day - timedelta(days=59),
            consented_at=at(day - timedelta(days=64), 9),
            confirm=confirmed,
        ),
        stage("screened", birth_year=1990),
    )


#: The roles that enter data (what an import needs).
ENTRY_ROLES = ("investigator", "therapist", "independent_rater")


def import_target(path: Path) -> tuple[Engine, dict[str, Actor]]:
    """A fresh SQLite trial (Oslo, site OST, no participant) at ``path`` whose one user ``imp``
    holds the three entry roles: where the import tests load an export. Returns the engine
    (the caller disposes it) and ``imp``'s actor per role."""
    engine = make_engine(path)
    upgrade(engine)
    trial = build_trial(engine, staff={"imp": [(role, "OST") for role in ENTRY_ROLES]})
    return engine, {role: trial.actors[role] for role in ENTRY_ROLES}


def two_site_protocol() -> Protocol:
    """The Oslo protocol with a second site, OUS (site id 2)."""
    text = load_protocol("oslo-mdma-mdd").text.replace(
        'sites = [{ code = "OST", name = "Østfold Hospital Trust", country = "NO", '
        'time_zone = "Europe/Oslo" }]',
        'sites = [{ code = "OST", name = "Østfold Hospital Trust", country = "NO", '
        'time_zone = "Europe/Oslo" }, '
        '{ code = "OUS", name = "Oslo University Hospital", country = "NO", '
        'time_zone = "Europe/Oslo" }]',
    )
    assert "OUS" in text, "the site line of the Oslo protocol changed: update two_site_protocol"
    protocol, problems = parse_protocol(text)
    assert protocol is not None, problems
    return protocol
