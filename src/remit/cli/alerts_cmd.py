"""``remit ae add|update`` and ``remit alerts list|ack|close|sweep|deliver|deliveries``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import (
    DbOption,
    JsonOption,
    UserOption,
    acting_on,
    console,
    errors_as_exit,
    open_engine,
    print_json,
)
from remit.cli.notify_options import (
    BaseUrlOption,
    SmtpFromOption,
    SmtpUrlOption,
    report_pass,
    sender_of,
)
from remit.cli.trial_cmd import (
    KeyOption,
    ParticipantOption,
    parse_date,
    parse_time,
    show,
)
from remit.protocol.adverse_event import ActionTaken, AEOutcome, Relatedness, Severity
from remit.protocol.status import ALERT_FILTERS, values
from remit.protocol.vocab import LEVELS

app = typer.Typer(
    help="Safety alerts: list, acknowledge, close, sweep for missed readings; e-mail them.",
    no_args_is_help=True,
)
ae_app = typer.Typer(help="Adverse events.", no_args_is_help=True)

ActionTakenOption = Annotated[
    str | None,
    typer.Option(
        "--action-taken",
        help="Action taken with the study treatment: " + ", ".join(values(ActionTaken)) + ".",
    ),
]
DescriptionOption = Annotated[
    str | None, typer.Option("--description", help="Free-text description.")
]


@ae_app.command("add")
def ae_add_command(
    participant: ParticipantOption,
    term: Annotated[str, typer.Option("--term", help="Reported term of the event.")],
    onset: Annotated[str, typer.Option("--onset", help="Onset date YYYY-MM-DD.")],
    severity: Annotated[str, typer.Option("--severity", help=", ".join(values(Severity)) + ".")],
    relatedness: Annotated[
        str, typer.Option("--relatedness", help=", ".join(values(Relatedness)) + ".")
    ],
    db: DbOption,
    user: UserOption,
    serious: Annotated[
        list[str] | None,
        typer.Option("--serious", help="Seriousness criterion (repeat): makes it an SAE."),
    ] = None,
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome so far.")] = "unknown",
    end: Annotated[
        str | None, typer.Option("--end", help="End (resolution) date YYYY-MM-DD.")
    ] = None,
    action_taken: ActionTakenOption = None,
    awareness: Annotated[
        str | None,
        typer.Option("--awareness", help="When the team learnt of it (starts the SAE clock)."),
    ] = None,
    description: DescriptionOption = None,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record an adverse event; an SAE starts its reporting clock and raises an alert."""
    with acting_on(db, user) as (engine, actor):
        ae = sv.record_adverse_event(
            engine,
            actor,
            participant,
            term=term,
            onset_date=parse_date(onset, "--onset"),
            severity=severity,
            relatedness=relatedness,
            serious=bool(serious),
            seriousness_criteria=serious or (),
            outcome=outcome,
            end_date=parse_date(end, "--end") if end else None,
            action_taken=action_taken,
            awareness_at=parse_time(awareness, "--awareness") if awareness else None,
            description=description,
            idempotency_key=key,
        )
    due = f"; report by {ae.sae_report_due_at:%Y-%m-%d %H:%M} UTC" if ae.sae_report_due_at else ""
    show(ae, json_output, f"adverse event {ae.id} ({ae.term}) recorded{due}")


@ae_app.command("update")
def ae_update_command(
    ae_id: Annotated[int, typer.Argument(help="Id of the adverse event.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it changes (audited).")],
    db: DbOption,
    user: UserOption,
    outcome: Annotated[
        str | None, typer.Option("--outcome", help=", ".join(values(AEOutcome)) + ".")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            help="End (resolution) date YYYY-MM-DD, or 'none' to clear it; needed with "
            "the outcomes recovered, recovered_with_sequelae and fatal (the date of death).",
        ),
    ] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help=", ".join(values(Severity)) + ".")
    ] = None,
    relatedness: Annotated[
        str | None, typer.Option("--relatedness", help=", ".join(values(Relatedness)) + ".")
    ] = None,
    action_taken: ActionTakenOption = None,
    description: DescriptionOption = None,
    serious: Annotated[
        list[str] | None,
        typer.Option(
            "--serious",
            help="Seriousness criterion (repeat; all of them): makes a non-serious event an SAE "
            "(alert and reporting clock) or changes the criteria of an SAE.",
        ),
    ] = None,
    became_serious: Annotated[
        str | None,
        typer.Option(
            "--became-serious",
            help="When the team learnt it had become serious (ISO time with zone; default now): "
            "starts the SAE clock.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Change an adverse event with a reason; ``--serious`` upgrades it to an SAE."""
    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "outcome": outcome,
            "severity": severity,
            "relatedness": relatedness,
            "action_taken": action_taken,
            "description": description,
        }.items()
        if value is not None
    }
    with errors_as_exit():
        if end is not None:
            cleared = end.strip().lower() == "none"
            changes["end_date"] = None if cleared else parse_date(end, "--end")
        if serious:
            changes |= {"serious": True, "seriousness_criteria": serious}
        since = parse_time(became_serious, "--became-serious") if became_serious else None
    with acting_on(db, user) as (engine, actor):
        ae = sv.update_adverse_event(
            engine, actor, ae_id, changes=changes, reason=reason, became_serious_at=since
        )
    due = f"; report by {ae.sae_report_due_at:%Y-%m-%d %H:%M} UTC" if ae.sae_report_due_at else ""
    show(ae, json_output, f"adverse event {ae.id} ({ae.term}) updated{due}")


@app.command("list")
def list_command(
    db: DbOption,
    user: UserOption,
    participant: Annotated[
        str | None, typer.Option("--participant", "-p", help="Only this participant.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help=f"{', '.join(ALERT_FILTERS[:-1])} or {ALERT_FILTERS[-1]} (default: all).",
        ),
    ] = None,
    level: Annotated[
        str | None, typer.Option("--level", help=f"{', '.join(LEVELS[:-1])} or {LEVELS[-1]}.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List alerts, most pressing first."""
    with acting_on(db, user) as (engine, actor):
        found = sv.list_alerts(engine, actor, participant=participant, status=status, level=level)
    if json_output:
        print_json([a.to_dict() for a in found])
        return
    view = Table("id", "participant", "level", "status", "raised (UTC)", "due", "message")
    for a in found:
        view.add_row(
            str(a.id),
            a.participant_id,
            a.level,
            a.status,
            f"{a.raised_at:%Y-%m-%d %H:%M}",
            f"{a.due_at:%Y-%m-%d %H:%M}" if a.due_at else "",
            a.message,
        )
    console.print(view)


@app.command("ack")
def ack_command(
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    note: Annotated[str, typer.Option("--note", help="What is being done.")],
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """Acknowledge an alert."""
    with acting_on(db, user) as (engine, actor):
        alert = sv.acknowledge_alert(engine, actor, alert_id, note=note)
    show(alert, json_output, f"alert {alert.id} acknowledged")


@app.command("close")
def close_command(
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    note: Annotated[str, typer.Option("--note", help="How it was resolved.")],
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """Close an alert."""
    with acting_on(db, user) as (engine, actor):
        alert = sv.close_alert(engine, actor, alert_id, note=note)
    show(alert, json_output, f"alert {alert.id} closed")


@app.command("deliver")
def deliver_command(
    db: DbOption,
    smtp_url: SmtpUrlOption = None,
    smtp_from: SmtpFromOption = None,
    base_url: BaseUrlOption = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep running: a pass every --every seconds.")
    ] = False,
    every: Annotated[
        float, typer.Option("--every", help="Seconds between passes with --watch.", min=1)
    ] = 10.0,
    json_output: JsonOption = False,
) -> None:
    """E-mail the alerts that are due (new ones; escalations of unacknowledged ones), retry
    failed attempts and raise an alert for any that reached nobody; log every attempt.

    The people told and the escalation times are the protocol's [safety.notify]. Safe to run
    from several places at once: each attempt is claimed in the database first.
    """
    from remit import services as sv

    with errors_as_exit(), open_engine(db) as engine:
        sender = sender_of(smtp_url, smtp_from)
        if sender is None:
            from remit.errors import InputError

            raise InputError(
                "no SMTP server given",
                expected="--smtp-url smtp://host:port (or $REMIT_SMTP_URL) and --smtp-from",
            )
        if not watch:
            result = sv.deliver_due(engine, sender, base_url=base_url)
            if json_output:
                print_json(result.to_dict())
            else:
                console.print(f"alerts: {result.summary()}", highlight=False)
            return
        console.print(
            f"delivering alerts through {sender.describe()} every {every:g} s; Ctrl+C stops.",
            highlight=False,
        )

        stop = threading.Event()
        try:
            sv.periodic_loop(
                engine,
                sender,
                every_s=every,
                stop=stop,
                base_url=base_url,
                report=report_pass,
            )
        except KeyboardInterrupt:
            stop.set()


@app.command("deliveries")
def deliveries_command(
    db: DbOption,
    user: UserOption,
    alert: Annotated[int | None, typer.Option("--alert", help="Only this alert.")] = None,
    json_output: JsonOption = False,
) -> None:
    """The delivery log: every attempt to tell someone of an alert, and how it went."""
    with acting_on(db, user) as (engine, actor):
        found = sv.list_deliveries(engine, actor, alert_id=alert)
    if json_output:
        print_json([d.to_dict() for d in found])
        return
    view = Table("alert", "participant", "step", "to", "attempt", "outcome", "at (UTC)", "error")
    for d in found:
        view.add_row(
            str(d.alert_id),
            d.participant_id,
            str(d.step + 1),
            d.address or d.recipient or "—",
            str(d.attempt),
            d.outcome,
            f"{d.attempt_at:%Y-%m-%d %H:%M:%S}",
            d.error or "",
        )
    console.print(view)


@app.command("sweep")
def sweep_command(
    db: DbOption,
    user: UserOption,
    at: Annotated[
        str | None,
        typer.Option("--at", help="The time of the sweep, ISO 8601 with a zone (default: now)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Raise a review alert for each planned dosing-day reading (vital signs, VAS) not recorded
    once its time and the protocol's grace have passed; a slot is flagged only once."""
    now = parse_time(at, "--at") if at else datetime.now(UTC)
    with acting_on(db, user) as (engine, actor):
        raised = sv.raise_missed_readings(engine, now=now, actor=actor)
    if json_output:
        print_json([a.to_dict() for a in raised])
        return
    for a in raised:
        console.print(f"alert {a.id} {a.participant_id} {a.level}: {a.message}", highlight=False)
    console.print(f"{len(raised)} missed reading{'' if len(raised) == 1 else 's'} flagged")
