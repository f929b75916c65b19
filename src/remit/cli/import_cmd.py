"""``remit import``: REDCap data dictionaries into scale definitions, ODM clinical data into a
trial database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remit.cli.common import (
    DbOption,
    JsonOption,
    acting_in_every_role,
    console,
    errors_as_exit,
    open_engine,
    print_json,
)

app = typer.Typer(
    help="Bring instruments and data from other systems (REDCap, ODM) into Remit.",
    no_args_is_help=True,
)


@app.command("redcap-dictionary")
def redcap_dictionary_command(
    file: Annotated[Path, typer.Argument(help="The REDCap data dictionary (CSV, 18 columns).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the scale TOML files (one per form); default: the current folder, "
            "or none with --db.",
        ),
    ] = None,
    respondent: Annotated[
        str,
        typer.Option("--respondent", help="Who fills the forms: self, clinician, investigator."),
    ] = "self",
    bands: Annotated[
        Path | None,
        typer.Option(
            "--bands", help="CSV form,min,max,label: severity bands of each form's total."
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            help="CSV form,variable,op,value,level,text: item-level safety rules.",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Keep the scales in this trial database (audited, versioned; usable at once "
            "there, without REMIT_SCALES_PATH). Needs --user.",
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", envvar="REMIT_USER", help="Who keeps them (with --db)."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Turn each REDCap form into a Remit scale definition; list what could not be carried.

    Bands and item-level safety rules come from --bands/--rules or from the field annotations
    @REMIT-BANDS='0-4 minimal; 5-9 mild' and @REMIT-SAFETY='>=1 same_day: text'. Point
    REMIT_SCALES_PATH at the --out folder to use the scales at once.
    """
    from rich.markup import escape

    from remit import services as sv
    from remit.cli.common import acting
    from remit.interop.redcap import read_redcap_dictionary

    kept: list[str] = []
    with errors_as_exit():
        result = read_redcap_dictionary(file, respondent=respondent, bands=bands, rules=rules)
        paths = result.write(out or Path(".")) if out is not None or db is None else []
        if db is not None:
            with open_engine(db) as engine:
                actor = acting(engine, user)
                for s in result.scales:
                    record = sv.add_scale(engine, actor, s.toml, source=file.name)
                    kept.append(f"{record.code} (revision {record.revision})")
    if json:
        print_json(
            result.to_dict() | {"written": [str(p) for p in paths], "kept_in_database": kept}
        )
        return
    # labels and logic hold [field] references: escape them, or Rich takes them for markup
    for p in paths:
        console.print(escape(f"wrote {p}"), highlight=False, soft_wrap=True)
    for k in kept:
        console.print(escape(f"kept {k} in the trial database"), highlight=False, soft_wrap=True)
    console.print(escape(result.summary()), highlight=False, soft_wrap=True)


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
    from remit.interop.odm_import import import_odm

    with errors_as_exit(), open_engine(db) as engine:
        result = import_odm(engine, file, acting_in_every_role(engine, user))
    if json:
        print_json(result.to_dict())
    else:
        console.print(result.summary(), highlight=False, soft_wrap=True)
