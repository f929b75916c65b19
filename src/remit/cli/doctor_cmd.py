"""``remit doctor``: check a deployment and say what is wrong and how to fix it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from remit.cli.common import (
    AuditKeyOption,
    DbOption,
    JsonOption,
    audit_keys_given,
    console,
    errors_as_exit,
    print_json,
)
from remit.cli.notify_options import SmtpFromOption, SmtpUrlOption
from remit.errors import InputError

_STYLE = {"ok": "green", "problem": "bold red", "not checked": "yellow"}


def doctor_command(
    db: DbOption,
    anchor_dir: Annotated[
        Path | None,
        typer.Option(
            "--anchor-dir",
            envvar="REMIT_ANCHOR_DIR",
            help="Folder the signed audit anchors are written to (as given to remit serve); "
            "defaults to $REMIT_ANCHOR_DIR.",
            show_default=False,
        ),
    ] = None,
    backup_dir: Annotated[
        Path | None,
        typer.Option(
            "--backup-dir",
            envvar="REMIT_BACKUP_DIR",
            help="Folder holding one folder per `remit backup`; defaults to $REMIT_BACKUP_DIR.",
            show_default=False,
        ),
    ] = None,
    smtp_url: SmtpUrlOption = None,
    smtp_from: SmtpFromOption = None,
    audit_key: AuditKeyOption = None,
    anchor_max_age: Annotated[
        float,
        typer.Option("--anchor-max-age", help="Hours the newest anchor may be old.", min=0.01),
    ] = 24.0,
    backup_max_age: Annotated[
        float,
        typer.Option("--backup-max-age", help="Hours the newest backup may be old.", min=0.01),
    ] = 26.0,
    json_output: JsonOption = False,
) -> None:
    """Check a deployment: database, durability, anchors, backups, time zones, SMTP, HTTPS.

    Each check is ok, a problem (with how to fix it) or not checked (with why). Exit code 0
    when nothing is wrong, 1 when a check found a problem, 2 for bad options.
    """
    from remit import services as sv

    with errors_as_exit():
        if not db:
            raise InputError("no database given", expected="--db trial.db or $REMIT_DATABASE_URL")
        report = sv.check_deployment(
            db,
            audit_keys=audit_keys_given(audit_key),
            anchor_dir=anchor_dir,
            backup_dir=backup_dir,
            smtp_url=smtp_url,
            smtp_from=smtp_from,
            anchor_max_age=timedelta(hours=anchor_max_age),
            backup_max_age=timedelta(hours=backup_max_age),
        )
    if json_output:
        print_json(report.to_dict())
    else:
        table = Table(
            "check", "status", "found", "what to do", title=f"remit doctor: {report.database}"
        )
        for check in report.checks:
            style = _STYLE.get(check.status, "")
            table.add_row(check.name, f"[{style}]{check.status}[/]", check.detail, check.fix)
        console.print(table)
        if report.ok:
            console.print("Nothing is wrong.", highlight=False)
        else:
            names = ", ".join(c.name for c in report.problems)
            console.print(f"[bold red]{len(report.problems)} problem(s):[/] {names}")
    if not report.ok:
        raise typer.Exit(1)
