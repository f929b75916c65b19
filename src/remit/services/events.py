"""Adverse events (an SAE starts its reporting clock), medication and alerts (deviations:
:mod:`remit.services.deviations`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import InputError
from remit.protocol.adverse_event import (
    ENDED_OUTCOMES,
    ONGOING_OUTCOMES,
    ActionTaken,
    AEOutcome,
    Relatedness,
    Severity,
)
from remit.protocol.status import (
    ALERT_FILTERS,
    UNCLOSED,
    UNCLOSED_ALERT_STATUSES,
    AlertStatus,
)
from remit.safety import level_rank, sae_alert, sae_clock
from remit.services._common import (
    a_date,
    alert_record,
    alerts_by_record,
    alerts_of,
    aware,
    check_unlocked,
    choice,
    now_utc,
    plausible_time,
    protocol_in_force,
    store_alerts,
    text_given,
)
from remit.services.blinding import DosingAlerts, PriorScores, SafetyBlind
from remit.services.coding import code_new_record
from remit.services.records import (
    AdverseEventRecord,
    AlertRecord,
)
from remit.services.signing import void_signatures
from remit.services.unit import ParticipantRef, owner_of, reading, writing
from remit.store import Actor
from remit.store.tables import (
    AdverseEvent,
    Alert,
    Participant,
)


def _ae_record(
    session: Session,
    p: Participant,
    ae: AdverseEvent,
    alerts: tuple[AlertRecord, ...] | None = None,
) -> AdverseEventRecord:
    """``ae`` as a record, with its ``alerts`` (read when not given)."""
    return AdverseEventRecord.from_row(
        ae,
        participant_id=p.study_id,
        seriousness_criteria=tuple(ae.seriousness_criteria or ()),
        became_serious_at=ae.became_serious_at,
        alerts=alerts_of(session, p, "adverse_event", ae.id) if alerts is None else alerts,
    )


def record_adverse_event(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    term: str,
    onset_date: date,
    severity: str,
    relatedness: str,
    serious: bool = False,
    seriousness_criteria: Sequence[str] = (),
    outcome: str = "unknown",
    awareness_at: datetime | None = None,
    description: str | None = None,
    end_date: date | None = None,
    action_taken: str | None = None,
    idempotency_key: str | None = None,
) -> AdverseEventRecord:
    """Record an adverse event. A serious one starts the protocol's reporting clock from
    ``awareness_at``: the record carries ``sae_report_due_at`` and an alert due then.

    ``end_date`` is the date the event resolved (SDTM ``AEENDTC``): required with an outcome
    that says the event ended (recovered, recovered with sequelae, fatal: the date of death),
    refused with one that says it goes on (recovering, not recovered) and before the onset
    (see :func:`check_ae_end`); a fatal event is serious with the criterion ``death``.
    ``action_taken`` the action taken with the study treatment because of it (a word of
    :class:`~remit.protocol.adverse_event.ActionTaken`, SDTM ``AEACN``; ``None``: not
    recorded yet)."""
    term = text_given(term, "AE term")
    a_date(onset_date, "onset date")
    a_date(end_date, "end date")
    severity = choice(severity, Severity, "severity")
    relatedness = choice(relatedness, Relatedness, "relatedness")
    outcome = choice(outcome, AEOutcome, "outcome")
    if action_taken is not None:
        action_taken = choice(action_taken, ActionTaken, "action taken with the treatment")
    aware_at = plausible_time(awareness_at, "awareness_at") or now_utc()
    seriousness_criteria = _criteria(seriousness_criteria)
    _check_seriousness(term, serious, seriousness_criteria, outcome)
    check_ae_end(term, onset_date, end_date, outcome)
    body = {
        "participant": participant,
        "term": term,
        "onset_date": onset_date,
        "end_date": end_date,
        "severity": severity,
        "relatedness": relatedness,
        "serious": serious,
        "criteria": list(seriousness_criteria),
        "outcome": outcome,
        "action_taken": action_taken,
        "awareness_at": awareness_at,
        "description": description,
    }
    with writing(
        engine,
        actor,
        "record_adverse_event",
        participant=participant,
        at=aware_at,
        request=body,
        idempotency_key=idempotency_key,
        record_table="adverse_event",
    ) as w:
        uow, session, p = w.uow, w.session, w.p
        if (done := w.stored(AdverseEvent)) is not None:
            return _ae_record(session, p, done)
        alert = sae_alert(w.protocol, aware_at, term=term) if serious else None
        ae = AdverseEvent(
            participant_id=p.id,
            term=term,
            description=description,
            onset_date=onset_date,
            end_date=end_date,
            severity=severity,
            serious=serious,
            seriousness_criteria=list(seriousness_criteria),
            relatedness=relatedness,
            outcome=outcome,
            action_taken=action_taken,
            awareness_at=aware_at,
            sae_report_due_at=alert.due_at if alert else None,
            recorded_by=actor.user_id,
            idempotency_key=idempotency_key,
        )
        uow.add(ae)
        uow.flush()
        if alert is not None:
            store_alerts(uow, p, [alert], "adverse_event", ae.id)
        code_new_record(uow, p.id, "adverse_event", ae.id, term)
        w.remember(ae.id)
        return _ae_record(session, p, ae)


_AE_EDITABLE = frozenset(
    {
        "description",
        "end_date",
        "severity",
        "relatedness",
        "outcome",
        "action_taken",
        "serious",
        "seriousness_criteria",
    }
)


def _criteria(given: Sequence[str] | None) -> list[str]:
    """Seriousness criteria as a list of non-empty words, or :class:`InputError`."""
    if given is None:
        return []
    if isinstance(given, str) or not all(isinstance(c, str) and c.strip() for c in given):
        raise InputError(
            f"seriousness criteria {given!r} are not a list of words",
            expected="a list of criteria, e.g. ['hospitalisation'], ['death']",
        )
    return [c.strip() for c in given]


def _check_seriousness(term: str, serious: bool, criteria: Sequence[str], outcome: str) -> None:
    """A serious event names its seriousness criteria; a fatal one is serious, with ``death``."""
    if serious and not criteria:
        raise InputError(
            f"serious AE {term!r} without seriousness criteria",
            expected="e.g. ['hospitalisation'], ['life_threatening']",
        )
    if outcome == AEOutcome.FATAL and not serious:
        raise _fatal_not_serious(term)
    if outcome == AEOutcome.FATAL and "death" not in criteria:
        raise InputError(
            f"adverse event {term!r} has the outcome fatal but its seriousness criteria "
            f"{list(criteria)} do not include 'death'",
            expected="a fatal adverse event with the seriousness criterion 'death'",
            hint="add 'death' to its seriousness criteria",
        )


def check_ae_end(term: str, onset_date: date, end_date: date | None, outcome: str) -> None:
    """Refuse an end date that does not agree with the outcome or the onset, the rule the
    SDTM export's conformance check holds AE to (AEENDTC against AEOUT and AESTDTC).

    An outcome that says the event ended (:data:`~remit.protocol.adverse_event.ENDED_OUTCOMES`:
    recovered, recovered with sequelae, fatal) needs an end date; one that says it goes on
    (:data:`~remit.protocol.adverse_event.ONGOING_OUTCOMES`: recovering, not recovered) has
    none; ``unknown`` may have either. An end date is never before the onset.

    Examples
    --------
    >>> from datetime import date
    >>> from remit.errors import InputError
    >>> check_ae_end("headache", date(2024, 3, 1), date(2024, 3, 2), "recovered")
    >>> try:
    ...     check_ae_end("headache", date(2024, 3, 1), None, "recovered")
    ... except InputError as error:
    ...     print(error.message)
    adverse event 'headache' has the outcome recovered but no end date
    """
    if end_date is not None and end_date < onset_date:
        raise InputError(
            f"end date {end_date} is before onset {onset_date} of adverse event {term!r}",
            expected=f"an end date on or after the onset date {onset_date}",
            hint="check both dates (and the year)",
        )
    if outcome in ENDED_OUTCOMES and end_date is None:
        fatal = outcome == AEOutcome.FATAL
        raise InputError(
            f"adverse event {term!r} has the outcome {outcome} but no end date",
            expected=f"an end date ({'the date of death' if fatal else 'the date it resolved'})"
            f" with the outcome {outcome}",
            hint="give the date of death as the end date"
            if fatal
            else "give the end date; if the event has not ended, record the outcome "
            "recovering, not_recovered or unknown",
        )
    if outcome in ONGOING_OUTCOMES and end_date is not None:
        raise InputError(
            f"adverse event {term!r} has the outcome {outcome} (still going on) but the end "
            f"date {end_date}",
            expected=f"no end date with the outcome {outcome}",
            hint="if the event has ended, record the outcome recovered or "
            "recovered_with_sequelae; otherwise leave the end date empty",
        )


def _fatal_not_serious(term: str) -> InputError:
    """A fatal outcome on an event not recorded as serious: refused, because a death is a
    seriousness criterion (ICH E2A) and a non-serious event raises no SAE alert and starts no
    reporting clock: the death would otherwise reach no one."""
    return InputError(
        f"adverse event {term!r} has the outcome fatal but is not recorded as serious",
        expected="a fatal adverse event recorded as serious, with the criterion 'death'",
        hint="record it as a serious adverse event (serious, criteria ['death']): its SAE "
        "alert and reporting clock start from when the team learnt of it",
    )


def _downgrade_refused(ae: AdverseEvent) -> InputError:
    """A serious event made non-serious by an edit: refused, so an SAE never disappears
    silently from the reporting clocks and the overdue list (Remit has no correction path
    that would keep its alert history)."""
    return InputError(
        f"adverse event {ae.id} ({ae.term!r}) is recorded as serious "
        f"({', '.join(ae.seriousness_criteria or ()) or 'no criteria'}); serious=False was "
        "given",
        expected="a serious adverse event stays serious (serious=True, or serious not given)",
        hint="an SAE is not made non-serious by an edit: if it was recorded as serious in "
        "error, keep it serious, write the correction in its description (with a reason), "
        "close its SAE alert with a note saying why, and tell the sponsor as the protocol says",
    )


def update_adverse_event(
    engine: Engine,
    actor: Actor,
    ae_id: int,
    *,
    changes: dict[str, Any],
    reason: str,
    became_serious_at: datetime | None = None,
) -> AdverseEventRecord:
    """Update an AE (outcome, end date, action taken with the treatment, severity,
    relatedness, description, seriousness) with a reason; voids standing signatures of the AE.

    The event after the change is checked as a new one would be (:func:`check_ae_end`, a
    fatal event serious with the criterion ``death``). ``serious=True`` with
    ``seriousness_criteria`` upgrades a non-serious event to serious (the patient was
    hospitalised, or died, after it was recorded): it raises the SAE alert a serious event
    raises and starts the reporting clock from ``became_serious_at``, when the team learnt it
    was serious (default now; not in the future, not before the event's ``awareness_at``).
    A serious event stays serious: ``serious=False`` on one is refused. The criteria of a
    serious event may be changed (e.g. ``death`` added), never emptied."""
    reason = text_given(reason, "reason for the change")
    unknown = sorted(set(changes) - _AE_EDITABLE)
    if unknown or not changes:
        raise InputError(
            f"cannot change {unknown or 'nothing'}",
            expected="some of " + ", ".join(sorted(_AE_EDITABLE)),
        )
    clean = dict(changes)
    if "severity" in clean:
        clean["severity"] = choice(clean["severity"], Severity, "severity")
    if "relatedness" in clean:
        clean["relatedness"] = choice(clean["relatedness"], Relatedness, "relatedness")
    if "outcome" in clean:
        clean["outcome"] = choice(clean["outcome"], AEOutcome, "outcome")
    if "action_taken" in clean:
        clean["action_taken"] = choice(
            clean["action_taken"], ActionTaken, "action taken with the treatment"
        )
    if "end_date" in clean:
        a_date(clean["end_date"], "end date")
    if "serious" in clean and not isinstance(clean["serious"], bool):
        raise InputError(f"serious {clean['serious']!r} is not true or false", expected="a bool")
    if "seriousness_criteria" in clean:
        clean["seriousness_criteria"] = _criteria(clean["seriousness_criteria"])
    told = plausible_time(became_serious_at, "became_serious_at")
    with writing(
        engine,
        actor,
        "update_adverse_event",
        participant=owner_of(AdverseEvent, ae_id, "adverse event"),
        reason=reason,
    ) as w:
        uow, session, p = w.uow, w.session, w.p
        ae = session.get_one(AdverseEvent, ae_id)
        check_unlocked(session, p.id, "adverse_event", ae.id)
        serious = clean.get("serious", ae.serious)
        if ae.serious and not serious:
            raise _downgrade_refused(ae)
        criteria = clean.get("seriousness_criteria", list(ae.seriousness_criteria or ()))
        _check_seriousness(ae.term, serious, criteria, clean.get("outcome", ae.outcome))
        check_ae_end(
            ae.term,
            ae.onset_date,
            clean.get("end_date", ae.end_date),
            clean.get("outcome", ae.outcome),
        )
        upgrade = serious and not ae.serious
        if told is not None and not upgrade:
            raise InputError(
                f"became_serious_at was given but adverse event {ae.id} is "
                + ("recorded as serious already" if ae.serious else "not made serious"),
                expected="became_serious_at only with serious=True on a non-serious event",
                hint="leave it out, or give serious=True and its seriousness criteria",
            )
        alert = None
        if upgrade:
            since = told or now_utc()
            if since < ae.awareness_at:
                raise InputError(
                    f"became_serious_at {since.isoformat(timespec='minutes')} is before the "
                    f"team learnt of the event ({ae.awareness_at.isoformat(timespec='minutes')})",
                    expected="a time on or after the event's awareness time",
                    hint="give when the team learnt the event had become serious",
                )
            alert = sae_alert(w.protocol, since, term=ae.term)
            ae.became_serious_at = since
            ae.sae_report_due_at = alert.due_at
        for key, value in clean.items():
            setattr(ae, key, value)
        session.flush()
        if alert is not None:
            store_alerts(uow, p, [alert], "adverse_event", ae.id)
        void_signatures(uow, "adverse_event", ae.id, reason)
        return _ae_record(session, p, ae)


def _clock_start(ae: AdverseEvent) -> datetime:
    """When an SAE's reporting clock started: when the team learnt it was serious."""
    return ae.became_serious_at or ae.awareness_at


def mark_sae_reported(
    engine: Engine, actor: Actor, ae_id: int, *, reported_at: datetime | None = None
) -> AdverseEventRecord:
    """Record that an SAE was reported (stops its clock; its SAE alert is closed)."""
    when = plausible_time(reported_at, "reported_at") or now_utc()
    with writing(
        engine,
        actor,
        "mark_sae_reported",
        participant=owner_of(AdverseEvent, ae_id, "adverse event"),
        locks=False,
    ) as w:
        session, p = w.session, w.p
        ae = session.get_one(AdverseEvent, ae_id)
        if not ae.serious:
            raise InputError(f"adverse event {ae_id} is not serious", expected="an SAE")
        if ae.reported_at is not None:
            return _ae_record(session, p, ae)
        if when is not None and when < _clock_start(ae):
            raise InputError("the SAE cannot be reported before the team knew it was serious")
        ae.reported_at = when
        for alert in session.scalars(
            select(Alert).where(
                Alert.source_table == "adverse_event",
                Alert.source_id == ae.id,
                Alert.closed_at.is_(None),
            )
        ):
            alert.closed_at = when
            alert.closed_by = actor.user_id
            alert.note = (
                alert.note + "\n" if alert.note else ""
            ) + f"SAE reported {when:%Y-%m-%d %H:%M} UTC"
        session.flush()
        return _ae_record(session, p, ae)


def list_overdue_saes(
    engine: Engine, actor: Actor, *, now: datetime | None = None
) -> list[AdverseEventRecord]:
    """SAEs not yet reported whose reporting deadline has passed at ``now`` (the clock of an
    event upgraded to serious runs from ``became_serious_at``), earliest clock first."""
    at = aware(now, "now") or now_utc()
    with reading(engine, actor, "view_alerts", "list_overdue_saes") as r:
        session = r.session
        protocol, _ = protocol_in_force(session)
        if SafetyBlind.of(protocol, actor).active:  # an SAE is a safety datum
            return r.returning([])
        rows = session.scalars(
            select(AdverseEvent)
            .where(AdverseEvent.serious.is_(True), AdverseEvent.reported_at.is_(None))
            .order_by(AdverseEvent.awareness_at)
        )
        found = []
        for ae in rows:
            p = session.get_one(Participant, ae.participant_id)
            if actor.site_id is not None and p.site_id != actor.site_id:
                continue
            if at is not None and sae_clock(protocol, _clock_start(ae), now=at).overdue:
                found.append((_clock_start(ae), _ae_record(session, p, ae)))
        return r.returning([record for _, record in sorted(found, key=lambda f: f[0])])


def list_adverse_events(
    engine: Engine, actor: Actor, participant: int | str
) -> list[AdverseEventRecord]:
    """A participant's adverse events."""
    with reading(
        engine, actor, "view_participants", "list_adverse_events", participant=participant
    ) as r:
        session, p = r.session, r.p
        SafetyBlind.in_force(session, actor).check(r, "adverse_event")
        rows = session.scalars(
            select(AdverseEvent)
            .where(AdverseEvent.participant_id == p.id)
            .order_by(AdverseEvent.id)
        )
        alerts = alerts_by_record(session, p, "adverse_event")
        return r.returning([_ae_record(session, p, ae, alerts.get(ae.id, ())) for ae in rows])


# --- alerts ----------------------------------------------------------------------------------


def list_alerts(
    engine: Engine,
    actor: Actor,
    *,
    participant: int | str | None = None,
    status: str | None = None,
    level: str | None = None,
) -> list[AlertRecord]:
    """Alerts, most pressing first (then oldest): filter by participant, status
    (open/acknowledged/closed/unclosed) and level. The independent rater gets what the
    protocol's ``[blinding]`` lets them read: no alert from the dosing day when blind to
    dosing (:class:`~remit.services.blinding.DosingAlerts`), only the alerts of forms when
    blind to the safety data, none of a form whose scores are hidden."""
    if status is not None and status not in ALERT_FILTERS:
        raise InputError(
            f"alert status {status!r} is unknown",
            expected=", ".join(ALERT_FILTERS[:-1]) + " or " + ALERT_FILTERS[-1],
        )
    if level is not None:
        level_rank(level)
    with reading(engine, actor, "view_alerts", "list_alerts", participant=participant) as r:
        session, p = r.session, r.participant
        query = select(Alert, Participant).join(Participant, Participant.id == Alert.participant_id)
        if p is not None:
            query = query.where(Alert.participant_id == p.id)
        if actor.site_id is not None:
            query = query.where(Participant.site_id == actor.site_id)
        if level is not None:
            query = query.where(Alert.level == level)
        if status in UNCLOSED_ALERT_STATUSES or status == UNCLOSED:
            query = query.where(Alert.closed_at.is_(None))
        if status == AlertStatus.OPEN:
            query = query.where(Alert.acknowledged_at.is_(None))
        if status == AlertStatus.ACKNOWLEDGED:
            query = query.where(Alert.acknowledged_at.is_not(None))
        if status == AlertStatus.CLOSED:
            query = query.where(Alert.closed_at.is_not(None))
        if (dosing := DosingAlerts.in_force(session, actor).where(Alert.id)) is not None:
            query = query.where(dosing)  # the rater blind to dosing: not the dosing day's
        found = [alert_record(a, person.study_id) for a, person in session.execute(query)]
        found = SafetyBlind.in_force(session, actor).alerts(found)
        found = PriorScores.in_force(session, actor).alerts(session, found)
        return r.returning(sorted(found, key=lambda a: (level_rank(a.level), a.raised_at, a.id)))


def _owner_of_alert(alert_id: int) -> ParticipantRef:
    return owner_of(Alert, alert_id, "alert", hint="list them with `remit alerts list`")


def _settle_alert(
    engine: Engine, actor: Actor, operation: str, alert_id: int, note: str, *, close: bool
) -> AlertRecord:
    """Acknowledge (and with ``close``, close) an alert, adding the note to its thread. An alert
    not yet acknowledged is acknowledged when it is closed; closing a closed alert is a no-op
    and acknowledging one is refused."""
    note = text_given(note, "note")
    with writing(engine, actor, operation, participant=_owner_of_alert(alert_id), locks=False) as w:
        session, p = w.session, w.p
        alert = session.get_one(Alert, alert_id)
        if alert.closed_at is not None:
            if close:
                return alert_record(alert, p.study_id)
            raise InputError(f"alert {alert_id} is closed")
        when = now_utc()
        if alert.acknowledged_at is None:
            alert.acknowledged_at = when
            alert.acknowledged_by = actor.user_id
        if close:
            alert.closed_at = when
            alert.closed_by = actor.user_id
        done = (AlertStatus.CLOSED if close else AlertStatus.ACKNOWLEDGED).value
        alert.note = (alert.note + "\n" if alert.note else "") + f"{done}: {note}"
        session.flush()
        return alert_record(alert, p.study_id)


def acknowledge_alert(engine: Engine, actor: Actor, alert_id: int, *, note: str) -> AlertRecord:
    """Acknowledge an alert with a note (what is being done)."""
    return _settle_alert(engine, actor, "acknowledge_alert", alert_id, note, close=False)


def close_alert(engine: Engine, actor: Actor, alert_id: int, *, note: str) -> AlertRecord:
    """Close an alert with a note (how it was resolved)."""
    return _settle_alert(engine, actor, "close_alert", alert_id, note, close=True)
