"""``remit audit``: verify the hash-chained audit trail and show the history."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import DbOption, JsonOption, console, errors_as_exit, open_engine, print_json

app = typer.Typer(help="Verify the audit trail and show who changed what.", no_args_is_help=True)


@app.command("verify")
def verify_command(db: DbOption, json: JsonOption = False) -> None:
    """Walk the hash chain; exit 1 and name the first row that does not fit."""
    with errors_as_exit(), open_engine(db) as engine:
        result = sv.verify_audit_chain(engine)
    if json:
        print_json(result.to_dict())
    elif result.ok:
        console.print(f"[green]{result.summary()}[/]", highlight=False, soft_wrap=True)
    else:
        console.print(f"[bold red]{result.summary()}[/]", highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(code=1)


@app.command("log")
def log_command(
    db: DbOption,
    participant: Annotated[
        str | None,
        typer.Option("--participant", help="Only rows about this participant (study ID)."),
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="Only rows about this table (e.g. assessment).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Show the audit history, oldest first: who changed which field, from what, to what, why."""
    with errors_as_exit(), open_engine(db) as engine:
        entries = sv.audit_log(engine, participant, table=table)
    if json:
        print_json([entry.to_dict() for entry in entries])
        return
    view = Table("id", "when (UTC)", "who", "action", "record", "field", "old", "new", "reason")
    for entry in entries:
        view.add_row(
            str(entry.id),
            entry.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{entry.username} ({entry.role})",
            entry.action,
            f"{entry.table_name} {entry.record_id}",
            entry.field or "",
            "" if entry.old_value is None else str(entry.old_value),
            "" if entry.new_value is None else str(entry.new_value),
            entry.reason or "",
        )
    console.print(view)
    console.print(f"{len(entries)} audit rows")
