"""The deviation log: protocol deviations logged by people, listed with Remit's own.

Remit records some deviations itself (out-of-window visits in :mod:`remit.services.visits`,
dose-stop overrides and doses above the cap in :mod:`remit.services.dosing`); people log the
others here with a category of :class:`~remit.protocol.deviation.LoggedDeviationCategory`, a
severity and a description. Both are rows of ``protocol_deviation`` and one list shows them.

A missed vital-sign or VAS reading of a dosing day is an *alert*
(:mod:`remit.services.safety_sweep`), not a deviation: a reading can be missed for a reason
the protocol allows (the participant asleep, a reading taken late but within the slot), and
whether a missed reading departs from the protocol is the investigator's judgement; one who
judges it so logs it here (category ``procedure``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select

from remit.errors import InputError, NotFoundError, PermissionDeniedError
from remit.protocol.deviation import (
    AUTOMATIC_CATEGORIES,
    DeviationSeverity,
    DeviationSource,
    LoggedDeviationCategory,
)
from remit.services._common import a_date, choice, now_utc, text_given, visit_at, visit_code_of
from remit.services.records import DeviationRecord
from remit.services.unit import reading, writing
from remit.store import Actor
from remit.store.tables import Participant, ProtocolDeviation, Site, Visit


def record_deviation(
    engine: Engine,
    actor: Actor,
    participant: int | str | None,
    *,
    category: str,
    description: str,
    occurred_date: date | None,
    severity: str = DeviationSeverity.MINOR.value,
    visit_code: str | None = None,
    idempotency_key: str | None = None,
) -> DeviationRecord:
    """Log a protocol deviation of a participant (optionally at one of their visits), or a
    study-wide one (``participant=None``, by a study-wide user only).

    ``category`` is a word of :class:`~remit.protocol.deviation.LoggedDeviationCategory`
    (Remit's own categories are recorded by the services that notice them), ``severity``
    ``minor`` or ``major``, ``occurred_date`` the day it happened (not after today). A refused
    entry stores nothing.

    Examples
    --------
    With a trial database (``tests/services/test_deviations.py`` runs this)::

        record_deviation(engine, investigator, "OSL-001", category="procedure",
                         description="MADRS at V5 rated by the therapist", severity="major",
                         occurred_date=date(2024, 3, 4), visit_code="V5")
        # DeviationRecord(..., category='procedure', severity='major', source='manual', ...)
    """
    category = _logged_category(category)
    description = text_given(description, "deviation description")
    severity = choice(severity, DeviationSeverity, "deviation severity")
    if occurred_date is None:
        raise InputError(
            "the date of the deviation is missing",
            expected="the day it happened (YYYY-MM-DD)",
        )
    a_date(occurred_date, "date of the deviation")
    if occurred_date > now_utc().date():
        raise InputError(
            f"date of the deviation {occurred_date} is in the future",
            expected="the day it happened, today or earlier",
        )
    if participant is None and visit_code is not None:
        raise InputError(
            f"a deviation at visit {visit_code} needs the participant",
            expected="a participant's study ID with the visit",
        )
    body = {
        "participant": participant,
        "category": category,
        "description": description,
        "severity": severity,
        "date": occurred_date,
        "visit": visit_code,
    }
    with writing(
        engine,
        actor,
        "record_deviation",
        participant=participant,
        request=body,
        idempotency_key=idempotency_key,
        record_table="protocol_deviation",
    ) as w:
        session, p = w.session, w.participant
        if p is None and actor.site_id is not None:
            raise PermissionDeniedError(
                f"{actor.username} ({actor.role}) works at one site and cannot log a "
                "study-wide deviation",
                expected="a participant of the actor's site, or a study-wide user",
                hint="name the participant the deviation concerns",
            )
        row = w.stored(ProtocolDeviation)
        if row is None:
            visit_id = (
                None if (p is None or visit_code is None) else visit_at(session, p, visit_code).id
            )
            row = ProtocolDeviation(
                participant_id=p.id if p else None,
                visit_id=visit_id,
                category=category,
                description=description,
                major=severity == DeviationSeverity.MAJOR,
                occurred_date=occurred_date,
                reported_by=actor.user_id,
            )
            w.create(row)
        site = None if p is None else session.get_one(Site, p.site_id).code
        return DeviationRecord.from_row(
            row,
            participant_id=p.study_id if p else None,
            visit_code=visit_code_of(session, row.visit_id),
            site=site,
        )


def _logged_category(category: str | None) -> str:
    text = text_given(category, "deviation category")
    if text in AUTOMATIC_CATEGORIES:
        raise InputError(
            f"deviation category {text!r} is recorded by Remit itself",
            expected="one of " + ", ".join(LoggedDeviationCategory),
            hint="log what happened under one of these categories",
        )
    return choice(text, LoggedDeviationCategory, "deviation category")


def list_deviations(
    engine: Engine,
    actor: Actor,
    *,
    participant: int | str | None = None,
    site: str | None = None,
    category: str | None = None,
    severity: str | None = None,
    source: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[DeviationRecord]:
    """The deviation log, automatic and manual entries together, newest first (by the day
    they happened, then as logged). Filters: participant (study ID), site (code), category,
    severity (``minor``/``major``), source (``automatic``/``manual``) and a range of
    ``occurred_date`` (both ends included). A site-bound user sees only its site's
    participants; study-wide deviations only a study-wide user.

    Examples
    --------
    With a trial database (``tests/services/test_deviations.py`` runs this)::

        list_deviations(engine, monitor, severity="major", source="manual")
        # [DeviationRecord(..., severity='major', source='manual', ...)]
    """
    if severity is not None:
        severity = choice(severity, DeviationSeverity, "deviation severity")
    if source is not None:
        source = choice(source, DeviationSource, "deviation source")
    a_date(date_from, "first date")
    a_date(date_to, "last date")
    if date_from is not None and date_to is not None and date_to < date_from:
        raise InputError(
            f"the last date {date_to} is before the first date {date_from}",
            expected="a first date on or before the last date",
        )
    with reading(engine, actor, "view_deviations", "list_deviations", participant=participant) as r:
        session, p = r.session, r.participant
        sites = {s.id: s.code for s in session.scalars(select(Site))}
        query = (
            select(ProtocolDeviation, Participant)
            .outerjoin(Participant, Participant.id == ProtocolDeviation.participant_id)
            .order_by(
                ProtocolDeviation.occurred_date.desc().nulls_last(), ProtocolDeviation.id.desc()
            )
        )
        if p is not None:
            query = query.where(ProtocolDeviation.participant_id == p.id)
        if actor.site_id is not None:
            query = query.where(Participant.site_id == actor.site_id)
        if site is not None:
            site_id = next((i for i, code in sites.items() if code == site), None)
            if site_id is None:
                raise NotFoundError(
                    f"site {site!r} does not exist",
                    hint="the sites are " + ", ".join(sorted(sites.values())),
                )
            query = query.where(Participant.site_id == site_id)
        if category is not None:
            query = query.where(ProtocolDeviation.category == category)
        if severity is not None:
            query = query.where(ProtocolDeviation.major.is_(severity == DeviationSeverity.MAJOR))
        if source == DeviationSource.AUTOMATIC:
            query = query.where(ProtocolDeviation.category.in_(AUTOMATIC_CATEGORIES))
        if source == DeviationSource.MANUAL:
            query = query.where(ProtocolDeviation.category.not_in(AUTOMATIC_CATEGORIES))
        if date_from is not None:
            query = query.where(ProtocolDeviation.occurred_date >= date_from)
        if date_to is not None:
            query = query.where(ProtocolDeviation.occurred_date <= date_to)
        visits = {
            v.id: v.visit_code
            for v in session.scalars(
                select(Visit).where(
                    Visit.id.in_(
                        select(ProtocolDeviation.visit_id).where(
                            ProtocolDeviation.visit_id.is_not(None)
                        )
                    )
                )
            )
        }
        found = [
            DeviationRecord.from_row(
                d,
                participant_id=None if person is None else person.study_id,
                visit_code=None if d.visit_id is None else visits.get(d.visit_id),
                site=None if person is None else sites.get(person.site_id),
            )
            for d, person in session.execute(query)
        ]
        return r.returning(found)
