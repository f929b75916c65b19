"""``remit lock study|participant|form|list|open``: database locks.

The data manager locks the study when the data are clean (the database lock that an analysis
by arm, ``remit analyse --unblinded``, waits for); a participant's data or one form can be locked
on their own. Nothing under an open lock can be changed; ``remit lock open`` opens one again,
with a reason (data manager only). Every lock and unlock is audited.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import DbOption, JsonOption, UserOption, acting_on, console, print_json
from remit.cli.trial_cmd import show

app = typer.Typer(
    help="Database locks: lock the study, a participant or a form; list them; open one again.",
    no_args_is_help=True,
)

ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why it is locked.")]


def _line(found: sv.LockRecord) -> str:
    what = {
        "study": "the study",
        "participant": f"participant {found.participant_id}",
        "form": f"{found.record_table} {found.record_id} of {found.participant_id}",
    }.get(found.level, found.level)
    state = "open" if found.unlocked_at is None else f"opened again {found.unlocked_at:%Y-%m-%d}"
    return f"lock {found.id}: {what}, locked {found.locked_at:%Y-%m-%d %H:%M} UTC ({state})"


@app.command("study")
def study_command(
    db: DbOption, user: UserOption, reason: ReasonOption = None, json_output: JsonOption = False
) -> None:
    """Lock the whole study (data manager): no form, dose, event or visit can change after it."""
    with acting_on(db, user) as (engine, actor):
        found = sv.lock(engine, actor, "study", reason=reason)
    show(found, json_output, _line(found))


@app.command("participant")
def participant_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID, e.g. OSL-003.")],
    db: DbOption,
    user: UserOption,
    reason: ReasonOption = None,
    json_output: JsonOption = False,
) -> None:
    """Lock one participant's data."""
    with acting_on(db, user) as (engine, actor):
        found = sv.lock(engine, actor, "participant", participant=participant, reason=reason)
    show(found, json_output, _line(found))


@app.command("form")
def form_command(
    record_id: Annotated[int, typer.Argument(help="The form's id (remit participant show).")],
    db: DbOption,
    user: UserOption,
    table: Annotated[str, typer.Option("--table", help="The record's table.")] = "assessment",
    reason: ReasonOption = None,
    json_output: JsonOption = False,
) -> None:
    """Lock one complete form (its status becomes locked)."""
    with acting_on(db, user) as (engine, actor):
        found = sv.lock(
            engine, actor, "form", record_table=table, record_id=record_id, reason=reason
        )
    show(found, json_output, _line(found))


@app.command("list")
def list_command(
    db: DbOption,
    user: UserOption,
    participant: Annotated[
        str | None,
        typer.Option("--participant", "-p", help="Only this participant's (and the study's)."),
    ] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Leave out the locks opened again.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """The locks, newest first."""
    with acting_on(db, user) as (engine, actor):
        found = sv.list_locks(engine, actor, participant=participant, open_only=open_only)
    if json_output:
        print_json([row.to_dict() for row in found])
        return
    if not found:
        console.print("no locks")
        return
    table = Table("id", "level", "participant", "record", "locked (UTC)", "opened again", "reason")
    for row in found:
        table.add_row(
            str(row.id),
            row.level,
            row.participant_id or "",
            f"{row.record_table} {row.record_id}" if row.record_table else "",
            f"{row.locked_at:%Y-%m-%d %H:%M}",
            "" if row.unlocked_at is None else f"{row.unlocked_at:%Y-%m-%d %H:%M}",
            row.reason or "",
        )
    console.print(table)


@app.command("open")
def open_command(
    lock_id: Annotated[int, typer.Argument(help="The lock's id (remit lock list).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is opened again (required).")],
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """Open a lock again (data manager, with a reason); audited."""
    with acting_on(db, user) as (engine, actor):
        found = sv.unlock(engine, actor, lock_id, reason=reason)
    show(found, json_output, _line(found))
