"""``remit export``: CSV, CDISC SDTM/ADaM (XPT + Dataset-JSON + define) and ODM XML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remit.cli.common import (
    DbOption,
    JsonOption,
    acting,
    console,
    errors_as_exit,
    open_engine,
    print_json,
)
from remit.errors import InputError
from remit.interop.formats import ALL, FORMATS, formats_help
from remit.interop.odm import ODM_VARIANTS

#: ``--format`` values: every export format of the family, then ``all``.
FORMAT_CHOICES = (*FORMATS, ALL)


def export_command(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="Folder to write into (created if absent).")],
    formats: Annotated[
        list[str],
        typer.Option(
            "--format",
            help=formats_help(),
        ),
    ] = [ALL],  # noqa: B006 - typer needs a list default
    date_shift_seed: Annotated[
        int | None,
        typer.Option(
            "--date-shift-seed",
            help="Shift every participant's dates by a whole number of days drawn from this "
            "seed (the same seed gives the same shifts).",
        ),
    ] = None,
    rs_for_clinician: Annotated[
        bool,
        typer.Option(
            "--rs-for-clinician",
            help="Put the scales CDISC lists as clinical classifications (MADRS) in SDTM RS "
            "instead of QS; questionnaires (C-SSRS, GAD-7 ...) stay in QS.",
        ),
    ] = False,
    odm_variant: Annotated[
        list[str],
        typer.Option(
            "--odm-variant",
            help=" and/or ".join(ODM_VARIANTS) + " (default: all of them).",
        ),
    ] = list(ODM_VARIANTS),  # noqa: B006 - typer needs a list default
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            envvar="REMIT_USER",
            help="Check this user's access (export is read access); default: the local user.",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Export the trial: pseudonymised (study IDs only, identity never read)."""
    from remit.interop import DateShift, export_trial

    with errors_as_exit():
        bad = [f for f in formats if f not in FORMAT_CHOICES]
        if bad:
            raise InputError(
                f"--format {', '.join(bad)} is not known",
                expected=", ".join(FORMAT_CHOICES),
            )
        shift = None if date_shift_seed is None else DateShift(seed=date_shift_seed)
        with open_engine(db) as engine:
            actor = acting(engine, user) if user else None
            result = export_trial(
                engine,
                out,
                formats=tuple(formats),
                date_shift=shift,
                clinician_domain="RS" if rs_for_clinician else "QS",
                actor=actor,
                odm_variants=tuple(odm_variant),
            )
    if json:
        print_json(result.to_dict())
    else:
        console.print(result.summary(), highlight=False, soft_wrap=True)
