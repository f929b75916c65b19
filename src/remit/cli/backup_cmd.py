"""``remit backup`` and ``remit restore``: a verified copy of the trial database, and a restore
into a new database checked against the backup's anchor (docs/security.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remit import services as sv
from remit.cli.common import (
    AuditKeyOption,
    DbOption,
    JsonOption,
    audit_keys_given,
    console,
    errors_as_exit,
    open_engine,
    print_json,
)


def backup_command(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="New (or empty) folder for the backup.")],
    audit_key: AuditKeyOption = None,
    json: JsonOption = False,
) -> None:
    """Back up the database (SQLite online backup; PostgreSQL pg_dump) with a signed manifest
    (checksums, audit head, row counts, schema revision) and a fresh audit anchor."""
    with errors_as_exit(), open_engine(db, audit_key) as engine:
        result = sv.backup_database(engine, out)
    if json:
        print_json(result.to_dict())
        return
    console.print(result.summary(), highlight=False, soft_wrap=True)


def restore_command(
    source: Annotated[
        Path, typer.Option("--from", help="Backup folder written by `remit backup`.")
    ],
    db: Annotated[
        str,
        typer.Option(
            "--db",
            help="The NEW database to restore into: a SQLite path that does not exist, or an "
            "empty PostgreSQL database (postgresql://…).",
        ),
    ],
    audit_key: AuditKeyOption = None,
    json: JsonOption = False,
) -> None:
    """Restore a backup into a new database, then verify it against the backup's anchor and
    manifest; exit 1 (nothing usable restored) when the backup was altered."""
    with errors_as_exit():
        result = sv.restore_database(source, db, audit_keys=audit_keys_given(audit_key))
    if json:
        print_json(result.to_dict())
        return
    console.print(f"[green]{result.summary()}[/]", highlight=False, soft_wrap=True)
