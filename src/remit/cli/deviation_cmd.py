"""``remit deviation add|list``: the deviation log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import DbOption, JsonOption, UserOption, acting_on, console, print_json
from remit.cli.trial_cmd import KeyOption, parse_date, show
from remit.protocol.deviation import LOGGED_CATEGORIES, DeviationSeverity, DeviationSource
from remit.protocol.status import values

app = typer.Typer(
    help="Protocol deviations: log one, list them with the ones Remit records itself.",
    no_args_is_help=True,
)

_SEVERITIES = ", ".join(values(DeviationSeverity))
_SOURCES = ", ".join(values(DeviationSource))


@app.command("add")
def add_command(
    category: Annotated[str, typer.Option("--category", help=", ".join(LOGGED_CATEGORIES) + ".")],
    description: Annotated[str, typer.Option("--description", help="What happened.")],
    occurred: Annotated[str, typer.Option("--date", help="The day it happened, YYYY-MM-DD.")],
    db: DbOption,
    user: UserOption,
    participant: Annotated[
        str | None,
        typer.Option("--participant", "-p", help="Participant study ID (leave out: study-wide)."),
    ] = None,
    visit: Annotated[
        str | None, typer.Option("--visit", help="Visit code it belongs to, e.g. V5.")
    ] = None,
    severity: Annotated[
        str, typer.Option("--severity", help=_SEVERITIES + ".")
    ] = DeviationSeverity.MINOR.value,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Log a protocol deviation."""
    with acting_on(db, user) as (engine, actor):
        found = sv.record_deviation(
            engine,
            actor,
            participant,
            category=category,
            description=description,
            occurred_date=parse_date(occurred, "--date"),
            severity=severity,
            visit_code=visit,
            idempotency_key=key,
        )
    who = found.participant_id or "study-wide"
    show(
        found,
        json_output,
        f"deviation {found.id} ({found.severity} {found.category}, {who}) logged",
    )


@app.command("list")
def list_command(
    db: DbOption,
    user: UserOption,
    participant: Annotated[
        str | None, typer.Option("--participant", "-p", help="Only this participant.")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="Only this site (code).")] = None,
    category: Annotated[str | None, typer.Option("--category", help="Only this category.")] = None,
    severity: Annotated[str | None, typer.Option("--severity", help=_SEVERITIES + ".")] = None,
    source: Annotated[str | None, typer.Option("--source", help=_SOURCES + ".")] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="Happened on or after, YYYY-MM-DD.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Happened on or before, YYYY-MM-DD.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List protocol deviations, newest first."""
    with acting_on(db, user) as (engine, actor):
        found = sv.list_deviations(
            engine,
            actor,
            participant=participant,
            site=site,
            category=category,
            severity=severity,
            source=source,
            date_from=parse_date(since, "--from") if since else None,
            date_to=parse_date(until, "--to") if until else None,
        )
    if json_output:
        print_json([d.to_dict() for d in found])
        return
    view = Table("id", "date", "participant", "site", "visit", "category", "severity", "source",
                 "description")  # fmt: skip
    for d in found:
        view.add_row(
            str(d.id),
            str(d.occurred_date or ""),
            d.participant_id or "study-wide",
            d.site or "",
            d.visit_code or "",
            d.category,
            d.severity,
            d.source,
            d.description,
        )
    console.print(view)
