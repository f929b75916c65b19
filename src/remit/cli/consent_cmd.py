"""``remit consent record|withdraw|show``: informed consent from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from remit import services as sv
from remit.cli.common import DbOption, JsonOption, UserOption, acting_on, console, print_json
from remit.cli.trial_cmd import KeyOption, ParticipantOption, parse_time, show

app = typer.Typer(
    help="Informed consent: record it, withdraw it, see where it stands.", no_args_is_help=True
)


@app.command("record")
def record_command(
    participant: ParticipantOption,
    version: Annotated[
        str, typer.Option("--version", help="Version of the consent form, e.g. 1.0.")
    ],
    at: Annotated[str, typer.Option("--at", help="When the participant signed (time with zone).")],
    db: DbOption,
    user: UserOption,
    component: Annotated[
        list[str],
        typer.Option(
            "--component",
            "-c",
            help="A component agreed to (repeat; the required ones must be among them).",
        ),
    ],
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record informed consent obtained by you (an investigator)."""
    with acting_on(db, user) as (engine, actor):
        given = sv.record_consent(
            engine,
            actor,
            participant,
            version=version,
            components=component,
            consented_at=parse_time(at, "--at"),
            idempotency_key=key,
        )
    show(
        given,
        json_output,
        f"{participant} consented to version {given.version} "
        f"({', '.join(given.components)}) at {given.consented_at.isoformat(timespec='minutes')}",
    )


@app.command("withdraw")
def withdraw_command(
    participant: ParticipantOption,
    reason: Annotated[str, typer.Option("--reason", help="Why consent was withdrawn.")],
    at: Annotated[str, typer.Option("--at", help="When consent was withdrawn (time with zone).")],
    db: DbOption,
    user: UserOption,
    component: Annotated[
        list[str] | None,
        typer.Option(
            "--component",
            "-c",
            help="An optional component withdrawn (repeat); none: withdraw consent fully.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Record the withdrawal of consent, fully or of optional components only."""
    with acting_on(db, user) as (engine, actor):
        gone = sv.withdraw_consent(
            engine,
            actor,
            participant,
            reason=reason,
            withdrawn_at=parse_time(at, "--at"),
            components=component or None,
        )
    what = "fully" if gone.withdrawal_scope == "full" else ", ".join(gone.withdrawn_components)
    show(gone, json_output, f"{participant} withdrew consent ({what})")


@app.command("show")
def show_command(
    participant: ParticipantOption,
    db: DbOption,
    user: UserOption,
    at: Annotated[
        str | None, typer.Option("--at", help="At this time (time with zone; default now).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Where a participant's consent stands, and every consent given."""
    with acting_on(db, user) as (engine, actor):
        status = sv.consent_status(
            engine, actor, participant, at=None if at is None else parse_time(at, "--at")
        )
    if json_output:
        print_json(status.to_dict())
        return
    if not status.consent_required:
        console.print("the protocol declares no consent form", highlight=False)
        return
    for c in status.history:
        line = (
            f"version {c.version} ({', '.join(c.components)}) at "
            f"{c.consented_at.isoformat(timespec='minutes')} by {c.obtained_by or '?'}"
        )
        if c.withdrawn_at is not None:
            line += (
                f"; withdrawn {c.withdrawal_scope} at "
                f"{c.withdrawn_at.isoformat(timespec='minutes')}: {c.withdrawal_reason}"
            )
        console.print(line, highlight=False, soft_wrap=True)
    verdict = "study procedures allowed" if status.procedures_allowed else status.problem
    console.print(f"{participant}: {verdict}", highlight=False, soft_wrap=True)
