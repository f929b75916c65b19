"""``remit db``: create and migrate the trial database."""

from __future__ import annotations

from typing import Annotated

import typer

from remit import services as sv
from remit.cli.common import (
    DbOption,
    JsonOption,
    audit_keys_given,
    console,
    errors_as_exit,
    print_json,
)

app = typer.Typer(help="Create and migrate the trial database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(db: DbOption, json: JsonOption = False) -> None:
    """Create the tables, or migrate them to this version of Remit (safe to repeat)."""
    with errors_as_exit():
        before = sv.database_revision(db)
        # keyed with the configured audit key: a migration may append audit rows
        engine = sv.open_database(
            db, must_exist=False, require_migrated=False, audit_keys=audit_keys_given(None)
        )
        try:
            after = sv.upgrade_database(engine)
        finally:
            sv.close_database(engine)
    if json:
        print_json({"from": before, "to": after, "head": sv.head_revision()})
    elif before == after:
        console.print(f"database already at migration {after}")
    else:
        console.print(f"database migrated from {before or 'empty'} to {after}")


@app.command("current")
def current_command(db: DbOption, json: JsonOption = False) -> None:
    """Show which migration the database is at and whether it is the newest."""
    with errors_as_exit():
        engine = sv.open_database(db, require_migrated=False)
        try:
            found = sv.database_revision(engine)
        finally:
            sv.close_database(engine)
    head = sv.head_revision()
    if json:
        print_json({"current": found, "head": head, "up_to_date": found == head})
        return
    state = "up to date" if found == head else f"behind: run `remit db upgrade` to reach {head}"
    console.print(f"migration {found or 'none (empty database)'} — {state}")


@app.command("app-role")
def app_role_command(
    name: Annotated[str, typer.Argument(help="Name of the PostgreSQL role to create or update.")],
    db: DbOption,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            envvar="REMIT_APP_ROLE_PASSWORD",
            help="Login password for the role (default: unchanged / none).",
        ),
    ] = None,
) -> None:
    """PostgreSQL: create the role the app connects as (appends audit rows, never changes them)."""
    with errors_as_exit():
        engine = sv.open_database(db, must_exist=False, require_migrated=False)
        try:
            sv.create_app_role(engine, name, password)
        finally:
            sv.close_database(engine)
    console.print(f"role {name} may read and write clinical tables and only append audit rows")
