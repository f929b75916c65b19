"""``remit import``: REDCap data dictionaries into scale definitions, ODM clinical data into a
trial database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from remit.cli.common import JsonOption, console, errors_as_exit, print_json
from remit.cli.db_cmd import DbOption
from remit.errors import InputError, RemitError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from remit.store import Actor

app = typer.Typer(
    help="Bring instruments and data from other systems (REDCap, ODM) into Remit.",
    no_args_is_help=True,
)


def _actors(engine: Engine, user: str) -> dict[str, Actor]:
    """The user as an actor in each role they hold."""
    from sqlalchemy.orm import Session

    from remit.services.access import ROLES
    from remit.store import actor_for

    if not user:
        raise InputError("no importing user", hint="pass --user NAME or set REMIT_USER")
    found: dict[str, Actor] = {}
    with Session(engine) as session:
        for role in ROLES:
            try:
                found[role] = actor_for(session, user, role)
            except RemitError:
                continue
    if not found:
        raise InputError(f"user {user!r} holds no role", hint="add roles with `remit user add`")
    return found


@app.command("redcap-dictionary")
def redcap_dictionary_command(
    file: Annotated[Path, typer.Argument(help="The REDCap data dictionary (CSV, 18 columns).")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the scale TOML files (one per form).")
    ] = Path("."),
    respondent: Annotated[
        str,
        typer.Option("--respondent", help="Who fills the forms: self, clinician, investigator."),
    ] = "self",
    json: JsonOption = False,
) -> None:
    """Turn each REDCap form into a Remit scale definition; list what could not be carried."""
    from remit.interop.redcap import read_redcap_dictionary

    with errors_as_exit():
        result = read_redcap_dictionary(file, respondent=respondent)
        paths = result.write(out)
    if json:
        print_json(result.to_dict() | {"written": [str(p) for p in paths]})
        return
    for p in paths:
        console.print(f"wrote {p}", highlight=False, soft_wrap=True)
    console.print(result.summary(), highlight=False, soft_wrap=True)


@app.command("odm")
def odm_command(
    file: Annotated[Path, typer.Argument(help="ODM 1.3 XML file with ClinicalData.")],
    db: DbOption,
    user: Annotated[
        str,
        typer.Option(
            "--user",
            envvar="REMIT_USER",
            help="Who imports (username); each step acts in the role the step needs among "
            "the roles this user holds.",
        ),
    ],
    json: JsonOption = False,
) -> None:
    """Import ODM clinical data through the services (audit trail and alerts as if entered);
    anything that does not fit the protocol is refused and nothing is written."""
    from remit.cli.trial_cmd import open_engine
    from remit.interop.odm_import import import_odm

    with errors_as_exit(), open_engine(db) as engine:
        result = import_odm(engine, file, _actors(engine, user))
    if json:
        print_json(result.to_dict())
    else:
        console.print(result.summary(), highlight=False, soft_wrap=True)
