"""``remit epro link|language|remind``: participant self-report links, the participant's
language and e-mail reminders."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

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
    print_json,
)
from remit.cli.notify_options import BaseUrlOption, SmtpFromOption, SmtpUrlOption, sender_of
from remit.cli.trial_cmd import ParticipantOption, VisitOption, show
from remit.errors import InputError

app = typer.Typer(
    help="Participant self-report (ePRO): single-use links, language, e-mail reminders.",
    no_args_is_help=True,
)


@app.command("link")
def link_command(
    participant: ParticipantOption,
    visit: VisitOption,
    db: DbOption,
    user: UserOption,
    base_url: BaseUrlOption = None,
    scale: Annotated[
        list[str] | None,
        typer.Option("--scale", help="Only this self-report scale (repeat); default: all due."),
    ] = None,
    hours: Annotated[int, typer.Option("--hours", help="Hours until the link expires.")] = 72,
    json_output: JsonOption = False,
) -> None:
    """Issue a single-use link to the participant's self-report forms at a visit (shown once)."""
    with acting_on(db, user) as (engine, actor):
        issued = sv.issue_epro_link(
            engine, actor, participant, visit, scales=scale, expires_in=timedelta(hours=hours)
        )
    address = (base_url.rstrip("/") if base_url else "") + issued.path
    if json_output:
        print_json({"link": issued.link.to_dict(), "address": address})
        return
    console.print(
        f"link {issued.link.id} for {participant} at {visit} "
        f"({', '.join(issued.link.scales)}), expires {issued.link.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    console.print(address, soft_wrap=True)


@app.command("language")
def language_command(
    participant: ParticipantOption,
    language: Annotated[str, typer.Option("--language", help="nb or en.")],
    db: DbOption,
    user: UserOption,
    email: Annotated[
        str | None,
        typer.Option("--email", help="E-mail address for reminders (only if the site sends them)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Set the participant's page language and (optionally) their e-mail for reminders."""
    with acting_on(db, user) as (engine, actor):
        chosen, has_email = sv.set_epro_preferences(
            engine, actor, participant, language=language, email=email
        )
    show(
        {"language": chosen, "email_reminders": has_email},
        json_output,
        f"{participant}: pages in {chosen}; e-mail reminders {'on' if has_email else 'off'}",
    )


@app.command("remind")
def remind_command(
    db: DbOption,
    user: UserOption,
    smtp_url: SmtpUrlOption = None,
    smtp_from: SmtpFromOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """E-mail a reminder (with a fresh link) for every open link open a day or more."""
    with errors_as_exit():
        sender = sender_of(smtp_url, smtp_from)
        if sender is None or not base_url:
            raise InputError(
                "reminders need an SMTP server and the web app's address",
                expected="--smtp-url smtp://host:port and --base-url https://…",
                hint="or set REMIT_SMTP_URL and REMIT_BASE_URL",
            )
    with acting_on(db, user) as (engine, actor):
        sent = sv.send_epro_reminders(engine, actor, sender, base_url=base_url)
    if json_output:
        print_json([r.to_dict() for r in sent])
        return
    view = Table("link", "participant", "visit", "sent", "error")
    for r in sent:
        view.add_row(str(r.link_id), r.participant_id, r.visit_code, str(r.sent), r.error or "")
    console.print(view if sent else "no reminder due")
