"""``remit worklist``: what the user has to do, overdue / today / this week."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import (
    DbOption,
    JsonOption,
    UserOption,
    acting,
    acting_in_every_role,
    console,
    errors_as_exit,
    open_engine,
    print_json,
)
from remit.cli.trial_cmd import RoleOption, parse_date

#: How the groups are headed, in the order they are printed.
HEADINGS = (("overdue", "Overdue"), ("due_today", "Today"), ("this_week", "This week"))


def _actor(engine: sv.Engine, user: str | None, role: str | None) -> sv.Actor:
    """The actor for ``--user``: in ``--role`` when given, else in a study-wide role when the
    user holds one (site-bound roles then show only their own site), else the first role. The
    list covers every role the user holds either way."""
    if role is not None:
        return acting(engine, user, role)
    actors = list(acting_in_every_role(engine, user).values())
    wide = [a for a in actors if a.site_id is None]
    return (wide or actors)[0]


def worklist_command(
    db: DbOption,
    user: UserOption,
    role: RoleOption = None,
    today: Annotated[
        str | None, typer.Option("--today", help="The day to list for (YYYY-MM-DD; default today).")
    ] = None,
    horizon: Annotated[
        int, typer.Option("--horizon", help="Days ahead counted as 'this week'.", min=0, max=366)
    ] = 7,
    json_output: JsonOption = False,
) -> None:
    """What you have to do: overdue, today, this week (for every role you hold)."""
    with errors_as_exit(), open_engine(db) as engine:
        day = None if today is None else parse_date(today, "--today")
        found = sv.worklist(engine, _actor(engine, user, role), today=day, horizon_days=horizon)
    if json_output:
        print_json(found.to_dict())
        return
    console.print(
        f"Worklist of {found.username} ({', '.join(found.roles)}) on {found.today}",
        highlight=False,
    )
    for note in found.notes:
        console.print(note.capitalize() + ".", highlight=False)
    for field, heading in HEADINGS:
        items = getattr(found, field)
        console.print(f"\n{heading}: {len(items)}", highlight=False)
        if not items:
            continue
        view = Table("due", "participant", "visit", "what", "role", "why")
        for i in items:
            view.add_row(
                str(i.due_date or ""),
                i.participant_id or "",
                i.visit_code or "",
                i.what,
                i.role,
                i.why,
            )
        console.print(view)
