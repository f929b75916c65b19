"""``remit audit``: verify the keyed, anchored audit trail, anchor it, rotate its key, show
the history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import (
    AUDIT_KEY_ENV,
    AuditKeyOption,
    DbOption,
    JsonOption,
    console,
    err_console,
    errors_as_exit,
    open_engine,
    print_json,
)

app = typer.Typer(help="Verify the audit trail and show who changed what.", no_args_is_help=True)


AnchorFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--anchor",
        help="An anchor file written by `remit audit anchor` (repeat for several): the chain "
        "must still hold the head it recorded.",
    ),
]


@app.command("verify")
def verify_command(
    db: DbOption,
    anchor: AnchorFiles = None,
    audit_key: AuditKeyOption = None,
    json: JsonOption = False,
) -> None:
    """Check the keyed hash chain, the anchors and that the trail explains every stored value;
    exit 1 and name the first row (or record and field) that does not fit."""
    with errors_as_exit():
        anchors = [sv.read_anchor(path) for path in anchor or []]
        with open_engine(db, audit_key) as engine:
            result = sv.verify_audit(engine, anchors)
    if json:
        print_json(result.to_dict())
    elif result.ok:
        console.print(f"[green]{result.summary()}[/]", highlight=False, soft_wrap=True)
        if result.legacy_rows and not anchors:
            err_console.print(
                f"note: the first {result.legacy_rows} rows predate keyed hashing; only an "
                "anchor protects them (remit audit anchor)",
                highlight=False,
                soft_wrap=True,
            )
    else:
        console.print(f"[bold red]{result.summary()}[/]", highlight=False, soft_wrap=True)
        for difference in result.differences[:50]:
            console.print(f"  {difference.summary()}", highlight=False, soft_wrap=True)
        if len(result.differences) > 50:
            console.print(f"  … and {len(result.differences) - 50} more (see --json)")
    if not result.ok:
        raise typer.Exit(code=1)


@app.command("anchor")
def anchor_command(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="New file to write the anchor to (JSON).")],
    audit_key: AuditKeyOption = None,
    json: JsonOption = False,
) -> None:
    """Write a signed checkpoint of the audit chain's head (id, hash, row count, UTC time) to
    a new file; keep it away from the database (docs/security.md)."""
    with errors_as_exit(), open_engine(db, audit_key) as engine:
        anchor = sv.anchor_audit(engine, out)
    if json:
        print_json(anchor.to_dict())
        return
    console.print(
        f"anchored audit head {anchor.head_id} ({anchor.row_count} rows) at "
        f"{anchor.created_at} with key {anchor.key_id} in {out}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("rotate-key")
def rotate_key_command(
    audit_key: Annotated[
        Path,
        typer.Option(
            "--audit-key",
            envvar=AUDIT_KEY_ENV,
            help="Key ring file to add a new key to (created, mode 0600, when absent).",
        ),
    ],
    json: JsonOption = False,
) -> None:
    """Add a new random key to the audit key ring: new rows and anchors use it; keep the old
    keys in the ring, verifying old rows needs them."""
    with errors_as_exit():
        key_id = sv.rotate_key_file(audit_key)
    if json:
        print_json({"key_file": str(audit_key), "key_id": key_id})
        return
    console.print(
        f"added audit key {key_id} to {audit_key}; anchor now (remit audit anchor) and keep a "
        "copy of the key ring away from the database",
        highlight=False,
        soft_wrap=True,
    )


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
