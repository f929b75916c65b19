"""Telling people of safety alerts: send, escalate, log every attempt, never drop one silently.

:func:`deliver_due` is one pass over the alerts not yet acknowledged: for each step of the
protocol's chain (``[safety.notify]``, :class:`remit.protocol.notify.Notify`) that is due, each
recipient (an active user holding one of the step's roles at the participant's site or
study-wide) is sent the message once; a failed attempt is tried again on the next passes up to
the protocol's ``attempts``. Every attempt is in the delivery log (``alert_delivery``), whose
unique key is also the claim: of two workers running at once only one sends a given attempt.
An alert from the dosing day is never told to the independent rater the protocol keeps blind
to dosing (:func:`~remit.services.blinding.dosing_blind_roles`), whatever the chain says.
A step that reaches nobody (nobody holds the roles, nobody has an address, every attempt
failed, the step names only the rater blind to dosing) raises an alert of its own (rule
``notify:undeliverable``, at the original alert's level) which the dashboard shows; an
undeliverable alert that is itself undeliverable raises nothing more (it is on the dashboard
already).

:data:`PERIODIC_JOBS` lists what the delivery loop (``remit alerts deliver --watch`` and the
background thread of ``remit serve``) runs on each pass; :func:`run_periodic` runs them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from remit.errors import InputError, RemitError
from remit.protocol.notify import UNDELIVERABLE_RULE, Notify, NotifyStep
from remit.services._common import aware, now_utc, protocol_in_force
from remit.services.blinding import (
    RATER_ALERT_SOURCES,
    DosingAlerts,
    SafetyBlind,
    dosing_alert_ids,
    dosing_blind_roles,
)
from remit.services.records import AlertRecord, DeliveryRecord
from remit.services.safety_sweep import raise_missed_readings
from remit.services.senders import CHANNELS, OutgoingMessage, Sender
from remit.services.unit import reading
from remit.store import Actor, unit_of_work
from remit.store.delivery import NOBODY, AlertDelivery
from remit.store.tables import Alert, Participant, UserAccount, UserRole
from remit.store.vocab import DeliveryOutcome

_O = DeliveryOutcome

#: Who raises the undeliverable alerts (on the audit trail).
NOTIFY_ACTOR = Actor.system("remit-notify")
#: A ``sending`` row with no outcome after this long is taken as a crashed attempt.
STALE_ATTEMPT = timedelta(minutes=10)


@dataclass(frozen=True)
class DeliveryResult:
    """What one pass of :func:`deliver_due` did.

    ``sent`` and ``failed`` count attempts made by this pass, ``claimed_elsewhere`` attempts
    another worker had claimed first, ``undeliverable`` the ids of the alerts raised because a
    step reached nobody; ``note`` says why nothing could be done (no ``[safety.notify]``).
    """

    sent: int = 0
    failed: int = 0
    claimed_elsewhere: int = 0
    undeliverable: tuple[int, ...] = ()
    note: str | None = None

    @property
    def idle(self) -> bool:
        """Whether the pass did nothing worth a line in a server's log."""
        return not (self.sent or self.failed or self.claimed_elsewhere or self.undeliverable)

    def summary(self) -> str:
        """One line for the CLI and the server log."""
        if self.note:
            return self.note
        text = f"{self.sent} sent, {self.failed} failed"
        if self.claimed_elsewhere:
            text += f", {self.claimed_elsewhere} left to another worker"
        if self.undeliverable:
            text += f"; undeliverable alert(s) raised: {', '.join(map(str, self.undeliverable))}"
        return text

    def to_dict(self) -> dict[str, object]:
        """The result as JSON values."""
        return {
            "sent": self.sent,
            "failed": self.failed,
            "claimed_elsewhere": self.claimed_elsewhere,
            "undeliverable": list(self.undeliverable),
            "note": self.note,
        }


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    claimed_elsewhere: int = 0
    undeliverable: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Recipient:
    user_id: int
    username: str
    address: str | None


@dataclass(frozen=True)
class _Due:
    alert_id: int
    participant_id: int
    study_id: str
    site_id: int
    rule_id: str
    level: str
    message: str
    raised_at: datetime
    due_at: datetime | None
    #: roles of the chain not told of this alert: the independent rater blind to dosing, for
    #: an alert from the dosing day (its rule, level and text differ by arm)
    hidden_roles: frozenset[str] = frozenset()

    def told(self, step: NotifyStep) -> tuple[str, ...]:
        """The roles of ``step`` told of this alert."""
        return tuple(str(r) for r in step.roles if str(r) not in self.hidden_roles)


def steps_of(notify: Notify, rule_id: str, level: str) -> tuple[NotifyStep, ...]:
    """The chain an alert follows: the protocol's chain of its level, or for an undeliverable
    alert one step to the protocol's ``undeliverable_roles``.

    >>> from remit.protocol.notify import Notify
    >>> n = Notify.model_validate({"levels": [{"level": "urgent", "roles": ["investigator"]}]})
    >>> [s.roles for s in steps_of(n, "notify:undeliverable", "urgent")]
    [(<Role.ADMIN: 'admin'>,)]
    """
    if rule_id == UNDELIVERABLE_RULE:
        return (NotifyStep(after_min=0, roles=notify.undeliverable_roles),)
    return notify.steps(level)


def _when(now: datetime | None) -> datetime:
    return aware(now, "now") or now_utc()


def _recipients(
    session: Session, roles: tuple[str, ...], site_id: int, address_column: str
) -> list[_Recipient]:
    rows = session.execute(
        select(UserAccount.id, UserAccount.username, getattr(UserAccount, address_column))
        .join(UserRole, UserRole.user_id == UserAccount.id)
        .where(
            UserAccount.active.is_(True),
            UserRole.role.in_([str(r) for r in roles]),
            or_(UserRole.site_id == site_id, UserRole.site_id.is_(None)),
        )
        .distinct()
        .order_by(UserAccount.username)
    )
    return [_Recipient(uid, name, email) for uid, name, email in rows]


def _message(
    due: _Due, step: int, n_steps: int, address: str, base_url: str | None
) -> OutgoingMessage:
    lines = [
        "A safety alert in Remit needs a response.",
        "",
        f"Participant: {due.study_id}",
        f"Level: {due.level}",
        f"Rule: {due.rule_id}",
        f"Alert: {due.message}",
        f"Raised: {due.raised_at:%Y-%m-%d %H:%M} UTC",
    ]
    if due.due_at is not None:
        lines.append(f"Due: {due.due_at:%Y-%m-%d %H:%M} UTC")
    if step > 0:
        lines.append(
            f"Escalation step {step + 1} of {n_steps}: nobody has acknowledged the alert yet."
        )
    if base_url:
        lines.append(f"Open it: {base_url.rstrip('/')}/alerts#alert-{due.alert_id}")
    lines += [
        "",
        f"Acknowledge alert {due.alert_id} in Remit (the Alerts page, or "
        f"`remit alerts ack {due.alert_id} --note …`) to stop the escalation.",
    ]
    subject = f"[Remit {due.level}] {due.study_id}: {due.rule_id} (alert {due.alert_id})"
    return OutgoingMessage(to=address, subject=subject, body="\n".join(lines) + "\n")


def _log(session: Session, alert_id: int, step: int) -> list[AlertDelivery]:
    return list(
        session.scalars(
            select(AlertDelivery)
            .where(AlertDelivery.alert_id == alert_id, AlertDelivery.step == step)
            .order_by(AlertDelivery.id)
        )
    )


def _insert(engine: Engine, row: AlertDelivery) -> bool:
    """Insert one log row in its own transaction; ``False`` if its key is taken (a claim lost)."""
    with unit_of_work(engine, NOTIFY_ACTOR) as uow:
        try:
            with uow.session.begin_nested():
                uow.session.add(row)
        except IntegrityError:
            return False
    return True


def _row(
    due: _Due,
    step: int,
    who: _Recipient | None,
    channel: str,
    attempt: int,
    outcome: DeliveryOutcome,
    at: datetime,
    error: str | None = None,
) -> AlertDelivery:
    return AlertDelivery(
        alert_id=due.alert_id,
        step=step,
        recipient=who.username if who else NOBODY,
        recipient_user_id=who.user_id if who else None,
        channel=channel,
        address=who.address if who else None,
        attempt=attempt,
        outcome=outcome.value,
        error=error,
        attempt_at=at,
    )


def _person_state(
    log: list[AlertDelivery], who: _Recipient, now: datetime
) -> tuple[bool, int, bool]:
    """``(reached, attempts finished or abandoned, an attempt is under way)`` for ``who``."""
    mine = [r for r in log if r.recipient == who.username]
    reached = any(r.outcome == _O.SENT for r in mine)
    claimed = {r.attempt: r for r in mine if r.outcome == _O.SENDING}
    finished = {r.attempt for r in mine if r.outcome in (_O.SENT, _O.FAILED)}
    busy = any(a not in finished and now - r.attempt_at < STALE_ATTEMPT for a, r in claimed.items())
    return reached, len(finished | set(claimed)), busy


def _deliver_step(
    engine: Engine,
    sender: Sender,
    notify: Notify,
    due: _Due,
    step: int,
    steps: tuple[NotifyStep, ...],
    now: datetime,
    base_url: str | None,
    tally: _Tally,
) -> None:
    channel = CHANNELS[sender.channel]
    with Session(engine) as session:
        log = _log(session, due.alert_id, step)
        if any(r.outcome == _O.UNDELIVERABLE for r in log):
            return
        people = _recipients(session, due.told(steps[step]), due.site_id, channel.address_column)
    for who in people:
        address = who.address
        reached, tried, busy = _person_state(log, who, now)
        if reached or busy or tried >= notify.attempts:
            continue
        if address is None:
            if tried == 0:  # logged once: this person cannot be reached on this channel
                _insert(
                    engine,
                    _row(
                        due,
                        step,
                        who,
                        channel.name,
                        1,
                        _O.FAILED,
                        now,
                        f"{who.username} has no {channel.address_column} address",
                    ),
                )
            continue
        attempt = tried + 1
        if not _insert(engine, _row(due, step, who, channel.name, attempt, _O.SENDING, now)):
            tally.claimed_elsewhere += 1
            continue
        result = sender.send(_message(due, step, len(steps), address, base_url))
        outcome = _O.SENT if result.ok else _O.FAILED
        _insert(engine, _row(due, step, who, channel.name, attempt, outcome, now, result.error))
        if result.ok:
            tally.sent += 1
        else:
            tally.failed += 1
    _settle_step(engine, notify, due, step, steps, people, channel.name, now, tally)


def _settle_step(
    engine: Engine,
    notify: Notify,
    due: _Due,
    step: int,
    steps: tuple[NotifyStep, ...],
    people: list[_Recipient],
    channel: str,
    now: datetime,
    tally: _Tally,
) -> None:
    """Raise the undeliverable alert once the step has reached nobody and cannot any more."""
    with Session(engine) as session:
        log = _log(session, due.alert_id, step)
    states = [_person_state(log, who, now) for who in people]
    if any(reached for reached, _, _ in states):
        return
    hopeless = all(
        not busy and (who.address is None or tried >= notify.attempts)
        for who, (_, tried, busy) in zip(people, states, strict=True)
    )
    if not hopeless:
        return
    roles = ", ".join(due.told(steps[step]))
    if not roles:  # every role of the step is blind to what the alert tells
        blind = ", ".join(str(r) for r in steps[step].roles)
        why = (
            f"the step names only {blind}, whom the protocol's [blinding] keeps blind to "
            "dosing, and this alert comes from the dosing day (remit protocol check: P041)"
        )
    elif not people:
        why = f"nobody active holds {roles} at the participant's site or study-wide"
    else:
        errors = sorted({r.error for r in log if r.outcome == _O.FAILED and r.error})
        why = f"no {roles} could be reached ({'; '.join(errors) or 'no attempt succeeded'})"
    claim = _row(due, step, None, channel, 0, _O.UNDELIVERABLE, now, why)
    if due.rule_id == UNDELIVERABLE_RULE:
        _insert(engine, claim)  # logged; no alert about an undeliverable alert (no loop)
        return
    with unit_of_work(engine, NOTIFY_ACTOR) as uow:
        try:
            with uow.session.begin_nested():
                uow.session.add(claim)
        except IntegrityError:
            return  # another worker settled this step first
        alert = Alert(
            participant_id=due.participant_id,
            rule_id=UNDELIVERABLE_RULE,
            level=due.level,
            message=(
                f"alert {due.alert_id} ({due.rule_id}, {due.level}) could not be delivered "
                f"at step {step + 1}: {why}. Tell the people concerned another way now."
            ),
            source_table="alert",
            source_id=due.alert_id,
            raised_at=now,
            due_at=due.due_at,
        )
        uow.add(alert)
        uow.flush()
        tally.undeliverable.append(alert.id)


def _due_alerts(session: Session, blind: frozenset[str]) -> list[_Due]:
    """The alerts not acknowledged; ``blind`` the roles not told of an alert from the dosing
    day (:func:`~remit.services.blinding.dosing_blind_roles`)."""
    unsettled = (Alert.acknowledged_at.is_(None), Alert.closed_at.is_(None))
    rows = session.execute(
        select(Alert, Participant)
        .join(Participant, Participant.id == Alert.participant_id)
        .where(*unsettled)
        .order_by(Alert.id)
    )
    dosing = set(session.scalars(dosing_alert_ids().where(*unsettled))) if blind else set()
    return [
        _Due(
            alert_id=a.id,
            participant_id=p.id,
            study_id=p.study_id,
            site_id=p.site_id,
            rule_id=a.rule_id,
            level=a.level,
            message=a.message,
            raised_at=a.raised_at,
            due_at=a.due_at,
            hidden_roles=blind if a.id in dosing else frozenset(),
        )
        for a, p in rows
    ]


def deliver_due(
    engine: Engine,
    sender: Sender,
    *,
    now: datetime | None = None,
    base_url: str | None = None,
) -> DeliveryResult:
    """Send what is due at ``now``: new alerts to the first step's roles, unacknowledged ones
    to the next step of their chain once its time has come; retry failed attempts; raise an
    undeliverable alert for a step that reached nobody. Safe to run from several workers at
    once (each attempt is claimed in the database before it is made).

    ``base_url`` (e.g. ``https://remit.ost.example``) adds a link to the alert. Returns what
    was done; a protocol without ``[safety.notify]`` sends nothing and says so.

    Examples
    --------
    ``deliver_due(engine, sender_from_url("smtp://127.0.0.1:25", sender_address=…))`` run
    every few seconds (``remit alerts deliver --watch``).
    """
    at = _when(now)
    if sender.channel not in CHANNELS:
        raise InputError(
            f"sender {sender.describe()} is for channel {sender.channel!r}, which is not declared",
            expected="one of " + ", ".join(sorted(CHANNELS)),
            hint="declare the channel in remit.services.senders.CHANNELS",
        )
    with Session(engine) as session:
        protocol, _ = protocol_in_force(session)
        blind = dosing_blind_roles(protocol)
        due = _due_alerts(session, blind)
    notify = protocol.safety.notify
    if notify is None:
        return DeliveryResult(
            note="the protocol has no [safety.notify] table: no alert is sent (see docs)"
        )
    tally = _Tally()
    done: set[int] = set()
    while due:
        for alert in due:
            done.add(alert.alert_id)
            steps = steps_of(notify, alert.rule_id, alert.level)
            for index, step in enumerate(steps):
                if alert.raised_at + timedelta(minutes=step.after_min) > at:
                    break
                _deliver_step(engine, sender, notify, alert, index, steps, at, base_url, tally)
        # the undeliverable alerts raised in this pass go out in it too (they raise no more)
        with Session(engine) as session:
            due = [
                a
                for a in _due_alerts(session, blind)
                if a.alert_id in tally.undeliverable and a.alert_id not in done
            ]
    return DeliveryResult(
        sent=tally.sent,
        failed=tally.failed,
        claimed_elsewhere=tally.claimed_elsewhere,
        undeliverable=tuple(tally.undeliverable),
    )


def list_deliveries(
    engine: Engine, actor: Actor, *, alert_id: int | None = None
) -> list[DeliveryRecord]:
    """The delivery log, oldest first (of one alert with ``alert_id``); a site-bound actor
    sees the deliveries of their site's alerts only, a rater blind to the safety data those
    of the alerts raised by forms only, a rater blind to dosing none of an alert from the
    dosing day."""
    with reading(engine, actor, "view_alerts", "list_deliveries") as r:
        query = (
            select(AlertDelivery, Participant.study_id)
            .join(Alert, Alert.id == AlertDelivery.alert_id)
            .join(Participant, Participant.id == Alert.participant_id)
            .order_by(AlertDelivery.id)
        )
        if alert_id is not None:
            query = query.where(AlertDelivery.alert_id == alert_id)
        if actor.site_id is not None:
            query = query.where(Participant.site_id == actor.site_id)
        if SafetyBlind.in_force(r.session, actor).active:  # as list_alerts: a form's alerts
            query = query.where(Alert.source_table.in_(sorted(RATER_ALERT_SOURCES)))
        if (dosing := DosingAlerts.in_force(r.session, actor).where(Alert.id)) is not None:
            query = query.where(dosing)  # as list_alerts: not the dosing day's
        found = [
            DeliveryRecord.from_row(row, participant_id=study_id)
            for row, study_id in r.session.execute(query)
        ]
        return r.returning(found)


@dataclass(frozen=True)
class PeriodicContext:
    """What a periodic job is given: the database, the sender (``None`` when no channel is
    configured: jobs that send then do nothing), the time of the pass and the web app's
    address for links."""

    engine: Engine
    sender: Sender | None
    now: datetime
    base_url: str | None = None


#: A job of the periodic loop: ``job(context) -> result`` (a result with ``summary()`` is
#: printed by the loops of the CLI and the server; the server leaves out results whose
#: ``idle`` is true).
PeriodicJob = Callable[[PeriodicContext], object]


def _deliver_job(context: PeriodicContext) -> object:
    if context.sender is None:
        return DeliveryResult(note="no notification channel configured (--smtp-url)")
    return deliver_due(context.engine, context.sender, now=context.now, base_url=context.base_url)


@dataclass(frozen=True)
class MissedReadingsResult:
    """The alerts one sweep for missed dosing-day readings raised."""

    raised: tuple[AlertRecord, ...] = ()

    @property
    def idle(self) -> bool:
        """Whether the sweep found nothing missed."""
        return not self.raised

    def summary(self) -> str:
        """One line for the loop's log."""
        n = len(self.raised)
        return f"{n} missed reading{'' if n == 1 else 's'} flagged"


def _missed_readings_job(context: PeriodicContext) -> object:
    return MissedReadingsResult(tuple(raise_missed_readings(context.engine, now=context.now)))


#: What the delivery loop runs on each pass, in order ``(name, job)``. A job that raises
#: alerts goes before ``deliver_alerts`` so that its alerts go out in the same pass.
PERIODIC_JOBS: tuple[tuple[str, PeriodicJob], ...] = (
    ("missed_readings", _missed_readings_job),
    ("deliver_alerts", _deliver_job),
)


def run_periodic(
    engine: Engine,
    sender: Sender | None,
    *,
    now: datetime | None = None,
    base_url: str | None = None,
    jobs: tuple[tuple[str, PeriodicJob], ...] = PERIODIC_JOBS,
) -> dict[str, object]:
    """Run each job of :data:`PERIODIC_JOBS` once at ``now``; a job that fails with a
    :class:`~remit.errors.RemitError` does not stop the others (its error is its result)."""
    context = PeriodicContext(engine, sender, _when(now), base_url)
    results: dict[str, object] = {}
    for name, job in jobs:
        try:
            results[name] = job(context)
        except RemitError as error:
            results[name] = error
    return results


def periodic_loop(
    engine: Engine,
    sender: Sender | None,
    *,
    every_s: float,
    stop: threading.Event,
    base_url: str | None = None,
    report: Callable[[dict[str, object]], None] = lambda results: None,
    jobs: tuple[tuple[str, PeriodicJob], ...] = PERIODIC_JOBS,
) -> None:
    """Run :func:`run_periodic` every ``every_s`` seconds until ``stop`` is set; ``report``
    gets each pass's results. An unexpected error (the database unreachable …) is reported as
    that pass's result and the loop goes on: a delivery loop that dies silently would hide
    every later alert."""
    if every_s <= 0:
        raise InputError(f"interval {every_s} s is not positive", expected="seconds > 0, e.g. 10")
    while not stop.is_set():
        try:
            results = run_periodic(engine, sender, base_url=base_url, jobs=jobs)
        except Exception as error:  # kept alive on purpose, and reported
            results = {"loop": error}
        report(results)
        stop.wait(every_s)
